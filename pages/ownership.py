"""Ownership & SLA: who owns each kind of recommendation, late answers, overload, readiness."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from analytics.governance.breaches import filter_breaches
from analytics.governance.charts import fatigue_spec, sla_trend_spec
from analytics.shared.figures import SLA_MET_DEFINITION, SLA_MET_RULE, fmt_period
from analytics.shared.safe_text import escape_markdown, safe_csv
from store import roles
from store.owner_matrix import OwnershipError, apply_owner_changes, make_entry
from ui import cache, routing, session
from ui.tiles import tile

session.ensure_shell()  # before anything renders: see ui/session.py

ALL = "All"
PAGE_ROWS = 500
GROUP_LABEL = {"owner": "Owner", "rec_type": "Type", "site": "Site"}
_N = st.column_config.NumberColumn
# One label per column of the page's tables, so no raw name (n_met, …) reaches a reader.
COLUMNS = {
    "rec_id": "Recommendation",
    "rec_type": "Type",
    "site": "Site",
    "sku": "SKU",
    "owner": "Owner",
    "escalation_to": "Escalates to",
    "problem": "Problem",
    "est_impact_usd": _N("Impact $", format="$%,.0f"),
    "impact_usd": _N("Impact $ (sum)", format="$%,.0f"),
    "hours_overdue": _N("Hours overdue", format="%.1f"),
    "max_hours_overdue": _N("Most hours overdue", format="%.0f"),
    "created_at": st.column_config.DatetimeColumn("Created (UTC)", format="YYYY-MM-DD HH:mm"),
    "due_at": st.column_config.DatetimeColumn("Due (UTC)", format="YYYY-MM-DD HH:mm"),
    "n_breaches": _N("Open breaches", format="%d"),
    "n_met": _N("Met", format="%d"),
    "n_breached": _N("Breached", format="%d"),
    "n_rated": _N("Judged (met + breached)", format="%d"),
    "n_expired": _N("Of which expired", format="%d"),
    "n_pending": _N("Open, inside SLA (left out)", format="%d"),
    "sla_met_rate": _N("SLA met", format="percent"),
    "ci_low": _N("95% low", format="percent"),
    "ci_high": _N("95% high", format="percent"),
    "n_recs": _N("Recommendations", format="%d"),
    "share_of_recs": _N("Share of all", format="percent"),
    "n_decided": _N("Decided", format="%d"),
    "median_latency_h": _N("Decision latency, median h", format="%.1f"),
    "p90_latency_h": _N("Decision latency, p90 h", format="%.1f"),
    "owned_median_latency_h": _N("Owned work, median h", format="%.1f"),
    "latency_vs_owned_h": _N("Slower than owned work, h", format="%+.1f"),
    "weeks": _N("Weeks", format="%d"),
    "recs_per_week_median": _N("Recs per week, median", format="%.0f"),
    "recs_per_week_max": _N("Recs per week, most", format="%d"),
    "median_response_h": _N("Response time, median h", format="%.1f"),
    "override_rate": _N("Override rate", format="percent"),
    "expired_share": _N("Expired share", format="percent"),
    "busy_minus_quiet_response_h": _N(
        "Busy − quiet weeks, median response h",
        format="%+.1f",
        help="Median response in the owner's busier weeks minus quieter weeks: positive = "
        "slower when loaded, the early sign people stop looking.",
    ),
    "load_response_corr": _N("Load ~ response (Spearman)", format="%.2f"),
}

GATE_ICON = {
    "pass": ":material/check_circle:",
    "fail": ":material/cancel:",
    "not enough data": ":material/remove:",
}

st.title("Ownership & SLA")
st.caption(
    "Accurate recommendations that nobody owns get ignored. Every type and site needs an owner, a "
    "response SLA and an escalation; the most specific row of the matrix wins (exact site over `*`)."
)

engine = cache.current_engine()
url, version = cache.current_url(), cache.current_version()
facts = cache.log_facts()  # not the whole log: the owner join is built on write
if facts.n_recs == 0:
    session.empty_state(
        "No recommendations loaded yet.", hint="Load a bundle on the **Data** page first."
    )
    st.stop()

left, mid, right = st.columns([2, 1, 1])
as_of_choice = left.radio(
    "Judge open recommendations as of",
    ["now", "the end of the log"],
    horizontal=True,
    key="ownership_as_of",
    help="'now' for a live log; the end of the log (its newest recommendation or decision) "
    "to replay a historical extract — the moment the Baseline page and `cli.py kpis` judge at.",
)
now = pd.Timestamp.now(tz="UTC").floor("min")
log_end = max(t for t in (facts.last_created, facts.last_decided) if t is not None)
as_of = now if as_of_choice == "now" or pd.isna(log_end) else log_end
trend_by = mid.selectbox(
    "SLA trend by",
    ["owner", "rec_type", "site"],
    format_func=GROUP_LABEL.get,
    key="ownership_trend_by",
)
freq = right.selectbox("Period", ["week", "month"], key="ownership_freq")
gl = session.go_live()
scopes = ["the whole log"] + ([f"since go-live ({gl:%Y-%m-%d})"] if gl else [])
scope = left.radio(
    "Recommendations",
    scopes,
    horizontal=True,
    key="ownership_scope",
    help="Since go-live and judged at the end of the log, SLA met is the Baseline page's "
    "current figure (and `cli.py kpis`'s).",
)
since = gl.isoformat() if gl and scope != scopes[0] else None
ov = cache.ownership_overview(url, version, as_of.isoformat(), trend_by, freq, since)

overall = ov.sla_overall.iloc[0]
period = fmt_period(ov.first_signal, ov.last_signal)
unowned_share = (
    ov.unowned.loc[ov.unowned["problem"] == "no owner", "n_recs"].sum() / ov.n_recs
    if ov.n_recs
    else 0.0
)
c1, c2, c3, c4 = st.columns(4)
tile(
    c1,
    "SLA met",
    "—" if pd.isna(overall["sla_met_rate"]) else f"{overall['sla_met_rate']:.1%}",
    help=f"{int(overall['n_met']):,} met of {int(overall['n_rated']):,} judged "
    + (
        ""
        if pd.isna(overall["ci_low"])
        else f"(95% interval {overall['ci_low']:.1%}–{overall['ci_high']:.1%})"
    )
    + f"; {int(overall['n_pending']):,} open inside their SLA left out. {SLA_MET_DEFINITION}",
)
tile(c2, "Open past SLA", f"{ov.n_breaches:,}")
tile(
    c3,
    "Impact at stake",
    f"${ov.breach_impact_usd:,.0f}",
    help="Σ est_impact_usd of the open breaches",
)
tile(c4, "Recommendations with no owner", f"{unowned_share:.1%}")
st.caption(
    f"{'All ' if since is None else ''}{ov.n_recs:,} recommendations signalled {period}"
    + ("" if since is None else f" (since go-live, {since})")
    + f", judged at {ov.as_of:%Y-%m-%d %H:%M} UTC. {SLA_MET_RULE}"
)

# Only the open tab is drawn; opening another reruns the page from the cached figures. Drawn
# all at once, the seven tabs (two charts, eight tables) cost the browser seconds per visit.
tab_queue, tab_sla, tab_unowned, tab_fatigue, tab_matrix, tab_routing, tab_gates = st.tabs(
    ["Breach queue", "SLA met", "Unowned", "Fatigue", "Ownership matrix", "Digest routing",
     "Readiness gates"],
    key="ownership_tab",
    on_change="rerun",
)  # fmt: skip

if tab_queue.open:
    with tab_queue:
        if ov.n_breaches == 0:
            session.empty_state("No open recommendation is past its SLA.")
        else:
            st.dataframe(
                ov.breaches_by_owner,
                hide_index=True,
                key="ownership_breach_owners",
                column_config=COLUMNS,
            )
            queue = ov.breach_queue
            q1, q2, q3 = st.columns(3)
            choose = {
                col: box.selectbox(
                    GROUP_LABEL[col],
                    [ALL, *sorted(map(str, queue[col].dropna().unique()))],
                    key=f"ownership_queue_{col}",
                )
                for box, col in ((q1, "owner"), (q2, "rec_type"), (q3, "site"))
            }
            picked = filter_breaches(
                queue, **{c: None if v == ALL else v for c, v in choose.items()}
            )
            n_pages = max(1, -(-len(picked) // PAGE_ROWS))
            # Keyed on the filters: a new filter starts again on its first page.
            page = st.selectbox(
                "Page",
                range(n_pages),
                format_func=lambda p: (
                    f"rows {p * PAGE_ROWS + 1:,}–{min((p + 1) * PAGE_ROWS, len(picked)):,}"
                ),
                key="ownership_queue_page_" + "|".join(choose.values()),
                disabled=n_pages == 1,
            )
            shown = picked.iloc[page * PAGE_ROWS : (page + 1) * PAGE_ROWS]
            st.caption(
                f"Rows {page * PAGE_ROWS + 1:,}–{page * PAGE_ROWS + len(shown):,} of {len(picked):,} "
                + (
                    "breaches"
                    if len(picked) == ov.n_breaches
                    else f"matching (of {ov.n_breaches:,})"
                )
                + ", largest estimated impact first; each escalates to the person named in the "
                "matrix. Narrow it with the filters or turn the pages; the download holds all "
                f"{len(picked):,}."
            )
            st.dataframe(
                shown, hide_index=True, key="ownership_breach_queue", column_config=COLUMNS
            )
            st.download_button(
                f"Download all {len(picked):,} breaches shown by these filters (CSV)",
                lambda: safe_csv(picked),  # built when clicked, every row
                f"sla_breaches_{ov.as_of:%Y%m%d_%H%M}.csv",
                "text/csv",
                key="ownership_dl_queue",
                on_click="ignore",
            )

if tab_sla.open:
    with tab_sla:
        st.caption(f"{SLA_MET_DEFINITION} Signals {period}. Wide intervals mean few decisions.")
        for label, table, key in (
            ("By recommendation type", ov.sla_by_type, "ownership_sla_type"),
            ("By site", ov.sla_by_site, "ownership_sla_site"),
            ("By owner", ov.sla_by_owner, "ownership_sla_owner"),
        ):
            st.markdown(f"**{label}**")
            st.dataframe(table, hide_index=True, key=key, column_config=COLUMNS)
        no_sla = sorted(
            map(str, ov.unowned.loc[ov.unowned["problem"] != "no escalation", "rec_type"])
        )
        if no_sla:
            st.caption(
                f"No owner, no SLA: {', '.join(dict.fromkeys(no_sla))} "
                "(at some or all sites) cannot meet or miss an SLA, so they are not in these tables."
            )
        trend = ov.sla_trend.dropna(subset=["sla_met_rate"])
        if trend.empty:
            session.empty_state("No recommendation with an owner and an SLA has been judged yet.")
        else:
            top = trend.groupby(trend_by)["n_rated"].sum().nlargest(8).index
            st.vega_lite_chart(
                sla_trend_spec(
                    trend[trend[trend_by].isin(top)],
                    by=trend_by,
                    by_label=GROUP_LABEL[trend_by],
                    freq=freq,
                ),
                width="stretch",
                key="ownership_sla_trend",
            )

if tab_unowned.open:
    with tab_unowned:
        if ov.unowned.empty:
            st.success(
                "Every recommendation type has an owner, an SLA and an escalation at every site."
            )
        else:
            st.caption(
                "Types × sites with no owner (or no SLA / escalation), their volume and decision "
                "latency (signal → decision, median hours) against all owned recommendations."
            )
            st.dataframe(
                ov.unowned, hide_index=True, key="ownership_unowned", column_config=COLUMNS
            )

if tab_fatigue.open:
    with tab_fatigue:
        if ov.fatigue_summary.empty:
            session.empty_state("No owned recommendations to measure load on.")
        else:
            st.caption(
                "Load per owner per week against how fast and how they answer. A positive "
                "'busy − quiet' gap (slower in heavy weeks) is the early sign people stop looking."
            )
            st.dataframe(
                ov.fatigue_summary, hide_index=True, key="ownership_fatigue", column_config=COLUMNS
            )
            st.vega_lite_chart(
                fatigue_spec(ov.fatigue_weekly), width="stretch", key="ownership_fatigue_chart"
            )

if tab_matrix.open:
    with tab_matrix:
        matrix = facts.owners.astype(
            {c: "string" for c in ("rec_type", "site", "owner", "escalation_to")}
        )
        st.dataframe(matrix, hide_index=True, key="ownership_matrix")
        st.download_button(
            "Download the ownership matrix (CSV, the owners.csv layout)",
            safe_csv(matrix),
            "owners.csv",
            "text/csv",
            key="ownership_dl_matrix",
        )
        if not roles.can(session.current_role(), "ownership"):
            st.caption(
                f"Only an admin can change the matrix (you are {session.current_user()}, {session.current_role()})."
            )
        else:
            types = sorted(set(facts.rec_types) | set(matrix["rec_type"].dropna()))
            sites = ["*"] + list(facts.sites)
            with st.form("ownership_edit_form"):
                st.markdown("**Add or change a row** (recorded on the audit trail)")
                f1, f2, f3, f4, f5 = st.columns(5)
                rec_type = f1.selectbox(
                    "Type", types, key="ownership_edit_type", accept_new_options=True
                )
                site = f2.selectbox(
                    "Site", sites, key="ownership_edit_site", accept_new_options=True
                )
                owner = f3.text_input("Owner", key="ownership_edit_owner")
                escalation = f4.text_input("Escalates to", key="ownership_edit_escalation")
                sla = f5.number_input("SLA hours", 0.0, 10_000.0, 24.0, key="ownership_edit_sla")
                save = st.form_submit_button("Save row", type="primary")
            keys = [f"{t}|{s}" for t, s in zip(matrix["rec_type"], matrix["site"], strict=True)]
            r1, r2 = st.columns([3, 1])
            to_remove = r1.selectbox("Remove a row", keys, index=None, key="ownership_remove_key")
            remove = r2.button("Remove", key="ownership_remove", disabled=to_remove is None)
            try:
                if save:
                    entry = make_entry(rec_type, site, owner, escalation, sla)
                    done = apply_owner_changes(
                        engine,
                        upserts=[entry],
                        actor=session.current_user(),
                        role=session.current_role(),
                    )
                    st.session_state["ownership_flash"] = (
                        f"Saved {rec_type}|{site}." if done.n_changed else "Nothing changed."
                    )
                if remove and to_remove:
                    rt, st_site = to_remove.split("|", 1)
                    apply_owner_changes(
                        engine,
                        deletes=[(rt, st_site)],
                        actor=session.current_user(),
                        role=session.current_role(),
                    )
                    st.session_state["ownership_flash"] = f"Removed {to_remove}."
            except (OwnershipError, roles.PermissionDenied) as exc:
                st.error(escape_markdown(str(exc)))
            else:
                if save or remove:
                    cache.clear_after_write()
                    st.rerun()
            if flash := st.session_state.pop("ownership_flash", None):
                st.success(escape_markdown(flash))

if tab_routing.open:
    with tab_routing:
        routing.render(engine, facts.owners)

if tab_gates.open:
    with tab_gates:
        report, current = cache.readiness_gates(
            url, version, gl.isoformat() if gl else None, f"{now:%Y-%m-%d}"
        )
        if report is None:
            session.preparing("The readiness gates")
            st.stop()
        if not current:  # an earlier day's (or data's) gates while today's are prepared
            st.info(
                f"These are the gates as of **{str(report['as_of'])[:16].replace('T', ' ')} "
                "UTC**: they judge the data's freshness against the day, and today's are "
                "being prepared in the background. This tab fills in by itself.",
                icon=":material/history:",
            )
            session.build_status()
        ready = "ready" if report["ready"] else "not ready"
        st.markdown(
            f"**Go-live readiness: {ready}** — every hard gate must pass. Go-live: "
            f"{gl or 'not set'}. Same as `python cli.py gates --json`."
        )
        for gate in report["gates"]:
            kind = "hard" if gate["hard"] else "soft"
            with st.expander(
                f"{gate['name']} ({kind}) — {gate['status']}",
                expanded=gate["status"] != "pass",
                icon=GATE_ICON[gate["status"]],
            ):
                for check in gate["evidence"]["checks"]:
                    st.markdown(
                        f"{GATE_ICON[check['status']]} **{check['check']}** ({check['status']}): {escape_markdown(check['detail'])}"
                    )
