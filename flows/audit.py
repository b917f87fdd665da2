"""The audit chain's check as the pages and ``cli.py audit verify`` report it.

Apart from ``flows.governance`` (which re-exports it) so that the sidebar's chain banner,
shown on every page, does not import the governance analyses.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select

from store.audit import anchor_head, verify_chain
from store.models import AuditEvent


def audit_verify(engine: Engine, *, expect: str | None = None) -> dict[str, Any]:
    """The audit chain's check: ``{"ok", "n_events", "first_broken_id", "problem", "event",
    "head_hash", "n_unkeyed", "anchors_checked", "decisions_checked"}``.

    ``expect`` is a head hash (or ``count:hash``) noted earlier; it must still be in the
    chain. An intact chain's head is appended to the anchor file beside the store.

    ``event`` describes the first broken event as stored now (id, at, actor, action,
    entity, entity_id), or is None when the chain is intact or its newest events were
    deleted (then ``first_broken_id`` is the id after the last one left). ``n_events``
    counts the events checked up to and including the first broken one. ``head_hash``
    (intact chains) is the newest event's hash: note it elsewhere to pin the chain.
    """
    report = verify_chain(engine, expect=expect)
    if report.ok:
        anchor_head(engine)
    event = None
    if report.first_broken_id is not None:
        table = AuditEvent.__table__  # type: ignore[attr-defined]
        with engine.connect() as conn:
            row = (
                conn.execute(
                    select(
                        table.c.id,
                        table.c.at,
                        table.c.actor,
                        table.c.action,
                        table.c.entity,
                        table.c.entity_id,
                    ).where(table.c.id == report.first_broken_id)
                )
                .mappings()
                .first()
            )
        if row is not None:
            event = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in row.items()}
    return {
        "ok": report.ok,
        "n_events": report.n_events,
        "first_broken_id": report.first_broken_id,
        "problem": report.problem,
        "event": event,
        "head_hash": report.head_hash,
        "n_unkeyed": report.n_unkeyed,
        "anchors_checked": report.anchors_checked,
        "decisions_checked": report.decisions_checked,
    }
