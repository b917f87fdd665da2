"""Plotly figures of the KPI trends: pure builders over the frames of ``analytics.kpi_groups``."""

from __future__ import annotations

from datetime import date

import pandas as pd
import plotly.graph_objects as go

from analytics.kpi_format import display_factor, display_unit, fmt_value
from analytics.kpis import KPI_BY_KEY, go_live_timestamp
from analytics.targets import target_op

_LINE = "#1f4e79"
_BAND = "rgba(120, 120, 120, 0.18)"
_TARGET = "#b03a2e"


def trend_figure(
    trend: pd.DataFrame,
    *,
    kpi: str,
    go_live: date,
    band: pd.Series | None = None,
    target: float | None = None,
    height: int = 260,
) -> go.Figure:
    """One KPI's trend with the baseline median and IQR band behind it, go-live and target.

    Parameters
    ----------
    trend : DataFrame
        Rows of :func:`analytics.kpi_groups.weekly_trend` (``kpi``, ``period_start``,
        ``value``, ``n``); only ``kpi``'s rows are drawn.
    band : Series, optional
        That KPI's row of :func:`analytics.kpi_groups.baseline_band` (``median``,
        ``q25``, ``q75``).
    target : float, optional
        In the KPI's stored unit (fractions for rates).
    """
    info = KPI_BY_KEY[kpi]
    factor, unit = display_factor(kpi), display_unit(kpi)
    rows = trend[trend["kpi"] == kpi]
    grain = "month" if kpi == "stockouts_per_month" else "week"
    fig = go.Figure()
    if band is not None:
        fig.add_hrect(
            y0=band["q25"] * factor,
            y1=band["q75"] * factor,
            fillcolor=_BAND,
            line_width=0,
            layer="below",
        )
        fig.add_hline(
            y=band["median"] * factor,
            line={"color": "#777777", "dash": "dash", "width": 1},
            annotation_text=f"baseline median {fmt_value(kpi, band['median'])}",
            annotation_position="top left",
            annotation_font_size=10,
        )
    if target is not None:
        fig.add_hline(
            y=target * factor,
            line={"color": _TARGET, "dash": "dot", "width": 1.5},
            annotation_text=f"target {target_op(kpi)} {fmt_value(kpi, target)}",
            annotation_position="bottom right",
            annotation_font_size=10,
            annotation_font_color=_TARGET,
        )
    fig.add_trace(
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
    )
    cut = go_live_timestamp(go_live)
    # A shape plus an annotation: add_vline's own annotation fails on date axes.
    fig.add_shape(
        type="line",
        x0=cut,
        x1=cut,
        y0=0,
        y1=1,
        yref="paper",
        line={"color": "#333333", "width": 1.5},
    )
    fig.add_annotation(
        x=cut,
        y=1,
        yref="paper",
        text="go-live",
        showarrow=False,
        xanchor="left",
        yanchor="bottom",
        font={"size": 10},
    )
    better = "lower is better" if info.better == "lower" else "higher is better"
    fig.update_layout(
        title={"text": f"{info.label} — per {grain} ({better})", "font": {"size": 13}},
        height=height,
        margin={"l": 40, "r": 10, "t": 40, "b": 30},
        showlegend=False,
        yaxis_title=unit,
        template="plotly_white",
    )
    return fig
