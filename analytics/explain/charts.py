"""Pure Plotly figure builders for explanations (no Streamlit, no I/O)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from analytics.explain.text import feature_label, format_output

_UP = "#c0392b"  # pushes the output up (towards firing)
_DOWN = "#2e86c1"
_TOTAL = "#7f8c8d"


def _fmt_step(x: float) -> str:
    return f"{x:.3f}" if x < 10 else f"{x:,.1f}"


def waterfall_figure(
    steps: pd.DataFrame, *, base_value: float, prediction: float, target: str = "score"
) -> go.Figure:
    """A horizontal waterfall from the surrogate's average output to this recommendation's.

    Parameters
    ----------
    steps : pd.DataFrame
        ``label`` and ``shap`` per bar, largest first (``analytics.explain.explanation.waterfall_steps``).
    base_value, prediction : float
        Start and end of the waterfall, in the model's output units.
    target : str
        Name of that output, for the axis title.
    """
    labels = ["average " + target] + steps["label"].astype(str).tolist() + ["this recommendation"]
    values = [base_value] + steps["shap"].astype(float).tolist() + [prediction]
    measure = ["absolute"] + ["relative"] * len(steps) + ["total"]
    text = (
        [format_output(base_value)]
        + [("+" if v >= 0 else "−") + _fmt_step(abs(v)) for v in steps["shap"]]
        + [format_output(prediction)]
    )
    fig = go.Figure(
        go.Waterfall(
            orientation="h",
            y=labels,
            x=values,
            measure=measure,
            text=text,
            textposition="outside",
            increasing={"marker": {"color": _UP}},
            decreasing={"marker": {"color": _DOWN}},
            totals={"marker": {"color": _TOTAL}},
            connector={"line": {"color": "#bbbbbb", "width": 1}},
        )
    )
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(
        xaxis_title=f"{target} (model output units)",
        height=120 + 36 * len(labels),
        margin={"l": 10, "r": 40, "t": 30, "b": 40},
        showlegend=False,
    )
    return fig


def drivers_figure(drivers: pd.DataFrame, *, title: str = "", top: int = 12) -> go.Figure:
    """Horizontal bars of mean |SHAP| per feature (``feature``, ``mean_abs_shap``), largest on top."""
    d = drivers.head(top)
    fig = go.Figure(
        go.Bar(
            x=d["mean_abs_shap"].astype(float),
            y=[feature_label(f) for f in d["feature"]],
            orientation="h",
            marker_color=_TOTAL,
            hovertemplate="%{y}: %{x:.4f}<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(
        title=title or None,
        xaxis_title="mean |SHAP| (model output units)",
        height=120 + 28 * max(len(d), 1),
        margin={"l": 10, "r": 20, "t": 40 if title else 20, "b": 40},
    )
    return fig


def dependence_figure(
    points: pd.DataFrame, *, feature: str, highlight: float | None = None
) -> go.Figure:
    """SHAP value against the raw feature value (``value``, ``shap``, ``rec_id`` per point).

    Text features are drawn as categories; ``highlight`` marks one value (the
    recommendation being explained) with a vertical line.
    """
    label = feature_label(feature)
    numeric = pd.api.types.is_numeric_dtype(points["value"]) and not isinstance(
        points["value"].dtype, pd.CategoricalDtype
    )
    x = points["value"] if numeric else points["value"].astype("string").fillna("(missing)")
    fig = go.Figure(
        go.Scattergl(
            x=x,
            y=points["shap"].astype(float),
            mode="markers",
            marker={"size": 6, "opacity": 0.6, "color": _TOTAL},
            text=points["rec_id"].astype(str),
            hovertemplate="%{text}<br>" + label + " = %{x}<br>SHAP %{y:.4f}<extra></extra>",
        )
    )
    if highlight is not None and numeric and np.isfinite(highlight):
        fig.add_vline(x=float(highlight), line_dash="dash", line_color=_UP)
    fig.add_hline(y=0, line_color="#cccccc")
    fig.update_layout(
        xaxis_title=label,
        yaxis_title="SHAP value (model output units)",
        height=380,
        margin={"l": 10, "r": 20, "t": 20, "b": 40},
    )
    return fig
