"""KPI targets: the figures practitioners quote as "working", editable, and the gap to them.

Targets are kept in the KPI's own unit (hours, fraction for rates, percent for
expedite, events per month), keyed like the KPIs (``analytics.baseline.kpis.KPIS``).
The store keeps the user's edits under the setting :data:`SETTING_KEY` as
``{kpi: value or None}``; a key set to None means "no target".
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from analytics.baseline.kpis import KPI_BY_KEY, KPIS
from contract.vocabulary import KPI_TARGETS

SETTING_KEY = KPI_TARGETS

# Signal to approved action ≤ 24 h, signal to recommendation ≤ 4 h, OTIF ≥ 94%,
# expedite ≤ 3% of COGS, fewer than 3 stockouts a month (shared/DOMAIN.md).
DEFAULT_TARGETS: dict[str, float] = {
    "decision_latency_median_h": 24.0,
    "detection_latency_median_h": 4.0,
    "otif": 0.94,
    "expedite_pct_cogs": 3.0,
    "stockouts_per_month": 3.0,
}
# "Fewer than 3 stockouts a month": meeting it exactly is not enough.
_STRICT = frozenset({"stockouts_per_month"})


def resolve_targets(saved: Mapping[str, object] | None = None) -> dict[str, float | None]:
    """Every KPI's target: the defaults, overridden by ``saved`` (None clears a target).

    Unknown keys and values that are not finite numbers are ignored.
    """
    out: dict[str, float | None] = {k.key: DEFAULT_TARGETS.get(k.key) for k in KPIS}
    for key, value in (saved or {}).items():
        if key not in out:
            continue
        if value is None:
            out[key] = None
        elif (
            isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        ):
            out[key] = float(value)
    return out


def target_op(kpi: str) -> str:
    """The comparison a value must pass: ``<``, ``≤`` or ``≥``."""
    if kpi in _STRICT:
        return "<"
    return "≤" if KPI_BY_KEY[kpi].better == "lower" else "≥"


def meets_target(kpi: str, value: float | None, target: float | None) -> bool | None:
    """Whether ``value`` meets ``target`` (None when either is missing)."""
    if value is None or target is None or not math.isfinite(value):
        return None
    op = target_op(kpi)
    if op == "<":
        return value < target
    return value <= target if op == "≤" else value >= target


def target_gap(value: float | None, target: float | None) -> float | None:
    """``value − target`` in the KPI's unit (None when either is missing).

    Read it with the KPI's direction: for a lower-is-better figure a positive gap
    is how far it is above target; for a higher-is-better one a negative gap is
    how far it falls short.
    """
    if value is None or target is None or not math.isfinite(value):
        return None
    return value - target
