"""The append-only, hash-chained audit trail that every write goes through.

Each event stores the hash of the event before it; its own hash covers its
content and that previous hash. Editing or deleting a stored event outside the
app therefore breaks the chain at that event, which ``verify_chain`` reports.

Deleting the *newest* events leaves a chain that is still consistent, so every
event also counts itself in ``data_version`` (row ``audit_event``, in the same
transaction); ``verify_chain`` reports events missing from the end when fewer are
stored than were recorded. (Someone able to rewrite every later hash and that
counter too is beyond what a hash chain without a secret can catch: keep the
``head_hash`` that ``verify`` prints somewhere else to pin it.)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from sqlalchemy import Engine, select, text
from sqlalchemy.engine import Connection

from store.db import bump_versions, utcnow
from store.models import AuditEvent, DataVersion
from store.roles import require

GENESIS = "0" * 64
# The data_version row that counts every event ever recorded (detects deleted newest events).
COUNTER = "audit_event"


def _canonical_time(at: datetime) -> str:
    # Databases round-trip microseconds but not always the offset: hash the UTC instant.
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event_hash(
    *,
    prev_hash: str,
    at: datetime,
    actor: str,
    action: str,
    entity: str,
    entity_id: str | None,
    before: str | None,
    after: str | None,
) -> str:
    payload = json.dumps(
        [prev_hash, _canonical_time(at), actor, action, entity, entity_id, before, after],
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def to_json(value: Any) -> str | None:
    """Stable JSON for before/after snapshots (sorted keys, dates as ISO strings)."""
    if value is None:
        return None
    return json.dumps(value, sort_keys=True, default=str, ensure_ascii=False)


def record_event(
    conn: Connection,
    *,
    actor: str,
    action: str,
    entity: str,
    entity_id: str | None = None,
    before: Any = None,
    after: Any = None,
    at: datetime | None = None,
) -> AuditEvent:
    """Append one event inside the caller's transaction and return it.

    Call it in the same transaction as the write it describes, so that either
    both are stored or neither is.
    """
    if conn.dialect.name == "postgresql":
        # Serialise writers of the chain: two concurrent events must not share a parent.
        conn.execute(text("SELECT pg_advisory_xact_lock(727274)"))
    prev = conn.execute(
        select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)  # type: ignore[union-attr]
    ).scalar_one_or_none()
    prev_hash = prev or GENESIS
    at = at or utcnow()
    before_json, after_json = to_json(before), to_json(after)
    digest = event_hash(
        prev_hash=prev_hash,
        at=at,
        actor=actor,
        action=action,
        entity=entity,
        entity_id=entity_id,
        before=before_json,
        after=after_json,
    )
    values = {
        "at": at,
        "actor": actor,
        "action": action,
        "entity": entity,
        "entity_id": entity_id,
        "before": before_json,
        "after": after_json,
        "prev_hash": prev_hash,
        "hash": digest,
    }
    result = conn.execute(AuditEvent.__table__.insert().values(**values))  # type: ignore[attr-defined]
    bump_versions(conn, [COUNTER])
    return AuditEvent(id=result.inserted_primary_key[0], **values)


@dataclass
class AuditedWrite:
    """The open transaction of one audited write: record its events through ``event``."""

    conn: Connection
    actor: str
    tables: tuple[str, ...]
    events: list[AuditEvent] = field(default_factory=list)
    bumped: bool = False

    def event(
        self,
        *,
        action: str,
        entity: str,
        entity_id: str | None = None,
        before: Any = None,
        after: Any = None,
        at: datetime | None = None,
    ) -> AuditEvent:
        """Append one audit event by the acting user, in this write's transaction."""
        ev = record_event(
            self.conn,
            actor=self.actor,
            action=action,
            entity=entity,
            entity_id=entity_id,
            before=before,
            after=after,
            at=at,
        )
        self.events.append(ev)
        return ev

    def bump(self) -> None:
        """Bump the written tables' versions now (once), e.g. to read the new version."""
        if not self.bumped and self.tables:
            bump_versions(self.conn, list(self.tables))
        self.bumped = True


@contextmanager
def audited_write(
    engine: Engine,
    *,
    actor: str,
    role: str | None,
    permission: str,
    tables: Sequence[str],
    immediate: bool = False,
) -> Iterator[AuditedWrite]:
    """The audited-write ritual in one place: check that ``role`` may ``permission``
    (``store.roles.PermissionDenied`` otherwise), open one transaction, let the caller
    write and record its events, and bump ``tables``' versions when an event was
    recorded. Everything commits together or not at all.

    ``immediate`` takes SQLite's write lock at once (a read-then-write that two
    writers must not interleave, such as "is this recommendation still open?").
    """
    require(role, permission)
    with engine.begin() as conn:
        if immediate and conn.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        write = AuditedWrite(conn, actor, tuple(tables))
        yield write
        if write.events:
            write.bump()


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    n_events: int
    first_broken_id: int | None = None
    problem: str | None = None
    head_hash: str | None = None  # hash of the newest intact event (GENESIS when none)


def verify_chain(engine: Engine) -> ChainReport:
    """Recompute every hash in id order; report the first event that does not match."""
    prev_hash = GENESIS
    n = 0
    last_id = 0
    with engine.connect() as conn:
        table = AuditEvent.__table__  # type: ignore[attr-defined]
        recorded = conn.execute(
            select(DataVersion.version).where(DataVersion.table_name == COUNTER)
        ).scalar_one_or_none()
        for ev in conn.execute(select(table).order_by(table.c.id)):
            n += 1
            if ev.prev_hash != prev_hash:
                return ChainReport(
                    False,
                    n,
                    ev.id,
                    "previous-hash link broken: an event before it was deleted or edited",
                )
            expected = event_hash(
                prev_hash=ev.prev_hash,
                at=ev.at,
                actor=ev.actor,
                action=ev.action,
                entity=ev.entity,
                entity_id=ev.entity_id,
                before=ev.before,
                after=ev.after,
            )
            if expected != ev.hash:
                return ChainReport(False, n, ev.id, "content does not match its hash: edited")
            prev_hash = ev.hash
            last_id = ev.id
    # Stores written before the counter existed have none (or a smaller one): only a
    # counter above the events found can mean events were removed.
    if recorded is not None and int(recorded) > n:
        missing = int(recorded) - n
        return ChainReport(
            False,
            n,
            last_id + 1,
            f"{missing} newest event(s) deleted: {int(recorded)} were recorded, "
            f"the chain ends at event #{last_id}",
            prev_hash,
        )
    return ChainReport(True, n, head_hash=prev_hash)


def read_events(engine: Engine, *, limit: int | None = None) -> pd.DataFrame:
    """Audit events newest first as a DataFrame (id, at, actor, action, entity, entity_id, before, after)."""
    stmt = select(
        AuditEvent.id,
        AuditEvent.at,
        AuditEvent.actor,
        AuditEvent.action,
        AuditEvent.entity,
        AuditEvent.entity_id,
        AuditEvent.before,
        AuditEvent.after,
    ).order_by(AuditEvent.id.desc())  # type: ignore[union-attr]
    if limit:
        stmt = stmt.limit(limit)
    with engine.connect() as conn:
        df = pd.DataFrame(conn.execute(stmt).all(), columns=list(stmt.selected_columns.keys()))
    if not df.empty:
        df["at"] = pd.to_datetime(df["at"], utc=True)
    return df
