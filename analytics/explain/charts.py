"""Pure figure builders for explanations (no Streamlit, no I/O): Plotly figures, and the
first-screen waterfall as a Vega-Lite spec."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from analytics.explain.text import feature_label, format_output

_UP = "#c0392b"  # pushes the output up (towards firing)
_DOWN = "#2e86c1"
_TOTAL = "#7f8c8d"


def _fmt_step(x: float) -> str:
    return f"{x:.3f}" if x < 10 else f"{x:,.1f}"


def waterfall_spec(
    steps: pd.DataFrame, *, base_value: float, prediction: float, target: str = "score"
) -> dict[str, Any]:
    """A horizontal waterfall from the surrogate's average output to this recommendation's, as
    a Vega-Lite spec (``st.vega_lite_chart``).

    It is the Why page's first screen, so it is drawn with Vega-Lite rather than Plotly: a new
    browser session loads a front-end chunk a sixth of Plotly's size before the page shows.

    Parameters
    ----------
    steps : pd.DataFrame
        ``label`` and ``shap`` per bar, largest first (``analytics.explain.explanation.waterfall_steps``).
    base_value, prediction : float
        Start and end of the waterfall, in the model's output units.
    target : str
        Name of that output, for the axis title.

    Returns
    -------
    dict
        The spec, its data inline: one row per bar, top to bottom, with ``label``, ``start``
        and ``end`` (where the bar begins and ends), ``kind`` (``start``, ``up``, ``down`` or
        ``total``) and ``text`` (the bar's value as shown).
    """
    shap = steps["shap"].astype(float).to_numpy()
    ends = base_value + np.cumsum(shap)
    starts = ends - shap  # each step starts where the one above it ended
    rows = [
        {
            "label": "average " + target,
            "start": 0.0,
            "end": float(base_value),
            "kind": "start",
            "text": format_output(base_value),
        }
    ]
    for label, lo, hi, v in zip(steps["label"].astype(str), starts, ends, shap, strict=True):
        rows.append(
            {
                "label": label,
                "start": float(lo),
                "end": float(hi),
                "kind": "up" if v >= 0 else "down",
                "text": ("+" if v >= 0 else "−") + _fmt_step(abs(v)),
            }
        )
    rows.append(
        {
            "label": "this recommendation",
            "start": 0.0,
            "end": float(prediction),
            "kind": "total",
            "text": format_output(prediction),
        }
    )
    for r in rows:
        r["right"] = max(r["start"], r["end"])
    lo = min(0.0, *(min(r["start"], r["end"]) for r in rows))
    hi = max(r["right"] for r in rows)
    # Room right of the rightmost bar for its value label, which would be cut off at the edge.
    domain = [lo, hi + 0.15 * ((hi - lo) or 1.0)]
    y = {
        "field": "label",
        "type": "nominal",
        "sort": None,
        "title": None,
        "axis": {"labelLimit": 360},
    }
    return {
        "data": {"values": rows},
        "height": 36 * len(rows),
        "layer": [
            {
                "mark": {"type": "bar"},
                "encoding": {
                    "y": y,
                    "x": {
                        "field": "start",
                        "type": "quantitative",
                        "title": f"{target} (model output units)",
                        "scale": {"domain": domain, "nice": False},
                    },
                    "x2": {"field": "end"},
                    "color": {
                        "field": "kind",
                        "type": "nominal",
                        "scale": {
                            "domain": ["start", "up", "down", "total"],
                            "range": [_TOTAL, _UP, _DOWN, _TOTAL],
                        },
                        "legend": None,
                    },
                    "tooltip": [
                        {"field": "label", "title": "bar"},
                        {"field": "text", "title": "value"},
                    ],
                },
            },
            {
                "mark": {"type": "text", "align": "left", "dx": 4},
                "encoding": {
                    "y": y,
                    "x": {"field": "right", "type": "quantitative"},
                    "text": {"field": "text"},
                },
            },
        ],
    }


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
