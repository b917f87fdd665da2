"""Money at risk: the current period's causes of lost dollars, ranked by dollars a year.

Each cause is priced over the current period (from go-live), given a year, in basis
points of revenue where the KPI periods give ``revenue_usd``, with a 95% bootstrap
interval, and names the page where it is acted on:

* **late decisions** — the cost of late decisions (``analytics.baseline.late_cost``) → Ownership;
* **expedite above target** — (expedite % − target %) × COGS of the current periods → Why
  (decide the open expedite and stockout recommendations in time);
* **expedite above baseline** — (current % − baseline %) × current COGS → Override patterns
  (the overrides that turn into expedites);
* **unowned waiting** — ``est_impact_usd`` of recommendations with no owner row that
  expired, were answered after more than 24 h, or are open longer than that → Ownership.

A cause that costs nothing now (expedite below target) shows $0, not a negative figure.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

import numpy as np

from analytics.baseline.bootstrap import RatioSample, delta_interval
from analytics.baseline.kpis import KPIS, KpiTables, period_statistics, split, unavailable
from analytics.baseline.late_cost import (
    DAYS_PER_YEAR,
    STREAMS,
    SumSample,
    bps,
    late_statistics,
    period_window_days,
    rec_windows,
    revenue_per_year,
    value_interval,
)

PAGES: dict[str, tuple[str, str]] = {
    "late_decisions": ("ownership", "Ownership & SLA"),
    "expedite_above_target": ("why", "Why this fired"),
    "expedite_above_baseline": ("overrides", "Override patterns"),
    "unowned_waiting": ("ownership", "Ownership & SLA"),
}
LABELS: dict[str, str] = {
    "late_decisions": "Late decisions (past SLA or expired)",
    "expedite_above_target": "Expedite spend above target",
    "expedite_above_baseline": "Expedite spend above baseline",
    "unowned_waiting": "No owner: expired or waited past 24 h",
}
_EXPEDITE_STREAM = [k.key for k in KPIS].index("expedite_pct_cogs")


def _ratio_interval(
    stat: RatioSample, f: Callable[[np.ndarray], np.ndarray], *, n_boot: int, random_state: int
) -> tuple[float | None, float | None]:
    if stat.n == 0:
        return None, None
    draws = f(stat.resample(n_boot, np.random.default_rng([random_state, 200, 2])))
    draws = draws[np.isfinite(draws)]
    if draws.size == 0:
        return None, None
    low, high = np.quantile(draws, [0.025, 0.975])
    return float(low), float(high)


def _row(
    cause: str,
    usd: float | None,
    interval: tuple[float | None, float | None],
    *,
    days: float | None,
    revenue: float | None,
    note: str = "",
) -> dict[str, Any]:
    scale = DAYS_PER_YEAR / days if days else None

    def a_year(v: float | None) -> float | None:
        return None if v is None or scale is None else max(v, 0.0) * scale

    low, high = interval
    page, page_label = PAGES[cause]
    return {
        "cause": cause,
        "label": LABELS[cause],
        "usd": None if usd is None else max(usd, 0.0),
        "usd_per_year": a_year(usd),
        "ci_low": a_year(low),
        "ci_high": a_year(high),
        "bps_of_revenue": bps(a_year(usd), revenue),
        "bps_low": bps(a_year(low), revenue),
        "bps_high": bps(a_year(high), revenue),
        "page": page,
        "page_label": page_label,
        "note": note,
    }


def money_at_risk(
    tables: KpiTables,
    *,
    go_live: date,
    targets: Mapping[str, float | None],
    n_boot: int = 2000,
    random_state: int = 0,
) -> list[dict[str, Any]]:
    """The current period's money at risk, most dollars a year first (unknown last).

    Parameters
    ----------
    tables
        ``analytics.baseline.kpis.kpi_tables`` (optionally ``filtered`` to a site).
    targets
        Resolved KPI targets (``analytics.baseline.targets.resolve_targets``); the expedite
        target is ``targets["expedite_pct_cogs"]`` in percent of COGS.

    Returns
    -------
    list of ``{"cause", "label", "usd"`` (current period), ``"usd_per_year", "ci_low",
    "ci_high"`` (a year, 95% interval), ``"bps_of_revenue", "bps_low", "bps_high",
    "page", "page_label", "note"}``; dollars are None where a needed table is missing
    (``note`` says which).
    """
    base_t, cur_t = split(tables, go_live)
    _, rec_days = rec_windows(tables, go_live)
    period_days = period_window_days(cur_t.periods)
    revenue = revenue_per_year(cur_t.periods)
    rows: list[dict[str, Any]] = []

    late = late_statistics(cur_t.recs, days=rec_days)["late_decision_usd"]
    missing = unavailable("sla_met_rate", tables)
    interval = value_interval(
        late, n_boot=n_boot, random_state=random_state, stream=STREAMS["late_decision_usd"]
    )
    rows.append(
        _row(
            "late_decisions",
            None if missing or not late.n else late.estimate(),
            interval,
            days=rec_days,
            revenue=revenue,
            note=missing or "",
        )
    )

    both = cur_t.periods[["expedite_usd", "cogs_usd"]].notna().all(axis=1).to_numpy()
    cogs = float(cur_t.periods["cogs_usd"].to_numpy()[both].sum())
    cur_exp = period_statistics(cur_t.periods)["expedite_pct_cogs"]
    base_exp = period_statistics(base_t.periods)["expedite_pct_cogs"]
    no_periods = unavailable("expedite_pct_cogs", tables)
    cur_pct = cur_exp.estimate()
    target = targets.get("expedite_pct_cogs")
    if no_periods or not cogs or not np.isfinite(cur_pct) or target is None:
        note = no_periods or ("no expedite target set" if target is None else "no current COGS")
        rows.append(
            _row("expedite_above_target", None, (None, None), days=None, revenue=None, note=note)
        )
    else:
        over = lambda pct: (pct - target) / 100.0 * cogs  # noqa: E731
        rows.append(
            _row(
                "expedite_above_target",
                float(over(cur_pct)),
                _ratio_interval(cur_exp, over, n_boot=n_boot, random_state=random_state),
                days=period_days,
                revenue=revenue,
                note=f"target {target:g}% of COGS",
            )
        )
    base_pct = base_exp.estimate()
    if no_periods or not cogs or not np.isfinite(cur_pct) or not np.isfinite(base_pct):
        note = no_periods or "no baseline or current expedite"
        rows.append(
            _row("expedite_above_baseline", None, (None, None), days=None, revenue=None, note=note)
        )
    else:
        low, high = delta_interval(
            base_exp, cur_exp, n_boot=n_boot, random_state=random_state, stream=_EXPEDITE_STREAM
        )
        rows.append(
            _row(
                "expedite_above_baseline",
                (cur_pct - base_pct) / 100.0 * cogs,
                (low / 100.0 * cogs, high / 100.0 * cogs) if np.isfinite(low) else (None, None),
                days=period_days,
                revenue=revenue,
                note=f"baseline {base_pct:.2f}% of COGS",
            )
        )

    waited = SumSample.of(cur_t.recs["unowned_wait_usd"].to_numpy("float64"))
    no_decisions = unavailable("override_rate", tables)
    rows.append(
        _row(
            "unowned_waiting",
            None if no_decisions else (waited.estimate() if waited.n else 0.0),
            value_interval(waited, n_boot=n_boot, random_state=random_state, stream=201),
            days=rec_days,
            revenue=revenue,
            note=no_decisions or "",
        )
    )
    return sorted(
        rows, key=lambda r: (r["usd_per_year"] is None, -(r["usd_per_year"] or 0.0), r["cause"])
    )
