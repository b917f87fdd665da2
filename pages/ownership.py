"""Ownership & SLA: who owns each kind of recommendation, late answers, overload, readiness."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import streamlit as st

from analytics.shared.safe_text import safe_csv
from store import roles
from store.owner_matrix import OwnershipError, apply_owner_changes, make_entry
from ui import cache, session

session.ensure_shell()  # before anything renders: see ui/session.py

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
frames = cache.get_frames()
recs = frames.recommendations
if recs.empty:
    session.empty_state(
        "No recommendations loaded yet.", hint="Load a bundle on the **Data** page first."
    )
    st.stop()

left, mid, right = st.columns([2, 1, 1])
as_of_choice = left.radio(
    "Judge open recommendations as of",
    ["now", "the newest recommendation"],
    horizontal=True,
    key="ownership_as_of",
    help="'now' for a live log; the newest recommendation's time to replay a historical extract.",
)
now = pd.Timestamp.now(tz="UTC").floor("min")
as_of = now if as_of_choice == "now" else recs["created_at"].max()
trend_by = mid.selectbox("SLA trend by", ["owner", "rec_type", "site"], key="ownership_trend_by")
freq = right.selectbox("Period", ["week", "month"], key="ownership_freq")
ov = cache.ownership_overview(url, version, as_of.isoformat(), trend_by, freq)

overall = ov.sla_overall.iloc[0]
unowned_share = (
    ov.unowned.loc[ov.unowned["problem"] == "no owner", "n_recs"].sum() / ov.n_recs
    if ov.n_recs
    else 0.0
)
c1, c2, c3, c4 = st.columns(4)
c1.metric(
    "SLA met",
    "—" if pd.isna(overall["sla_met_rate"]) else f"{overall['sla_met_rate']:.1%}",
    help=f"{overall['n_met']:,} of {overall['n_rated']:,} owned recommendations with an SLA "
    f"(95% interval {overall['ci_low']:.1%}–{overall['ci_high']:.1%}); {overall['n_pending']:,} "
    "still open inside their SLA count as not met, as the contract defines the rate.",
)
c2.metric("Open past SLA", f"{ov.n_breaches:,}")
c3.metric(
    "Impact at stake", f"${ov.breach_impact_usd:,.0f}", help="Σ est_impact_usd of the breaches"
)
c4.metric("Recommendations with no owner", f"{unowned_share:.1%}")
st.caption(f"Open recommendations judged at {ov.as_of:%Y-%m-%d %H:%M} UTC.")

tab_queue, tab_sla, tab_unowned, tab_fatigue, tab_matrix, tab_gates = st.tabs(
    ["Breach queue", "SLA met", "Unowned", "Fatigue", "Ownership matrix", "Readiness gates"]
)

with tab_queue:
    if ov.n_breaches == 0:
        session.empty_state("No open recommendation is past its SLA.")
    else:
        st.dataframe(
            ov.breaches_by_owner,
            hide_index=True,
            key="ownership_breach_owners",
            column_config={
                "impact_usd": st.column_config.NumberColumn("impact $", format="$%,.0f"),
                "max_hours_overdue": st.column_config.NumberColumn("max h overdue", format="%.0f"),
            },
        )
        st.caption(
            f"The {len(ov.breach_queue):,} of {ov.n_breaches:,} breaches with the largest "
            "estimated impact; each escalates to the person named in the matrix."
        )
        st.dataframe(
            ov.breach_queue,
            hide_index=True,
            key="ownership_breach_queue",
            column_config={
                "est_impact_usd": st.column_config.NumberColumn("impact $", format="$%,.0f"),
                "hours_overdue": st.column_config.NumberColumn("h overdue", format="%.1f"),
            },
        )
        st.download_button(
            "Download the breach queue (CSV)",
            safe_csv(ov.breach_queue),
            f"sla_breaches_{ov.as_of:%Y%m%d_%H%M}.csv",
            "text/csv",
            key="ownership_dl_queue",
        )

rate_cols = {
    "sla_met_rate": st.column_config.NumberColumn("SLA met", format="percent"),
    "ci_low": st.column_config.NumberColumn("95% low", format="percent"),
    "ci_high": st.column_config.NumberColumn("95% high", format="percent"),
}
with tab_sla:
    st.caption(
        "SLA met = decided (not expired) within the SLA of `created_at`, over owned recommendations "
        "with an SLA; expired and open ones count as not met. Wide intervals mean few decisions."
    )
    for label, table, key in (
        ("By recommendation type", ov.sla_by_type, "ownership_sla_type"),
        ("By site", ov.sla_by_site, "ownership_sla_site"),
        ("By owner", ov.sla_by_owner, "ownership_sla_owner"),
    ):
        st.markdown(f"**{label}**")
        st.dataframe(table, hide_index=True, key=key, column_config=rate_cols)
    trend = ov.sla_trend.dropna(subset=["sla_met_rate"])
    if not trend.empty:
        top = trend.groupby(trend_by)["n_rated"].sum().nlargest(8).index
        fig = px.line(
            trend[trend[trend_by].isin(top)],
            x="period",
            y="sla_met_rate",
            color=trend_by,
            markers=True,
            labels={"sla_met_rate": "SLA met", "period": freq},
            title=f"SLA met by {trend_by} per {freq} (8 largest)",
        )
        fig.update_yaxes(tickformat=".0%", range=[0, 1])
        st.plotly_chart(fig, key="ownership_sla_trend")

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
            ov.unowned,
            hide_index=True,
            key="ownership_unowned",
            column_config={
                "share_of_recs": st.column_config.NumberColumn("share", format="percent")
            },
        )

with tab_fatigue:
    if ov.fatigue_summary.empty:
        session.empty_state("No owned recommendations to measure load on.")
    else:
        st.caption(
            "Load per owner per week against how fast and how they answer. A positive "
            "'busy − quiet' gap (slower in heavy weeks) is the early sign people stop looking."
        )
        st.dataframe(
            ov.fatigue_summary,
            hide_index=True,
            key="ownership_fatigue",
            column_config={
                "override_rate": st.column_config.NumberColumn(format="percent"),
                "expired_share": st.column_config.NumberColumn(format="percent"),
            },
        )
        fig = px.scatter(
            ov.fatigue_weekly.dropna(subset=["median_response_h"]),
            x="n_recs",
            y="median_response_h",
            color="owner",
            hover_data=["week", "override_rate"],
            labels={
                "n_recs": "recommendations that week",
                "median_response_h": "median response h",
            },
            title="Weekly load against median response time",
        )
        st.plotly_chart(fig, key="ownership_fatigue_chart")

with tab_matrix:
    matrix = frames.owners.astype(
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
        types = sorted(set(recs["rec_type"].astype(str)) | set(matrix["rec_type"].dropna()))
        sites = ["*"] + sorted(set(recs["site"].astype(str)))
        with st.form("ownership_edit_form"):
            st.markdown("**Add or change a row** (recorded on the audit trail)")
            f1, f2, f3, f4, f5 = st.columns(5)
            rec_type = f1.selectbox(
                "Type", types, key="ownership_edit_type", accept_new_options=True
            )
            site = f2.selectbox("Site", sites, key="ownership_edit_site", accept_new_options=True)
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
            st.error(str(exc))
        else:
            if save or remove:
                cache.clear_after_write()
                st.rerun()
        if flash := st.session_state.pop("ownership_flash", None):
            st.success(flash)

with tab_gates:
    gl = session.go_live()
    report = cache.readiness_gates(url, version, gl.isoformat() if gl else None, f"{now:%Y-%m-%d}")
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
                    f"{GATE_ICON[check['status']]} **{check['check']}** ({check['status']}): {check['detail']}"
                )
