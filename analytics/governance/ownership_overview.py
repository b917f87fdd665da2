"""The Ownership page's figures, split by what the clock changes: settled once, judged on view.

A decided recommendation (accepted, modified, rejected or expired) has met or missed its SLA
for good, whatever the moment it is judged at; its response time, the load it added to its
owner's week and the unowned groups do not move with the clock either. ``settle`` works all
of that out once per data version (an artefact: ``flows.artefacts``) and keeps aside the
recommendations not yet decided, the only rows whose SLA state depends on the moment.
``overview_at`` judges those few at ``now`` and adds their SLA counts to the settled ones:
the figures of one ``decision_status`` pass over the whole log, without that pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd

from analytics.governance.breaches import breach_queue, breaches_by_owner
from analytics.governance.fatigue import fatigue_summary, fatigue_weekly
from analytics.governance.ownership import (
    as_utc,
    decision_base,
    judge_at,
    rates_of,
    sla_counts,
    unowned_groups,
)
from analytics.shared.figures import EXPIRED
from contract.vocabulary import ANSWERED

# Any moment: a decided recommendation's SLA state is the same at every one.
_ANY_MOMENT = pd.Timestamp(0, tz="UTC")


@dataclass(frozen=True)
class OwnershipOverview:
    """Everything the Ownership page shows, for one moment of judging."""

    as_of: pd.Timestamp
    n_recs: int
    first_signal: pd.Timestamp | None  # the period the figures cover (signal_at)
    last_signal: pd.Timestamp | None
    unowned: pd.DataFrame
    sla_by_type: pd.DataFrame
    sla_by_site: pd.DataFrame
    sla_by_owner: pd.DataFrame
    sla_trend: pd.DataFrame
    sla_overall: pd.DataFrame
    breach_queue: pd.DataFrame  # every open breach, largest impact first (not capped)
    n_breaches: int
    breach_impact_usd: float
    breaches_by_owner: pd.DataFrame
    fatigue_weekly: pd.DataFrame
    fatigue_summary: pd.DataFrame


@dataclass(frozen=True)
class Settled:
    """What of the overview does not depend on the moment of judging, for the
    recommendations signalled from ``since`` on (None: all of them)."""

    since: date | None
    n_recs: int
    first_signal: pd.Timestamp | None
    last_signal: pd.Timestamp | None
    live: pd.DataFrame  # rows of ``decision_base`` not yet decided: judged on view
    counts: pd.DataFrame  # ``sla_counts`` of the decided rows
    unowned: pd.DataFrame
    fatigue_weekly: pd.DataFrame
    fatigue_summary: pd.DataFrame


def settle(base: pd.DataFrame, *, since: date | None = None) -> Settled:
    """``Settled`` of a ``decision_base`` frame, over recommendations signalled from ``since``
    (a UTC day) on, or all of them."""
    if since is not None:
        base = base[(base["signal_at"] >= pd.Timestamp(since, tz="UTC")).to_numpy()]
    decided = base["decision"].isin([*ANSWERED, EXPIRED]).to_numpy(dtype=bool)
    weekly = fatigue_weekly(base)  # load and response: no SLA state in them
    return Settled(
        since=since,
        n_recs=len(base),
        first_signal=base["signal_at"].min() if len(base) else None,
        last_signal=base["signal_at"].max() if len(base) else None,
        live=base[~decided].reset_index(drop=True),
        counts=sla_counts(judge_at(base[decided], now=_ANY_MOMENT)),
        unowned=unowned_groups(base),
        fatigue_weekly=weekly,
        fatigue_summary=fatigue_summary(weekly, base),
    )


def overview_at(
    settled: Settled,
    *,
    now: pd.Timestamp | str,
    trend_by: str = "owner",
    freq: str = "week",
    queue_limit: int | None = None,
) -> OwnershipOverview:
    """The overview of ``settled`` judged at ``now``: only its undecided rows are judged.

    ``breach_queue`` holds every open breach unless ``queue_limit`` caps it; ``n_breaches``
    and ``breach_impact_usd`` are over all of them either way.
    """
    live = judge_at(settled.live, now=now)
    counts = _together(settled.counts, sla_counts(live))
    queue = breach_queue(live)
    return OwnershipOverview(
        as_of=as_utc(now),
        n_recs=settled.n_recs,
        first_signal=settled.first_signal,
        last_signal=settled.last_signal,
        unowned=settled.unowned,
        sla_by_type=rates_of(counts, by="rec_type"),
        sla_by_site=rates_of(counts, by="site"),
        sla_by_owner=rates_of(counts, by="owner"),
        sla_trend=rates_of(counts, by=trend_by, freq=freq),
        sla_overall=rates_of(counts),
        breach_queue=queue if queue_limit is None else queue.head(queue_limit),
        n_breaches=len(queue),
        breach_impact_usd=float(queue["est_impact_usd"].sum()),
        breaches_by_owner=breaches_by_owner(live),
        fatigue_weekly=settled.fatigue_weekly,
        fatigue_summary=settled.fatigue_summary,
    )


def _together(first: pd.DataFrame, second: pd.DataFrame) -> pd.DataFrame:
    """The rows of both (concatenating an empty frame warns, and may lose a column's dtype)."""
    if not len(second):
        return first
    if not len(first):
        return second
    return pd.concat([first, second], ignore_index=True)


def ownership_overview(
    recommendations: pd.DataFrame,
    decisions: pd.DataFrame,
    owners: pd.DataFrame,
    *,
    now: pd.Timestamp | str,
    trend_by: str = "owner",
    freq: str = "week",
    queue_limit: int | None = None,
) -> OwnershipOverview:
    """The page's figures in one call (see ``analytics.governance.ownership`` for each table)."""
    settled = settle(decision_base(recommendations, decisions, owners))
    return overview_at(settled, now=now, trend_by=trend_by, freq=freq, queue_limit=queue_limit)
