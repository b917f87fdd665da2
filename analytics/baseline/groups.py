"""KPIs per group: breakdown by site, type or owner, and the weekly trend with its baseline band.

Grouped with pandas aggregations, by the same definitions as
``analytics.baseline.kpis`` (pandas' median and quantile interpolate linearly and skip
NaN, as numpy's do; rates are NaN-skipping means of 1.0/0.0 flags), so a
figure in a breakdown row equals the figure of that row's subset.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import numpy as np
import pandas as pd

from analytics.baseline.kpis import KPIS, REC_KPIS, KpiTables, go_live_timestamp, split


def rec_group_values(recs: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Recommendation KPIs per group, by the same definitions as :func:`rec_statistics`
    (pandas' median and quantile interpolate linearly and skip NaN, as numpy's do)."""
    g = recs.groupby(keys, observed=True, sort=True)
    out = pd.DataFrame(
        {
            "decision_latency_median_h": g["decision_h"].median(),
            "decision_latency_p90_h": g["decision_h"].quantile(0.9),
            "detection_latency_median_h": g["detection_h"].median(),
            "response_time_median_h": g["response_h"].median(),
            "sla_met_rate": g["sla_met"].mean(),
            "override_rate": g["override"].mean(),
        }
    )
    counts = g[["decision_h", "detection_h", "response_h", "sla_met", "override"]].count()
    out["n_recs"] = g.size()
    out["n_decisions"] = g["decision"].count()
    for key, col in (
        ("decision_latency_median_h", "decision_h"),
        ("decision_latency_p90_h", "decision_h"),
        ("detection_latency_median_h", "detection_h"),
        ("response_time_median_h", "response_h"),
        ("sla_met_rate", "sla_met"),
        ("override_rate", "override"),
    ):
        out[f"n:{key}"] = counts[col]
    return out


def line_group_values(lines: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    g = lines.groupby(keys, observed=True, sort=True)["otif"]
    return pd.DataFrame({"otif": g.mean(), "n:otif": g.count()})


def period_group_values(periods: pd.DataFrame, keys: list[str], *, months: bool) -> pd.DataFrame:
    """Expedite % of COGS and stockouts per month per group; ``months`` also counts the
    distinct calendar months in each group (unneeded when grouping by month)."""
    both = periods[["expedite_usd", "cogs_usd"]].notna().all(axis=1)
    frame = pd.DataFrame(
        {
            **{k: periods[k] for k in keys},
            "exp": periods["expedite_usd"].where(both),
            "cogs": periods["cogs_usd"].where(both),
            "events": periods["stockout_events"],
            "month": periods["month"].where(periods["stockout_events"].notna()),
        }
    )
    g = frame.groupby(keys, observed=True, sort=True)
    exp, cogs = g["exp"].sum(min_count=1), g["cogs"].sum(min_count=1)
    n_months = g["month"].nunique() if months else g["events"].count().clip(upper=1)
    return pd.DataFrame(
        {
            "expedite_pct_cogs": (100.0 * exp / cogs.where(cogs > 0)).astype("float64"),
            "n:expedite_pct_cogs": g["exp"].count(),
            "stockouts_per_month": (
                g["events"].sum(min_count=1) / n_months.where(n_months > 0)
            ).astype("float64"),
            "n:stockouts_per_month": n_months,
        }
    )


def kpi_breakdown(tables: KpiTables, *, go_live: date, by: Sequence[str]) -> pd.DataFrame:
    """KPIs per group and period: one row per (group of ``by``, ``period``).

    ``by`` names columns of the recommendations table (``site``, ``rec_type``,
    ``owner``). Grouped by ``site`` alone, the site's OTIF, expedite and
    stockouts are included; under a type or owner they are not defined.
    Columns: ``by``…, ``period`` ("baseline"/"current"), ``n_recs``,
    ``n_decisions``, then the KPI keys.
    """
    by = list(by)
    per_site = by == ["site"]
    columns = [*by, "period", "n_recs", "n_decisions", *REC_KPIS]
    if per_site:
        columns += ["otif", "expedite_pct_cogs", "stockouts_per_month"]
    parts = []
    for period, part in zip(("baseline", "current"), split(tables, go_live), strict=True):
        if part.recs.empty:
            continue
        values = rec_group_values(part.recs, by)
        if per_site:
            values = values.join(line_group_values(part.lines, by), how="left").join(
                period_group_values(part.periods, by, months=True), how="left"
            )
        values = values.reset_index()
        values["period"] = period
        parts.append(values[columns])
    if not parts:
        return pd.DataFrame(columns=columns)
    out = pd.concat(parts, ignore_index=True)
    for key in by:
        out[key] = out[key].astype("string")
    # Each group's baseline row directly above its current row.
    return out.sort_values([*by, "period"], kind="stable", ignore_index=True)


def _month_start(month: np.ndarray) -> pd.Series:
    """First day (UTC) of months numbered year·12 + month − 1."""
    month = np.asarray(month, dtype="int64")
    return pd.to_datetime(
        pd.DataFrame({"year": month // 12, "month": month % 12 + 1, "day": 1}), utc=True
    ).astype("datetime64[us, UTC]")


def _long(values: pd.DataFrame, keys: Sequence[str]) -> list[pd.DataFrame]:
    """Wide per-group values as long trend rows, leaving out groups with no sample."""
    out = []
    for key in keys:
        n = values[f"n:{key}"].to_numpy("int64")
        out.append(
            pd.DataFrame(
                {
                    "kpi": key,
                    "period_start": values.index[n > 0],
                    "value": values[key].to_numpy("float64")[n > 0],
                    "n": n[n > 0],
                }
            )
        )
    return out


def weekly_trend(tables: KpiTables) -> pd.DataFrame:
    """Each KPI per week (Monday, UTC) of its table's event time; stockouts per calendar month
    (the figure is per month by definition).

    Columns: ``kpi``, ``period_start`` (timestamp), ``value``, ``n`` (sample size, > 0).
    """
    parts = _long(rec_group_values(tables.recs, ["week"]), REC_KPIS)
    parts += _long(line_group_values(tables.lines, ["week"]), ["otif"])
    weekly = period_group_values(tables.periods, ["week"], months=False)
    parts += _long(weekly, ["expedite_pct_cogs"])
    monthly = period_group_values(tables.periods, ["month"], months=False)
    monthly.index = pd.DatetimeIndex(_month_start(monthly.index.to_numpy()))
    parts += _long(monthly, ["stockouts_per_month"])
    parts = [p for p in parts if len(p)]
    if not parts:
        return pd.DataFrame(
            {
                "kpi": pd.Series(dtype="str"),
                "period_start": pd.Series(dtype="datetime64[us, UTC]"),
                "value": pd.Series(dtype="float64"),
                "n": pd.Series(dtype="int64"),
            }
        )
    out = pd.concat(parts, ignore_index=True)
    out["period_start"] = out["period_start"].astype("datetime64[us, UTC]")
    return out


def baseline_band(trend: pd.DataFrame, *, go_live: date) -> pd.DataFrame:
    """Median and interquartile range of each KPI's trend points that lie wholly before go-live.

    Columns: ``kpi``, ``median``, ``q25``, ``q75``, ``n_points``.
    """
    cut = go_live_timestamp(go_live)
    starts = trend["period_start"]
    monthly = trend["kpi"] == "stockouts_per_month"
    ends = (starts + pd.Timedelta(days=7)).where(~monthly, starts + pd.DateOffset(months=1))
    before = trend[(ends <= cut).to_numpy() & trend["value"].notna().to_numpy()]
    rows = []
    for kpi in KPIS:
        values = before.loc[before["kpi"] == kpi.key, "value"].to_numpy("float64")
        if values.size:
            q25, med, q75 = np.quantile(values, [0.25, 0.5, 0.75])
            rows.append(
                {"kpi": kpi.key, "median": med, "q25": q25, "q75": q75, "n_points": values.size}
            )
    return pd.DataFrame(rows, columns=["kpi", "median", "q25", "q75", "n_points"])
