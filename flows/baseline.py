"""Baseline vs go-live: the KPI figures the Baseline page, ``cli.py kpis`` and bench/ share."""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd
from sqlalchemy import Engine

from analytics.baseline.compare import Change, compare_periods, expedite_money, kpi_report
from analytics.baseline.groups import baseline_band, weekly_trend
from analytics.baseline.groups import kpi_breakdown as _breakdown
from analytics.baseline.kpis import KpiTables, data_range, filtered, split
from analytics.baseline.late_cost import late_by_group, late_tile, rec_windows
from analytics.baseline.money_at_risk import money_at_risk
from analytics.baseline.targets import resolve_targets
from contract.vocabulary import KPI_TARGETS
from store.reads import load_frames
from store.settings import get_setting, go_live


class NoGoLive(LookupError):
    """No go-live was given and none can be inferred from the store."""


def filter_options(tables: KpiTables) -> tuple[list[str], list[str]]:
    """(sites, recommendation types) present in the log, sorted."""
    recs = tables.recs
    return (
        sorted(map(str, recs["site"].dropna().unique())),
        sorted(map(str, recs["rec_type"].dropna().unique())),
    )


def _change(row: pd.Series) -> Change:
    def num(key: str) -> float | None:
        return None if pd.isna(row[key]) else float(row[key])

    return Change(num("delta"), num("ci_low"), num("ci_high"), str(row["verdict"]))


def kpi_view(
    tables: KpiTables, *, go_live: date, site: str | None, rec_type: str | None
) -> dict[str, Any]:
    """Everything the Baseline page shows for one go-live and filter: the KPI comparison,
    weekly trend, baseline band, expedite money and data range."""
    tables = filtered(tables, site=site, rec_type=rec_type)
    comparison = compare_periods(tables, go_live=go_live)
    trend = weekly_trend(tables)
    exp = comparison.set_index("kpi").loc["expedite_pct_cogs"]
    return {
        "comparison": comparison,
        "trend": trend,
        "band": baseline_band(trend, go_live=go_live),
        "money": expedite_money(tables, go_live=go_live, change=_change(exp)),
        "range": data_range(tables),
    }


def money_view(
    tables: KpiTables,
    *,
    go_live: date,
    site: str | None,
    rec_type: str | None,
    expedite_target: float | None,
) -> dict[str, Any]:
    """The Baseline page's money: the cost of late decisions (tile, and by type × owner) and
    the money at risk table, for one go-live and filter."""
    tables = filtered(tables, site=site, rec_type=rec_type)
    _, cur = split(tables, go_live)
    _, days = rec_windows(tables, go_live)
    tile = late_tile(tables, cur, go_live=go_live)
    return {
        "late": tile,
        "late_by": late_by_group(
            cur.recs, ["rec_type", "owner"], days=days, revenue_a_year=tile["revenue_per_year"]
        ),
        "at_risk": money_at_risk(
            tables,
            go_live=go_live,
            targets=resolve_targets({"expedite_pct_cogs": expedite_target}),
        ),
    }


def kpi_breakdown(
    tables: KpiTables,
    *,
    go_live: date,
    site: str | None,
    rec_type: str | None,
    by: list[str],
) -> pd.DataFrame:
    """KPIs per group of ``by`` (site, rec_type, owner) before and after go-live."""
    return _breakdown(filtered(tables, site=site, rec_type=rec_type), go_live=go_live, by=by)


def kpis_for_store(
    engine: Engine, *, go_live_date: date | None = None, site: str | None = None
) -> dict[str, Any]:
    """``cli.py kpis --json``: the KPI report for the saved (or inferred) go-live.

    Raises ``NoGoLive`` when none is given and none can be inferred.
    """
    if go_live_date is None:
        go_live_date, _ = go_live(engine)
        if go_live_date is None:
            raise NoGoLive(
                "no go-live given and none can be inferred (no recommendation has a model_version)"
            )
    # Money at risk prices expedite against the saved target (the report's shape is unchanged).
    saved = get_setting(engine, KPI_TARGETS)
    return kpi_report(load_frames(engine), go_live=go_live_date, site=site, risk_targets=saved)
