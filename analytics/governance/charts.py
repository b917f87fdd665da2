"""The Ownership page's two charts as Vega-Lite specs (``st.vega_lite_chart``).

Each sits in a tab drawn only when it is opened; drawn with Plotly, the first opening in a
browser session loaded Plotly's 4.7 MB front-end chunk and took 1.5 s at 1M. Vega's chunk is
a sixth of that size (and the Why and Model health pages' first screens have loaded it
already).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """``frame`` as JSON-ready rows: dates as ISO days, NaN as null."""
    out = frame.copy()
    for col in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[col]):
            out[col] = out[col].dt.strftime("%Y-%m-%d")
        elif out[col].dtype == object or isinstance(out[col].dtype, pd.CategoricalDtype):
            out[col] = out[col].astype(object).map(lambda v: None if pd.isna(v) else str(v))
    out = out.astype(object).where(out.notna(), None)
    return [
        {k: (v.item() if isinstance(v, np.generic) else v) for k, v in row.items()}
        for row in out.to_dict("records")
    ]


def sla_trend_spec(trend: pd.DataFrame, *, by: str, by_label: str, freq: str) -> dict[str, Any]:
    """SLA met per ``freq`` of ``created_at``, one line per value of ``by``, markers on the
    periods; the y axis is 0–100 %.

    ``trend`` rows: ``period`` (the period's first day), ``by``, ``sla_met_rate`` and
    ``n_rated`` (the judged recommendations behind the rate, shown on hover)."""
    rows = _records(trend[["period", by, "sla_met_rate", "n_rated"]])
    return {
        "data": {"values": rows},
        "height": 320,
        "title": f"SLA met by {by_label.lower()} per {freq} of created_at (8 largest)",
        "mark": {"type": "line", "point": True},
        "encoding": {
            "x": {"field": "period", "type": "temporal", "title": freq},
            "y": {
                "field": "sla_met_rate",
                "type": "quantitative",
                "title": "SLA met",
                "axis": {"format": ".0%"},
                "scale": {"domain": [0, 1]},
            },
            "color": {"field": by, "type": "nominal", "title": by_label},
            "tooltip": [
                {"field": by, "type": "nominal", "title": by_label},
                {"field": "period", "type": "temporal", "title": freq, "format": "%d %b %Y"},
                {"field": "sla_met_rate", "type": "quantitative", "title": "SLA met",
                 "format": ".1%"},
                {"field": "n_rated", "type": "quantitative", "title": "judged", "format": ","},
            ],
        },
    }  # fmt: skip


def fatigue_spec(weekly: pd.DataFrame) -> dict[str, Any]:
    """Each owner's weeks as points: recommendations that week against the median response
    time, coloured by owner; ``week`` and ``override_rate`` on hover. Weeks with no response
    are left out."""
    rows = _records(
        weekly.dropna(subset=["median_response_h"])[
            ["owner", "week", "n_recs", "median_response_h", "override_rate"]
        ]
    )
    return {
        "data": {"values": rows},
        "height": 320,
        "title": "Weekly load against median response time",
        "mark": {"type": "point", "filled": True},
        "encoding": {
            "x": {"field": "n_recs", "type": "quantitative", "title": "recommendations that week"},
            "y": {"field": "median_response_h", "type": "quantitative",
                  "title": "median response h"},
            "color": {"field": "owner", "type": "nominal", "title": "owner"},
            "tooltip": [
                {"field": "owner", "type": "nominal"},
                {"field": "week", "type": "temporal", "format": "%d %b %Y"},
                {"field": "n_recs", "type": "quantitative", "title": "recommendations",
                 "format": ","},
                {"field": "median_response_h", "type": "quantitative",
                 "title": "median response h", "format": ".1f"},
                {"field": "override_rate", "type": "quantitative", "title": "override rate",
                 "format": ".0%"},
            ],
        },
    }  # fmt: skip
