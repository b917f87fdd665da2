"""Planted override rules and the decisions that carry them.

Planners per site, the contract attributes rules match on, the decision per rec
(planted overrides, random noise overrides, expiries) and the rules' truth records.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from sample_data.gen_io import _codes
from sample_data.gen_world import MONTHS, PLANNERS, REC_TYPES, SITE_PLANNERS, SITES, WEEKDAYS

RULE_CONSISTENCY = 0.88  # share of matching, non-expired decisions overridden as planted
RULE_ADJ_SD_PCT = 1.5  # spread of a rule's adjustment around its planted value
RULES: tuple[dict[str, Any], ...] = (
    {
        "id": "R1",
        "conditions": {"supplier": "SUP-017", "quarter": "Q4", "rec_type": "stockout_risk"},
        "direction": "increase",
        "adjustment_pct": 25.0,
        "right": True,
        "reason_code": "SUPPLY",
        "label": "supplier slips in Q4, order extra",
    },
    {
        "id": "R2",
        "conditions": {"customer": "CUST-042", "rec_type": "demand_revision"},
        "direction": "decrease",
        "adjustment_pct": -20.0,
        "right": True,
        "reason_code": "DEMAND",
        "label": "customer inflates first order, cancels in week 6",
    },
    {
        "id": "R3",
        "conditions": {"resource": "L07", "rec_type": "production_reschedule"},
        "direction": "reject",
        "adjustment_pct": None,
        "right": True,
        "reason_code": "CAPACITY",
        "label": "line 7 always behind (maintenance backlog), release early",
    },
    {
        "id": "R4",
        "conditions": {"decided_by": "k.weber", "weekday": "Mon", "rec_type": "expedite"},
        "direction": "reject",
        "adjustment_pct": None,
        "right": False,
        "reason_code": "OTHER",
        "label": "decided in the Monday S&OP call",
    },
    {
        "id": "R5",
        "conditions": {"decided_by": "j.nguyen", "rec_type": "stockout_risk"},
        "direction": "decrease",
        "adjustment_pct": -30.0,
        "right": False,
        "reason_code": "OTHER",
        "label": "trim to hit the inventory target",
    },
)

# Share of a planner's decisions overridden at random, outside the planted rules.
NOISE_OVERRIDE_RATE = {
    "a.schmidt": 0.09, "d.kowalski": 0.11, "e.martin": 0.12, "f.dubois": 0.10,
    "h.yilmaz": 0.08, "j.nguyen": 0.10, "k.weber": 0.09, "l.chen": 0.08,
    "m.garcia": 0.11, "p.novak": 0.12, "r.silva": 0.10, "t.ito": 0.09,
}  # fmt: skip


def _draw_planners(rng: np.random.Generator, rec: pd.DataFrame) -> np.ndarray:
    """decided_by per rec, from the site's planners."""
    site = rec["site"].to_numpy()
    who = np.empty(len(rec), dtype=np.int64)
    u = rng.random(len(rec))
    for s, name in enumerate(SITES):
        m = site == s
        names = [PLANNERS.index(p) for p, _ in SITE_PLANNERS[name]]
        cum = np.cumsum([w for _, w in SITE_PLANNERS[name]])
        who[m] = np.array(names)[np.minimum(np.searchsorted(cum, u[m]), len(names) - 1)]
    return who


def _attribute_values(rec: pd.DataFrame, planner: np.ndarray) -> dict[str, np.ndarray]:
    """Contract attribute values (as strings) used to match rule conditions."""
    return {
        "rec_type": np.array(REC_TYPES, dtype=object)[rec["rtype"].to_numpy()],
        "supplier": _codes("SUP-", rec["supplier"].to_numpy() + 1, 3),
        "customer": _codes("CUST-", rec["customer"].to_numpy() + 1, 3),
        "resource": _codes("L", rec["resource"].to_numpy() + 1, 2),
        "decided_by": np.array(PLANNERS, dtype=object)[planner],
        "quarter": np.array(["Q1", "Q2", "Q3", "Q4"], dtype=object)[rec["quarter"].to_numpy()],
        "weekday": np.array(WEEKDAYS, dtype=object)[rec["weekday"].to_numpy()],
        "month": np.array(MONTHS, dtype=object)[rec["month"].to_numpy()],
    }


def _rule_masks(attrs: dict[str, np.ndarray]) -> list[np.ndarray]:
    masks = []
    for rule in RULES:
        m = np.ones(len(attrs["rec_type"]), dtype=bool)
        for attr, value in rule["conditions"].items():
            m &= attrs[attr] == value
        masks.append(m)
    return masks


def _decide(
    rng: np.random.Generator,
    rec: pd.DataFrame,
    qty: np.ndarray,
    has_qty: np.ndarray,
    planner: np.ndarray,
    rule_masks: list[np.ndarray],
    expired: np.ndarray,
) -> dict[str, np.ndarray]:
    """Decision, final quantity and theme ('R1'.., 'noise' or '') per rec."""
    n = len(rec)
    decision = np.full(n, "accepted", dtype=object)
    decision[expired] = "expired"
    adj = np.full(n, np.nan)
    theme = np.full(n, "", dtype=object)
    rule_id = np.full(n, "", dtype=object)
    free = ~expired
    noise_p = np.array([NOISE_OVERRIDE_RATE[p] for p in PLANNERS])[planner]
    noise = free & (rng.random(n) < noise_p)
    u = rng.random(n)
    for rule, m in zip(RULES, rule_masks, strict=True):
        m = m & free
        rule_id[m] = rule["id"]
        planted = m & (u < RULE_CONSISTENCY)
        # The rest of a rule's matches: mostly accepted, a few noise overrides.
        noise[m] = u[m] >= RULE_CONSISTENCY + 0.10
        theme[planted] = rule["id"]
        if rule["direction"] == "reject":
            decision[planted] = "rejected"
        else:
            decision[planted] = "modified"
            adj[planted] = rule["adjustment_pct"] + np.clip(
                rng.normal(0, RULE_ADJ_SD_PCT, planted.sum()), -4, 4
            )
        free = free & ~m
    noise &= theme == ""
    direction = rng.random(n)
    reject = noise & (~has_qty | (direction < 0.2))
    decision[reject] = "rejected"
    modify = noise & ~reject
    decision[modify] = "modified"
    sign = np.where(direction < 0.6, 1.0, -1.0)
    adj = np.where(modify, sign * rng.uniform(5, 40, n), adj)
    theme[noise] = "noise"

    final = np.full(n, np.nan)
    mod = decision == "modified"
    raw = qty[mod] * (1 + adj[mod] / 100)
    # Whole units, except on small case counts where rounding would blur the adjustment.
    final[mod] = np.maximum(np.where(qty[mod] < 50, np.round(raw, 1), np.round(raw)), 0)
    # Accepted/rejected final_qty is sometimes left to its contract default.
    acc = (decision == "accepted") & has_qty & (rng.random(n) < 0.7)
    final[acc] = qty[acc]
    rej = (decision == "rejected") & has_qty & (rng.random(n) < 0.5)
    final[rej] = 0.0
    return {"decision": decision, "final": final, "theme": theme, "rule": rule_id}


def _rule_support(
    rule_masks: list[np.ndarray], decided: np.ndarray, dec: dict[str, np.ndarray]
) -> dict[str, dict[str, int]]:
    """Matching non-expired decisions and planted overrides per rule."""
    support = {}
    for rule, m in zip(RULES, rule_masks, strict=True):
        live = m & decided & (dec["decision"] != "expired")
        support[rule["id"]] = {
            "matching_decided": int(live.sum()),
            "planted_overrides": int((live & (dec["theme"] == rule["id"])).sum()),
        }
    return support


def _rules_truth(support: dict[str, dict[str, int]]) -> list[dict[str, Any]]:
    """planted_rules.json records."""
    return [
        {
            "id": r["id"],
            "conditions": r["conditions"],
            "direction": r["direction"],
            "adjustment_pct": r["adjustment_pct"],
            "right": r["right"],
            "theme": r["id"],
            "label": r["label"],
            "reason_code": r["reason_code"],
            "consistency": RULE_CONSISTENCY,
            "adjustment_sd_pct": None if r["adjustment_pct"] is None else RULE_ADJ_SD_PCT,
            **support[r["id"]],
        }
        for r in RULES
    ]
