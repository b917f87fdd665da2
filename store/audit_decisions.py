"""App decisions against their audit events: each row names its ``decide`` event (id and
hash), and the row and the event must say the same thing.

A decision row edited in the database, a row inserted without an event, or a decided
recommendation whose row was deleted is found here; the chain check proves the events
themselves unedited.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from store.models import Decision


def _instant(value: Any) -> datetime | None:
    if value is None:
        return None
    at = datetime.fromisoformat(value) if isinstance(value, str) else value
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _same_qty(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return abs(float(a) - float(b)) <= 1e-9 * max(1.0, abs(float(a)))


def _mismatch(row: Any, ev: Any) -> str | None:
    """The first field in which the decision row and its event differ, else None."""
    try:
        after = json.loads(ev.after or "{}")
    except ValueError:
        return "event payload"
    if ev.entity_id != row.rec_id:
        return "rec_id"
    if ev.actor != row.decided_by:
        return "decided_by"
    if after.get("decision") != row.decision:
        return "decision"
    if not _same_qty(after.get("final_qty"), row.final_qty):
        return "final_qty"
    if (after.get("reason") or None) != (row.reason or None):
        return "reason"
    if _instant(after.get("decided_at")) != _instant(row.decided_at):
        return "decided_at"
    return None


def check_app_decisions(
    conn: Connection, decide_events: dict[int, Any], keyed_since: datetime | None
) -> tuple[tuple[int | None, str] | None, int]:
    """``((event id, problem) or None, decisions checked)`` for the rows the app wrote.

    Rows decided before the chain was keyed (``keyed_since``) may predate the link and
    are not required to carry one.
    """
    t = Decision.__table__  # type: ignore[attr-defined]
    rows = conn.execute(
        select(
            t.c.rec_id,
            t.c.decided_at,
            t.c.decided_by,
            t.c.decision,
            t.c.final_qty,
            t.c.reason,
            t.c.audit_event_id,
            t.c.audit_hash,
        )
        .where(t.c.source == "app")
        .order_by(t.c.decided_at)
    ).all()
    linked: set[int] = set()
    since = _instant(keyed_since)
    for row in rows:
        if row.audit_event_id is None:
            if since is not None and _instant(row.decided_at) >= since:
                return (None, f"app decision on {row.rec_id} has no audit event"), len(rows)
            continue
        ev = decide_events.get(int(row.audit_event_id))
        if ev is None or ev.hash != row.audit_hash:
            return (
                int(row.audit_event_id),
                f"app decision on {row.rec_id} names audit event #{row.audit_event_id}, "
                "which is not its decide event",
            ), len(rows)
        field = _mismatch(row, ev)
        if field is not None:
            return (
                int(ev.id),
                f"app decision on {row.rec_id} does not match its audit event ({field} differs): "
                "the decision row was edited",
            ), len(rows)
        linked.add(int(ev.id))
    for event_id, ev in decide_events.items():
        after = json.loads(ev.after or "{}") if ev.after else {}
        if after.get("source") == "app" and event_id not in linked and since is not None:
            if _instant(ev.at) >= since:
                return (
                    event_id,
                    f"decision on {ev.entity_id} recorded by event #{event_id} is missing "
                    "from the decisions table",
                ), len(rows)
    return None, len(rows)
