"""The live breach queue: open recommendations already past their SLA, and who owns them.

Works on ``analytics.governance.ownership.decision_status`` (one row per recommendation,
``hours_overdue`` set for open ones past their SLA at the moment judged). The queue is
never capped here: a page shows it a page at a time and exports every row.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def filter_breaches(
    queue: pd.DataFrame,
    *,
    owner: str | None = None,
    rec_type: str | None = None,
    site: str | None = None,
) -> pd.DataFrame:
    """Rows of :func:`breach_queue` for one owner, type and/or site, in the queue's order."""
    mask = np.ones(len(queue), dtype=bool)
    for col, value in (("owner", owner), ("rec_type", rec_type), ("site", site)):
        if value is not None:
            mask &= (queue[col].astype("string") == value).fillna(False).to_numpy(dtype=bool)
    return queue[mask].reset_index(drop=True)


def breach_queue(status: pd.DataFrame, *, limit: int | None = None) -> pd.DataFrame:
    """Open recommendations past their SLA, largest ``est_impact_usd`` first.

    Returns
    -------
    DataFrame with ``rec_id, rec_type, site, sku, est_impact_usd, owner, hours_overdue,
    escalation_to, created_at, due_at``; ties (and missing impact, last) by hours
    overdue, then ``rec_id``. ``limit`` keeps the first rows.
    """
    open_late = status[status["hours_overdue"].notna()]
    cols = [
        "rec_id",
        "rec_type",
        "site",
        "sku",
        "est_impact_usd",
        "owner",
        "hours_overdue",
        "escalation_to",
        "created_at",
        "due_at",
    ]
    out = open_late[cols].sort_values(
        ["est_impact_usd", "hours_overdue", "rec_id"],
        ascending=[False, False, True],
        na_position="last",
        kind="stable",
    )
    if limit is not None:
        out = out.head(limit)
    return out.reset_index(drop=True)


def breaches_by_owner(status: pd.DataFrame) -> pd.DataFrame:
    """Open SLA breaches per owner: ``owner, escalation_to`` (most common), ``n_breaches``,
    ``impact_usd`` (sum of known impacts), ``max_hours_overdue``; most impact first."""
    late = status[status["hours_overdue"].notna()]
    cols = ["owner", "escalation_to", "n_breaches", "impact_usd", "max_hours_overdue"]
    if late.empty:
        return pd.DataFrame(columns=cols)
    frame = late[["owner", "escalation_to", "est_impact_usd", "hours_overdue"]].astype(
        {"owner": "string", "escalation_to": "string"}
    )
    g = frame.groupby("owner", sort=True)
    out = g.agg(
        n_breaches=("hours_overdue", "size"),
        impact_usd=("est_impact_usd", "sum"),
        max_hours_overdue=("hours_overdue", "max"),
    )
    esc = frame.dropna(subset=["escalation_to"]).groupby("owner")["escalation_to"]
    out["escalation_to"] = esc.agg(lambda s: s.value_counts().sort_index().idxmax())
    out = out.reset_index().sort_values(
        ["impact_usd", "n_breaches", "owner"], ascending=[False, False, True], kind="stable"
    )
    return out[cols].reset_index(drop=True)
