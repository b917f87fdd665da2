"""Matching one recommendation against candidate rules (``{"conditions": {attr: value}}``),
and the matching rules as a table a planner reads."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from contract.vocabulary import MONTHS, QUARTERS, WEEKDAYS


def rec_attributes(rec: pd.Series, *, decided_by: str | None = None) -> dict[str, str]:
    """The contract's rule attributes of one recommendation (calendar ones from ``created_at``, UTC)."""
    out: dict[str, str] = {}
    for attr in ("rec_type", "site", "sku", "supplier", "customer", "resource"):
        v = rec.get(attr)
        if v is not None and not pd.isna(v):
            out[attr] = str(v)
    ts = rec.get("created_at")
    if ts is not None and not pd.isna(ts):
        ts = pd.Timestamp(ts).tz_convert("UTC")
        out["month"] = MONTHS[ts.month - 1]
        out["quarter"] = QUARTERS[(ts.month - 1) // 3]
        out["weekday"] = WEEKDAYS[ts.day_of_week]
    if decided_by:
        out["decided_by"] = str(decided_by)
    return out


def matching_rules(
    rules: Iterable[Mapping[str, Any]], rec: pd.Series, *, decided_by: str | None = None
) -> list[dict[str, Any]]:
    """The rules whose every condition holds for ``rec``, in the order given.

    Each rule is a mapping with ``conditions`` (``{attr: value}`` using the
    contract's attribute names); the rule is returned unchanged. A condition on
    ``decided_by`` is checked against ``decided_by`` (the acting planner, or who
    decided it) and fails when that is not given.
    """
    attrs = rec_attributes(rec, decided_by=decided_by)
    out = []
    for rule in rules:
        conditions = rule.get("conditions") or {}
        if conditions and all(attrs.get(a) == str(v) for a, v in conditions.items()):
            out.append(dict(rule))
    return out


def rules_table(rules: list[dict[str, Any]]) -> pd.DataFrame:
    """Matching rules (``cli.py rules`` records) as a table a planner reads."""
    return pd.DataFrame(
        {
            "conditions": [
                " · ".join(f"{k} = {v}" for k, v in r["conditions"].items()) for r in rules
            ],
            "planners usually": [r.get("direction") for r in rules],
            "median adjustment %": [r.get("median_adjustment_pct") for r in rules],
            "support": [r.get("support") for r in rules],
            "confidence": [r.get("confidence") for r in rules],
            "value added": [r.get("value_added") for r in rules],
            "verdict": [
                "⚠ costs more than it saves" if r.get("costs_more") else r.get("verdict")
                for r in rules
            ],
            "theme": [r.get("theme_label") for r in rules],
            "status": [r.get("status") for r in rules],
        }
    )
