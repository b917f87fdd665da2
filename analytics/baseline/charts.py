"""Plotly figures of the KPI trends: pure builders over the frames of ``analytics.baseline.groups``."""

from __future__ import annotations

from datetime import date

import pandas as pd
import plotly.graph_objects as go

from analytics.baseline.kpis import KPI_BY_KEY, KPIS, go_live_timestamp
from analytics.baseline.targets import target_op
from analytics.baseline.text import display_factor, display_unit, fmt_value

_LINE = "#1f4e79"
_BAND = "rgba(120, 120, 120, 0.18)"
_TARGET = "#b03a2e"


# KPIs that need a decision: recent weeks read low while their recommendations are open.
DECISION_KPIS = frozenset(k.key for k in KPIS if "decisions" in k.needs)


def trend_figure(
    trend: pd.DataFrame,
    *,
    kpi: str,
    go_live: date,
    band: pd.Series | None = None,
    target: float | None = None,
    decisions_until: pd.Timestamp | None = None,
    height: int = 260,
) -> go.Figure:
    """One KPI's trend with the baseline median and IQR band behind it, go-live and target.

    Parameters
    ----------
    trend : DataFrame
        Rows of :func:`analytics.baseline.groups.weekly_trend` (``kpi``, ``period_start``,
        ``value``, ``n``); only ``kpi``'s rows are drawn.
    band : Series, optional
        That KPI's row of :func:`analytics.baseline.groups.baseline_band` (``median``,
        ``q25``, ``q75``).
    target : float, optional
        In the KPI's stored unit (fractions for rates).
    decisions_until : Timestamp, optional
        The newest ``decided_at`` in the log. For KPIs that need a decision, the weeks
        after it are shaded: their recommendations are still open, so by the contract's
        definitions they read as not met, not as a real drop.
    """
    info = KPI_BY_KEY[kpi]
    factor, unit = display_factor(kpi), display_unit(kpi)
    rows = trend[trend["kpi"] == kpi]
    grain = "month" if kpi == "stockouts_per_month" else "week"
    cut = go_live_timestamp(go_live).isoformat()
    # Shapes and annotations as plain layout dicts in one constructor call: add_hline and
    # add_hrect validate figure by figure and cost ~0.1 s per chart.
    shapes: list[dict] = [
        {
            "type": "line",
            "x0": cut,
            "x1": cut,
            "xref": "x",
            "y0": 0,
            "y1": 1,
            "yref": "paper",
            "line": {"color": "#333333", "width": 1.5},
        }
    ]
    notes: list[dict] = [
        {
            "x": cut,
            "y": 1,
            "xref": "x",
            "yref": "paper",
            "text": "go-live",
            "showarrow": False,
            "xanchor": "left",
            "yanchor": "bottom",
            "font": {"size": 10},
        }
    ]
    last = rows["period_start"].max() if len(rows) else None
    if (
        decisions_until is not None
        and kpi in DECISION_KPIS
        and last is not None
        and last >= decisions_until - pd.Timedelta(days=7)
    ):
        x0 = (decisions_until - pd.Timedelta(days=7)).isoformat()
        shapes.append(
            {
                "type": "rect",
                "xref": "x",
                "x0": x0,
                "x1": (last + pd.Timedelta(days=7)).isoformat(),
                "yref": "paper",
                "y0": 0,
                "y1": 1,
                "fillcolor": "rgba(255, 193, 7, 0.15)",
                "line": {"width": 0},
                "layer": "below",
            }
        )
        notes.append(
            {
                "x": x0,
                "y": 0,
                "xref": "x",
                "yref": "paper",
                "text": "still open",
                "showarrow": False,
                "xanchor": "left",
                "yanchor": "bottom",
                "font": {"size": 9, "color": "#8a6d00"},
            }
        )
    if band is not None:
        shapes.append(
            {
                "type": "rect",
                "xref": "paper",
                "x0": 0,
                "x1": 1,
                "y0": band["q25"] * factor,
                "y1": band["q75"] * factor,
                "fillcolor": _BAND,
                "line": {"width": 0},
                "layer": "below",
            }
        )
        shapes.append(_hline(band["median"] * factor, color="#777777", dash="dash", width=1))
        notes.append(
            _note(band["median"] * factor, f"baseline median {fmt_value(kpi, band['median'])}", 0)
        )
    if target is not None:
        shapes.append(_hline(target * factor, color=_TARGET, dash="dot", width=1.5))
        notes.append(
            _note(
                target * factor,
                f"target {target_op(kpi)} {fmt_value(kpi, target)}",
                1,
                color=_TARGET,
            )
        )
    better = "lower is better" if info.better == "lower" else "higher is better"
    return go.Figure(
        data=[
            go.Scatter(
                x=rows["period_start"],
                y=rows["value"] * factor,
                mode="lines+markers",
                marker={"size": 4},
                line={"color": _LINE, "width": 1.6},
                customdata=rows[["n"]].to_numpy(),
                hovertemplate=f"{grain} of %{{x|%Y-%m-%d}}<br>%{{y:.2f}} {unit}"
                "<br>n = %{customdata[0]:,}<extra></extra>",
                name=info.label,
            )
        ],
        layout={
            "title": {"text": f"{info.label} — per {grain} ({better})", "font": {"size": 13}},
            "height": height,
            "margin": {"l": 40, "r": 10, "t": 40, "b": 30},
            "showlegend": False,
            "yaxis": {"title": {"text": unit}},
            "xaxis": {"type": "date"},
            "shapes": shapes,
            "annotations": notes,
        },
    )


def _hline(y: float, *, color: str, dash: str, width: float) -> dict:
    return {
        "type": "line",
        "xref": "paper",
        "x0": 0,
        "x1": 1,
        "y0": y,
        "y1": y,
        "line": {"color": color, "dash": dash, "width": width},
    }


def _note(y: float, text: str, side: int, *, color: str | None = None) -> dict:
    """A small label on a horizontal line: left (side 0) above it, right (side 1) below it."""
    return {
        "xref": "paper",
        "x": side,
        "y": y,
        "text": text,
        "showarrow": False,
        "xanchor": "right" if side else "left",
        "yanchor": "top" if side else "bottom",
        "font": {"size": 10, **({"color": color} if color else {})},
    }
