"""Figures of override learning: pure builders over the frames of the override analytics
(Plotly figures, and the Reason themes tab's two as Vega-Lite specs)."""

from __future__ import annotations

from typing import Any

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


# Vega's ten-colour category scheme (tableau10), for the themes; "no reason given" is grey.
_CATEGORY = ["#4c78a8", "#f58518", "#e45756", "#72b7b2", "#54a24b", "#eeca3b", "#b279a2",
             "#ff9da6", "#9d755d", "#bab0ac"]  # fmt: skip


def _theme_name(tid: int, label: str) -> str:
    return str(label) if tid == NO_REASON_ID else f"{tid} · {label}"


def theme_trend_spec(trend: pd.DataFrame, *, height: int = 320) -> dict[str, Any]:
    """Share of each month's overrides per theme (stacked areas), "no reason given" in grey,
    as a Vega-Lite spec (``st.vega_lite_chart``).

    The Reason themes tab is the Override patterns page's first screen: drawn with Plotly, it
    loaded Plotly's 4.7 MB front-end chunk in every new browser session; Vega's is a sixth of
    that. ``trend`` is :func:`analytics.overrides.theme_views.theme_trend` output; the data
    rows are ``month`` (ISO day), ``theme`` (id · label), ``share`` and ``n``."""
    pairs = trend[["theme_id", "theme_label"]].drop_duplicates().sort_values("theme_id")
    names = [_theme_name(t, lab) for t, lab in zip(pairs["theme_id"], pairs["theme_label"],
                                                   strict=True)]  # fmt: skip
    others = iter(_CATEGORY * (len(names) // len(_CATEGORY) + 1))
    colours = [_NO_REASON if t == NO_REASON_ID else next(others) for t in pairs["theme_id"]]
    rows = [
        {"month": pd.Timestamp(m).strftime("%Y-%m-%d"), "theme": _theme_name(t, lab),
         "share": float(sh), "n": int(n)}
        for m, t, lab, sh, n in zip(trend["month"], trend["theme_id"], trend["theme_label"],
                                    trend["share"], trend["n"], strict=True)
    ]  # fmt: skip
    return {
        "data": {"values": rows},
        "height": height,
        "title": "Themes by month (share of overrides)",
        "mark": {"type": "area", "line": {"strokeWidth": 0.5}},
        "encoding": {
            "x": {"field": "month", "type": "temporal", "title": None},
            "y": {"field": "share", "type": "quantitative", "stack": "zero",
                  "title": "% of overrides", "axis": {"format": ".0%"},
                  "scale": {"domain": [0, 1]}},
            "color": {"field": "theme", "type": "nominal", "title": None,
                      "scale": {"domain": names, "range": colours},
                      "legend": {"labelLimit": 320}},
            "order": {"field": "theme", "sort": "ascending"},
            "tooltip": [{"field": "theme"},
                        {"field": "month", "type": "temporal", "format": "%b %Y"},
                        {"field": "share", "type": "quantitative", "format": ".0%"},
                        {"field": "n", "type": "quantitative", "title": "overrides"}],
        },
    }  # fmt: skip


def theme_size_spec(themes: pd.DataFrame, *, height: int = 300) -> dict[str, Any]:
    """Overrides per theme (``ThemeModel.themes``), largest on top, each bar labelled with its
    share and the no-reason bucket in grey, as a Vega-Lite spec (see ``theme_trend_spec``).
    The data rows are ``theme``, ``size``, ``share`` and ``no_reason``."""
    ordered = themes.sort_values("size", ascending=False, kind="stable")
    rows = [
        {"theme": _theme_name(t, lab), "size": int(n), "share": float(sh),
         "share_text": f"{sh:.0%}", "no_reason": bool(t == NO_REASON_ID)}
        for t, lab, n, sh in zip(ordered["theme_id"], ordered["label"], ordered["size"],
                                 ordered["share"], strict=True)
    ]  # fmt: skip
    y = {"field": "theme", "type": "nominal", "sort": None, "title": None,
         "axis": {"labelLimit": 360}}  # fmt: skip
    return {
        "data": {"values": rows},
        "height": max(height, 22 * len(rows)),
        "title": "Overrides per theme",
        "layer": [
            {"mark": {"type": "bar"},
             "encoding": {
                 "y": y, "x": {"field": "size", "type": "quantitative", "title": "overrides"},
                 "color": {"field": "no_reason", "type": "nominal", "legend": None,
                           "scale": {"domain": [False, True], "range": ["#1f4e79", _NO_REASON]}},
                 "tooltip": [{"field": "theme"}, {"field": "size", "title": "overrides"},
                             {"field": "share_text", "title": "share"}]}},
            {"mark": {"type": "text", "align": "left", "dx": 4},
             "encoding": {"y": y, "x": {"field": "size", "type": "quantitative"},
                          "text": {"field": "share_text"}}},
        ],
    }  # fmt: skip


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
