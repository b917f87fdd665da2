"""Baseline vs go-live: are decisions faster and operations better since the AI went live?"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import streamlit as st

from analytics.baseline.charts import trend_figure
from analytics.baseline.compare import kpi_export, with_targets
from analytics.baseline.kpis import KPI_BY_KEY, KPIS
from analytics.baseline.report_html import kpi_report_html
from analytics.baseline.targets import SETTING_KEY, resolve_targets, target_op
from analytics.baseline.text import (
    display_factor,
    display_unit,
    fmt_delta,
    fmt_gap,
    fmt_interval,
    fmt_target,
    fmt_usd,
    fmt_value,
    verdict_colour,
)
from analytics.shared.figures import SLA_MET_DEFINITION, SLA_MET_RULE, fmt_period
from analytics.shared.safe_text import safe_csv
from store import roles
from store.settings import get_setting, set_setting
from ui import cache, kpi_cache, session
from ui import money as money_ui
from ui.tiles import tile

session.ensure_shell()  # before anything renders: see ui/session.py

ALL_SITES, ALL_TYPES = "All sites", "All types"
BREAKDOWNS = {
    "Site": ("site",),
    "Type": ("rec_type",),
    "Site × type": ("site", "rec_type"),
    "Owner": ("owner",),
}

st.title("Baseline vs go-live")
st.caption(
    "Decision speed and operational results before the AI went live (baseline) and since "
    "(current), each with a 95% interval, so a real change can be told from noise: a verdict "
    "says improved or worse only when the whole interval is on one side of zero."
)

facts = cache.log_facts()  # not the whole log: the KPI inputs are built on write
go_live = session.go_live()
if facts.n_recs == 0 or go_live is None:
    session.empty_state(
        "No recommendations in the store yet, so there is nothing to compare.",
        hint="Load a decision log on the **Data** page; only recommendations.csv is required.",
    )
    st.stop()

url, version = cache.current_url(), kpi_cache.kpi_version()
sites, types = kpi_cache.kpi_filter_options(url, version)
left, right = st.columns(2)
site_choice = left.selectbox("Site", [ALL_SITES, *sites], key="baseline_site")
type_choice = right.selectbox("Recommendation type", [ALL_TYPES, *types], key="baseline_type")
site = None if site_choice == ALL_SITES else site_choice
rec_type = None if type_choice == ALL_TYPES else type_choice

view = kpi_cache.kpi_view(url, version, go_live.isoformat(), site, rec_type)
engine = cache.current_engine()
targets = resolve_targets(get_setting(engine, SETTING_KEY))
table = with_targets(view["comparison"], targets)
scope = f"{site or 'all sites'}, {rec_type or 'all types'}"

st.markdown(
    f"Go-live **{go_live.isoformat()}**"
    + (" *(inferred — set it in the sidebar)*" if session.go_live_inferred() else "")
    + f" · scope: {scope}"
)
if rec_type is not None:
    st.caption("OTIF, expedite and stockouts are not per recommendation type: shown for the site.")


def _delta_colour(row: pd.Series) -> str:
    colour = verdict_colour(row["verdict"])
    if colour is None or pd.isna(row["delta"]):
        return "off"
    # Streamlit greens a rise under "normal" and a fall under "inverse".
    return "normal" if (row["delta"] > 0) == (colour == "green") else "inverse"


GRAIN_TABLE = {"rec": "recommendations", "line": "orders", "period": "kpi_periods"}
GRAIN_EVENT = {"rec": "signal", "line": "promised date", "period": "period start"}


def _periods(grain: str) -> str:
    """The days each side of a tile covers, by its table's own event time."""
    span = view["range"].get(GRAIN_TABLE[grain])
    if span is None:
        return ""
    day_before = go_live - timedelta(days=1)
    base = (
        fmt_period(span["first"], min(span["last"], day_before))
        if span["first"] < go_live
        else "none"
    )
    cur = (
        fmt_period(max(span["first"], go_live), span["last"]) if span["last"] >= go_live else "none"
    )
    return f"By {GRAIN_EVENT[grain]}: current {cur}, baseline {base}"


def _owner_sla_in_scope() -> bool:
    """Whether an owners row with an SLA covers the scope's type and site (``*`` = any site)."""
    rows = facts.owners[facts.owners["sla_hours"].notna()]
    if rec_type is not None:
        rows = rows[(rows["rec_type"].astype("string") == rec_type).to_numpy()]
    if site is not None:
        rows = rows[rows["site"].astype("string").isin([site, "*"]).to_numpy()]
    return len(rows) > 0


NO_SLA_SCOPE = not facts.owners.empty and not _owner_sla_in_scope()


def _no_sla(row: pd.Series) -> bool:
    """The SLA met tile of a scope no owner's SLA covers (type with no owner)."""
    return NO_SLA_SCOPE and row["kpi"] == "sla_met_rate"


NO_SLA = (
    "No owner, no SLA: no row of the ownership matrix gives this scope an owner with an "
    "SLA, so there is nothing to meet or miss. Add one on the **Ownership** page."
)

rows = list(table.itertuples(index=False))
for start in range(0, len(rows), 3):
    for col, row in zip(st.columns(3), rows[start : start + 3], strict=False):
        row = pd.Series(row._asdict())
        kpi = row["kpi"]
        with col.container(border=True):
            if row["note"] or _no_sla(row):
                tile(st, row["label"], "—")
                st.caption(row["note"] or NO_SLA)
                continue
            tile(
                st,
                row["label"],
                fmt_value(kpi, row["current"]),
                delta=None if pd.isna(row["delta"]) else fmt_delta(kpi, row["delta"]),
                delta_color=_delta_colour(row),
                delta_description="vs baseline",
                help=f"n = {row['n_baseline']:,} before go-live, {row['n_current']:,} since. "
                + ("Lower is better." if row["better"] == "lower" else "Higher is better.")
                + (f" {SLA_MET_DEFINITION}" if kpi == "sla_met_rate" else ""),
            )
            gap = fmt_gap(kpi, row["gap"], row["meets_target"])
            st.caption(
                f"Baseline {fmt_value(kpi, row['baseline'])} · "
                f"{fmt_interval(kpi, row['ci_low'], row['ci_high'])}  \n"
                f"**{row['verdict']}** · {fmt_target(kpi, row['target'])}"
                + (f" · {gap}" if gap else "")
                + f"  \n{_periods(KPI_BY_KEY[kpi].grain)}"
                + (
                    f"; judged at the log's end: {SLA_MET_RULE.lower()}"
                    if kpi == "sla_met_rate"
                    else ""
                )
            )

money = view["money"]
with st.container(border=True):
    saved = money["saved_usd"]
    if saved is None:
        tile(st, "Expedite spend vs baseline rate", "—")
        st.caption("Not available — load kpi_periods.csv with cogs_usd and expedite_usd.")
    else:
        tile(
            st,
            "Expedite spend vs baseline rate, at current COGS",
            f"{fmt_usd(abs(saved))} {'saved' if saved >= 0 else 'lost'}",
            help="(baseline % − current %) × current COGS "
            f"({fmt_usd(money['current_cogs_usd'])}) over the current period.",
        )
        parts = []
        if money["saved_low_usd"] is not None:
            parts.append(
                f"95% CI {fmt_usd(money['saved_low_usd'])} to "
                f"{fmt_usd(money['saved_high_usd'])} saved"
            )
        if money["bps_of_revenue"] is not None:
            parts.append(
                f"{money['bps_of_revenue']:+,.0f} bps of revenue "
                f"({fmt_usd(money['current_revenue_usd'])})"
            )
        if parts:
            st.caption(" · ".join(parts))

# --- Cost of late decisions and money at risk --------------------------------------------
priced = kpi_cache.money_view(
    url, version, go_live.isoformat(), site, rec_type, targets.get("expedite_pct_cogs")
)
money_ui.late_cost_and_money_at_risk(priced)

# Only the open tab is drawn (opening another reruns the page from the cached views): the nine
# trend charts drawn at every visit cost the browser a second or two on a 2-core machine.
tab_breakdown, tab_trends, tab_export, tab_targets = st.tabs(
    ["Breakdown", "Trends", "Export", "Targets"],
    key="baseline_tab",
    on_change="rerun",
)
trend = view["trend"]
# The breakdown's choice outlives its tab (a widget not drawn on a run loses its state).
by_label = session.kept("baseline_by", list(BREAKDOWNS), "Site")


def _breakdown(by: str) -> pd.DataFrame:
    return kpi_cache.kpi_breakdown(
        url, version, go_live.isoformat(), site, rec_type, BREAKDOWNS[by]
    )


if tab_breakdown.open:
    with tab_breakdown:
        by_label = st.segmented_control(
            "Break down by", list(BREAKDOWNS), default=by_label, key="baseline_by", required=True
        )
        session.keep("baseline_by", by_label)
        breakdown = _breakdown(by_label)
        shown_breakdown = breakdown.copy()
        for key in KPI_BY_KEY:
            if key in shown_breakdown:
                shown_breakdown[key] = shown_breakdown[key] * display_factor(key)
        st.dataframe(
            shown_breakdown,
            hide_index=True,
            key="baseline_breakdown",
            column_config={
                "site": "Site",
                "rec_type": "Type",
                "owner": "Owner",
                "period": "Period",
                "n_recs": st.column_config.NumberColumn("Recs", format="%d"),
                "n_decisions": st.column_config.NumberColumn("Decisions", format="%d"),
                **{
                    k.key: st.column_config.NumberColumn(
                        f"{k.label} ({display_unit(k.key)})", format="%.1f"
                    )
                    for k in KPIS
                },
            },
        )


if tab_trends.open:
    with tab_trends:
        st.caption(
            "Per week of each table's event time (stockouts per month). Grey band: the "
            "baseline's interquartile range, dashed: its median; black: go-live; red dotted: "
            "target."
        )
        trend, bands = view["trend"], view["band"].set_index("kpi")
        decisions_until = facts.last_decided  # None on an empty log
        if (
            decisions_until is not None
            and len(trend)
            and trend["period_start"].max() >= decisions_until
        ):
            st.caption(
                f"Decisions are logged up to {decisions_until:%Y-%m-%d}; the shaded weeks after "
                "it hold recommendations that are still open, so decision latency, response time "
                "and override rate read blank there and SLA met rests on few recommendations: "
                "open ones already past their SLA count as breaches, open ones still inside it "
                "are left out until decided."
            )
        shown = [
            k
            for k in KPIS
            if not table.set_index("kpi").loc[k.key, "note"]
            and not (NO_SLA_SCOPE and k.key == "sla_met_rate")
        ]
        if NO_SLA_SCOPE:
            st.caption(f"SLA met has no trend here. {NO_SLA}")
        if trend.empty:
            session.empty_state("No data to draw a trend from in this scope.")
        for start in range(0, len(shown) if not trend.empty else 0, 2):
            for col, kpi in zip(st.columns(2), shown[start : start + 2], strict=False):
                col.plotly_chart(
                    trend_figure(
                        trend,
                        kpi=kpi.key,
                        go_live=go_live,
                        band=bands.loc[kpi.key] if kpi.key in bands.index else None,
                        target=targets.get(kpi.key),
                        decisions_until=decisions_until,
                    ),
                    key=f"baseline_trend_{kpi.key}",
                    config={"displayModeBar": False},
                )


if tab_export.open:
    with tab_export:
        tag = f"{go_live.isoformat()}_{site or 'all'}_{rec_type or 'all'}"
        by_cols = BREAKDOWNS[by_label]

        def _report() -> str:
            return kpi_report_html(
                table,
                trend,
                view["band"],
                go_live=go_live,
                go_live_inferred=session.go_live_inferred(),
                data_range=view["range"],
                money=money,
                scope=scope,
                generated_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
                generated_by=session.current_user(),
            )

        # Callables: each file is built only when its button is clicked.
        cols = st.columns(4)
        cols[0].download_button(
            "KPI tiles (CSV)",
            lambda: safe_csv(kpi_export(table, money)),
            file_name=f"kpis_{tag}.csv",
            mime="text/csv",
            key="baseline_dl_kpis",
            on_click="ignore",
        )
        cols[1].download_button(
            "Trends (CSV)",
            lambda: safe_csv(trend),
            file_name=f"kpi_trends_{tag}.csv",
            mime="text/csv",
            key="baseline_dl_trends",
            on_click="ignore",
        )
        cols[2].download_button(
            f"Breakdown by {by_label.lower()} (CSV)",
            lambda: safe_csv(_breakdown(by_label)),
            file_name=f"kpi_breakdown_{'_'.join(by_cols)}_{tag}.csv",
            mime="text/csv",
            key="baseline_dl_breakdown",
            on_click="ignore",
        )
        cols[3].download_button(
            "Printable report (HTML)",
            _report,
            file_name=f"kpi_report_{tag}.html",
            mime="text/html",
            key="baseline_dl_report",
            on_click="ignore",
            type="primary",
        )


if tab_targets.open:
    with tab_targets:
        can_edit = roles.can(session.current_role(), "settings")
        st.caption(
            "Defaults are the figures practitioners quote as working. Leave a box empty for no "
            "target." + ("" if can_edit else " Only an admin can change them.")
        )
        with st.form("baseline_targets_form", border=False):
            edited: dict[str, float | None] = {}
            cols = st.columns(3)
            for i, kpi in enumerate(KPIS):
                factor = display_factor(kpi.key)
                current = targets.get(kpi.key)
                value = cols[i % 3].number_input(
                    f"{kpi.label} {target_op(kpi.key)} ({display_unit(kpi.key)})",
                    min_value=0.0,
                    value=None if current is None else round(current * factor, 4),
                    step=0.5,
                    key=f"baseline_target_{kpi.key}",
                    disabled=not can_edit,
                )
                edited[kpi.key] = None if value is None else round(float(value) / factor, 10)
            if st.form_submit_button("Save targets", disabled=not can_edit) and can_edit:
                set_setting(
                    engine,
                    SETTING_KEY,
                    edited,
                    actor=session.current_user(),
                    role=session.current_role(),
                )
                st.rerun()
