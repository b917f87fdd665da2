"""Recommendation fatigue: load per owner per week against how fast and how they answer.

Overload shows before people stop looking: more recommendations a week, slower
responses, more overrides or expiries. Works on ``analytics.governance.ownership.decision_status``
(one row per recommendation with its owner, decision and response time).
"""

from __future__ import annotations

import pandas as pd

from analytics.shared.periods import period_start
from contract.vocabulary import ANSWERED, OVERRIDES


def fatigue_weekly(status: pd.DataFrame) -> pd.DataFrame:
    """Recommendations per owner per week (of ``created_at``) with the response to them.

    Returns
    -------
    DataFrame with ``owner, week, n_recs, n_answered`` (accepted/modified/rejected),
    ``n_expired, n_open, median_response_h, override_rate``. Recommendations with no
    owner are left out (see ``unowned_groups``).
    """
    owned = status[status["owner"].notna()]
    cols = [
        "owner",
        "week",
        "n_recs",
        "n_answered",
        "n_expired",
        "n_open",
        "median_response_h",
        "override_rate",
    ]
    if owned.empty:
        return pd.DataFrame(columns=cols)
    frame = pd.DataFrame(
        {
            "owner": owned["owner"],
            "week": period_start(owned["created_at"], "week"),
            "response_h": owned["response_h"],
            "answered": owned["decision"].isin(ANSWERED),
            "override": owned["decision"].isin(OVERRIDES),
            "expired": owned["decision"].isin(["expired"]),
            "open": owned["is_open"],
        }
    )
    g = frame.groupby(["owner", "week"], sort=True, observed=True)
    out = g.agg(
        n_recs=("open", "size"),
        n_answered=("answered", "sum"),
        n_expired=("expired", "sum"),
        n_open=("open", "sum"),
        median_response_h=("response_h", "median"),
        n_override=("override", "sum"),
    ).reset_index()
    out["owner"] = out["owner"].astype("string")
    out["override_rate"] = out["n_override"] / out["n_answered"].where(out["n_answered"] > 0)
    for col in ("n_answered", "n_expired", "n_open"):
        out[col] = out[col].astype("int64")
    return out[cols]


def fatigue_summary(weekly: pd.DataFrame, status: pd.DataFrame) -> pd.DataFrame:
    """Per owner: load per week against response time and override rate.

    ``busy_minus_quiet_response_h`` compares the owner's median response in weeks
    above their median weekly load with weeks at or below it: positive means they
    answer more slowly when loaded — the early sign of fatigue. ``load_response_corr``
    is the Spearman correlation of weekly load and weekly median response (owners
    with at least 4 weeks). Sorted by ``recs_per_week_median`` descending.
    """
    cols = [
        "owner",
        "weeks",
        "n_recs",
        "recs_per_week_median",
        "recs_per_week_max",
        "median_response_h",
        "override_rate",
        "expired_share",
        "busy_minus_quiet_response_h",
        "load_response_corr",
    ]
    if weekly.empty:
        return pd.DataFrame(columns=cols)
    owned = status[status["owner"].notna()]
    overall = pd.DataFrame(
        {
            "owner": owned["owner"],
            "response_h": owned["response_h"],
            "override": owned["decision"].isin(OVERRIDES),
            "answered": owned["decision"].isin(ANSWERED),
            "expired": owned["decision"].isin(["expired"]),
        }
    ).groupby("owner", sort=True, observed=True)
    base = overall.agg(
        median_response_h=("response_h", "median"),
        n_override=("override", "sum"),
        n_answered=("answered", "sum"),
        n_expired=("expired", "sum"),
        n_recs=("answered", "size"),
    )
    base.index = base.index.astype("string")
    base["override_rate"] = base["n_override"] / base["n_answered"].where(base["n_answered"] > 0)
    base["expired_share"] = base["n_expired"] / base["n_recs"]

    w = weekly.copy()
    w["owner_median_load"] = w.groupby("owner")["n_recs"].transform("median")
    w["busy"] = w["n_recs"] > w["owner_median_load"]
    busy = w[w["busy"]].groupby("owner")["median_response_h"].median()
    quiet = w[~w["busy"]].groupby("owner")["median_response_h"].median()
    ranks = w.dropna(subset=["median_response_h"]).copy()
    ranks["load_rank"] = ranks.groupby("owner")["n_recs"].rank()
    ranks["resp_rank"] = ranks.groupby("owner")["median_response_h"].rank()
    counts = ranks.groupby("owner")["load_rank"].size()
    if ranks.empty:  # nothing answered yet: no response time to correlate with load
        corr = pd.Series(float("nan"), index=counts.index, dtype="float64")
    else:
        corr = (
            ranks.groupby("owner")[["load_rank", "resp_rank"]]
            .corr()
            .xs("load_rank", level=1)["resp_rank"]
        )
    corr = corr.where(counts.reindex(corr.index) >= 4)
    load = w.groupby("owner").agg(
        weeks=("week", "size"),
        recs_per_week_median=("n_recs", "median"),
        recs_per_week_max=("n_recs", "max"),
    )
    out = load.join(base, how="left")
    out["busy_minus_quiet_response_h"] = busy.reindex(out.index) - quiet.reindex(out.index)
    out["load_response_corr"] = corr.reindex(out.index)
    out = out.reset_index().sort_values(
        ["recs_per_week_median", "owner"], ascending=[False, True], kind="stable"
    )
    return out[cols].reset_index(drop=True)
