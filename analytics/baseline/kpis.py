"""The executive KPIs, each defined once, exactly as ``shared/DATA_CONTRACT.md`` defines it.

:func:`kpi_tables` turns the store's frames into three tidy tables (one row per
recommendation, per order line, per KPI period) holding every per-row quantity
a figure needs; :func:`kpi_statistics` turns any subset of them into one
statistic per KPI (see ``analytics.baseline.bootstrap``). Point values, breakdowns, weekly
trends and bootstrap intervals all come from those statistics, so a figure has
one definition wherever it is shown.

Definitions (contract, "Definitions"):

* decision latency, detection latency, response time and SLA met per
  recommendation come from ``analytics.shared.figures`` — the one definition the
  Ownership page, the health findings, the gates and the digest use too. SLA met is
  judged at the log's end (its newest ``created_at`` or ``decided_at``): an open
  recommendation already past its SLA then is a breach, one still inside it is left
  out; ``sla_hours`` comes from the most specific owners row (exact site over ``*``).
* override rate = (modified + rejected) / (accepted + modified + rejected).
* OTIF = share of *delivered* lines with ``delivered_date <= promised_date`` and
  ``qty_delivered >= qty_ordered``; undelivered lines are outside it.
* expedite % of COGS = 100 · Σ ``expedite_usd`` / Σ ``cogs_usd`` over the
  period rows that give both.
* stockouts per month = Σ ``stockout_events`` / distinct calendar months of
  ``period_start`` (over rows that give ``stockout_events``); a partial month
  counts as a month, as the contract says.

Baseline and current are split at go-live by each table's own event time:
``signal_at``, ``promised_date``, ``period_start``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from analytics.baseline.bootstrap import ProportionSample, QuantileSample, RatioSample, Statistic
from analytics.baseline.money_rows import late_money_columns
from analytics.shared.figures import (
    decision_hours,
    detection_hours,
    log_end,
    response_hours,
    sla_outcome,
    to_us,
)
from analytics.shared.lookups import id_positions
from analytics.shared.owners import resolve_owners
from analytics.shared.periods import period_start

if TYPE_CHECKING:
    from contract.frames import Frames

US_PER_HOUR = 3_600_000_000
US_PER_DAY = 86_400_000_000


@dataclass(frozen=True)
class Kpi:
    """One executive figure: its key (as in the CLI JSON), label, unit and good direction."""

    key: str
    label: str
    unit: str  # "h" | "fraction" | "percent" | "per month"
    better: str  # "lower" | "higher"
    grain: str  # "rec" | "line" | "period": which table's rows make its sample
    needs: tuple[str, ...]  # tables that must be loaded besides recommendations


KPIS: tuple[Kpi, ...] = (
    Kpi(
        "decision_latency_median_h",
        "Decision latency (median)",
        "h",
        "lower",
        "rec",
        ("decisions",),
    ),
    Kpi("decision_latency_p90_h", "Decision latency (p90)", "h", "lower", "rec", ("decisions",)),
    Kpi("detection_latency_median_h", "Detection latency (median)", "h", "lower", "rec", ()),
    Kpi("response_time_median_h", "Response time (median)", "h", "lower", "rec", ("decisions",)),
    Kpi("sla_met_rate", "SLA met", "fraction", "higher", "rec", ("decisions", "owners")),
    # Fewer overrides means the recommendations are being adopted as issued.
    Kpi("override_rate", "Override rate", "fraction", "lower", "rec", ("decisions",)),
    Kpi("otif", "OTIF", "fraction", "higher", "line", ("orders",)),
    Kpi("expedite_pct_cogs", "Expedite % of COGS", "percent", "lower", "period", ("kpi_periods",)),
    Kpi(
        "stockouts_per_month",
        "Stockouts per month",
        "per month",
        "lower",
        "period",
        ("kpi_periods",),
    ),
)
KPI_BY_KEY: dict[str, Kpi] = {k.key: k for k in KPIS}
REC_KPIS: tuple[str, ...] = tuple(k.key for k in KPIS if k.grain == "rec")
COUNT_KEYS: tuple[str, ...] = ("n_decisions", "n_order_lines")


@dataclass(frozen=True)
class KpiTables:
    """Per-row inputs of every KPI.

    ``recs``: one row per recommendation — ``rec_type``, ``site``, ``owner``
    (category), ``signal_at``, ``week`` (Monday of ``signal_at``), ``decision``
    (category, NaN when open), ``detection_h``, ``decision_h``, ``response_h``
    (float hours, NaN where excluded), ``sla_met`` and ``override`` (1.0/0.0,
    NaN outside the denominator), ``impact_usd``, ``late_usd`` and
    ``unowned_wait_usd`` (dollars, see ``analytics.baseline.money_rows``).
    ``lines``: one row per order line — ``site``, ``promised_date``, ``week``,
    ``otif`` (1.0/0.0 for delivered lines, NaN when undelivered).
    ``periods``: one row per KPI period — ``site``, ``period_start``, ``week``,
    ``month`` (year·12 + month − 1), ``cogs_usd``, ``expedite_usd``,
    ``stockout_events``, ``revenue_usd`` (float).
    ``loaded``: the contract tables that hold rows.
    """

    recs: pd.DataFrame
    lines: pd.DataFrame
    periods: pd.DataFrame
    loaded: frozenset[str]


_us = to_us


def _week_start(ts: pd.Series) -> pd.Series:
    """Monday 00:00 UTC of each timestamp's week."""
    return period_start(ts, "week")


def _owner_rows(recs: pd.DataFrame, owners: pd.DataFrame) -> tuple[pd.Categorical, np.ndarray]:
    """(owner, sla_hours) of each recommendation's most specific owners row (exact site over ``*``)."""
    n = len(recs)
    if owners.empty or n == 0:
        return pd.Categorical([None] * n, categories=[]), np.full(n, np.nan)
    types = pd.Categorical(recs["rec_type"])
    sites = pd.Categorical(recs["site"])
    width = len(sites.categories) + 1
    combos, inverse = np.unique(
        types.codes.astype(np.int64) * width + sites.codes, return_inverse=True
    )
    # One row per (type, site) pair present, not per recommendation.
    pairs = pd.DataFrame(
        {
            "rec_type": np.asarray(types.categories.astype(str))[combos // width],
            "site": np.asarray(sites.categories.astype(str))[combos % width],
        }
    )
    resolved = resolve_owners(pairs, owners)
    owner_of = [None if pd.isna(o) else str(o) for o in resolved["owner"]]
    sla_of = resolved["sla_hours"].to_numpy(dtype="float64")
    owner_codes = pd.Categorical(owner_of)
    owner = pd.Categorical.from_codes(owner_codes.codes[inverse], categories=owner_codes.categories)
    return owner, np.asarray(sla_of, dtype="float64")[inverse]


def _rec_table(recs: pd.DataFrame, decisions: pd.DataFrame, owners: pd.DataFrame) -> pd.DataFrame:
    n = len(recs)
    nat = np.iinfo("int64").min
    signal, created = _us(recs["signal_at"]), _us(recs["created_at"])
    decided = np.full(n, nat, dtype="int64")
    codes = np.full(n, -1, dtype="int8")
    kinds = ("accepted", "modified", "rejected", "expired")
    if len(decisions):
        pos = id_positions(recs["rec_id"], decisions["rec_id"])
        ok = pos >= 0
        decided[pos[ok]] = _us(decisions["decided_at"])[ok]
        codes[pos[ok]] = pd.Categorical(decisions["decision"], categories=kinds).codes[ok]
    decision = pd.Categorical.from_codes(codes, categories=kinds)
    expired = codes == 3
    answered = (codes >= 0) & ~expired

    owner, sla_hours = _owner_rows(recs, owners)
    if len(decisions):
        sla_met = sla_outcome(
            created,
            decided,
            sla_hours,
            answered=answered,
            expired=expired,
            as_of_us=log_end(created, decided),
        )
        override = np.where(answered, np.isin(codes, (1, 2)).astype("float64"), np.nan)
    else:  # no decisions table: nothing about deciding can be said
        sla_met = np.full(n, np.nan)
        override = np.full(n, np.nan)
    detection = detection_hours(signal, created, expired=expired)
    latency = decision_hours(signal, decided, answered=answered)
    response = response_hours(created, decided, answered=answered)
    money = late_money_columns(
        recs, owner, sla_hours, codes, response, created, decided, len(decisions)
    )
    return pd.DataFrame(
        {
            "rec_type": pd.Categorical(recs["rec_type"]),
            "site": pd.Categorical(recs["site"]),
            "owner": owner,
            "signal_at": recs["signal_at"].array,
            "week": _week_start(recs["signal_at"]).array,
            "decision": decision,
            "detection_h": detection,
            "decision_h": latency,
            "response_h": response,
            "sla_met": sla_met,
            "override": override,
            **money,
        },
        index=pd.RangeIndex(n),
    )


def _line_table(orders: pd.DataFrame) -> pd.DataFrame:
    delivered = orders["delivered_date"].notna().to_numpy()
    # Literal timestamps: a bundle that gives plain dates has both at midnight, so this is
    # the date comparison; flooring to UTC days would misjudge sites far from UTC.
    on_time = _us(orders["delivered_date"]) <= _us(orders["promised_date"])
    qty_delivered = orders["qty_delivered"].to_numpy("float64", na_value=np.nan)
    in_full = qty_delivered >= orders["qty_ordered"].to_numpy("float64", na_value=np.nan)
    otif = np.where(delivered, (on_time & in_full).astype("float64"), np.nan)
    return pd.DataFrame(
        {
            "site": pd.Categorical(orders["site"]),
            "promised_date": orders["promised_date"].array,
            "week": _week_start(orders["promised_date"]).array,
            "otif": otif,
        },
        index=pd.RangeIndex(len(orders)),
    )


def _period_table(periods: pd.DataFrame) -> pd.DataFrame:
    start = periods["period_start"]
    return pd.DataFrame(
        {
            "site": pd.Categorical(periods["site"]),
            "period_start": start.array,
            "week": _week_start(start).array,
            "month": (start.dt.year * 12 + start.dt.month - 1).to_numpy("int64"),
            **{
                c: periods[c].to_numpy("float64", na_value=np.nan)
                for c in ("cogs_usd", "expedite_usd", "stockout_events", "revenue_usd")
            },
        },
        index=pd.RangeIndex(len(periods)),
    )


def kpi_tables(frames: Frames) -> KpiTables:
    """The per-row inputs of every KPI from the store's frames (inputs are not modified)."""
    loaded = frozenset(
        name
        for name in ("recommendations", "decisions", "outcomes", "orders", "kpi_periods", "owners")
        if len(getattr(frames, name)) > 0
    )
    return KpiTables(
        recs=_rec_table(frames.recommendations, frames.decisions, frames.owners),
        lines=_line_table(frames.orders),
        periods=_period_table(frames.kpi_periods),
        loaded=loaded,
    )


def unavailable(kpi: str, tables: KpiTables) -> str | None:
    """Why ``kpi`` cannot be shown at all (a table is missing), else None."""
    for table in ("recommendations", *KPI_BY_KEY[kpi].needs):
        if table not in tables.loaded:
            return f"not available — load {table}.csv"
    return None


def go_live_timestamp(go_live: date) -> pd.Timestamp:
    return pd.Timestamp(go_live).tz_localize("UTC")


def filtered(
    tables: KpiTables, *, site: str | None = None, rec_type: str | None = None
) -> KpiTables:
    """Rows of one site (all tables) and/or one recommendation type (recommendations only:
    order lines and KPI periods are not per type)."""
    recs, lines, periods = tables.recs, tables.lines, tables.periods
    if site is not None:
        recs = recs[(recs["site"] == site).to_numpy()]
        lines = lines[(lines["site"] == site).to_numpy()]
        periods = periods[(periods["site"] == site).to_numpy()]
    if rec_type is not None:
        recs = recs[(recs["rec_type"] == rec_type).to_numpy()]
    return replace(tables, recs=recs, lines=lines, periods=periods)


def split(tables: KpiTables, go_live: date) -> tuple[KpiTables, KpiTables]:
    """(baseline, current): rows before go-live and from it on, by each table's event time."""
    cut = go_live_timestamp(go_live)
    cur_r = (tables.recs["signal_at"] >= cut).to_numpy()
    cur_l = (tables.lines["promised_date"] >= cut).to_numpy()
    cur_p = (tables.periods["period_start"] >= cut).to_numpy()
    base = replace(
        tables, recs=tables.recs[~cur_r], lines=tables.lines[~cur_l], periods=tables.periods[~cur_p]
    )
    cur = replace(
        tables, recs=tables.recs[cur_r], lines=tables.lines[cur_l], periods=tables.periods[cur_p]
    )
    return base, cur


def rec_statistics(recs: pd.DataFrame) -> dict[str, Statistic]:
    """The recommendation-level KPIs of ``recs`` (rows of ``KpiTables.recs``)."""
    latency = QuantileSample.of(recs["decision_h"].to_numpy(), 0.5)
    return {
        "decision_latency_median_h": latency,
        "decision_latency_p90_h": latency.at(0.9),
        "detection_latency_median_h": QuantileSample.of(recs["detection_h"].to_numpy(), 0.5),
        "response_time_median_h": QuantileSample.of(recs["response_h"].to_numpy(), 0.5),
        "sla_met_rate": ProportionSample.of(recs["sla_met"].to_numpy()),
        "override_rate": ProportionSample.of(recs["override"].to_numpy()),
    }


def line_statistics(lines: pd.DataFrame) -> dict[str, Statistic]:
    return {"otif": ProportionSample.of(lines["otif"].to_numpy())}


def period_statistics(periods: pd.DataFrame) -> dict[str, Statistic]:
    both = periods[["expedite_usd", "cogs_usd"]].notna().all(axis=1).to_numpy()
    events = periods[periods["stockout_events"].notna().to_numpy()]
    monthly = events.groupby("month", sort=True)["stockout_events"].sum().to_numpy("float64")
    return {
        "expedite_pct_cogs": RatioSample(
            periods["expedite_usd"].to_numpy()[both],
            periods["cogs_usd"].to_numpy()[both],
            scale=100.0,
        ),
        # Σ events / distinct months is the mean of the monthly totals.
        "stockouts_per_month": RatioSample(monthly, np.ones_like(monthly)),
    }


def kpi_statistics(tables: KpiTables) -> dict[str, Statistic]:
    """Every KPI of ``tables`` as a statistic, in ``KPIS`` order."""
    stats = {
        **rec_statistics(tables.recs),
        **line_statistics(tables.lines),
        **period_statistics(tables.periods),
    }
    return {k.key: stats[k.key] for k in KPIS}


def _clean(value: float) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


def kpi_values(
    tables: KpiTables, *, stats: dict[str, Statistic] | None = None
) -> dict[str, float | int | None]:
    """Every KPI of ``tables`` plus the sample sizes ``n_decisions`` (decision rows, any
    decision) and ``n_order_lines`` (delivered lines, OTIF's denominator); None where a
    figure cannot be computed. ``stats``: :func:`kpi_statistics` of ``tables`` if at hand."""
    stats = kpi_statistics(tables) if stats is None else stats
    out: dict[str, float | int | None] = {k: _clean(s.estimate()) for k, s in stats.items()}
    out["n_decisions"] = (
        int(tables.recs["decision"].notna().sum()) if "decisions" in tables.loaded else None
    )
    out["n_order_lines"] = stats["otif"].n if "orders" in tables.loaded else None
    return out


def data_range(tables: KpiTables) -> dict[str, dict[str, object]]:
    """For each loaded table behind the KPIs: first and last event time and row count."""
    out: dict[str, dict[str, object]] = {}
    for name, frame, col in (
        ("recommendations", tables.recs, "signal_at"),
        ("orders", tables.lines, "promised_date"),
        ("kpi_periods", tables.periods, "period_start"),
    ):
        if len(frame):
            out[name] = {
                "column": col,
                "first": frame[col].min().date(),
                "last": frame[col].max().date(),
                "rows": len(frame),
            }
    return out
