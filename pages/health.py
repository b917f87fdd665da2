"""Model health: is the AI still right? Drift, calibration, false positives, acceptance, alerts."""

from __future__ import annotations

import hashlib

import pandas as pd
import streamlit as st

from analytics.monitoring import charts
from analytics.monitoring.calibration import reliability
from analytics.monitoring.text import NOT_ENOUGH, day_text
from analytics.shared.safe_text import escape_markdown
from store import roles
from store.learning.monitoring import (
    AcknowledgeError,
    acknowledge_alert,
    save_calibration_types,
    save_reference,
    saved_calibration_types,
    saved_reference,
)
from ui import cache, session
from ui.tiles import tile

session.ensure_shell()  # before anything renders: see ui/session.py

KIND_LABEL = {
    "feature_drift": "Feature drift",
    "calibration": "Calibration",
    "false_positives": "False positives",
    "acceptance_drift": "Acceptance drift",
}

st.title("Model health")
st.caption(
    "Models degrade quietly when a field changes meaning upstream or a new version ships. "
    "Each figure compares recent weeks with a reference window; an alert says what to check."
)

engine = cache.current_engine()
url = cache.current_url()
facts = cache.log_facts()  # not the whole log: the monitor is built on write
if facts.n_recs == 0:
    session.empty_state(
        "No recommendations loaded yet.", hint="Load a bundle on the **Data** page first."
    )
    st.stop()

report = cache.model_health()
if report is cache.PREPARING:  # drift, calibration and acceptance are built on write
    session.preparing("The model health monitor")
    st.stop()
role, user = session.current_role(), session.current_user()
is_admin = roles.can(role, "settings")

saved = saved_reference(engine)
# Drawn once opened (the page reruns); open from the start when there is no window to judge by.
reference_box = session.opened(
    "Reference window and calibration types",
    key="health_reference_open",
    icon=":material/tune:",
    expanded=report is None,
)
if reference_box is not None:
    with reference_box:
        if report is None:
            st.caption(
                "No go-live can be inferred (no recommendation has a model_version): pick a window."
            )
        else:
            st.caption(
                f"Reference: **{day_text(report.reference.start)} – {day_text(report.reference.end)}** "
                + (
                    "(saved by an admin)."
                    if saved
                    else "(default: the first 8 weeks from go-live)."
                )
            )
        first_day, last_day = facts.first_created.date(), facts.last_created.date()
        default = (first_day, last_day)
        if report is not None:  # a window may reach past the data: keep the picker inside it
            start = min(max(report.reference.start, first_day), last_day)
            default = (start, min(max(report.reference.end, start), last_day))
        picked = st.date_input(
            "Reference window", value=default, min_value=first_day, max_value=last_day,
            key="health_reference", disabled=not is_admin,
        )  # fmt: skip
        types_all = list(facts.rec_types)
        chosen_types = st.multiselect(
            "Types whose score is a stockout probability",
            types_all,
            default=report.calibration_types if report else [],
            key="health_cal_types",
            disabled=not is_admin,
            help="Default: types whose score lies in 0..1 and whose outcomes carry stockout.",
        )
        c1, c2 = st.columns(2)
        if not is_admin:
            st.caption("Only an admin can change the reference window and calibration types.")
        elif c1.button("Save for everyone", key="health_save_settings", type="primary"):
            if isinstance(picked, tuple) and len(picked) == 2:
                save_reference(engine, picked[0], picked[1], actor=user, role=role)
                save_calibration_types(engine, chosen_types, actor=user, role=role)
                cache.clear_after_write()
                st.rerun()
            else:
                st.warning("Pick both ends of the reference window.")
        if is_admin and c2.button("Back to the defaults", key="health_reset_settings"):
            save_reference(engine, None, None, actor=user, role=role)
            save_calibration_types(engine, None, actor=user, role=role)
            cache.clear_after_write()
            st.rerun()
        if saved_calibration_types(engine) is not None:
            st.caption("Calibration types: saved by an admin.")


if report is None:
    session.empty_state(f"Model health: {NOT_ENOUGH}.", hint="Set a go-live or a reference window.")
    st.stop()

open_alerts = report.unacknowledged
drifting = sorted({a["feature"] for a in report.alerts if a["kind"] == "feature_drift"})
m1, m2, m3, m4 = st.columns(4)
tile(m1, "Open alerts", f"{len(open_alerts):,}")
tile(m2, "Acknowledged", f"{len(report.alerts) - len(open_alerts):,}")
tile(m3, "Features drifting", f"{len(drifting):,}", help=", ".join(drifting) or None)
tile(m4, "Judged for calibration", f"{len(report.judged):,}")
for note in report.notes:
    st.info(note, icon=":material/info:")

st.subheader("Alerts")
if not report.alerts:
    st.success(
        "No alert: every judged figure is within its threshold.", icon=":material/check_circle:"
    )
acks = cache.model_health_acks(url, cache.table_version("monitor_ack")).set_index("alert_key")
may_ack = roles.can(role, "monitor_ack")
for alert in report.alerts:
    tag = hashlib.sha1(alert["key"].encode()).hexdigest()[:10]
    with st.container(border=True, key=f"health_alert_{tag}"):
        head = (
            f"**{KIND_LABEL[alert['kind']]}** since {day_text(pd.Timestamp(alert['since']).date())}"
        )
        st.markdown(head + (" · acknowledged" if alert["acknowledged"] else ""))
        st.markdown(escape_markdown(alert["message"]))  # types, sites, versions: from the data
        value, limit = alert["value"], alert["threshold"]
        st.caption(
            f"{alert['statistic']} = {'—' if value is None else f'{value:.3f}'} "
            f"(threshold {'—' if limit is None else f'{limit:.3f}'})"
        )
        if alert["acknowledged"] and alert["key"] in acks.index:
            ack = acks.loc[alert["key"]]
            st.caption(
                f"Acknowledged by {escape_markdown(ack['acknowledged_by'])} ({ack['role']}) on "
                f"{ack['acknowledged_at']:%Y-%m-%d %H:%M} UTC: {escape_markdown(ack['note'])}"
            )
        elif not alert["acknowledged"] and may_ack:
            note = st.text_input("What was checked", key=f"health_ack_note_{tag}",
                                 placeholder="e.g. P2 switched lead time to calendar days on 5 May")  # fmt: skip
            if st.button("Acknowledge", key=f"health_ack_{tag}"):
                try:
                    acknowledge_alert(engine, alert=alert, note=note, actor=user, role=role)
                except (AcknowledgeError, roles.PermissionDenied) as e:
                    st.error(escape_markdown(str(e)))
                else:
                    cache.clear_after_write()
                    st.rerun()
if open_alerts and not may_ack:
    st.caption(f"Your role ({role}) can read alerts; an admin or S&OP lead acknowledges them.")


# Only the open tab is drawn (opening another reruns the page from the cached report): four
# charts and five tables drawn at every visit cost the browser seconds on a 2-core machine.
tab_drift, tab_cal, tab_acc, tab_versions = st.tabs(
    ["Feature drift", "Calibration & false positives", "Acceptance drift", "Model versions"],
    key="health_tab",
    on_change="rerun",
)
ref = report.reference

if tab_drift.open:
    with tab_drift:
        summary = report.drift.summary
        if summary.empty:
            session.empty_state("No f_* feature columns in the recommendations.")
        else:
            st.caption(
                "PSI of each week against the reference (10 reference-decile bins; 0.0001 for an "
                f"empty bin). An alert needs {2} weeks in a row at PSI ≥ 0.2. Test on the latest "
                "week: Kolmogorov–Smirnov (numeric), chi-square (categorical)."
            )
            st.dataframe(summary, hide_index=True, key="health_drift_table",
                         column_config={"p_value": st.column_config.NumberColumn("p (latest)", format="%.2g")})  # fmt: skip
            judged_feats = summary.loc[summary["kind"].notna(), "feature"].tolist()
            if judged_feats:
                first = drifting[0] if drifting else judged_feats[0]
                first = session.kept("health_feature", judged_feats, first)
                feat = st.selectbox("Feature", judged_feats, index=judged_feats.index(first),
                                    key="health_feature")  # fmt: skip
                session.keep("health_feature", feat)
                st.vega_lite_chart(charts.psi_spec(report.drift.weekly, feature=feat, reference=ref,
                                                   threshold=0.2), width="stretch",
                                   key="health_psi_chart")  # fmt: skip
                shares = report.drift.shares.get(feat)
                if shares is not None:
                    st.vega_lite_chart(charts.distribution_spec(shares, feature=feat,
                                                                latest_label="latest week"),
                                       width="stretch", key="health_dist_chart")  # fmt: skip
                else:
                    st.caption(f"{feat}: {NOT_ENOUGH} in a recent week to compare.")

if tab_cal.open:
    with tab_cal:
        st.caption(
            "Judged only where acting could not have changed the outcome: recommendations rejected, "
            "expired or left open that have an outcome. Types: "
            + (", ".join(report.calibration_types) or "none")
            + ". ECE over 10 equal-width score bins; false-positive rate = share of scores ≥ 0.5 "
            "with no stockout after. 95% intervals."
        )
        if report.calibration.empty:
            session.empty_state(f"Calibration: {NOT_ENOUGH} (no judged recommendation).")
        else:
            st.dataframe(report.calibration.drop(columns=["first_week"]), hide_index=True,
                         key="health_cal_versions")  # fmt: skip
            st.dataframe(report.calibration_by_type.drop(columns=["first_week"]), hide_index=True,
                         key="health_cal_types_table")  # fmt: skip
            if len(report.calibration_by_site):
                st.caption("By type × site (where at least 50 are judged):")
                st.dataframe(report.calibration_by_site.drop(columns=["first_week"]), hide_index=True,
                             key="health_cal_sites_table")  # fmt: skip
            judged = report.judged.assign(
                model_version=report.judged["model_version"].astype("string").fillna("(none)")
            )
            points = {str(v): reliability(g) for v, g in judged.groupby("model_version")}
            st.plotly_chart(charts.reliability_figure(points), key="health_reliability")

if tab_acc.open:
    with tab_acc:
        chart = report.weekly_overrides
        if chart.empty or "judged" not in chart or not chart["judged"].any():
            session.empty_state(
                f"Acceptance drift: {NOT_ENOUGH} (decisions per type × site in the reference)."
            )
        else:
            st.caption(
                "Binomial CUSUM of each type × site's weekly override rate against its reference rate "
                "(odds × 2 up or ÷ 2 down; signal at 5). The change is dated from the week after the "
                "sum last stood at zero."
            )
            pairs = chart.loc[chart["judged"], ["rec_type", "site"]].drop_duplicates()
            labels = [f"{t} @ {s}" for t, s in pairs.itertuples(index=False)]
            flagged = [f"{s.rec_type} @ {s.site}" for s in report.shifts]
            first = session.kept("health_pair", labels, flagged[0] if flagged else labels[0])
            pick = st.selectbox("Type @ site", labels, index=labels.index(first), key="health_pair")
            session.keep("health_pair", pick)
            rec_type, site = pick.split(" @ ", 1)
            st.plotly_chart(charts.override_rate_figure(chart, rec_type=rec_type, site=site,
                                                        reference=ref), key="health_acc_chart")  # fmt: skip

if tab_versions.open:
    with tab_versions:
        ages = ["whole history", "first 8 weeks of each version"]
        age = st.radio("Compare", ages, horizontal=True, key="health_versions_age",
                       index=ages.index(session.kept("health_versions_age", ages, ages[0])))  # fmt: skip
        session.keep("health_versions_age", age)
        table = (
            report.versions if age == "whole history"
            else cache.model_versions_at_age(url, cache.contract_version(), cache.table_version("settings"), 8)
        )  # fmt: skip
        st.dataframe(table, hide_index=True, key="health_versions_table",
                     column_config={
                         "acceptance_rate": st.column_config.NumberColumn("acceptance", format="percent"),
                         "override_rate": st.column_config.NumberColumn("override rate", format="percent"),
                         "false_positive_rate": st.column_config.NumberColumn("false positives", format="percent"),
                     })  # fmt: skip
        st.caption(
            "Value added in the recommendation's units (positive: overrides beat the model); latency "
            "= median hours from signal to recommendation; response = median hours to a decision."
        )
