"""The one-page printable executive report: KPI tiles with inline SVG trends, as one HTML string.

Self-contained (no script, no external asset), so it prints the same from any
browser and can be mailed as a file. Deterministic: the caller passes the
generation time and user.
"""

from __future__ import annotations

import html
from datetime import date

import numpy as np
import pandas as pd

from analytics.baseline.kpis import go_live_timestamp
from analytics.baseline.text import (
    display_factor,
    fmt_delta,
    fmt_gap,
    fmt_interval,
    fmt_target,
    fmt_usd,
    fmt_value,
    verdict_colour,
)

_W, _H, _PAD = 300, 78, 4
_COLOURS = {"green": "#1e7b34", "red": "#b03a2e", None: "#666666"}
_CSS = """
@page { size: A4 landscape; margin: 9mm; }
* { box-sizing: border-box; }
body { font: 11px/1.35 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #222; margin: 0; }
h1 { font-size: 17px; margin: 0 0 2px; }
.meta { color: #555; margin: 0 0 6px; }
.money { margin: 0 0 8px; padding: 5px 8px; background: #f3f6f9; border-left: 3px solid #1f4e79; }
.grid { display: grid; grid-template-columns: repeat(3, 1fr); gap: 7px; }
.tile { border: 1px solid #ccd; border-radius: 4px; padding: 6px 8px; page-break-inside: avoid; }
.label { font-weight: 600; }
.value { font-size: 18px; font-weight: 700; }
.small { color: #555; font-size: 10px; }
.verdict { display: inline-block; padding: 0 5px; border-radius: 3px; color: #fff; font-size: 10px; }
.note { color: #8a5300; }
svg { display: block; margin-top: 3px; }
svg * { vector-effect: non-scaling-stroke; }
.foot { color: #777; font-size: 9px; margin-top: 6px; }
"""


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _micros(ts: pd.Series) -> np.ndarray:
    return ts.astype("datetime64[us, UTC]").astype("int64").to_numpy(dtype="float64")


def _sparkline(
    rows: pd.DataFrame,
    *,
    factor: float,
    x_range: tuple[float, float],
    band: pd.Series | None,
    target: float | None,
    go_live_x: float,
) -> str:
    """An SVG line of the KPI over time with the baseline band, median, go-live and target."""
    if rows.empty:
        return ""
    xs = _micros(rows["period_start"])
    ys = rows["value"].to_numpy(dtype="float64") * factor
    levels = [ys]
    if band is not None:
        levels.append(np.array([band["q25"], band["q75"], band["median"]]) * factor)
    if target is not None:
        levels.append(np.array([target * factor]))
    lo, hi = float(np.nanmin(np.concatenate(levels))), float(np.nanmax(np.concatenate(levels)))
    if hi - lo < 1e-12:
        lo, hi = lo - 1.0, hi + 1.0
    x0, x1 = x_range
    span = (x1 - x0) or 1.0

    def px(x: float) -> float:
        return _PAD + (x - x0) / span * (_W - 2 * _PAD)

    def py(y: float) -> float:
        return _H - _PAD - (y - lo) / (hi - lo) * (_H - 2 * _PAD)

    parts = [
        f'<svg width="100%" height="{_H}" viewBox="0 0 {_W} {_H}" preserveAspectRatio="none" '
        'role="img">'
    ]
    if band is not None:
        top, bottom = py(band["q75"] * factor), py(band["q25"] * factor)
        parts.append(
            f'<rect x="{_PAD}" y="{top:.1f}" width="{_W - 2 * _PAD}" height="{bottom - top:.1f}" '
            'fill="#999" fill-opacity="0.2"/>'
        )
        m = py(band["median"] * factor)
        parts.append(
            f'<line x1="{_PAD}" x2="{_W - _PAD}" y1="{m:.1f}" y2="{m:.1f}" stroke="#777" '
            'stroke-dasharray="4 3" stroke-width="1"/>'
        )
    if target is not None:
        t = py(target * factor)
        parts.append(
            f'<line x1="{_PAD}" x2="{_W - _PAD}" y1="{t:.1f}" y2="{t:.1f}" stroke="#b03a2e" '
            'stroke-dasharray="2 2" stroke-width="1.2"/>'
        )
    g = px(go_live_x)
    parts.append(
        f'<line x1="{g:.1f}" x2="{g:.1f}" y1="0" y2="{_H}" stroke="#333" stroke-width="1.2"/>'
    )
    points = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in zip(xs, ys, strict=True))
    parts.append(f'<polyline points="{points}" fill="none" stroke="#1f4e79" stroke-width="1.4"/>')
    parts.append("</svg>")
    return "".join(parts)


def _tile(row: pd.Series, spark: str) -> str:
    kpi = row["kpi"]
    colour = _COLOURS[verdict_colour(row["verdict"])]
    if row["note"]:
        body = f'<div class="value">—</div><div class="note">{_esc(row["note"])}</div>'
    else:
        target = fmt_target(kpi, row.get("target"))
        gap = fmt_gap(kpi, row.get("gap"), row.get("meets_target"))
        body = (
            f'<div class="value">{_esc(fmt_value(kpi, row["current"]))}</div>'
            f'<div class="small">baseline {_esc(fmt_value(kpi, row["baseline"]))} · change '
            f"<b>{_esc(fmt_delta(kpi, row['delta']))}</b> "
            f"({_esc(fmt_interval(kpi, row['ci_low'], row['ci_high']))})</div>"
            f'<div><span class="verdict" style="background:{colour}">{_esc(row["verdict"])}'
            f'</span> <span class="small">{_esc(target)}{" · " + _esc(gap) if gap else ""}'
            "</span></div>"
            f'<div class="small">n = {int(row["n_baseline"]):,} before · '
            f"{int(row['n_current']):,} since</div>"
        )
    return f'<div class="tile"><div class="label">{_esc(row["label"])}</div>{body}{spark}</div>'


def _range_text(data_range: dict[str, dict[str, object]]) -> str:
    names = {
        "recommendations": "recommendations signalled",
        "orders": "order lines promised",
        "kpi_periods": "KPI periods starting",
    }
    parts = [
        f"{names[t]} {r['first']} – {r['last']} ({int(r['rows']):,})"
        for t, r in data_range.items()
        if t in names
    ]
    return "; ".join(parts) or "no data"


def _money_text(money: dict[str, float | None]) -> str:
    saved = money.get("saved_usd")
    if saved is None:
        return "Expedite spend against baseline: not available (needs kpi_periods with COGS)."
    word = "saved" if saved >= 0 else "lost"
    text = (
        f"Expedite spend: <b>{fmt_usd(abs(saved))} {word}</b> against the baseline rate, at current "
        f"COGS of {fmt_usd(money.get('current_cogs_usd'))}"
    )
    low, high = money.get("saved_low_usd"), money.get("saved_high_usd")
    if low is not None and high is not None:
        text += f" (95% CI {fmt_usd(low)} to {fmt_usd(high)} saved)"
    bps = money.get("bps_of_revenue")
    if bps is not None:
        text += f"; {bps:+,.0f} bps of revenue ({fmt_usd(money.get('current_revenue_usd'))})"
    return text + "."


def kpi_report_html(
    comparison: pd.DataFrame,
    trend: pd.DataFrame,
    band: pd.DataFrame,
    *,
    go_live: date,
    go_live_inferred: bool,
    data_range: dict[str, dict[str, object]],
    money: dict[str, float | None],
    scope: str,
    generated_at: str,
    generated_by: str = "",
) -> str:
    """The printable report as an HTML document.

    Parameters
    ----------
    comparison : DataFrame
        :func:`analytics.baseline.compare.with_targets` of :func:`analytics.baseline.compare.compare_periods`.
    trend, band : DataFrame
        :func:`analytics.baseline.groups.weekly_trend` and :func:`analytics.baseline.groups.baseline_band`.
    data_range : dict
        :func:`analytics.baseline.kpis.data_range`.
    money : dict
        :func:`analytics.baseline.compare.expedite_money`.
    scope : str
        What the figures cover, e.g. "all sites, all types".
    generated_at, generated_by : str
        Printed in the footer.
    """
    cut = go_live_timestamp(go_live).value / 1_000.0  # Timestamp.value is in ns
    x_all = _micros(trend["period_start"])
    x_range = (
        (min(float(x_all.min()), cut), max(float(x_all.max()), cut))
        if len(x_all)
        else (cut - 1.0, cut + 1.0)
    )
    bands = band.set_index("kpi") if len(band) else pd.DataFrame()
    tiles = []
    for _, row in comparison.iterrows():
        kpi = row["kpi"]
        target = row.get("target")
        spark = _sparkline(
            trend[trend["kpi"] == kpi],
            factor=display_factor(kpi),
            x_range=x_range,
            band=bands.loc[kpi] if kpi in bands.index else None,
            target=None if target is None or pd.isna(target) else float(target),
            go_live_x=cut,
        )
        tiles.append(_tile(row, spark))
    inferred = (
        " (inferred from the first recommendation with a model version)" if go_live_inferred else ""
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>KPIs against the pre-AI baseline — go-live {go_live.isoformat()}</title>"
        f"<style>{_CSS}</style></head><body>"
        "<h1>Are decisions faster and operations better since go-live?</h1>"
        f'<p class="meta">Go-live <b>{go_live.isoformat()}</b>{_esc(inferred)}: baseline before it, '
        f"current from it on, each table by its own event time. Scope: {_esc(scope)}. "
        f"Data: {_esc(_range_text(data_range))}.</p>"
        f'<p class="money">{_money_text(money)}</p>'
        f'<div class="grid">{"".join(tiles)}</div>'
        '<p class="foot">Changes are current − baseline with a 95% interval (score interval for rates, Welch t for per-period figures, bootstrap for latencies); '
        "green/red only where the interval excludes zero. Trend lines are weekly (stockouts "
        "monthly); the grey band is the baseline's interquartile range, the dashed line its "
        "median, the black line go-live, the red dotted line the target. "
        f"Generated {_esc(generated_at)}{' by ' + _esc(generated_by) if generated_by else ''}.</p>"
        "</body></html>"
    )
