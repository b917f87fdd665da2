"""The decision figures shown in more than one place, each defined once.

Decision latency, detection latency, response time and SLA met appear on the
Baseline and Ownership pages, on the Data page's health findings, in the
readiness gates, the digest and ``cli.py kpis``. Every one of them takes its
per-recommendation values from the functions here, so two places showing "SLA
met" for the same recommendations and the same moment show the same number.

Definitions (``shared/DATA_CONTRACT.md``, "Definitions"):

* **decision latency** = ``decided_at − signal_at``; **detection latency** =
  ``created_at − signal_at``; **response time** = ``decided_at − created_at``; in
  hours, reported as median and p90 (numpy's linear interpolation). ``expired``
  recommendations are left out of all three; an open one counts in detection
  latency only (it was detected, not decided).
* **SLA met**: decided (not ``expired``) within ``sla_hours`` of ``created_at``. The
  rate is over recommendations whose owner row gives ``sla_hours``. An ``expired``
  one, or an open one already past its SLA at the moment judged (``as_of``), is a
  breach; an open one still inside its SLA is left out — neither met nor breached yet.

Times are int64 microseconds since the epoch (``to_us``), NaT as ``NAT``: the
million-row tables are handled without Python objects.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from contract.vocabulary import DECISIONS_ENUM

NAT = np.iinfo("int64").min
US_PER_HOUR = 3_600_000_000
EXPIRED = DECISIONS_ENUM[3]  # no response before the SLA ran out

SLA_MET_RULE = (
    "Open recommendations already past their SLA count as breaches; open ones still "
    "inside it are left out until they are decided or run out."
)
SLA_MET_DEFINITION = (
    "SLA met = decided (not expired) within the owner's SLA of `created_at`, over "
    "recommendations whose owner row gives an SLA. Expired ones are breaches. " + SLA_MET_RULE
)


def to_us(ts: pd.Series) -> np.ndarray:
    """Timestamps (aware or naive-as-UTC) as int64 microseconds since the epoch; NaT → ``NAT``."""
    values = ts if isinstance(ts, pd.Series) else pd.Series(ts)
    if values.dt.tz is None:
        values = values.dt.tz_localize("UTC")
    return values.astype("datetime64[us, UTC]").to_numpy(dtype="datetime64[us]").view("int64")


def hours_between(later: np.ndarray, earlier: np.ndarray) -> np.ndarray:
    """``later − earlier`` in hours, NaN where either is NaT."""
    out = (later - earlier) / US_PER_HOUR
    out[(later == NAT) | (earlier == NAT)] = np.nan
    return out


def detection_hours(
    signal_us: np.ndarray, created_us: np.ndarray, *, expired: np.ndarray
) -> np.ndarray:
    """Detection latency per recommendation (``created_at − signal_at``), NaN for ``expired``."""
    out = hours_between(created_us, signal_us)
    out[expired] = np.nan
    return out


def decision_hours(
    signal_us: np.ndarray, decided_us: np.ndarray, *, answered: np.ndarray
) -> np.ndarray:
    """Decision latency (``decided_at − signal_at``), NaN unless accepted / modified / rejected."""
    out = hours_between(decided_us, signal_us)
    out[~answered] = np.nan
    return out


def response_hours(
    created_us: np.ndarray, decided_us: np.ndarray, *, answered: np.ndarray
) -> np.ndarray:
    """Response time (``decided_at − created_at``), NaN unless accepted / modified / rejected."""
    out = hours_between(decided_us, created_us)
    out[~answered] = np.nan
    return out


def log_end(created_us: np.ndarray, decided_us: np.ndarray) -> int:
    """The newest ``created_at`` or ``decided_at`` of the log: the moment a historical
    extract is judged at (``NAT`` when there is neither)."""
    known = np.concatenate([created_us[created_us != NAT], decided_us[decided_us != NAT]])
    return int(known.max()) if known.size else NAT


def sla_outcome(
    created_us: np.ndarray,
    decided_us: np.ndarray,
    sla_hours: np.ndarray,
    *,
    answered: np.ndarray,
    expired: np.ndarray,
    as_of_us: int,
) -> np.ndarray:
    """Per recommendation: 1.0 SLA met, 0.0 breached, NaN outside the rate.

    Met: answered within ``sla_hours`` of ``created_at``. Breached: answered later,
    ``expired``, or open and already past ``created_at + sla_hours`` at ``as_of_us``.
    Outside the rate: no ``sla_hours`` (no owner row, or none giving an SLA), or open and
    still inside the SLA at ``as_of_us``.
    """
    sla = np.asarray(sla_hours, dtype="float64")
    response = hours_between(decided_us, created_us)
    met = answered & (response <= sla)
    is_open = ~answered & ~expired
    due = created_us + np.nan_to_num(sla, nan=0.0) * US_PER_HOUR
    pending = is_open & ~(as_of_us > due)
    out = np.where(met, 1.0, 0.0)
    out[pending | np.isnan(sla)] = np.nan
    return out


@dataclass(frozen=True)
class SlaMet:
    """SLA met over a set of recommendations: ``met`` of ``rated`` (met + breached)."""

    met: int
    breached: int
    pending: int

    @property
    def rated(self) -> int:
        return self.met + self.breached

    @property
    def rate(self) -> float:
        return self.met / self.rated if self.rated else float("nan")


def sla_met(outcome: np.ndarray, *, pending: np.ndarray | None = None) -> SlaMet:
    """Counts behind the SLA met rate from :func:`sla_outcome` values; ``pending`` (open
    recommendations inside their SLA) is only counted, never part of the rate."""
    outcome = np.asarray(outcome, dtype="float64")
    return SlaMet(
        met=int((outcome == 1.0).sum()),
        breached=int((outcome == 0.0).sum()),
        pending=0 if pending is None else int(np.asarray(pending, dtype=bool).sum()),
    )


@dataclass(frozen=True)
class Latency:
    """Median and p90 hours of a latency over ``n`` recommendations (NaN when ``n`` is 0)."""

    median_h: float
    p90_h: float
    n: int


def latency(hours: np.ndarray) -> Latency:
    """Median and p90 (numpy's linear interpolation) of per-recommendation hours, NaN skipped."""
    values = np.asarray(hours, dtype="float64")
    values = values[np.isfinite(values)]
    if values.size == 0:
        return Latency(float("nan"), float("nan"), 0)
    median, p90 = np.quantile(values, [0.5, 0.9])
    return Latency(float(median), float(p90), int(values.size))


def fmt_hours(hours: float) -> str:
    """Hours as a planner reads them: minutes under an hour, else hours with one decimal."""
    if not np.isfinite(hours):
        return "—"
    if abs(hours) < 1.0:
        return f"{hours * 60:.0f} min"
    return f"{hours:,.1f} h"


def fmt_period(first: pd.Timestamp | None, last: pd.Timestamp | None) -> str:
    """``"2025-10-01 – 2026-10-31"``: the days a figure covers (``"no data"`` when empty)."""
    if first is None or last is None or pd.isna(first) or pd.isna(last):
        return "no data"
    return f"{pd.Timestamp(first):%Y-%m-%d} – {pd.Timestamp(last):%Y-%m-%d}"
