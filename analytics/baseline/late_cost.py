"""The cost of late decisions (contract definition), with its bootstrap interval and its rate a year.

**cost of late decisions** = Σ ``est_impact_usd`` of recommendations that have an owner
row and breached their SLA — decided after ``created_at + sla_hours`` (most specific
owner row) or ``expired``; open ones are not counted until decided. Split baseline /
current by ``signal_at`` like every decision figure. A late recommendation without
``est_impact_usd`` counts in ``late_decision_n`` and adds nothing to the dollars.

Baseline and current windows differ in length, so each side is also given a year
(``late_decision_usd_per_year`` = Σ × 365.25 / days of the side's ``signal_at``
window) and in basis points of revenue where the KPI periods give ``revenue_usd``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from analytics.baseline.kpis import Kpi, KpiTables, go_live_timestamp

DAYS_PER_YEAR = 365.25
_CHUNK_CELLS = 2_000_000

LATE_KPIS: tuple[Kpi, ...] = (
    Kpi(
        "late_decision_usd",
        "Cost of late decisions",
        "usd",
        "lower",
        "rec",
        ("decisions", "owners"),
    ),
    Kpi("late_decision_n", "Late decisions", "count", "lower", "rec", ("decisions", "owners")),
    Kpi(
        "late_decision_usd_per_year",
        "Cost of late decisions a year",
        "usd/year",
        "lower",
        "rec",
        ("decisions", "owners"),
    ),
)
LATE_KEYS: tuple[str, ...] = tuple(k.key for k in LATE_KPIS)
# Random streams apart from those of ``analytics.baseline.kpis.KPIS`` (their index in it).
STREAMS: dict[str, int] = {k: 100 + i for i, k in enumerate(LATE_KEYS)}


@dataclass(frozen=True, eq=False)
class SumSample:
    """``scale · Σ values`` over the rows of a denominator (0 for rows that add nothing).

    The bootstrap is exact and needs no ``n_boot × n`` array: a resample of n rows holds
    K ~ Binomial(n, k/n) of the k non-zero rows, each drawn uniformly; those K are drawn
    as indices while ``n_boot × max K`` stays small, and beyond that (K in the
    thousands) their sum is drawn from its normal limit, K·mean ± √K·sd.
    """

    values: np.ndarray
    scale: float = 1.0

    @classmethod
    def of(cls, values: np.ndarray, scale: float = 1.0) -> SumSample:
        values = np.asarray(values, dtype="float64")
        return cls(values[np.isfinite(values)], scale)

    @property
    def n(self) -> int:
        return int(self.values.size)

    def estimate(self) -> float:
        return self.scale * float(self.values.sum()) if self.n else float("nan")

    def resample(self, n_boot: int, rng: np.random.Generator) -> np.ndarray:
        n = self.n
        if n == 0:
            return np.full(n_boot, np.nan)
        nz = self.values[self.values != 0]
        k = nz.size
        if k == 0:
            return np.zeros(n_boot)
        counts = rng.binomial(n, k / n, size=n_boot)
        k_max = int(counts.max())
        if n_boot * k_max <= _CHUNK_CELLS:
            draws = nz[rng.integers(0, k, size=(n_boot, k_max))]
            sums = np.where(np.arange(k_max) < counts[:, None], draws, 0.0).sum(axis=1)
        else:
            sums = counts * nz.mean() + np.sqrt(counts) * nz.std() * rng.standard_normal(n_boot)
        return self.scale * sums


def value_interval(
    stat: SumSample,
    *,
    n_boot: int = 2000,
    random_state: int = 0,
    stream: int = 0,
    level: float = 0.95,
) -> tuple[float | None, float | None]:
    """Percentile bootstrap interval of the statistic itself (None when it has no rows)."""
    if stat.n == 0:
        return None, None
    draws = stat.resample(n_boot, np.random.default_rng([random_state, stream, 2]))
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(draws, [tail, 1.0 - tail])
    return float(low), float(high)


def rec_windows(tables: KpiTables, go_live: date) -> tuple[float | None, float | None]:
    """Days of the baseline and current ``signal_at`` windows: first signal → go-live,
    go-live → last signal (at least one day; None for a side with no recommendation)."""
    signal = tables.recs["signal_at"]
    if signal.empty:
        return None, None
    cut = go_live_timestamp(go_live)
    first, last = signal.min(), signal.max()
    base = (cut - first).total_seconds() / 86400.0 if first < cut else None
    cur = (last - cut).total_seconds() / 86400.0 if last >= cut else None
    return (None if base is None else max(base, 1.0)), (None if cur is None else max(cur, 1.0))


def period_window_days(periods: pd.DataFrame) -> float | None:
    """Days the KPI period rows cover: first to last ``period_start`` plus one period
    (the median step between distinct starts; a lone period counts as a month when it
    starts on the 1st, else a week)."""
    if periods.empty:
        return None
    starts = pd.Series(periods["period_start"].drop_duplicates().sort_values().array)
    if len(starts) == 1:
        step = 30.44 if starts.iloc[0].day == 1 else 7.0
    else:
        step = float(starts.diff().dropna().dt.total_seconds().median()) / 86400.0
    return (starts.iloc[-1] - starts.iloc[0]).total_seconds() / 86400.0 + step


def revenue_per_year(periods: pd.DataFrame) -> float | None:
    """Revenue a year over ``periods`` — None unless every row gives ``revenue_usd`` > 0 in total."""
    if periods.empty or not periods["revenue_usd"].notna().all():
        return None
    total = float(periods["revenue_usd"].sum())
    days = period_window_days(periods)
    return None if total <= 0 or not days else total * DAYS_PER_YEAR / days


def bps(usd_per_year: float | None, revenue_a_year: float | None) -> float | None:
    """Basis points of revenue (on $100M a year, $500K is 50 bps)."""
    if usd_per_year is None or not revenue_a_year:
        return None
    return usd_per_year / revenue_a_year * 10_000.0


def late_statistics(recs: pd.DataFrame, *, days: float | None) -> dict[str, SumSample]:
    """The three late-decision figures of ``recs`` (rows of ``KpiTables.recs``)."""
    usd = recs["late_usd"].to_numpy("float64")
    per_year = DAYS_PER_YEAR / days if days else float("nan")
    return {
        "late_decision_usd": SumSample.of(usd),
        "late_decision_n": SumSample.of(recs["late"].to_numpy("float64")),
        "late_decision_usd_per_year": SumSample.of(usd, per_year),
    }


def late_values(stats: dict[str, SumSample], *, loaded: bool) -> dict[str, float | int | None]:
    """JSON values of ``late_statistics``: None when decisions or owners are not loaded or
    nothing was rated (no decided recommendation with an owner row, e.g. a type with no
    owner) — as the SLA met rate is None there."""
    out: dict[str, float | int | None] = {}
    for key, stat in stats.items():
        value = stat.estimate() if loaded and stat.n else float("nan")
        if not np.isfinite(value):
            out[key] = None
        else:
            out[key] = int(round(value)) if key == "late_decision_n" else round(value, 2)
    return out


def late_by_group(
    recs: pd.DataFrame,
    keys: list[str],
    *,
    days: float | None,
    revenue_a_year: float | None = None,
) -> pd.DataFrame:
    """Cost of late decisions per group (``rec_type``, ``owner``…).

    Columns: the keys, ``late_decision_usd``, ``late_decision_n``, ``n_rated`` (decided
    recommendations with an owner row and SLA), ``usd_per_year`` and ``bps_of_revenue``
    (None without revenue). Groups with no owner row have nothing rated and are
    left out. Most dollars first.
    """
    cols = [
        *keys,
        "late_decision_usd",
        "late_decision_n",
        "n_rated",
        "usd_per_year",
        "bps_of_revenue",
    ]
    rated = recs[recs["late"].notna().to_numpy()]
    if rated.empty:
        return pd.DataFrame(columns=cols)
    g = rated.groupby(keys, observed=True, sort=True)
    out = pd.DataFrame(
        {
            "late_decision_usd": g["late_usd"].sum(),
            "late_decision_n": g["late"].sum().astype("int64"),
            "n_rated": g.size().astype("int64"),
        }
    ).reset_index()
    for k in keys:
        out[k] = out[k].astype("string")
    scale = DAYS_PER_YEAR / days if days else np.nan
    out["usd_per_year"] = out["late_decision_usd"] * scale
    out["bps_of_revenue"] = (
        out["usd_per_year"] / revenue_a_year * 10_000.0 if revenue_a_year else np.nan
    )
    out = out.sort_values(["late_decision_usd", *keys], ascending=[False] + [True] * len(keys))
    return out[cols].reset_index(drop=True)


def late_tile(
    tables: KpiTables, cur: KpiTables, *, go_live: date, n_boot: int = 2000, random_state: int = 0
) -> dict[str, Any]:
    """The Baseline page's money tile: the current cost of late decisions with its interval,
    a year, and in bps of current revenue.

    Returns ``{"usd", "ci_low", "ci_high", "n", "n_rated", "usd_per_year",
    "per_year_low", "per_year_high", "revenue_per_year", "bps_of_revenue", "bps_low",
    "bps_high", "days"}`` (None where not computable).
    """
    _, days = rec_windows(tables, go_live)
    stats = late_statistics(cur.recs, days=days)
    usd, per_year = stats["late_decision_usd"], stats["late_decision_usd_per_year"]
    low, high = value_interval(
        usd, n_boot=n_boot, random_state=random_state, stream=STREAMS["late_decision_usd"]
    )
    revenue = revenue_per_year(cur.periods)
    scale = DAYS_PER_YEAR / days if days else None

    def a_year(v: float | None) -> float | None:
        return None if v is None or scale is None else v * scale

    estimate = usd.estimate() if usd.n else None
    return {
        "usd": estimate,
        "ci_low": low,
        "ci_high": high,
        "n": int(np.nansum(cur.recs["late"].to_numpy("float64"))),
        "n_rated": usd.n,
        "usd_per_year": per_year.estimate() if usd.n and scale else None,
        "per_year_low": a_year(low),
        "per_year_high": a_year(high),
        "revenue_per_year": revenue,
        "bps_of_revenue": bps(a_year(estimate), revenue),
        "bps_low": bps(a_year(low), revenue),
        "bps_high": bps(a_year(high), revenue),
        "days": days,
    }


def add_late_figures(
    report: dict[str, Any],
    tables: KpiTables,
    base_t: KpiTables,
    cur_t: KpiTables,
    *,
    go_live: date,
    compare: Callable[..., Any],
) -> None:
    """Add the late-decision figures to a KPI report (``analytics.baseline.compare``):
    each side's values, each ``by_type`` entry's, and their ``change``.

    ``compare(kpi, baseline, current, stream=…)`` is ``compare_kpi`` with the report's
    bootstrap settings. Without decisions or owners nothing is rated: values are None
    and every change is "not enough data".
    """
    windows = dict(zip(("baseline", "current"), rec_windows(tables, go_live), strict=True))
    sides = {}
    for side, part in (("baseline", base_t), ("current", cur_t)):
        sides[side] = late_statistics(part.recs, days=windows[side])
        report[side] |= late_values(sides[side], loaded=True)
        types = part.recs.groupby("rec_type", observed=True, sort=True)
        for rec_type, entry in report["by_type"].items():
            rows = types.get_group(rec_type) if rec_type in types.groups else part.recs.head(0)
            stats = late_statistics(rows, days=windows[side])
            entry[side] |= late_values(stats, loaded=True)
    for kpi in LATE_KPIS:
        base, cur = sides["baseline"][kpi.key], sides["current"][kpi.key]
        report["change"][kpi.key] = compare(kpi, base, cur, stream=STREAMS[kpi.key]).to_json()
