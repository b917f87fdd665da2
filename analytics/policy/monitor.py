"""The Policy view: each adopted rule since its adoption.

For every adopted rule: how often it **fired** (recommendations created since
``adopted_at`` that it matches, decided or open), and on the decided ones what
planners did — **followed** the rule (committed its proposed quantity, within
``TOLERANCE``), **kept the model's** quantity (accepted), or **overrode on top**
(any other quantity or a rejection the rule did not call for). A rule planners
keep overriding on top of is either mis-set or has stopped fitting.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analytics.overrides.log import match_mask
from contract.actions import proposed_qty

TOLERANCE = 0.005  # 0.5% of the proposed quantity (rounding in the planning system)
POLICY_VIEW_COLUMNS = [
    "rule_id",
    "n_fired",
    "n_open",
    "n_decided",
    "n_followed",
    "n_kept_model",
    "n_on_top",
    "on_top_share",
]


def policy_view(
    log: pd.DataFrame, recs_attributes: pd.DataFrame, policy: pd.DataFrame
) -> pd.DataFrame:
    """One row per adopted rule: ``POLICY_VIEW_COLUMNS``.

    Parameters
    ----------
    log : DataFrame
        ``decided_log`` output (attributes, ``created_at``, ``decision``,
        ``recommended_qty``, ``final_qty``).
    recs_attributes : DataFrame
        ``analytics.policy.proposal.rule_attributes`` of every recommendation, plus
        ``created_at`` and ``is_open`` (bool).
    policy : DataFrame
        ``analytics.policy.proposal.adopted_policy`` output.
    """
    rows = []
    created_log = pd.DatetimeIndex(log["created_at"])
    created_all = pd.DatetimeIndex(recs_attributes["created_at"])
    is_open = recs_attributes["is_open"].to_numpy(dtype=bool)
    decision = log["decision"].astype("string").to_numpy(dtype=object, na_value="")
    rec = log["recommended_qty"].to_numpy(dtype=float)
    final = log["final_qty"].to_numpy(dtype=float)
    for r in policy.itertuples(index=False):
        since = pd.Timestamp(r.adopted_at)
        since = since.tz_localize("UTC") if since.tzinfo is None else since
        if any(a not in recs_attributes.columns for a in r.conditions if a != "decided_by"):
            fired_all = np.zeros(len(recs_attributes), dtype=bool)
        else:
            cond = {a: v for a, v in r.conditions.items() if a != "decided_by"}
            fired_all = match_mask(recs_attributes, cond) & (created_all >= since)
        fired = match_mask(log, r.conditions) & (created_log >= since)
        target = proposed_qty(r.action, rec[fired])
        got = final[fired]
        followed = np.abs(got - target) <= TOLERANCE * np.maximum(np.abs(target), 1.0)
        kept = (decision[fired] == "accepted") & ~followed
        on_top = ~followed & ~kept
        n_decided = int(fired.sum())
        rows.append(
            {
                "rule_id": r.rule_id,
                "n_fired": int((fired_all & is_open).sum()) + n_decided,
                "n_open": int((fired_all & is_open).sum()),
                "n_decided": n_decided,
                "n_followed": int(followed.sum()),
                "n_kept_model": int(kept.sum()),
                "n_on_top": int(on_top.sum()),
                "on_top_share": float(on_top.mean()) if n_decided else float("nan"),
            }
        )
    return pd.DataFrame(rows, columns=POLICY_VIEW_COLUMNS)
