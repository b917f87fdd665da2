"""Plotly figures of model health: pure builders over the frames of this wing."""

from __future__ import annotations

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


def psi_figure(weekly: pd.DataFrame, *, feature: str, reference: Reference,
               threshold: float, height: int = 260) -> go.Figure:  # fmt: skip
    """PSI per week of one feature (``drift.FeatureDrift.weekly`` rows), the threshold as a
    line, the reference window shaded; weeks with too few values are left out."""
    rows = weekly[(weekly["feature"] == feature) & weekly["judged"]]
    x = week_timestamps(rows["week"].to_numpy())
    over = rows["psi"] >= threshold
    fig = go.Figure(
        [
            go.Scatter(x=x, y=rows["psi"], mode="lines+markers", name="PSI",
                       line={"color": _LINE}, customdata=rows["n"],
                       hovertemplate="week of %{x|%d %b %Y}: PSI %{y:.3f} (%{customdata:,} values)<extra></extra>"),
            go.Scatter(x=x[over.to_numpy()], y=rows["psi"][over], mode="markers",
                       name="past threshold", marker={"color": _ALERT, "size": 9}),
        ],  # fmt: skip
        layout={
            "height": height, "margin": {"l": 10, "r": 10, "t": 30, "b": 10},
            "title": {"text": f"{feature}: PSI per week against the reference", "font": {"size": 14}},
            "yaxis": {"title": "PSI", "rangemode": "tozero"},
            "shapes": [_reference_band(reference), {
                "type": "line", "xref": "paper", "x0": 0, "x1": 1, "y0": threshold,
                "y1": threshold, "line": {"color": _ALERT, "dash": "dash", "width": 1}}],
            "showlegend": False,
        },
    )  # fmt: skip
    return fig


def distribution_figure(shares: pd.DataFrame, *, feature: str, latest_label: str,
                        height: int = 260) -> go.Figure:  # fmt: skip
    """The feature's share per bin in the reference window and in the latest week."""
    return go.Figure(
        [
            go.Bar(x=shares["bin"], y=shares["reference"], name="reference", marker_color=_REF),
            go.Bar(x=shares["bin"], y=shares["latest"], name=latest_label, marker_color=_LINE),
        ],
        layout={
            "barmode": "group", "height": height, "margin": {"l": 10, "r": 10, "t": 30, "b": 10},
            "title": {"text": f"{feature}: reference vs {latest_label}", "font": {"size": 14}},
            "yaxis": {"title": "share", "tickformat": ".0%"},
            "legend": {"orientation": "h", "y": -0.25},
        },
    )  # fmt: skip


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
