"""Why this fired: a recommendation's drivers in the planner's words, precedent, and the decision."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from analytics.explain.charts import dependence_figure, drivers_figure, waterfall_spec
from analytics.explain.explanation import (
    NotExplainable,
    dependence,
    explain_row,
    global_drivers,
    waterfall_steps,
)
from analytics.explain.picker import filter_pick_list, pick_options
from analytics.explain.precedent import precedent_summary
from analytics.explain.rule_match import matching_rules, rules_table
from analytics.explain.text import (
    feature_label,
    format_output,
    pick_label,
    type_label,
)
from analytics.overrides.theme_labels import theme_picks
from analytics.shared.safe_text import escape_markdown, markdown_table
from store import roles
from store.decisions import DecisionError, RenderToken, decision_for, record_decision
from ui import cache, deep_links, session
from ui import policy as policy_ui
from ui.tiles import tile

session.ensure_shell()  # before anything renders: see ui/session.py

# Deep link from a digest's "Review" button: why?rec=REC_ID. Read first, so the target
# survives whatever renders before the picker (sign-in, empty states); it only selects.
LINKED_REC = st.query_params.get("rec") or None

PICK_PAGE = 500
FORM_FIELDS = ("decision", "qty", "theme_pick", "reason")


def form_key(field: str, rec_id: str) -> str:
    """The session key of one decision-form field for one recommendation."""
    return f"why_{field}_{rec_id}"


def submit_decision(shown: RenderToken, user: str, role: str) -> None:
    """Record what the form rendered for ``shown`` holds (the submit button's callback).

    The callback gets the token bound when the form was drawn, so the write names the
    recommendation the planner saw, whatever the picker selects by the time it runs.
    """
    values = {f: st.session_state.get(form_key(f, shown.rec_id)) for f in FORM_FIELDS}
    choice = values["decision"] or "accepted"
    text = (values["reason"] or "").strip()  # the picked theme is the code, not pasted in here
    try:
        result = record_decision(
            cache.current_engine(),
            shown.rec_id,
            decision=choice,
            final_qty=values["qty"] if choice == "modified" else None,
            reason=text or None,
            reason_code=values["theme_pick"] or None,
            actor=user,
            role=role,
            shown=shown,
        )
    except (DecisionError, roles.PermissionDenied) as e:
        message = str(e)
        st.session_state["why_refused"] = (
            message if message.startswith("not recorded") else f"not recorded: {message}"
        )
        return
    cache.clear_after_write()
    for f in FORM_FIELDS:  # nothing of this form carries over to the next recommendation
        st.session_state.pop(form_key(f, shown.rec_id), None)
    st.session_state["why_recorded"] = result


st.title("Why this fired")
st.caption(
    "Why a recommendation fired, in your units, what happened the last times something like it "
    "came up, and your decision. Decisions are recorded in the workbench's own store with who "
    "and when; **nothing is written to the ERP or any other source system**."
)

# Fitted on write (after each load), never here: read back, or say it is on its way. They
# depend on the recommendations alone, so a decision keeps them (and what they tell).
model, precedents, peers = cache.why_surrogates(), cache.why_precedents(), cache.why_peers()
if model is None or precedents is None or peers is None:
    session.preparing("The explanation model")
    st.stop()
if not model.n_rows:
    session.empty_state(
        "No recommendations to explain yet.", hint="Load a decision log on the Data page."
    )
    st.stop()
if not peers.features:
    session.empty_state(
        "The log has no feature snapshot (f_* columns), so there is nothing to explain a "
        "recommendation by.",
        hint="Add the model's inputs at scoring time as f_<name> columns to recommendations.csv.",
    )
    st.stop()
table = cache.why_pick_list()
if not model.types:
    session.empty_state(
        "No recommendation type has enough logged scores to explain.",
        hint="; ".join(f"{t}: {why}" for t, why in model.skipped.items()),
    )
    st.stop()

# --- Pick a recommendation ------------------------------------------------------------------
st.subheader("Pick a recommendation")
c1, c2, c3, c4 = st.columns([3, 2, 2, 2])
query = c1.text_input("Search id, SKU or supplier", key="why_search")
all_types = pick_options(table, "rec_type")
rec_type = c2.selectbox("Type", ["All types", *all_types], key="why_type")
site = c3.selectbox("Site", ["All sites", *pick_options(table, "site")], key="why_site")
owner = c4.selectbox("Owner", ["All owners", *pick_options(table, "owner")], key="why_owner")
SORTS = {"impact": "Highest estimated impact", "propensity": "Most likely to be overridden"}
c5, c6, _ = st.columns([3, 2, 4], vertical_alignment="bottom")
# A select box like its neighbours, not a segmented control: in a new browser session each
# kind of element on the first screen is a front-end chunk whose arrival React reveals in a
# wave of its own (at least 300 ms apart); this one cost the page 0.3-0.5 s.
sort = c5.selectbox(
    "Sort",
    list(SORTS),
    format_func=SORTS.get,
    key="why_sort",
    # A new order starts at its top: drop the kept pick so the first of the new order shows.
    on_change=lambda: st.session_state.pop("why_rec", None),
)
open_only = c6.checkbox("Open only", value=True, key="why_open_only")
scores = policy_ui.propensity_scores() if sort == "propensity" else None
if sort == "propensity" and scores is None:
    st.caption("The override-propensity model is being prepared for the latest data.")
linked_row = deep_links.linked_row(table, LINKED_REC, key="why_linked", widget="why_rec")
if scores is not None:
    from analytics.policy.propensity import rank_by_propensity  # its models' stack: only here

    table = rank_by_propensity(table, scores)
matches = filter_pick_list(
    table,
    query=query,
    open_only=open_only,
    rec_type=None if rec_type == "All types" else rec_type,
    site=None if site == "All sites" else site,
    owner=None if owner == "All owners" else owner,
    limit=len(table),
)
if matches.empty and linked_row is None:
    session.empty_state(
        "No recommendation matches these filters.",
        hint="Clear the search, or untick *Open only* to see decided ones.",
    )
    st.stop()
# A picker holds at most PICK_PAGE rows; the rest are a page away, never silently cut.
n_pages = -(-len(matches) // PICK_PAGE)
page = 0
if n_pages > 1:
    page = st.selectbox(
        f"{len(matches):,} match — page",
        range(n_pages),
        format_func=lambda p: f"{p * PICK_PAGE + 1:,}–{min((p + 1) * PICK_PAGE, len(matches)):,}",
        # Keyed on the filters: new filters start again on their first page.
        key=f"why_page_{query}|{rec_type}|{site}|{owner}|{open_only}|{sort}",
    )
picks = matches.iloc[page * PICK_PAGE : (page + 1) * PICK_PAGE]
labels = {r.rec_id: pick_label(r) for r in picks.itertuples()}
if linked_row is not None and LINKED_REC not in labels:  # the link wins over the filters
    labels = {LINKED_REC: pick_label(next(linked_row.itertuples())), **labels}
st.caption(
    f"{page * PICK_PAGE + 1:,}–{page * PICK_PAGE + len(picks):,} of {len(matches):,} "
    + ("open " if open_only else "")
    + f"recommendations matching, {SORTS[sort].lower()} first"
    + ("." if n_pages == 1 else "; narrow them with the search and filters or turn the page.")
)
rec_id = st.selectbox("Recommendation", list(labels), format_func=labels.get, key="why_rec")

row = cache.why_row(rec_id, peers)  # one keyed read: the page never loads the whole log
if row.empty:
    st.warning(f"{escape_markdown(rec_id)} is no longer in the log.")
    st.stop()
try:
    ex = explain_row(model, row, peers=peers, index=precedents, lookup=cache.why_decisions())
except NotExplainable as e:
    st.warning(escape_markdown(str(e)))
    st.stop()
rec = row.iloc[0]

# --- Why -------------------------------------------------------------------------------------
st.subheader("Why it fired")
m1, m2, m3, m4 = st.columns(4)
tile(m1, f"Logged {ex.target}", format_output(ex.logged_value))
tile(
    m2,
    f"Surrogate {ex.target}",
    format_output(ex.prediction),
    delta=f"{ex.prediction - ex.base_value:+.2f} vs typical",
    delta_color="off",
)
tile(m3, f"Typical {type_label(ex.rec_type)}", format_output(ex.base_value))
tile(m4, "Fidelity (held-out R²)", f"{ex.fidelity_r2:.3f}")
if ex.warning:
    st.warning(ex.warning, icon=":material/warning:")
st.info(escape_markdown(ex.sentence), icon=":material/lightbulb:")
st.vega_lite_chart(
    waterfall_spec(
        waterfall_steps(ex, top=6),
        base_value=ex.base_value,
        prediction=ex.prediction,
        target=ex.target,
    ),
    width="stretch",
    key="why_waterfall",
)
tm = model.types[ex.rec_type]
st.caption(
    f"Exact SHAP contributions of a gradient-boosted surrogate ({tm.strategy.replace('_', '-')} "
    f"model) fitted to the logged {ex.target} of {tm.n_train:,} {type_label(ex.rec_type, plural=True)}; "
    f"on {tm.n_test:,} held-out ones it reproduces the logged {ex.target} with R² "
    f"{ex.fidelity_r2:.3f}. "
    f"Typical values are among {escape_markdown(ex.site)} {type_label(ex.rec_type, plural=True)}."
)
drivers = ex.contributions.head(8)
# A few rows each: plain tables, which the browser draws in a fraction of a data grid's time.
drivers_table = pd.DataFrame(
    {
        "driver": drivers["label"],
        "value": drivers["value_text"],
        "typical (median)": drivers["typical_text"],
        "percentile": drivers["percentile"].round(0),
        f"effect on {ex.target}": drivers["shap"].round(4),
    }
)
st.table(markdown_table(drivers_table), hide_index=True)

# --- Precedent ---------------------------------------------------------------------------
st.subheader("Last times something like this came up")
prec = ex.precedents
st.caption(escape_markdown(precedent_summary(prec, type_label(ex.rec_type, plural=True))))
if not prec.empty:
    st.table(markdown_table(prec.drop(columns=["distance"])), hide_index=True)

# --- Matching candidate rules -------------------------------------------------------------
st.subheader("Candidate rules that match")
existing = decision_for(cache.current_engine(), rec_id)
analysis, rules, why_not = None, None, "The override analysis hasn't run"
use_rules = st.toggle(
    "Match against the override analysis",
    value=True,  # built on write: reading it costs a page view nothing
    key="why_rules_on",
    help="Candidate rules and reason themes come from the Override patterns analysis.",
)
if use_rules:
    try:
        # Until the analysis of the latest decisions is built, the one before it is shown.
        analysis, current = cache.recent_rule_cards()
        if analysis is None:
            why_not = "The override analysis is being prepared for the latest data"
        else:
            rules = analysis.rules
            if not current:
                st.caption("From the analysis before the latest decisions (it is being updated).")
    except (ImportError, AttributeError):
        why_not = "The override analysis isn't available in this workbench"
    except Exception as e:  # another page's analysis must not take this one down
        why_not = f"The override analysis failed ({e})"
if rules is None:
    st.caption(f"{why_not}, so there are no candidate rules to match.")
else:
    who = existing["decided_by"] if existing else session.current_user()
    hits = matching_rules(rules, rec, decided_by=who)
    if not hits:
        st.caption(
            f"None of the {len(rules)} candidate rules from the override analysis matches this "
            f"recommendation (with decided_by = {escape_markdown(who)})."
        )
    else:
        st.table(markdown_table(rules_table(hits)), hide_index=True)

# --- Decision -----------------------------------------------------------------------------
if not existing:
    policy_ui.rule_proposal(row, allowed=roles.can(session.current_role(), "decide"))
    if scores is not None:
        policy_ui.propensity_note(rec_id, scores)

st.subheader("Your decision")
done = st.session_state.pop("why_recorded", None)
if done:
    st.success(
        f"Recorded: {done['rec_id']} {done['decision']} by {escape_markdown(done['decided_by'])} at "
        f"{done['decided_at'][:19]} UTC (audit event {done['audit_event_id']}).",
        icon=":material/check_circle:",
    )
refused = st.session_state.pop("why_refused", None)
if refused:
    st.error(refused[:1].upper() + refused[1:], icon=":material/error:")
recommended = rec["recommended_qty"]
shown_qty = (
    f"{recommended:,.0f} {rec.get('uom') or 'EA'}" if pd.notna(recommended) else "no quantity"
)
if existing:
    qty = existing["final_qty"]
    st.info(
        f"Already decided: **{existing['decision']}** by {escape_markdown(existing['decided_by'])} at "
        f"{existing['decided_at'][:19]} UTC"
        + (f", final quantity {qty:,.0f}" if qty is not None else "")
        + (f", reason: “{escape_markdown(existing['reason'])}”" if existing["reason"] else "")
        + ". A decision is never overwritten.",
        icon=":material/lock:",
    )
elif not roles.can(session.current_role(), "decide"):
    # Read-only roles see what is proposed, not a form they cannot send.
    st.caption(
        f"Your role ({session.current_role()}) can read explanations but not decide. "
        f"Open, proposed: {escape_markdown(rec.get('action') or type_label(ex.rec_type))} — "
        f"{shown_qty}."
    )
else:
    form_for = RenderToken.of(rec_id, recommended)
    # Established themes only, {THEME-n: label}; a pick is stored as the decision's reason_code.
    themes = theme_picks(analysis.themes) if analysis is not None else {}
    # Every widget is keyed on the recommendation it is shown for: another one starts
    # clean, and the write (in the callback) uses the id and quantity that were rendered.
    with st.form(f"why_decide_form_{rec_id}", border=True):
        st.radio(
            "Decision",
            ["accepted", "modified", "rejected"],
            format_func={"accepted": "Accept", "modified": "Modify", "rejected": "Reject"}.get,
            horizontal=True,
            key=form_key("decision", rec_id),
        )
        st.number_input(
            f"New quantity (for Modify) — recommended {shown_qty}",
            min_value=0.0,
            value=float(recommended) if pd.notna(recommended) else 0.0,
            step=1.0,
            key=form_key("qty", rec_id),
        )
        if themes:
            st.pills(
                "Reason themes seen so far",
                list(themes),
                format_func=lambda t: escape_markdown(themes.get(t, t)),  # pills render Markdown
                key=form_key("theme_pick", rec_id),
            )
        st.text_area(
            "Reason (required to modify or reject)",
            key=form_key("reason", rec_id),
            placeholder="What do you know that the model doesn't?",
        )
        st.form_submit_button(
            f"Record decision on {rec_id}",
            type="primary",
            on_click=submit_decision,
            args=(form_for, session.current_user(), session.current_role()),
        )

# --- Global view --------------------------------------------------------------------------
# Drawn once opened (the page reruns): the two charts and their controls cost the browser most
# of a visit, and the planner's question is about the recommendation above.
box = session.opened("What drives each recommendation type", key="why_global_open")
if box is not None:
    with box:
        g1, g2 = st.columns(2)
        types = sorted(model.types)
        g_type = g1.selectbox(
            "Type",
            types,
            index=types.index(ex.rec_type),
            format_func=type_label,
            key=f"why_global_type_{ex.rec_type}",  # follows the picked recommendation's type
        )
        gm = model.types[g_type]
        g_drivers = global_drivers(model, rec_type=g_type)
        g_feature = g2.selectbox(
            "Dependence plot for",
            list(g_drivers["feature"]),
            format_func=feature_label,
            key="why_dep_feature",
        )
        st.caption(
            f"Mean |SHAP| on {len(gm.global_rows):,} held-out "
            f"{type_label(g_type, plural=True)}, in {gm.target} units; surrogate fidelity R² "
            f"{gm.fidelity_r2:.3f}."
        )
        if gm.fidelity_r2 < 0.8:
            st.warning(
                f"Low fidelity for {type_label(g_type, plural=True)}: read these drivers loosely."
            )
        d1, d2 = st.columns(2)
        d1.plotly_chart(drivers_figure(g_drivers), key="why_global_drivers")
        highlight = rec.get(g_feature) if g_type == ex.rec_type else None
        d2.plotly_chart(
            dependence_figure(
                dependence(model, g_type, g_feature),
                feature=g_feature,
                highlight=float(highlight)
                if isinstance(highlight, (int, float)) and pd.notna(highlight)
                else None,
            ),
            key="why_dependence",
        )

fidelity_box = session.opened("Surrogate fidelity by type", key="why_fidelity_open")
if fidelity_box is not None:
    with fidelity_box:
        st.dataframe(model.fidelity_table(), hide_index=True, key="why_fidelity")
        if model.skipped:
            st.caption(
                "Not explained: " + "; ".join(f"{t} ({why})" for t, why in model.skipped.items())
            )
