"""Governance entry points: data health, ownership and SLAs, readiness gates, the daily
digest and the audit-chain check.

The gates and the digest are pure functions in ``analytics/``; this module reads
their inputs from the store (frames, import history, saved targets, the rule
lifecycle, the candidate rules of the override analysis) so that ``cli.py`` and
the pages each call one function and show the same figures.
"""

from __future__ import annotations

import getpass
from datetime import date
from types import EllipsisType
from typing import Any

import pandas as pd
from sqlalchemy import Engine

from analytics.governance.digest import build_digest, digest_payload
from analytics.governance.gates import gates_report
from analytics.governance.health import overview, restale
from analytics.governance.ownership_overview import (
    OwnershipOverview,
    Settled,
    overview_at,
    settle,
)
from analytics.governance.ownership_overview import ownership_overview as _ownership_overview
from analytics.overrides.analysis import rules_report
from contract.frames import Frames
from contract.tables import TABLES
from contract.vocabulary import KPI_TARGETS, RULE_STATUSES
from flows.audit import audit_verify  # noqa: F401 - re-exported for cli.py and tests
from flows.digests import saved_app_url
from flows.monitoring import digest_alerts
from flows.policy import likely_rejections
from store.audit import anchor_head
from store.outbox import PostResult, post_digest
from store.reads import import_batches, load_frames
from store.rule_status import read_rule_statuses
from store.settings import get_setting, go_live

REVIEWED = RULE_STATUSES


def read_rule_status(engine: Engine) -> pd.DataFrame:
    """The rule lifecycle table (``rule_key, conditions, direction, status, owner, note, …``)."""
    return read_rule_statuses(engine)


def data_overview(engine: Engine, frames: Frames, *, now: pd.Timestamp) -> dict[str, Any]:
    """Counts, date ranges and data-health findings (the Data page's content)."""
    tables = {name: getattr(frames, name) for name in TABLES}
    return overview(tables, import_batches(engine), now=now)


def overview_now(
    built: dict[str, Any], newest: pd.Timestamp | None, *, now: pd.Timestamp
) -> dict[str, Any]:
    """``data_overview`` worked out at another moment (built on write) as of ``now``: only
    the stale-data finding depends on the clock, and it needs only the newest recommendation."""
    return {**built, "findings": restale(built["findings"], newest, now=now)}


def info_for_store(engine: Engine) -> dict[str, Any]:
    """``cli.py info --json``: the store's URL and ``data_overview`` now."""
    payload = data_overview(engine, load_frames(engine), now=pd.Timestamp.now(tz="UTC"))
    return {"db": engine.url.render_as_string(hide_password=True), **payload}


def ownership_overview(
    frames: Frames,
    *,
    now: pd.Timestamp,
    trend_by: str,
    freq: str,
    since: date | None = None,
) -> OwnershipOverview:
    """Owners, SLAs, breaches and latency by owner for the log judged at ``now``.

    ``since``: only recommendations signalled from that day on (UTC) — with ``since`` the
    go-live and ``now`` the log's end, SLA met is the Baseline page's current figure.
    """
    recs = frames.recommendations
    if since is not None:
        recs = recs[(recs["signal_at"] >= pd.Timestamp(since, tz="UTC")).to_numpy()]
    return _ownership_overview(
        recs,
        frames.decisions,
        frames.owners,
        now=now,
        trend_by=trend_by,
        freq=freq,
    )


def ownership_settled(base: pd.DataFrame, *, since: date | None = None) -> Settled:
    """What of the Ownership page does not depend on the moment of judging (built on write),
    from the owner join (``analytics.governance.ownership.decision_base``), over recommendations
    signalled from ``since`` (a UTC day) on, or all of them."""
    return settle(base, since=since)


def ownership_at(
    settled: Settled, *, now: pd.Timestamp, trend_by: str, freq: str
) -> OwnershipOverview:
    """``ownership_overview`` from ``ownership_settled``: only the undecided recommendations
    are judged at ``now``, the same figures without a pass over the log."""
    return overview_at(settled, now=now, trend_by=trend_by, freq=freq)


def candidate_rules(
    frames: Frames, rule_status: pd.DataFrame, *, top: int | None = None
) -> tuple[list[dict[str, Any]] | None, str | None]:
    """Candidate rules of the override analysis, best first, each with its lifecycle ``status``
    (``"candidate"`` until someone adopts, dismisses or watches it).

    Returns ``(rules, None)``, or ``(None, why)`` when the analysis is not available
    (it failed): callers leave the section out and say why.
    """
    try:
        report = rules_report(frames, top=top, statuses=rule_status)
    except Exception as exc:  # the digest and the gates must still go out without it
        return None, f"Rule candidates left out: the override analysis failed ({exc})."
    return [dict(r) for r in report.get("rules", [])], None


def gates_for_store(
    engine: Engine,
    *,
    now: pd.Timestamp | None = None,
    go_live_date: date | None = None,
    frames: Frames | None = None,
    candidates: list[dict[str, Any]] | None | EllipsisType = ...,
) -> dict[str, Any]:
    """``{"gates": [{"name", "hard", "status", "evidence"}], "ready", "as_of"}`` for the store.

    ``go_live_date`` defaults to the saved (or inferred) go-live; ``now`` to the clock.
    ``candidates`` (the override analysis's ``rules`` with statuses, or None when it is
    unavailable) saves re-running that analysis when the caller already has it.
    """
    frames = frames if frames is not None else load_frames(engine)
    if go_live_date is None:
        go_live_date, _ = go_live(engine)
    rule_status = read_rule_status(engine)
    if candidates is ...:
        candidates, _ = candidate_rules(frames, rule_status)
    return gates_report(
        frames,
        batches=import_batches(engine),
        now=now if now is not None else pd.Timestamp.now(tz="UTC"),
        go_live=go_live_date,
        kpi_targets=get_setting(engine, KPI_TARGETS),
        rule_status=rule_status,
        rule_candidates=candidates,
    )


def digest_for_store(
    engine: Engine,
    *,
    now: pd.Timestamp | None = None,
    fmt: str = "json",
    app_url: str | None = None,
    top_n: int = 10,
    frames: Frames | None = None,
) -> dict[str, Any]:
    """The digest and its payload for ``fmt``: ``{"digest_id", "format", "digest", "payload"}``.

    New rule candidates are the ones nobody has adopted, dismissed or put on watch;
    likely rejections come from the override-propensity model (``flows.policy``).
    ``app_url`` (else the saved ``app_url`` setting) makes every item a deep link.
    """
    frames = frames if frames is not None else load_frames(engine)
    app_url = saved_app_url(engine, app_url)
    rule_status = read_rule_status(engine)
    candidates, note = candidate_rules(frames, rule_status)
    new = None if candidates is None else [c for c in candidates if c.get("status") not in REVIEWED]
    monitor_note = None
    try:
        model_alerts = digest_alerts(engine, frames=frames)
    except Exception as exc:  # the digest must still go out without the model-health section
        model_alerts, monitor_note = None, f"Model health left out: the monitor failed ({exc})."
    digest = build_digest(
        frames.recommendations,
        frames.decisions,
        frames.owners,
        now=now if now is not None else pd.Timestamp.now(tz="UTC"),
        rule_candidates=new,
        rules_note=note,
        likely_rejections=likely_rejections(frames, top_n=top_n),
        model_alerts=model_alerts,
        top_n=top_n,
        app_url=app_url,
    )
    if monitor_note:
        digest["notes"].append(monitor_note)
    # The audit head rides in every digest: a copy of it outside the store's reach.
    head = anchor_head(engine)
    digest["audit_head"] = (
        {"events": head["count"], "head_hash": head["head"]} if head is not None else None
    )
    return {
        "digest_id": digest["digest_id"],
        "format": fmt,
        "digest": digest,
        "payload": digest_payload(digest, fmt=fmt, app_url=app_url),
    }


def run_digest(
    engine: Engine,
    *,
    webhook: str | None = None,
    fmt: str = "json",
    actor: str | None = None,
    role: str | None,
    now: pd.Timestamp | None = None,
    app_url: str | None = None,
    force: bool = False,
    max_attempts: int = 4,
    base_delay: float = 1.0,
) -> dict[str, Any]:
    """Build the digest and, given a ``webhook``, post it once (see ``store.outbox.post_digest``).

    Returns ``digest_for_store``'s dict plus ``"post"``: None without a webhook, else
    ``PostResult.to_json()`` (``posted`` False when this digest id already went there).
    Raises ``store.outbox.DigestError`` subclasses when posting fails.
    """
    built = digest_for_store(engine, now=now, fmt=fmt, app_url=app_url)
    result: PostResult | None = None
    if webhook:
        result = post_digest(
            engine,
            digest_id=built["digest_id"],
            payload=built["payload"],
            webhook=webhook,
            fmt=fmt,
            actor=actor or getpass.getuser(),
            role=role,
            force=force,
            max_attempts=max_attempts,
            base_delay=base_delay,
        )
    return {**built, "post": None if result is None else result.to_json()}
