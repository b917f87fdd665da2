"""The policy applied: which adopted rule proposes what on an open recommendation.

An adopted rule (conditions + confirmed action) **fires** on a recommendation
whose attributes meet its conditions. When several adopted rules fire, the most
specific (most conditions) wins, then the lowest rule id — one proposal per
recommendation, the same one every time. Rules that name ``decided_by`` cannot
fire before someone decides and are skipped on open recommendations.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from analytics.overrides.log import calendar_attributes, describe_conditions, match_mask
from contract.actions import check_action, describe_action, proposed_qty

ENTITY = ("rec_type", "site", "sku", "supplier", "customer", "resource")


def rule_attributes(recs: pd.DataFrame) -> pd.DataFrame:
    """The rule attributes of recommendations (entities and the calendar of ``created_at``)."""
    out: dict[str, Any] = {c: recs[c].to_numpy() for c in ENTITY if c in recs.columns}
    out.update(calendar_attributes(recs["created_at"]))
    return pd.DataFrame(out, index=recs.index)


def adopted_policy(statuses: pd.DataFrame) -> pd.DataFrame:
    """Adopted rules with an action, most specific first: ``rule_id``, ``conditions``,
    ``action``, ``owner``, ``adopted_by``, ``adopted_at``."""
    cols = ["rule_id", "conditions", "action", "owner", "adopted_by", "adopted_at"]
    if statuses is None or statuses.empty:
        return pd.DataFrame(columns=cols)
    rows = statuses[(statuses["status"] == "adopted") & statuses["action"].notna()]
    out = pd.DataFrame(
        {
            "rule_id": rows["rule_key"].astype(str).to_numpy(),
            "conditions": rows["conditions"].to_numpy(),
            "action": [check_action(a) for a in rows["action"]],
            "owner": rows["owner"].to_numpy(),
            "adopted_by": rows["updated_by"].to_numpy(),
            "adopted_at": rows["updated_at"].to_numpy(),
        }
    )
    if out.empty:
        return pd.DataFrame(columns=cols)
    out["_n"] = out["conditions"].map(len)
    out = out.sort_values(["_n", "rule_id"], ascending=[False, True], kind="stable")
    return out.drop(columns="_n").reset_index(drop=True)


def proposals(recs: pd.DataFrame, policy: pd.DataFrame) -> pd.DataFrame:
    """The winning adopted rule's proposal per recommendation that one fires on.

    Parameters
    ----------
    recs : DataFrame
        Recommendations (``rec_id``, ``created_at``, attributes, ``recommended_qty``).
    policy : DataFrame
        ``adopted_policy`` output (its order decides between rules that both fire).

    Returns
    -------
    DataFrame
        ``rec_id``, ``rule_id``, ``conditions``, ``action``, ``recommended_qty``,
        ``proposed_qty`` (recommended × (1 + value/100), or 0 for reject), ``adopted_by``,
        ``adopted_at`` — only recommendations a rule fires on, in ``recs`` order.
    """
    cols = ["rec_id", "rule_id", "conditions", "action", "recommended_qty", "proposed_qty",
            "adopted_by", "adopted_at"]  # fmt: skip
    if recs.empty or policy.empty:
        return pd.DataFrame(columns=cols)
    attrs = rule_attributes(recs)
    winner = np.full(len(recs), -1, dtype=np.int64)
    for i, cond in enumerate(policy["conditions"]):
        if any(a not in attrs.columns for a in cond):
            continue
        winner[(winner < 0) & match_mask(attrs, cond)] = i
    hit = np.flatnonzero(winner >= 0)
    chosen = policy.iloc[winner[hit]].reset_index(drop=True)
    rec_qty = (
        recs["recommended_qty"].to_numpy(dtype="float64", na_value=np.nan)[hit]
        if "recommended_qty" in recs.columns
        else np.full(len(hit), np.nan)
    )
    proposed = [proposed_qty(a, q) for a, q in zip(chosen["action"], rec_qty, strict=True)]
    return pd.DataFrame(
        {
            "rec_id": recs["rec_id"].to_numpy(dtype=object)[hit],
            "rule_id": chosen["rule_id"].to_numpy(),
            "conditions": chosen["conditions"].to_numpy(),
            "action": chosen["action"].to_numpy(),
            "recommended_qty": rec_qty,
            "proposed_qty": np.asarray(proposed, dtype="float64"),
            "adopted_by": chosen["adopted_by"].to_numpy(),
            "adopted_at": chosen["adopted_at"].to_numpy(),
        },
        columns=cols,
    )


def policy_field(row: pd.Series | None) -> dict[str, Any] | None:
    """``cli.py explain --json``'s ``"policy"``: None, or ``{"rule_id", "action", "proposed_qty"}``."""
    if row is None:
        return None
    qty = float(row["proposed_qty"])
    return {
        "rule_id": str(row["rule_id"]),
        "action": dict(row["action"]),
        "proposed_qty": None if np.isnan(qty) else round(qty, 4),
    }


def proposal_sentence(row: pd.Series) -> str:
    """``Documented rule: supplier = SUP-017 · quarter = Q4 → +25% → 1,250 instead of 1,000,
    adopted by s.okafor on 2026-11-02.``"""
    cond = describe_conditions(row["conditions"])
    rec, qty = float(row["recommended_qty"]), float(row["proposed_qty"])
    when = pd.Timestamp(row["adopted_at"])
    if np.isnan(rec):
        amounts = "no recommended quantity to apply it to"
    else:
        amounts = f"{qty:,.0f} instead of {rec:,.0f}"
    return (
        f"Documented rule {row['rule_id']}: {cond} → {describe_action(row['action'])} → {amounts}, "
        f"adopted by {row['adopted_by']} on {when:%Y-%m-%d}."
    )
