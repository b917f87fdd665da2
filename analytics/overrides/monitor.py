"""Monitoring adopted rules by quarter, so decay is visible.

An adopted rule is a claim ("SUP-017 slips in Q4, order extra"). Each calendar
quarter of ``created_at`` shows whether planners still apply it (support,
confidence) and whether it still pays (value added): a supplier that stopped
slipping shows up as support falling and value added turning negative.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analytics.overrides.log import match_mask
from analytics.overrides.value_added import N_BOOT, scored_overrides, summarize_gains
from analytics.shared.periods import quarter_labels

MONITOR_COLUMNS = [
    "quarter",
    "period_start",
    "coverage",
    "support",
    "confidence",
    "lift",
    "n_scored",
    "value_added",
    "ci_low",
    "ci_high",
    "win_rate",
]


def _quarters(created: pd.Series) -> tuple[np.ndarray, pd.DatetimeIndex]:
    return quarter_labels(created)


def rule_by_quarter(
    log: pd.DataFrame,
    conditions: dict[str, str],
    direction: str,
    *,
    n_boot: int = N_BOOT,
    random_state: int = 0,
) -> pd.DataFrame:
    """Support, confidence, lift and value added of one rule per quarter.

    Parameters
    ----------
    log : DataFrame
        ``decided_log`` output. Not modified.
    conditions, direction
        The rule (as stored in the lifecycle table).

    Returns
    -------
    DataFrame
        ``MONITOR_COLUMNS``, one row per quarter present in ``log`` (``2026Q4``),
        oldest first; quarters where the rule matched nothing have coverage 0.
    """
    if log.empty:
        return pd.DataFrame(columns=MONITOR_COLUMNS)
    label, start = _quarters(log["created_at"])
    match = match_mask(log, conditions)
    is_dir = (log["direction"].astype("string") == direction).fillna(False).to_numpy(dtype=bool)
    frame = pd.DataFrame(
        {"quarter": label, "period_start": start, "match": match, "hit": match & is_dir}
    )
    frame["any_dir"] = is_dir
    per_q = frame.groupby(["quarter", "period_start"], sort=True).agg(
        coverage=("match", "sum"), support=("hit", "sum"), base=("any_dir", "mean")
    )
    per_q = per_q.reset_index()
    with np.errstate(divide="ignore", invalid="ignore"):
        per_q["confidence"] = per_q["support"] / per_q["coverage"].where(per_q["coverage"] > 0)
        per_q["lift"] = per_q["confidence"] / per_q["base"].where(per_q["base"] > 0)
    scored = scored_overrides(log.loc[frame["hit"].to_numpy()])
    s_label, _ = _quarters(scored["created_at"])
    rng = np.random.default_rng(random_state)
    stats = []
    for q in per_q["quarter"]:
        part = scored.loc[s_label == q]
        s = summarize_gains(part, rng=rng, n_boot=n_boot)
        stats.append(
            {k: s[k] for k in ("n_scored", "value_added", "ci_low", "ci_high", "win_rate")}
        )
    out = pd.concat([per_q, pd.DataFrame(stats, index=per_q.index)], axis=1)
    out["coverage"] = out["coverage"].astype(int)
    out["support"] = out["support"].astype(int)
    return out[MONITOR_COLUMNS]


def monitor_rules(
    log: pd.DataFrame,
    rules: pd.DataFrame,
    *,
    n_boot: int = N_BOOT,
    random_state: int = 0,
) -> pd.DataFrame:
    """``rule_by_quarter`` for several rules (``rule_key``/``id``, ``conditions``, ``direction``).

    Returns the long table with a ``rule_key`` column first.
    """
    key = "rule_key" if "rule_key" in rules.columns else "id"
    parts = []
    for rid, cond, direction in zip(
        rules[key], rules["conditions"], rules["direction"], strict=True
    ):
        part = rule_by_quarter(log, cond, direction, n_boot=n_boot, random_state=random_state)
        part.insert(0, "rule_key", rid)
        parts.append(part)
    if not parts:
        return pd.DataFrame(columns=["rule_key", *MONITOR_COLUMNS])
    return pd.concat(parts, ignore_index=True)
