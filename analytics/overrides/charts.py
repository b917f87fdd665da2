"""Plotly figures of override learning: pure builders over the frames of the override analytics."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from analytics.overrides.log import DIRECTIONS, SIZE_BANDS
from analytics.overrides.themes import NO_REASON_ID
from analytics.overrides.value_added import VERDICT_COST, VERDICT_GAIN

_NO_REASON = "#9e9e9e"
_GAIN = "#2e7d32"
_COST = "#c62828"
_UNCLEAR = "#78909c"
_DIRECTION = {"increase": "#1f77b4", "decrease": "#ff7f0e", "reject": "#6a1b9a"}
_LAYOUT = {"margin": {"l": 10, "r": 10, "t": 40, "b": 10}, "template": "plotly_white"}


def _verdict_colour(verdict: str) -> str:
    return {VERDICT_GAIN: _GAIN, VERDICT_COST: _COST}.get(verdict, _UNCLEAR)


def _error_bars(table: pd.DataFrame) -> dict:
    return {
        "type": "data",
        "symmetric": False,
        "array": (table["ci_high"] - table["value_added"]).tolist(),
        "arrayminus": (table["value_added"] - table["ci_low"]).tolist(),
        "thickness": 1.2,
        "color": "#444444",
    }


def theme_trend_figure(trend: pd.DataFrame, *, height: int = 320) -> go.Figure:
    """Share of each month's overrides per theme (stacked), "no reason given" in grey.

    ``trend`` is :func:`analytics.overrides.theme_views.theme_trend` output.
    """
    fig = go.Figure()
    for (tid, label), rows in trend.groupby(["theme_id", "theme_label"], sort=True):
        fig.add_trace(
            go.Scatter(
                x=rows["month"],
                y=rows["share"] * 100,
                name=f"{tid} · {label}" if tid != NO_REASON_ID else str(label),
                stackgroup="one",
                mode="lines",
                line={"width": 0.5, **({"color": _NO_REASON} if tid == NO_REASON_ID else {})},
                customdata=rows["n"],
                hovertemplate="%{x|%b %Y}: %{y:.0f}% (%{customdata} overrides)<extra>%{fullData.name}</extra>",
            )
        )
    fig.update_layout(
        title="Themes by month (share of overrides)",
        yaxis={"title": "% of overrides", "range": [0, 100]},
        legend={"font": {"size": 10}},
        height=height,
        **_LAYOUT,
    )
    return fig


def theme_size_figure(themes: pd.DataFrame, *, height: int = 300) -> go.Figure:
    """Overrides per theme (``ThemeModel.themes``), the no-reason bucket in grey."""
    rows = themes.sort_values("size", ascending=True, kind="stable")
    names = [
        lab if tid == NO_REASON_ID else f"{tid} · {lab}"
        for tid, lab in zip(rows["theme_id"], rows["label"], strict=True)
    ]
    colours = [_NO_REASON if t == NO_REASON_ID else "#1f4e79" for t in rows["theme_id"]]
    fig = go.Figure(
        go.Bar(
            x=rows["size"],
            y=names,
            orientation="h",
            marker_color=colours,
            text=[f"{s:.0%}" for s in rows["share"]],
            textposition="auto",
            hovertemplate="%{y}: %{x} overrides<extra></extra>",
        )
    )
    fig.update_layout(title="Overrides per theme", height=height, **_LAYOUT)
    return fig


def value_added_band_figure(table: pd.DataFrame, *, height: int = 340) -> go.Figure:
    """Value added per direction and size band with 90% intervals.

    ``table`` is ``value_added(log, by=["direction", "size_band"])``.
    """
    fig = go.Figure()
    for d in DIRECTIONS:
        rows = table[table["direction"].astype(str) == d].dropna(subset=["value_added"])
        if rows.empty:
            continue
        fig.add_trace(
            go.Bar(
                x=rows["size_band"].astype(str),
                y=rows["value_added"],
                name=d,
                marker_color=_DIRECTION[d],
                error_y=_error_bars(rows),
                customdata=rows[["n_scored", "win_rate"]].to_numpy(),
                hovertemplate=(
                    "%{x}: %{y:,.1f} units per override<br>n = %{customdata[0]:,}, "
                    "win rate %{customdata[1]:.0%}<extra>%{fullData.name}</extra>"
                ),
            )
        )
    fig.add_hline(y=0, line={"color": "#333333", "width": 1})
    fig.update_layout(
        title="Value added by direction and size of adjustment (90% CI)",
        barmode="group",
        xaxis={"title": "|adjustment|", "categoryorder": "array", "categoryarray": SIZE_BANDS},
        yaxis={"title": "units closer to actual per override"},
        height=height,
        **_LAYOUT,
    )
    return fig


def value_added_group_figure(
    table: pd.DataFrame, *, name_column: str, title: str, height: int | None = None
) -> go.Figure:
    """Horizontal bars of value added per group with 90% intervals, coloured by verdict."""
    rows = table.dropna(subset=["value_added"]).sort_values("value_added", kind="stable")
    fig = go.Figure(
        go.Bar(
            x=rows["value_added"],
            y=rows[name_column].astype(str),
            orientation="h",
            marker_color=[_verdict_colour(v) for v in rows["verdict"]],
            error_x=_error_bars(rows),
            customdata=rows[["n_scored", "win_rate", "verdict"]].to_numpy(),
            hovertemplate=(
                "%{y}: %{x:,.1f} units per override<br>n = %{customdata[0]:,}, win rate "
                "%{customdata[1]:.0%}<br>%{customdata[2]}<extra></extra>"
            ),
        )
    )
    fig.add_vline(x=0, line={"color": "#333333", "width": 1})
    fig.update_layout(
        title=title,
        xaxis={"title": "value added (units per override)"},
        height=height or max(220, 40 + 28 * len(rows)),
        **_LAYOUT,
    )
    return fig


def stockout_figure(rates: pd.DataFrame, *, height: int = 280) -> go.Figure:
    """Stockout rate after acceptances vs overrides (``stockout_rates`` output), 90% intervals."""
    rows = rates[rates["n"] > 0]
    colours = [
        "#1f4e79" if g == "accepted" else _DIRECTION.get(g, "#555555") for g in rows["group"]
    ]
    fig = go.Figure(
        go.Bar(
            x=rows["group"],
            y=rows["stockout_rate"] * 100,
            marker_color=colours,
            error_y={
                "type": "data",
                "symmetric": False,
                "array": ((rows["ci_high"] - rows["stockout_rate"]) * 100).tolist(),
                "arrayminus": ((rows["stockout_rate"] - rows["ci_low"]) * 100).tolist(),
            },
            customdata=rows[["n", "stockouts"]].to_numpy(),
            hovertemplate="%{x}: %{y:.1f}% (%{customdata[1]} of %{customdata[0]})<extra></extra>",
        )
    )
    fig.update_layout(
        title="Stockout rate after the decision (90% CI)",
        yaxis={"title": "% with a stockout"},
        height=height,
        **_LAYOUT,
    )
    return fig


def rule_monitor_figure(monitor: pd.DataFrame, *, title: str, height: int = 360) -> go.Figure:
    """Support (bars) and value added with 90% interval (line) per quarter for one rule.

    ``monitor`` is :func:`analytics.overrides.monitor.rule_by_quarter` output.
    """
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08)
    fig.add_trace(
        go.Bar(
            x=monitor["quarter"],
            y=monitor["support"],
            name="support",
            marker_color="#1f4e79",
            customdata=(monitor["confidence"] * 100).round(0),
            hovertemplate="%{x}: %{y} overrides (%{customdata:.0f}% of matches)<extra></extra>",
        ),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Scatter(
            x=monitor["quarter"],
            y=monitor["value_added"],
            name="value added",
            mode="lines+markers",
            line={"color": _GAIN},
            error_y={
                "type": "data",
                "symmetric": False,
                "array": (monitor["ci_high"] - monitor["value_added"]).tolist(),
                "arrayminus": (monitor["value_added"] - monitor["ci_low"]).tolist(),
            },
            hovertemplate="%{x}: %{y:,.1f} units per override<extra></extra>",
        ),
        row=2,
        col=1,
    )
    fig.add_hline(y=0, line={"color": "#333333", "width": 1}, row=2, col=1)
    fig.update_yaxes(title_text="overrides", row=1, col=1)
    fig.update_yaxes(title_text="value added", row=2, col=1)
    fig.update_layout(title=title, showlegend=False, height=height, **_LAYOUT)
    return fig
