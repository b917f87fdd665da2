"""How a KPI value, change and interval read to an executive: units, signs and colours.

Rates are stored as fractions and shown as percent; their changes are in
percentage points (pp). Shared by the page, the charts and the printable report
so a figure reads the same everywhere.
"""

from __future__ import annotations

import math
from typing import Any

from analytics.baseline.kpis import KPI_BY_KEY
from analytics.baseline.targets import target_op
from analytics.shared.figures import SLA_MET_RULE

_SCALE: dict[str, tuple[float, str, str]] = {
    # unit -> (factor, value suffix, change suffix)
    "h": (1.0, " h", " h"),
    "fraction": (100.0, "%", " pp"),
    "percent": (1.0, "%", " pp"),
    "per month": (1.0, "/month", "/month"),
}
_DIGITS = {"h": 1, "fraction": 1, "percent": 2, "per month": 1}


def display_factor(kpi: str) -> float:
    """Multiply a stored value by this to show it (fractions become percent)."""
    return _SCALE[KPI_BY_KEY[kpi].unit][0]


def display_unit(kpi: str) -> str:
    """The unit as shown next to a value: ``h``, ``%`` or ``/month``."""
    return _SCALE[KPI_BY_KEY[kpi].unit][1].strip()


def _missing(value: float | None) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def fmt_value(kpi: str, value: float | None) -> str:
    if _missing(value):
        return "—"
    unit = KPI_BY_KEY[kpi].unit
    factor, suffix, _ = _SCALE[unit]
    return f"{value * factor:,.{_DIGITS[unit]}f}{suffix}"


def fmt_delta(kpi: str, delta: float | None) -> str:
    if _missing(delta):
        return "—"
    unit = KPI_BY_KEY[kpi].unit
    factor, _, suffix = _SCALE[unit]
    return f"{delta * factor:+,.{_DIGITS[unit]}f}{suffix}"


def fmt_interval(kpi: str, low: float | None, high: float | None) -> str:
    if _missing(low) or _missing(high):
        return "no interval"
    unit = KPI_BY_KEY[kpi].unit
    factor, _, suffix = _SCALE[unit]
    d = _DIGITS[unit]
    return f"95% CI {low * factor:+,.{d}f} to {high * factor:+,.{d}f}{suffix}"


def fmt_target(kpi: str, target: float | None) -> str:
    if _missing(target):
        return "no target"
    return f"target {target_op(kpi)} {fmt_value(kpi, target)}"


def fmt_gap(kpi: str, gap: float | None, meets: bool | None) -> str:
    """E.g. ``"meets target"``, ``"2.1 h above target"``, ``"1.5 pp short of target"``."""
    if _missing(gap) or meets is None:
        return ""
    if meets:
        return "meets target"
    unit = KPI_BY_KEY[kpi].unit
    factor, _, suffix = _SCALE[unit]
    size = f"{abs(gap) * factor:,.{_DIGITS[unit]}f}{suffix}"
    if KPI_BY_KEY[kpi].better == "lower":
        return f"{size} above target" if gap > 0 else "at target, must be below"
    return f"{size} short of target"


def fmt_usd(value: float | None) -> str:
    """$1.2M / $350K / $900 with a sign for negatives."""
    if _missing(value):
        return "—"
    sign = "−" if value < 0 else ""
    v = abs(value)
    if v >= 1e6:
        return f"{sign}${v / 1e6:,.1f}M"
    if v >= 1e3:
        return f"{sign}${v / 1e3:,.0f}K"
    return f"{sign}${v:,.0f}"


def verdict_colour(verdict: str) -> str | None:
    """Green or red only when the change is real; no colour for noise or thin data."""
    return {"improved": "green", "worse": "red"}.get(verdict)


def kpi_report_lines(report: dict[str, Any], *, site: str | None = None) -> list[str]:
    """``cli.py kpis`` as a terminal table: each figure's baseline, current, change, verdict."""

    def fmt(v: float | None) -> str:
        if v is None:
            return "—"
        return f"{v:,}" if isinstance(v, int) else f"{v:,.3f}"  # counts as integers

    lines = [
        f"go-live {report['go_live']}" + (f", site {site}" if site else ""),
        f"{'figure':32s} {'baseline':>12s} {'current':>12s} {'change':>12s}  verdict",
    ]
    for key, cur in report["current"].items():
        base = report["baseline"].get(key)
        ch = report["change"].get(key) or {}
        lines.append(
            f"{key:32s} {fmt(base):>12s} {fmt(cur):>12s} {fmt(ch.get('delta')):>12s}  {ch.get('verdict', '')}"
        )
    lines.append(
        "Period: baseline before go-live, current from it on, by each table's event time. "
        f"SLA met is judged at the log's end: {SLA_MET_RULE[0].lower()}{SLA_MET_RULE[1:]}"
    )
    return lines
