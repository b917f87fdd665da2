"""The Baseline page's money section: the cost of late decisions and the money at risk."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from analytics.baseline.text import fmt_usd
from ui import session
from ui.tiles import tile

LATE_BY_LABELS = {"rec_type": "Type", "owner": "Owner", "late_decision_usd": "Late $",
                  "late_decision_n": "Late", "n_rated": "Owned decisions",
                  "usd_per_year": "$ a year", "bps_of_revenue": "bps of revenue"}  # fmt: skip
RISK_LABELS = {"label": "Cause", "usd_per_year": "$ a year", "ci_low": "CI low",
               "ci_high": "CI high", "bps_of_revenue": "bps of revenue",
               "page_label": "Acted on", "note": "Note"}  # fmt: skip
RISK_PAGES = {"pages/ownership.py": "Ownership & SLA", "pages/why.py": "Why this fired",
              "pages/overrides.py": "Override patterns"}  # fmt: skip


def late_cost_and_money_at_risk(priced: dict[str, Any]) -> None:
    """Render ``kpi_cache.money_view``'s result: the late-decision tile with its breakdown, then
    the Money at risk table with a link to where each cause is acted on."""
    late = priced["late"]
    with st.container(border=True):
        if late["usd"] is None:
            tile(st, "Cost of late decisions (current)", "—")
            st.caption(
                "Not available — needs decisions.csv and owners.csv, and a decided recommendation "
                "with an owner row since go-live."
            )
        else:
            tile(
                st,
                "Cost of late decisions (current)",
                fmt_usd(late["usd"]),
                help="Σ est_impact_usd of recommendations with an owner row that were decided after "
                "their SLA or expired, since go-live; open ones count once decided.",
            )
            parts = [
                f"{late['n']:,} of {late['n_rated']:,} owned decisions late",
                f"95% CI {fmt_usd(late['ci_low'])} to {fmt_usd(late['ci_high'])}",
            ]
            if late["usd_per_year"] is not None:
                parts.append(f"{fmt_usd(late['usd_per_year'])} a year")
            if late["bps_of_revenue"] is not None:
                parts.append(
                    f"{late['bps_of_revenue']:,.0f} bps of revenue "
                    f"(CI {late['bps_low']:,.0f} to {late['bps_high']:,.0f})"
                )
            st.caption(" · ".join(parts))
            box = session.opened(
                "Cost of late decisions by type and owner", key="baseline_late_by_open"
            )
            if box is not None:
                box.dataframe(
                    priced["late_by"].rename(columns=LATE_BY_LABELS),
                    hide_index=True,
                    key="baseline_late_by",
                    column_config={
                        "Late $": st.column_config.NumberColumn(format="dollar"),
                        "$ a year": st.column_config.NumberColumn(format="dollar"),
                        "bps of revenue": st.column_config.NumberColumn(format="%.0f"),
                    },
                )

    st.subheader("Money at risk")
    st.caption(
        "Since go-live, what is costing money, most dollars a year first, each with its 95% "
        "interval, basis points of revenue (where kpi_periods gives revenue_usd) and the page "
        "where it is acted on."
    )
    risk = pd.DataFrame(priced["at_risk"])
    st.dataframe(
        risk[
            ["label", "usd_per_year", "ci_low", "ci_high", "bps_of_revenue", "page_label", "note"]
        ].rename(columns=RISK_LABELS),
        hide_index=True,
        key="baseline_money_at_risk",
        column_config={
            c: st.column_config.NumberColumn(format="dollar")
            for c in ("$ a year", "CI low", "CI high")
        }
        | {"bps of revenue": st.column_config.NumberColumn(format="%.0f")},
    )
    act = st.columns(len(RISK_PAGES))
    for col, (page, label) in zip(act, RISK_PAGES.items(), strict=True):
        col.page_link(page, label=f"Act on it: {label}", icon=":material/arrow_forward:")
