"""Override patterns: what planners know that the model does not, and whether it paid off."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from analytics.overrides.analysis import CANDIDATE, theme_rows
from analytics.overrides.charts import rule_monitor_figure
from analytics.overrides.evidence import supporting_rows
from analytics.overrides.log import describe_conditions
from analytics.overrides.text import (
    COSTLY_MARK,
    by_type_table,
    coaching_prompts,
    headline_caption,
    language_lines,
    rule_evidence_text,
    rule_title,
    status_text,
    tested_caption,
)
from analytics.shared.safe_text import escape_markdown, safe_csv
from store import roles
from store.rule_status import STATUSES, RuleStatusError, rule_history, set_rule_status
from ui import cache, deep_links, overrides_cache, session
from ui import policy as policy_ui
from ui.tiles import tile

session.ensure_shell()  # before anything renders: see ui/session.py

# Deep link from a digest: overrides?rule=RULE_ID opens that rule's evidence. Read first.
LINKED_RULE = st.query_params.get("rule") or None

DRILL = ["rec_id", "created_at", "rec_type", "site", "sku", "supplier", "customer", "resource",
         "decided_by", "decision", "adjustment_pct", "reason", "actual_qty"]  # fmt: skip
RULE_COLUMNS = ["id", "rule", "direction", "median_adjustment_pct", "support", "coverage",
                "confidence", "base_rate", "lift", "p_adjusted", "value_added", "win_rate",
                "verdict", "theme_label", "status", "first_seen", "last_seen"]  # fmt: skip
SORTS = {
    "score (excess overrides × confidence)": ("score", False),
    "value added (best first)": ("value_added", False),
    "value added (worst first)": ("value_added", True),
    "adjusted p-value": ("p_adjusted", True),
    "support": ("support", False),
}
PCT = st.column_config.NumberColumn(format="percent")
TABS = ["Reason themes", "Candidate rules", "Did it pay off?", "Adopted rules", "Policy"]
SHOWN = [CANDIDATE, "watch", "adopted"]  # the statuses shown at first
RULE_COLUMN_CONFIG = {
    "median_adjustment_pct": st.column_config.NumberColumn("median adj. %", format="%.1f"),
    "confidence": PCT,
    "base_rate": st.column_config.NumberColumn("own type's base rate", format="percent"),
    "p_adjusted": st.column_config.NumberColumn("adjusted p (BH)", format="%.1e"),
    "win_rate": PCT,
    "lift": st.column_config.NumberColumn(format="%.1f×"),
    "value_added": st.column_config.NumberColumn("value added", format="%+.1f"),
}
CONCENTRATION_COLUMNS = {
    "theme_id": "Theme",
    "theme_label": "Theme label",
    "attribute": "Attribute",
    "value": "Value",
    "n": st.column_config.NumberColumn("Overrides", format="%d"),
    "share": st.column_config.NumberColumn("Share of the theme", format="percent"),
    "share_all": st.column_config.NumberColumn("Share of all overrides", format="percent"),
    "lift": st.column_config.NumberColumn("Lift", format="%.2f"),
}

st.title("Override patterns")
st.caption(
    "Which undocumented rules planners apply, in their own words, and whether those overrides "
    "ended closer to what actually happened than the recommendation. Built for the S&OP review: "
    "write the good rules into the system, coach the costly habits away."
)
if cache.log_facts().n_decisions == 0:
    session.empty_state(
        "No decisions in the store yet, so there are no overrides to learn from.",
        hint="Load decisions.csv (with reasons) on the **Data** page.",
    )
    st.stop()

with st.expander("Mining settings"):
    left, right = st.columns(2)
    support_in = left.number_input(
        "Minimum support (overrides)",
        min_value=0,
        value=0,
        step=5,
        key="overrides_min_support",
        help="Fewest overrides a rule must explain. 0 = automatic (10, or 0.1% of overrides).",
    )
    max_conditions = right.segmented_control(
        "Conditions per rule (at most)",
        [1, 2, 3],
        default=3,
        key="overrides_max_conditions",
        required=True,
    )
settings = (int(support_in) or None, int(max_conditions), 0)
analysis = cache.override_analysis(min_support=settings[0], max_conditions=settings[1])
if analysis is None:  # themes and rules are built on write, never on a page view
    session.preparing("The reason themes and candidate rules")
    st.stop()
log = analysis.log
if not log["is_override"].any():
    session.empty_state("No overrides (modified or rejected decisions) yet: nothing to learn from.")
    st.stop()

url, version = cache.current_url(), cache.contract_version()
values = cache.override_value_tables(url, version, *settings)
if values is None:
    session.preparing("The value added of the overrides")
    st.stop()
status_version = cache.rule_status_version()
statuses = cache.rule_statuses(url, status_version).set_index("rule_key", drop=False)
key = overrides_cache.analysis_key(url)
views = overrides_cache.theme_views(analysis, url, key, settings)
labels, gap, overall = views.labels, views.gap, values["overall"].iloc[0]

c1, c2, c3, c4, c5 = st.columns(5)
tile(
    c1,
    "Overrides",
    f"{int(gap['n_overrides']):,}",
    help=f"{gap['n_overrides'] / len(log):.0%} of {len(log):,} decided recommendations",
)
tile(
    c2,
    "Capture gap",
    f"{gap['gap']:.0%}",
    delta="target ≤ 10%",
    delta_color="off",
    help="Reason capture gap: share of overrides with no reason, the earliest sign that a "
    "deployment is failing.",
)
tile(c3, "Themes", f"{len(analysis.themes) - 1}", help="Reason themes, plus 'no reason given'.")
tile(
    c4,
    "Rules",
    f"{len(analysis.rules):,}",
    help=f"Candidate rules; minimum support {analysis.min_support} overrides.",
)
tile(
    c5,
    "Value added",
    f"{overall['value_added']:+,.1f} units",
    help=f"Units closer to actual per override. 90% CI {overall['ci_low']:+,.1f} to {overall['ci_high']:+,.1f} over "
    f"{int(overall['n_scored']):,} overrides with an outcome; positive = people improved "
    "on the model.",
)
st.caption(headline_caption(overall, values["stockout"]))
linked_slot = st.empty()  # filled under "Candidate rules" once the rule is known

# Only the open tab is drawn (opening another reruns the page from the cached views); a
# ``?rule=`` link opens on Candidate rules. Choices made in a tab outlive its closing
# (``session.restore``): a widget not drawn on a run loses its state.
deep_links.linked_tab(LINKED_RULE, tab_key="overrides_tab", label=TABS[1])
tab_themes, tab_rules, tab_value, tab_adopted, tab_policy = st.tabs(
    TABS, key="overrides_tab", on_change="rerun"
)

if tab_themes.open:
    with tab_themes:
        st.caption(
            "Themes group overrides by what the reason says *and* the context it was typed in "
            "(the candidate rule it supports: supplier, customer, machine, planner, calendar, "
            "direction and size), so the same practice written in other words or languages is "
            f"one theme. A theme needs {analysis.theme_model.min_size} overrides (10 or 0.5%) "
            "to exist; until then its overrides sit in the nearest theme or in 'other'. Theme "
            "ids stay the same as new decisions arrive."
        )
        themes = views.themes
        st.vega_lite_chart(views.size_chart, width="stretch", key="overrides_theme_sizes")
        st.vega_lite_chart(views.trend_chart, width="stretch", key="overrides_trend")
        st.dataframe(themes, hide_index=True, key="overrides_themes", column_config={"share": PCT})
        st.markdown("**Reason capture gap by planner** — a coaching prompt, not a score.")
        st.dataframe(
            views.by_planner, hide_index=True, key="overrides_gap", column_config={"gap": PCT}
        )
        theme_ids = themes["theme_id"].tolist()
        session.restore("overrides_theme_pick", theme_ids)
        pick = st.selectbox(
            "Drill into a theme",
            theme_ids,
            format_func=lambda t: f"{t} · {labels[t]}",
            key="overrides_theme_pick",
        )
        session.keep("overrides_theme_pick", pick)
        picked_row = analysis.themes.set_index("theme_id").loc[pick]
        st.markdown("\n".join(f"- {line}" for line in language_lines(picked_row["by_language"])))
        concentration = views.concentration
        st.dataframe(
            concentration[concentration["theme_id"] == pick],
            hide_index=True,
            key="overrides_theme_concentration",
            column_config=CONCENTRATION_COLUMNS,
        )
        behind = log.loc[log["theme_id"] == pick, DRILL]
        st.caption(f"The {len(behind):,} overrides behind this theme")
        st.dataframe(behind, hide_index=True, key="overrides_theme_rows")
        d1, d2 = st.columns(2)
        # Callables: each file is built when its button is clicked, not on every run.
        d1.download_button(
            "Themes (CSV)",
            lambda: safe_csv(themes),
            "themes.csv",
            key="overrides_dl_themes",
            on_click="ignore",
        )
        d2.download_button(
            "Override → theme (CSV)",
            lambda: safe_csv(theme_rows(analysis)),
            "theme_assignments.csv",
            key="overrides_dl_assignments",
            on_click="ignore",
        )

if tab_rules.open:
    with tab_rules:
        rules = analysis.rules.assign(
            status=lambda r: [statuses["status"].get(i, CANDIDATE) for i in r["id"]],
            rule=lambda r: r["conditions"].map(describe_conditions),
        )
        session.restore("overrides_status_filter", [CANDIDATE, *STATUSES])
        shown = st.multiselect(
            "Show",
            [CANDIDATE, *STATUSES],
            default=None if "overrides_status_filter" in st.session_state else SHOWN,
            key="overrides_status_filter",
        )
        session.restore("overrides_rules_sort", list(SORTS))
        sort_by = st.selectbox("Sort by", list(SORTS), key="overrides_rules_sort")
        session.keep("overrides_status_filter", shown)
        session.keep("overrides_rules_sort", sort_by)
        column, ascending = SORTS[sort_by]
        view = rules[rules["status"].isin(shown)].sort_values(
            column, ascending=ascending, kind="stable", na_position="last"
        )
        st.caption(tested_caption(rules))
        linked = deep_links.linked_row(
            rules, LINKED_RULE, key="overrides_linked", widget="overrides_rule_pick", id_col="id",
            noun="rule",
        )  # fmt: skip
        if linked is not None:
            if LINKED_RULE not in set(view["id"]):  # the link wins over the status filter
                view = pd.concat([linked, view])
            linked_slot.info(
                f"Opened on rule **{escape_markdown(LINKED_RULE)}** "
                f"({escape_markdown(rule_title(linked.iloc[0]))}): its evidence and status are "
                "under **Candidate rules**.",
                icon=":material/link:",
            )
        view = view.assign(
            verdict=[
                COSTLY_MARK if c else v
                for c, v in zip(view["costs_more"], view["verdict"], strict=True)
            ]
        )
        st.dataframe(
            view[RULE_COLUMNS],
            hide_index=True,
            key="overrides_rules",
            column_config=RULE_COLUMN_CONFIG,
        )
        st.download_button(
            "Rules (CSV)",
            lambda: safe_csv(rules.drop(columns=["also", "by_type"])),
            "rules.csv",
            key="overrides_dl_rules",
            on_click="ignore",
        )
        if view.empty:
            session.empty_state(
                "No rules with these statuses.",
                hint="Lower the minimum support or change the status filter.",
            )
        else:
            by_id = rules.set_index("id", drop=False)
            session.restore("overrides_rule_pick", set(view["id"]))
            rid = st.selectbox(
                "Evidence for rule",
                view["id"].tolist(),
                key="overrides_rule_pick",
                format_func=lambda r: rule_title(by_id.loc[r]),
            )
            session.keep("overrides_rule_pick", rid)
            rule = by_id.loc[rid]
            st.markdown(rule_evidence_text(rule))
            for reason in rule["example_reasons"]:
                st.markdown(f"> {escape_markdown(reason)}")
            if rule["also"]:
                st.caption(
                    "Also seen as: "
                    + "; ".join(escape_markdown(describe_conditions(c)) for c in rule["also"][:5])
                )
            if len(rule["by_type"]) > 1 or "rec_type" not in rule["conditions"]:
                st.caption("By recommendation type: how each type it spans follows it")
                st.dataframe(
                    by_type_table(rule),
                    hide_index=True,
                    key="overrides_rule_by_type",
                    column_config={"confidence": PCT, "base_rate": PCT},
                )
            pos = supporting_rows(log, rule["conditions"], rule["direction"])
            st.dataframe(log.iloc[pos][DRILL], hide_index=True, key="overrides_rule_rows")
            st.markdown("**What if this rule had been policy?**")
            action = policy_ui.rule_action_and_backtest(url, version, rule)

            engine = cache.current_engine()
            allowed = roles.can(session.current_role(), "rule_status")
            st.markdown(
                status_text(rule["status"], statuses.loc[rid] if rid in statuses.index else None)
            )
            with st.form("overrides_rule_form"):
                new_status = st.radio(
                    "Mark as", STATUSES, horizontal=True, key="overrides_new_status"
                )
                owner = st.text_input("Owner (adopted)", key="overrides_owner")
                note = st.text_area(
                    "Note: how to encode it (adopted) / why (dismissed)", key="overrides_note"
                )
                submitted = st.form_submit_button("Save", disabled=not allowed)
            if not allowed:
                st.caption("Only an S&OP lead or admin may change a rule's status.")
            if submitted:
                try:
                    set_rule_status(
                        engine,
                        rule_key=rid,
                        conditions=rule["conditions"],
                        direction=rule["direction"],
                        status=new_status,
                        owner=owner,
                        note=note,
                        action=action if new_status == "adopted" else None,
                        actor=session.current_user(),
                        role=session.current_role(),
                    )
                except (RuleStatusError, roles.PermissionDenied) as exc:
                    st.error(escape_markdown(str(exc)))
                else:
                    st.rerun()
            history = rule_history(engine, rid)
            if not history.empty:
                st.dataframe(
                    history[["at", "actor", "action"]], hide_index=True, key="overrides_hist"
                )

if tab_value.open:
    with tab_value:
        st.caption(
            "Value added = mean |recommended − actual| − mean |final − actual| over overrides "
            "with an outcome: positive means the override ended closer to what happened. "
            "Intervals are 90% bootstrap; a group is flagged only when the whole interval is "
            "below zero. These are prompts for a coaching conversation about habits, not a "
            "ranking of people."
        )
        figures = overrides_cache.value_figures(values, labels, url, key, settings)
        st.plotly_chart(figures.band, key="overrides_va_band")
        left, right = st.columns(2)
        left.plotly_chart(figures.planner, key="overrides_va_planner")
        right.plotly_chart(figures.theme, key="overrides_va_theme")
        left.plotly_chart(figures.rec_type, key="overrides_va_type")
        right.plotly_chart(figures.stockout, key="overrides_stockouts")
        prompts = coaching_prompts(values["planner"], analysis.rules)
        st.markdown(f"**Costing more than they saved** ({len(prompts)})")
        st.markdown("\n".join(f"- {p}" for p in prompts) or "Nothing flagged.")

if tab_adopted.open:
    with tab_adopted:
        adopted = statuses[statuses["status"] == "adopted"]
        if adopted.empty:
            session.empty_state(
                "No adopted rules yet.",
                hint="Adopt a candidate on the **Candidate "
                "rules** tab to follow its support and value added quarter by quarter.",
            )
        else:
            monitor = cache.adopted_rule_monitor(url, version, status_version, *settings)
        costly = set(analysis.rules.loc[analysis.rules["costs_more"].astype(bool), "id"])
        for row in adopted.to_dict("records"):
            row["costs_more"] = row["rule_key"] in costly  # marked here too
            st.markdown(
                f"**{escape_markdown(rule_title(row))}** · owner "
                f"{escape_markdown(row['owner'])} · adopted by "
                f"{escape_markdown(row['updated_by'])} on {row['updated_at']:%Y-%m-%d}  \n"
                f"Encoding: {escape_markdown(row['note'])}"
            )
            per_q = monitor[monitor["rule_key"] == row["rule_key"]]
            st.plotly_chart(
                rule_monitor_figure(per_q, title="Support and value added by quarter"),
                key=f"overrides_monitor_{row['rule_key']}",
            )

if tab_policy.open:
    with tab_policy:
        policy_ui.policy_view(url, version, status_version)
