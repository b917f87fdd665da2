"""Figures of model health: pure builders over the frames of this wing (Plotly figures, and
the drift tab's two as Vega-Lite specs)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go

from analytics.monitoring.window import Reference, week_timestamps

_LINE = "#1f4e79"
_REF = "#7f8c8d"
_ALERT = "#b03a2e"
_BAND = "rgba(120, 120, 120, 0.15)"


def _reference_band(reference: Reference) -> dict:
    return {
        "type": "rect", "xref": "x", "yref": "paper", "y0": 0, "y1": 1, "line": {"width": 0},
        "x0": pd.Timestamp(reference.start).isoformat(),
        "x1": (pd.Timestamp(reference.end) + pd.Timedelta(days=1)).isoformat(),
        "fillcolor": _BAND, "layer": "below",
    }  # fmt: skip


def psi_spec(weekly: pd.DataFrame, *, feature: str, reference: Reference,
             threshold: float, height: int = 260) -> dict[str, Any]:  # fmt: skip
    """PSI per week of one feature (``drift.FeatureDrift.weekly`` rows), the threshold as a
    dashed line, the weeks past it marked, the reference window shaded; weeks with too few
    values are left out. A Vega-Lite spec (``st.vega_lite_chart``): the drift tab is the page's
    first screen, and Vega's front-end chunk is a sixth of Plotly's.

    The data rows of the second layer are the weeks: ``week`` (ISO day, UTC), ``psi``, ``n``,
    ``past`` (PSI ≥ ``threshold``) and ``week_text`` (the day as shown)."""
    rows = weekly[(weekly["feature"] == feature) & weekly["judged"]]
    x = week_timestamps(rows["week"].to_numpy())
    psi = rows["psi"].astype(float).to_numpy()
    weeks = [
        {"week": t.strftime("%Y-%m-%d"), "week_text": t.strftime("%d %b %Y"), "psi": float(v),
         "n": int(n), "past": bool(v >= threshold)}
        for t, v, n in zip(x, psi, rows["n"].to_numpy(), strict=True)
    ]  # fmt: skip
    band = {"start": pd.Timestamp(reference.start).strftime("%Y-%m-%d"),
            "end": (pd.Timestamp(reference.end) + pd.Timedelta(days=1)).strftime("%Y-%m-%d")}  # fmt: skip
    week_x = {"field": "week", "type": "temporal", "title": None, "scale": {"type": "utc"}}
    return {
        "title": {"text": f"{feature}: PSI per week against the reference", "fontSize": 14},
        "height": height,
        "layer": [
            {"data": {"values": [band]}, "mark": {"type": "rect", "color": _REF, "opacity": 0.15},
             "encoding": {"x": {**week_x, "field": "start"}, "x2": {"field": "end"}}},
            {"data": {"values": weeks}, "mark": {"type": "line", "point": True, "color": _LINE},
             "encoding": {"x": week_x, "y": {"field": "psi", "type": "quantitative", "title": "PSI"},
                          "tooltip": [{"field": "week_text", "title": "week of"},
                                      {"field": "psi", "title": "PSI", "format": ".3f"},
                                      {"field": "n", "title": "values", "format": ","}]}},
            {"data": {"values": [w for w in weeks if w["past"]]},
             "mark": {"type": "point", "filled": True, "size": 90, "color": _ALERT},
             "encoding": {"x": week_x, "y": {"field": "psi", "type": "quantitative"}}},
            {"data": {"values": [{"threshold": threshold}]},
             "mark": {"type": "rule", "color": _ALERT, "strokeDash": [4, 4]},
             "encoding": {"y": {"field": "threshold", "type": "quantitative"}}},
        ],
    }  # fmt: skip


def distribution_spec(shares: pd.DataFrame, *, feature: str, latest_label: str,
                      height: int = 260) -> dict[str, Any]:  # fmt: skip
    """The feature's share per bin in the reference window and in the latest week, side by
    side, as a Vega-Lite spec; its rows are ``bin``, ``window`` (``reference`` or
    ``latest_label``) and ``share``, bins in the frame's order."""
    bins = shares["bin"].astype(str).tolist()
    rows = [
        {"bin": b, "window": window, "share": float(v)}
        for window, column in (("reference", "reference"), (latest_label, "latest"))
        for b, v in zip(bins, shares[column].astype(float), strict=True)
    ]
    return {
        "title": {"text": f"{feature}: reference vs {latest_label}", "fontSize": 14},
        "height": height,
        "data": {"values": rows},
        "mark": {"type": "bar"},
        "encoding": {
            "x": {"field": "bin", "type": "nominal", "sort": bins, "title": None,
                  "axis": {"labelAngle": 0}},
            "xOffset": {"field": "window", "sort": ["reference", latest_label]},
            "y": {"field": "share", "type": "quantitative", "title": "share",
                  "axis": {"format": ".0%"}},
            "color": {"field": "window", "type": "nominal", "title": None,
                      "scale": {"domain": ["reference", latest_label], "range": [_REF, _LINE]},
                      "legend": {"orient": "bottom"}},
            "tooltip": [{"field": "bin"}, {"field": "window"},
                        {"field": "share", "format": ".1%"}],
        },
    }  # fmt: skip


def reliability_figure(points: dict[str, pd.DataFrame], *, height: int = 340) -> go.Figure:
    """Reliability diagram: stockout rate against mean score per bin, one line per version
    (``calibration.reliability`` frames), with the diagonal of a calibrated model."""
    traces = [go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="calibrated",
                         line={"color": _REF, "dash": "dot"})]  # fmt: skip
    for name, p in points.items():
        traces.append(
            go.Scatter(
                x=p["mean_score"], y=p["stockout_rate"], mode="lines+markers", name=str(name),
                error_y={"type": "data", "symmetric": False,
                         "array": p["ci_high"] - p["stockout_rate"],
                         "arrayminus": p["stockout_rate"] - p["ci_low"]},
                customdata=p["n"],
                hovertemplate="mean score %{x:.2f}: stockout rate %{y:.2f} (%{customdata:,} judged)<extra></extra>",
            )
        )  # fmt: skip
    return go.Figure(
        traces,
        layout={
            "height": height, "margin": {"l": 10, "r": 10, "t": 30, "b": 10},
            "title": {"text": "Reliability: stockout rate by score bin (10 bins)", "font": {"size": 14}},
            "xaxis": {"title": "mean score", "range": [0, 1]},
            "yaxis": {"title": "stockouts that followed", "range": [0, 1]},
        },
    )  # fmt: skip


def override_rate_figure(chart: pd.DataFrame, *, rec_type: str, site: str,
                         reference: Reference, height: int = 260) -> go.Figure:  # fmt: skip
    """Weekly override rate of one type × site with its reference rate and the CUSUM."""
    rows = chart[(chart["rec_type"] == rec_type) & (chart["site"] == site)]
    x = week_timestamps(rows["week"].to_numpy())
    traces = [
        go.Bar(x=x, y=rows["rate"], name="override rate", marker_color=_LINE, opacity=0.6,
               customdata=rows["n"],
               hovertemplate="week of %{x|%d %b %Y}: %{y:.0%} of %{customdata:,} decisions<extra></extra>"),
    ]  # fmt: skip
    if "reference_rate" in rows and rows["reference_rate"].notna().any():
        traces.append(go.Scatter(x=x, y=rows["reference_rate"], mode="lines", name="reference rate",
                                 line={"color": _REF, "dash": "dash"}))  # fmt: skip
    for col, label in (("cusum_up", "CUSUM up"), ("cusum_down", "CUSUM down")):
        if col in rows and rows[col].notna().any():
            traces.append(go.Scatter(x=x, y=rows[col], mode="lines", name=label, yaxis="y2",
                                     line={"color": _ALERT if col == "cusum_up" else "#2e86c1"}))  # fmt: skip
    return go.Figure(
        traces,
        layout={
            "height": height, "margin": {"l": 10, "r": 10, "t": 30, "b": 10},
            "title": {"text": f"{rec_type} at {site}: weekly override rate", "font": {"size": 14}},
            "yaxis": {"title": "override rate", "tickformat": ".0%", "range": [0, 1]},
            "yaxis2": {"title": "CUSUM", "overlaying": "y", "side": "right", "rangemode": "tozero"},
            "shapes": [_reference_band(reference)],
            "legend": {"orientation": "h", "y": -0.25},
        },
    )  # fmt: skip
