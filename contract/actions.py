"""A rule's action, machine-readable: what a planning system does when the rule fires.

Two kinds, both in the contract's terms so a planning system can apply them
without the workbench:

* ``{"kind": "adjust_pct", "value": 25.0}`` — commit ``recommended_qty × (1 + value/100)``
  instead of the recommendation (the rule's median adjustment, as the lead confirms it);
  ``value`` within ``MIN_ADJUST_PCT`` … ``MAX_ADJUST_PCT``.
* ``{"kind": "reject"}`` — do not act on the recommendation (commit 0, as a
  rejected decision does).

There is no timing kind ("release two days early"): the contract records no
release or due dates per recommendation, only quantities, so a timing action
could be neither backtested nor checked against outcomes. A timing pattern
(line 7 always behind) shows up as a ``reject`` of the rescheduling it makes
pointless, which is what the log can evidence.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

ACTION_KINDS: tuple[str, ...] = ("adjust_pct", "reject")
MIN_ADJUST_PCT = -100.0
MAX_ADJUST_PCT = 500.0


class ActionError(ValueError):
    """An action that cannot be stored or applied; the message says why."""


def check_action(action: Any) -> dict[str, Any]:
    """The action in its canonical form (``value`` a float for ``adjust_pct``), or ``ActionError``."""
    if not isinstance(action, dict):
        raise ActionError(f"an action is an object with a 'kind', got {action!r}")
    kind = action.get("kind")
    if kind not in ACTION_KINDS:
        raise ActionError(f"action kind must be one of {', '.join(ACTION_KINDS)}, got {kind!r}")
    if kind == "reject":
        return {"kind": "reject"}
    try:
        value = float(action.get("value"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ActionError("an adjust_pct action needs a numeric 'value' (percent)") from None
    if not math.isfinite(value) or not MIN_ADJUST_PCT <= value <= MAX_ADJUST_PCT:
        raise ActionError(
            f"an adjustment must be between {MIN_ADJUST_PCT:+.0f}% and {MAX_ADJUST_PCT:+.0f}%, "
            f"got {value:+g}%"
        )
    return {"kind": "adjust_pct", "value": value}


def proposed_qty(action: dict[str, Any], recommended_qty: Any) -> Any:
    """The quantity the action commits for ``recommended_qty`` (scalar or array; NaN stays NaN)."""
    action = check_action(action)
    rec = np.asarray(recommended_qty, dtype="float64")
    if action["kind"] == "reject":
        out = np.where(np.isnan(rec), np.nan, 0.0)
    else:
        out = rec * (1.0 + action["value"] / 100.0)
    return float(out) if out.ndim == 0 else out


def describe_action(action: dict[str, Any] | None) -> str:
    """``+25%`` / ``reject`` / ``—`` for tables and sentences."""
    if not action:
        return "—"
    if action.get("kind") == "reject":
        return "reject"
    return f"{float(action['value']):+g}%"
