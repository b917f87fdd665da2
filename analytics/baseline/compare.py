"""Baseline → current: each KPI's change with a 95% interval and a plain verdict.

The verdict is direction-aware (lower latency is better, higher OTIF is better,
see ``analytics.baseline.kpis.KPIS``):

* **not enough data** — either side has fewer than :data:`MIN_SAMPLE` observations
  (recommendations, delivered lines, period rows or months) or no value;
* **improved** / **worse** — the interval excludes zero, on the good / bad side;
* **not distinguishable from noise** — the interval contains zero.

The interval of ``current − baseline`` is chosen per statistic so that the verdict
keeps its 95% level at the smallest samples allowed (``analytics.baseline.bootstrap``):
Newcombe's score interval for rates, Welch's t for per-period figures (expedite %,
stockouts per month), a seeded percentile bootstrap for latency quantiles (one random
stream per KPI from ``random_state``: the same data and seed give the same interval).
``bench/verdicts.py`` prints the false-verdict rate of each KPI with no real change.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from functools import partial
from typing import TYPE_CHECKING, Any

import pandas as pd

from analytics.baseline.bootstrap import Statistic, delta_interval
from analytics.baseline.groups import rec_group_values
from analytics.baseline.kpis import (
    KPIS,
    REC_KPIS,
    Kpi,
    KpiTables,
    filtered,
    kpi_statistics,
    kpi_tables,
    kpi_values,
    period_statistics,
    split,
    unavailable,
)
from analytics.baseline.late_cost import add_late_figures
from analytics.baseline.money_at_risk import money_at_risk
from analytics.baseline.targets import meets_target, resolve_targets, target_gap

if TYPE_CHECKING:
    from contract.frames import Frames

IMPROVED = "improved"
WORSE = "worse"
NOISE = "not distinguishable from noise"
NOT_ENOUGH = "not enough data"
VERDICTS = (IMPROVED, WORSE, NOISE, NOT_ENOUGH)

# Fewest observations per side for a verdict: recommendations or delivered lines; period
# rows (expedite) or months (stockouts).
MIN_SAMPLE: dict[str, int] = {"rec": 30, "line": 30, "period": 3}
N_BOOT = 2000


@dataclass(frozen=True)
class Change:
    """``current − baseline`` with its interval (None where not computable) and verdict."""

    delta: float | None
    ci_low: float | None
    ci_high: float | None
    verdict: str

    def to_json(self) -> dict[str, Any]:
        return {
            "delta": self.delta,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "verdict": self.verdict,
        }


def _finite(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def verdict(kpi: Kpi, ci_low: float, ci_high: float) -> str:
    """Improved / worse / noise from an interval of ``current − baseline``."""
    if ci_low > 0 or ci_high < 0:
        went_up = ci_low > 0
        return IMPROVED if went_up == (kpi.better == "higher") else WORSE
    return NOISE


def compare_kpi(
    kpi: Kpi,
    baseline: Statistic,
    current: Statistic,
    *,
    n_boot: int = N_BOOT,
    random_state: int = 0,
    min_sample: int | None = None,
    stream: int | None = None,
) -> Change:
    """The change of one KPI between two samples of it (``stream``: its random stream,
    by default its place in ``KPIS``)."""
    base, cur = _finite(baseline.estimate()), _finite(current.estimate())
    delta = None if base is None or cur is None else cur - base
    need = MIN_SAMPLE[kpi.grain] if min_sample is None else min_sample
    if delta is None or baseline.n < need or current.n < need:
        return Change(delta, None, None, NOT_ENOUGH)
    if stream is None:
        stream = [k.key for k in KPIS].index(kpi.key)
    low, high = delta_interval(
        baseline, current, n_boot=n_boot, random_state=random_state, stream=stream
    )
    if not (math.isfinite(low) and math.isfinite(high)):
        return Change(delta, None, None, NOT_ENOUGH)
    return Change(delta, low, high, verdict(kpi, low, high))


def compare_periods(
    tables: KpiTables, *, go_live: date, n_boot: int = N_BOOT, random_state: int = 0
) -> pd.DataFrame:
    """One row per KPI (``KPIS`` order): baseline, current and their change.

    Columns: ``kpi``, ``label``, ``unit``, ``better``, ``baseline``, ``current``,
    ``delta``, ``ci_low``, ``ci_high``, ``verdict``, ``n_baseline``, ``n_current``
    (sample sizes behind each side) and ``note`` ("not available — load X.csv"
    when a table the KPI needs is missing, else empty).
    """
    base_t, cur_t = split(tables, go_live)
    return _comparison(
        tables,
        kpi_statistics(base_t),
        kpi_statistics(cur_t),
        n_boot=n_boot,
        random_state=random_state,
    )


def _comparison(
    tables: KpiTables,
    base_s: dict[str, Statistic],
    cur_s: dict[str, Statistic],
    *,
    n_boot: int,
    random_state: int,
) -> pd.DataFrame:
    rows = []
    for kpi in KPIS:
        change = compare_kpi(
            kpi, base_s[kpi.key], cur_s[kpi.key], n_boot=n_boot, random_state=random_state
        )
        rows.append(
            {
                "kpi": kpi.key,
                "label": kpi.label,
                "unit": kpi.unit,
                "better": kpi.better,
                "baseline": _finite(base_s[kpi.key].estimate()),
                "current": _finite(cur_s[kpi.key].estimate()),
                "delta": change.delta,
                "ci_low": change.ci_low,
                "ci_high": change.ci_high,
                "verdict": change.verdict,
                "n_baseline": base_s[kpi.key].n,
                "n_current": cur_s[kpi.key].n,
                "note": unavailable(kpi.key, tables) or "",
            }
        )
    out = pd.DataFrame(rows)
    for col in ("baseline", "current", "delta", "ci_low", "ci_high"):
        out[col] = out[col].astype("float64")
    return out


def with_targets(comparison: pd.DataFrame, targets: dict[str, float | None]) -> pd.DataFrame:
    """``comparison`` plus ``target``, ``gap`` (current − target) and ``meets_target``."""
    out = comparison.copy()
    out["target"] = [targets.get(k) for k in out["kpi"]]
    out["gap"] = [
        target_gap(_finite(v), t) for v, t in zip(out["current"], out["target"], strict=True)
    ]
    out["meets_target"] = [
        meets_target(k, _finite(v), t)
        for k, v, t in zip(out["kpi"], out["current"], out["target"], strict=True)
    ]
    out["target"] = out["target"].astype("float64")
    out["gap"] = out["gap"].astype("float64")
    return out


def expedite_money(
    tables: KpiTables, *, go_live: date, change: Change | None = None
) -> dict[str, float | None]:
    """Expedite dollars saved (positive) or lost against the baseline rate, at current COGS.

    ``saved_usd`` = (baseline % − current %) / 100 × Σ current COGS, over the current
    period rows that give both expedite and COGS; its interval follows from the
    interval of the expedite change (``change``, as from :func:`compare_kpi`).
    ``bps_of_revenue`` expresses it in basis points of the same rows' revenue, and
    is None unless every one of those rows gives ``revenue_usd``.
    """
    base_t, cur_t = split(tables, go_live)
    base = _finite(period_statistics(base_t.periods)["expedite_pct_cogs"].estimate())
    cur = _finite(period_statistics(cur_t.periods)["expedite_pct_cogs"].estimate())
    rows = cur_t.periods[cur_t.periods[["expedite_usd", "cogs_usd"]].notna().all(axis=1)]
    cogs = float(rows["cogs_usd"].sum()) if len(rows) else None
    out: dict[str, float | None] = dict.fromkeys(
        (
            "saved_usd",
            "saved_low_usd",
            "saved_high_usd",
            "current_cogs_usd",
            "current_revenue_usd",
            "bps_of_revenue",
            "bps_low",
            "bps_high",
        )
    )
    out["current_cogs_usd"] = cogs
    if base is None or cur is None or not cogs:
        return out
    out["saved_usd"] = (base - cur) / 100.0 * cogs
    if change is not None and change.ci_low is not None and change.ci_high is not None:
        out["saved_low_usd"] = -change.ci_high / 100.0 * cogs
        out["saved_high_usd"] = -change.ci_low / 100.0 * cogs
    revenue = rows["revenue_usd"]
    if revenue.notna().all() and revenue.sum() > 0:
        total = float(revenue.sum())
        out["current_revenue_usd"] = total
        for key, usd in (
            ("bps_of_revenue", "saved_usd"),
            ("bps_low", "saved_low_usd"),
            ("bps_high", "saved_high_usd"),
        ):
            value = out[usd]
            out[key] = None if value is None else value / total * 10_000.0
    return out


def kpi_export(comparison: pd.DataFrame, money: dict[str, float | None]) -> pd.DataFrame:
    """Every figure of the page as one table: the KPI rows of ``comparison`` (with targets)
    and two rows for the expedite money (``saved``, ``bps`` in ``current`` with their
    interval in ``ci_low``/``ci_high``)."""
    extra = pd.DataFrame(
        [
            {
                "kpi": "expedite_saved_usd",
                "label": "Expedite spend saved vs baseline rate, at current COGS",
                "unit": "usd",
                "current": money.get("saved_usd"),
                "ci_low": money.get("saved_low_usd"),
                "ci_high": money.get("saved_high_usd"),
                "note": "(baseline % − current %) × current COGS",
            },
            {
                "kpi": "expedite_saved_bps_of_revenue",
                "label": "Expedite spend saved, basis points of current revenue",
                "unit": "bps",
                "current": money.get("bps_of_revenue"),
                "ci_low": money.get("bps_low"),
                "ci_high": money.get("bps_high"),
                "note": "needs revenue_usd on every current period row",
            },
        ]
    )
    for col in ("current", "ci_low", "ci_high"):
        extra[col] = extra[col].astype("float64")
    return pd.concat([comparison, extra], ignore_index=True)


def _type_values(tables: KpiTables, decisions_loaded: bool) -> dict[str, dict[str, Any]]:
    values = rec_group_values(tables.recs, ["rec_type"]) if len(tables.recs) else pd.DataFrame()
    out = {}
    for rec_type, row in values.iterrows():
        entry: dict[str, Any] = dict.fromkeys((k.key for k in KPIS), None)
        entry |= {k: _finite(float(row[k])) for k in REC_KPIS}
        entry["n_decisions"] = int(row["n_decisions"]) if decisions_loaded else None
        entry["n_order_lines"] = None
        out[str(rec_type)] = entry
    return out


def _empty_values(decisions_loaded: bool) -> dict[str, Any]:
    out: dict[str, Any] = dict.fromkeys((k.key for k in KPIS), None)
    out["n_decisions"] = 0 if decisions_loaded else None
    out["n_order_lines"] = None
    return out


def report_from_tables(
    tables: KpiTables,
    *,
    go_live: date,
    site: str | None = None,
    targets: dict[str, Any] | None = None,
    random_state: int = 0,
    n_boot: int = N_BOOT,
    risk_targets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """:func:`kpi_report` over already prepared :class:`~analytics.baseline.kpis.KpiTables`."""
    if site is not None:
        tables = filtered(tables, site=site)
    base_t, cur_t = split(tables, go_live)
    base_s, cur_s = kpi_statistics(base_t), kpi_statistics(cur_t)
    comparison = _comparison(tables, base_s, cur_s, n_boot=n_boot, random_state=random_state)
    decisions_loaded = "decisions" in tables.loaded
    report: dict[str, Any] = {
        "go_live": go_live.isoformat(),
        "baseline": kpi_values(base_t, stats=base_s),
        "current": kpi_values(cur_t, stats=cur_s),
        "change": {
            row.kpi: Change(
                _finite(row.delta), _finite(row.ci_low), _finite(row.ci_high), row.verdict
            ).to_json()
            for row in comparison.itertuples(index=False)
        },
    }
    by_base, by_cur = _type_values(base_t, decisions_loaded), _type_values(cur_t, decisions_loaded)
    report["by_type"] = {
        t: {
            "baseline": by_base.get(t, _empty_values(decisions_loaded)),
            "current": by_cur.get(t, _empty_values(decisions_loaded)),
        }
        for t in sorted(set(by_base) | set(by_cur))
    }
    compare = partial(compare_kpi, n_boot=n_boot, random_state=random_state)
    add_late_figures(report, tables, base_t, cur_t, go_live=go_live, compare=compare)
    report["money_at_risk"] = money_at_risk(
        tables,
        go_live=go_live,
        targets=resolve_targets(targets if risk_targets is None else risk_targets),
        n_boot=n_boot,
        random_state=random_state,
    )
    if targets is not None:
        resolved = resolve_targets(targets)
        report["targets"] = {
            key: {
                "target": target,
                "gap": target_gap(report["current"][key], target),
                "met": meets_target(key, report["current"][key], target),
            }
            for key, target in resolved.items()
            if target is not None
        }
    return report


def kpi_report(
    frames: Frames,
    *,
    go_live: date,
    site: str | None = None,
    targets: dict[str, Any] | None = None,
    random_state: int = 0,
    risk_targets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The executive KPIs before and after go-live, JSON-able (``cli.py kpis --json``).

    Parameters
    ----------
    frames : contract.frames.Frames
        The store's tables (read-only).
    go_live : date
        Rows before it (by each table's event time) are the baseline, from it on current.
    site : str, optional
        Only this site's recommendations, order lines and KPI periods.
    targets : dict, optional
        ``{kpi: target}`` overrides of the default targets; when given, a ``targets``
        key is added with each KPI's target, gap (current − target) and whether it is met.
    random_state : int
        Seed of the bootstrap intervals.
    risk_targets : dict, optional
        Saved targets to price money at risk against (default: ``targets``, then the
        default targets) without adding the ``targets`` key.

    Returns
    -------
    dict
        ``{"go_live": "YYYY-MM-DD", "baseline": {...}, "current": {...},
        "change": {kpi: {"delta", "ci_low", "ci_high", "verdict"}},
        "by_type": {rec_type: {"baseline": {...}, "current": {...}}},
        "money_at_risk": [...]}``. ``late_decision_usd``, ``late_decision_n`` and
        ``late_decision_usd_per_year`` (``analytics.late_cost``) are in both sides, in
        ``change`` and in each ``by_type`` entry; ``money_at_risk`` is
        ``analytics.money_at_risk.money_at_risk``. Rates are
        fractions, ``expedite_pct_cogs`` a percentage, hours for latencies; a figure
        that cannot be computed is None. ``by_type`` carries the recommendation
        figures; OTIF, expedite and stockouts are not per type and are None there.
    """
    return report_from_tables(
        kpi_tables(frames),
        go_live=go_live,
        site=site,
        targets=targets,
        random_state=random_state,
        risk_targets=risk_targets,
    )
