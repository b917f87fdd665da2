"""Each candidate rule's action, derived from what planners did when it fired.

A ``reject`` rule's action is ``{"kind": "reject"}``; an ``increase`` or
``decrease`` rule's is ``{"kind": "adjust_pct", "value": …}`` with the median
adjustment % of its supporting overrides, rounded to 0.1 (the lead rounds it
further when adopting). See ``contract.actions`` for the kinds.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from analytics.overrides.log import match_mask
from contract.actions import MAX_ADJUST_PCT, MIN_ADJUST_PCT


def rule_action(direction: str, median_adjustment_pct: float | None) -> dict[str, Any] | None:
    """The action of a rule with this direction and median adjustment (None if it has none).

    An increase or decrease without a usable median (no recommended quantity on
    its overrides) has no machine-readable action.
    """
    if direction == "reject":
        return {"kind": "reject"}
    if median_adjustment_pct is None or not math.isfinite(float(median_adjustment_pct)):
        return None
    value = min(max(round(float(median_adjustment_pct), 1), MIN_ADJUST_PCT), MAX_ADJUST_PCT)
    return {"kind": "adjust_pct", "value": value}


def median_adjustment(log: pd.DataFrame, conditions: dict[str, str], direction: str) -> float:
    """Median adjustment % of the overrides a rule explains (NaN when none carries one)."""
    is_dir = (log["direction"].astype("string") == direction).fillna(False).to_numpy(dtype=bool)
    adj = log["adjustment_pct"].to_numpy(dtype=float)[match_mask(log, conditions) & is_dir]
    adj = adj[~np.isnan(adj)]
    return float(np.median(adj)) if len(adj) else float("nan")


def add_actions(rules: pd.DataFrame) -> pd.DataFrame:
    """``rules`` (``direction``, ``median_adjustment_pct``) with an ``action`` column added."""
    out = rules.copy()
    out["action"] = [
        rule_action(d, m)
        for d, m in zip(out["direction"], out["median_adjustment_pct"], strict=True)
    ]
    return out
