"""The evidence behind each candidate rule: what planners did, said, and what it was worth.

For every rule of ``analytics.overrides.rules.mine_rules`` this adds, over its supporting
overrides (matching the conditions, in the rule's direction): the median
adjustment %, first and last seen (``created_at``), the dominant reason theme with
example reasons as typed, the share that gave a reason, and the value added with
its interval, win rate and verdict (``analytics.overrides.value_added``), whether it
**costs more than it saves** (``costs_more``: the whole interval below zero), and
its per-type breakdown (``by_type``), so a rule that spans types shows how each
type follows it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analytics.overrides.log import match_mask
from analytics.overrides.themes import NO_REASON_ID, NO_REASON_LABEL
from analytics.overrides.value_added import (
    N_BOOT,
    VERDICT_COST,
    scored_overrides,
    summarize_gains,
)

EVIDENCE_COLUMNS = [
    "median_adjustment_pct",
    "first_seen",
    "last_seen",
    "theme_id",
    "theme_label",
    "theme_share",
    "reason_share",
    "example_reasons",
    "n_scored",
    "value_added",
    "value_added_pct",
    "ci_low",
    "ci_high",
    "net_units",
    "win_rate",
    "verdict",
    "costs_more",
    "by_type",
]


def type_breakdown(log: pd.DataFrame, conditions: dict[str, str], direction: str) -> list[dict]:
    """Per recommendation type the rule matches: ``rec_type``, ``support``, ``coverage``,
    ``confidence`` and that type's ``base_rate`` of the direction, largest support first."""
    if "rec_type" not in log.columns:
        return []
    match = match_mask(log, conditions)
    if not match.any():
        return []
    col = log["rec_type"]
    if not isinstance(col.dtype, pd.CategoricalDtype):
        col = col.astype("string").astype("category")
    t = col.cat.codes.to_numpy().astype(np.int64)
    k = len(col.cat.categories)
    is_dir = match_mask(log, {"direction": direction})
    size = np.bincount(t[t >= 0], minlength=k)
    hits = np.bincount(t[(t >= 0) & is_dir], minlength=k)
    cov = np.bincount(t[(t >= 0) & match], minlength=k)
    sup = np.bincount(t[(t >= 0) & match & is_dir], minlength=k)
    out = [
        {"rec_type": str(col.cat.categories[i]), "support": int(sup[i]), "coverage": int(cov[i]),
         "confidence": float(sup[i] / cov[i]), "base_rate": float(hits[i] / size[i])}
        for i in np.flatnonzero(cov)
    ]  # fmt: skip
    return sorted(out, key=lambda r: (-r["support"], r["rec_type"]))


def supporting_rows(log: pd.DataFrame, conditions: dict[str, str], direction: str) -> np.ndarray:
    """Positions in ``log`` of the overrides a rule explains."""
    return np.flatnonzero(match_mask(log, {**conditions, "direction": direction}))


def _examples(reasons: pd.Series, n: int = 3) -> list[str]:
    text = reasons.astype("string").str.strip()
    text = text[text.notna() & (text != "")]
    if text.empty:
        return []
    counts = text.value_counts()
    table = pd.DataFrame({"reason": counts.index.astype(str), "n": counts.to_numpy()})
    table = table.sort_values(["n", "reason"], ascending=[False, True], kind="stable")
    return table["reason"].head(n).tolist()


def _dominant_theme(theme_ids: np.ndarray) -> tuple[int, float]:
    """Most common theme among rows with a reason (else the no-reason bucket) and its share."""
    with_reason = theme_ids[theme_ids > NO_REASON_ID]
    pool = with_reason if len(with_reason) else theme_ids
    if not len(pool):
        return NO_REASON_ID, float("nan")
    ids, counts = np.unique(pool, return_counts=True)
    best = int(ids[np.argmax(counts)])  # ties: the lower id (larger theme) wins
    return best, float(counts.max() / len(pool))


def add_evidence(
    log: pd.DataFrame,
    rules: pd.DataFrame,
    *,
    theme_labels: dict[int, str] | None = None,
    n_boot: int = N_BOOT,
    random_state: int = 0,
) -> pd.DataFrame:
    """``rules`` with ``EVIDENCE_COLUMNS`` added (a new frame; inputs not modified).

    Parameters
    ----------
    log : DataFrame
        ``decided_log`` output with a ``theme_id`` column (int, ``NO_REASON_ID`` for
        overrides without a reason); without it the theme columns stay empty.
    rules : DataFrame
        ``mine_rules`` output (``conditions``, ``direction``).
    theme_labels : dict, optional
        ``{theme_id: label}``.
    n_boot, random_state : int
        Bootstrap resamples and seed for the value-added interval.
    """
    labels = {NO_REASON_ID: NO_REASON_LABEL, **(theme_labels or {})}
    scored = scored_overrides(log)
    scored_pos = log.index.get_indexer(scored.index)
    is_scored = np.zeros(len(log), dtype=bool)
    is_scored[scored_pos] = True
    scored_at = np.full(len(log), -1)
    scored_at[scored_pos] = np.arange(len(scored))
    themes = log["theme_id"].to_numpy(dtype=np.int64) if "theme_id" in log else None
    adj = log["adjustment_pct"].to_numpy(dtype=float)
    created = log["created_at"]
    rng = np.random.default_rng(random_state)
    rows = []
    for conditions, direction in zip(rules["conditions"], rules["direction"], strict=True):
        pos = supporting_rows(log, conditions, direction)
        adj_known = adj[pos][~np.isnan(adj[pos])]
        row: dict[str, object] = {
            "median_adjustment_pct": float(np.median(adj_known)) if len(adj_known) else np.nan,
            "first_seen": created.iloc[pos].min() if len(pos) else pd.NaT,
            "last_seen": created.iloc[pos].max() if len(pos) else pd.NaT,
        }
        if themes is not None and len(pos):
            tid, share = _dominant_theme(themes[pos])
            in_theme = pos[themes[pos] == tid]
            row.update(
                theme_id=tid,
                theme_label=labels.get(tid, f"theme {tid}"),
                theme_share=share,
                reason_share=float((themes[pos] > NO_REASON_ID).mean()),
                example_reasons=_examples(log["reason"].iloc[in_theme]),
            )
        else:
            row.update(
                theme_id=NO_REASON_ID,
                theme_label=NO_REASON_LABEL,
                theme_share=np.nan,
                reason_share=np.nan,
                example_reasons=_examples(log["reason"].iloc[pos]),
            )
        part = scored.iloc[scored_at[pos[is_scored[pos]]]]
        stats = summarize_gains(part, n_overrides=len(pos), rng=rng, n_boot=n_boot)
        row.update({k: stats[k] for k in EVIDENCE_COLUMNS if k in stats})
        row["costs_more"] = row.get("verdict") == VERDICT_COST
        row["by_type"] = type_breakdown(log, conditions, direction)
        rows.append(row)
    evidence = pd.DataFrame(rows, columns=EVIDENCE_COLUMNS, index=rules.index)
    return pd.concat([rules, evidence], axis=1)
