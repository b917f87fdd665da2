"""The append-only, keyed, hash-chained audit trail that every write goes through.

Each event stores the hash of the event before it; its own hash is an HMAC-SHA256,
under a key kept outside the database (``store/auth/audit_trust.py``), of its content and
that previous hash. Editing, deleting or inserting an event outside the app therefore
breaks the chain, and without the key nobody can recompute the hashes after the edit
or forge a new event. Deleting the *newest* events (or all of them) leaves a chain
that is consistent, so each event also counts itself in ``data_version`` and the head
(count, newest hash) is anchored in a file outside the database after every write;
``verify_chain`` checks both, and an ``expect``-ed head the operator kept elsewhere.

Events from before the chain was keyed (plain SHA-256) verify as a prefix only: once a
keyed event exists, every later event must be keyed. Decision rows written by the app
carry the id and hash of their ``decide`` event, and the two are checked to agree.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from sqlalchemy import Engine, select, text
from sqlalchemy.engine import Connection

from store.auth.audit_trust import append_anchor, audit_key, read_anchors
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


log = logging.getLogger(__name__)


def event_hash(
    *,
    key: bytes | None = None,
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
    if key is None:  # the unkeyed hash of events recorded before the chain had a key
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()
    return hmac.new(key, payload.encode("utf-8"), hashlib.sha256).hexdigest()


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
        key=audit_key(conn.engine.url),
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
    busy_seconds: float | None = None,
) -> Iterator[AuditedWrite]:
    """The audited-write ritual in one place: check that ``role`` may ``permission``
    (``store.roles.PermissionDenied`` otherwise), open one transaction, let the caller
    write and record its events, and bump ``tables``' versions when an event was
    recorded. Everything commits together or not at all.

    ``immediate`` takes SQLite's write lock at once (a read-then-write that two
    writers must not interleave, such as "is this recommendation still open?");
    ``busy_seconds`` bounds how long it waits for a load holding that lock (then
    SQLAlchemy's ``OperationalError``, "database is locked").
    """
    require(role, permission)
    with engine.begin() as conn:
        if immediate and conn.dialect.name == "sqlite":
            if busy_seconds is not None:
                ms = max(int(busy_seconds * 1000), 1)
                conn.exec_driver_sql(f"PRAGMA busy_timeout = {ms}")
            try:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            finally:
                if busy_seconds is not None:
                    conn.exec_driver_sql("PRAGMA busy_timeout = 30000")
        write = AuditedWrite(conn, actor, tuple(tables))
        yield write
        if write.events:
            write.bump()
    if write.events:
        anchor_head(engine)  # the committed head, outside the database


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    n_events: int
    first_broken_id: int | None = None
    problem: str | None = None
    head_hash: str | None = None  # hash of the newest intact event (GENESIS when none)
    n_unkeyed: int = 0  # events from before the chain was keyed (a verified prefix)
    anchors_checked: int = 0
    decisions_checked: int = 0


def chain_head(engine: Engine) -> tuple[int, str]:
    """(number of events, newest hash) as stored now."""
    with engine.connect() as conn:
        n = conn.execute(text("SELECT COUNT(*) FROM audit_event")).scalar_one()
        head = conn.execute(
            select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)  # type: ignore[union-attr]
        ).scalar_one_or_none()
    return int(n), head or GENESIS


def anchor_head(engine: Engine) -> dict[str, Any] | None:
    """Append the chain's current head to the anchor file beside the store; call after a
    write commits. Never fails the write it follows: a missed anchor is only logged."""
    try:
        count, head = chain_head(engine)
        return append_anchor(engine.url, count=count, head=head)
    except Exception as exc:  # noqa: BLE001 - the write is committed; the anchor is extra
        log.warning("audit anchor not written: %s", exc)
        return None


def _expected(expect: str | None) -> tuple[int | None, str] | None:
    """``HASH`` or ``COUNT:HASH`` as given to ``audit verify --expect``."""
    if not expect:
        return None
    count, _, head = expect.strip().rpartition(":")
    return (int(count) if count.strip().isdigit() else None), head.strip().lower()


def verify_chain(engine: Engine, *, expect: str | None = None) -> ChainReport:
    """Recompute every hash in id order; report the first event that does not match.

    Also checks the heads anchored outside the database, ``expect`` (a head hash, or
    ``count:hash``, noted earlier) and every app decision against its ``decide`` event.
    """
    from store.auth.audit_trust import check_app_decisions

    key = audit_key(engine.url)
    anchors = read_anchors(engine.url)
    wanted: dict[int, list[str]] = {}
    for a in anchors:
        wanted.setdefault(a["count"], []).append(a["head"])
    # A head anchored while the chain was still empty (a write that recorded no event) is
    # the genesis hash; it names no event, so there is nothing to find for it.
    if any(h != GENESIS for h in wanted.pop(0, [])):
        return ChainReport(False, 0, None, "the anchor records an empty chain with a head hash")
    expected = _expected(expect)
    expect_seen = expected is None
    prev_hash = GENESIS
    n = 0
    n_unkeyed = 0
    keyed_seen = False
    last_id = 0
    first_keyed_at: datetime | None = None
    decide_events: dict[int, Any] = {}
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
            content = dict(
                prev_hash=ev.prev_hash,
                at=ev.at,
                actor=ev.actor,
                action=ev.action,
                entity=ev.entity,
                entity_id=ev.entity_id,
                before=ev.before,
                after=ev.after,
            )
            if hmac.compare_digest(event_hash(key=key, **content), ev.hash):
                if not keyed_seen:
                    first_keyed_at = ev.at
                keyed_seen = True
            elif not keyed_seen and event_hash(**content) == ev.hash:
                n_unkeyed += 1
            else:
                return ChainReport(
                    False,
                    n,
                    ev.id,
                    "content does not match its hash: edited, or forged without the audit key",
                )
            for head in wanted.pop(n, []):
                if head != ev.hash:
                    return ChainReport(
                        False,
                        n,
                        ev.id,
                        f"event #{ev.id} is not the head anchored outside the database "
                        "(chain rewritten from here)",
                    )
            if expected is not None and ev.hash == expected[1]:
                if expected[0] is not None and expected[0] != n:
                    return ChainReport(
                        False, n, ev.id, f"expected head is event {expected[0]}, found at {n}"
                    )
                expect_seen = True
            if ev.action == "decide" and ev.entity == "decisions":
                decide_events[ev.id] = ev
            prev_hash = ev.hash
            last_id = ev.id
        if wanted:
            count = max(wanted)
            return ChainReport(
                False,
                n,
                last_id + 1,
                f"{count - n} newest event(s) deleted: the anchor outside the database records "
                f"{count} events, the chain ends at event #{last_id}",
                prev_hash,
            )
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
        if not expect_seen:
            return ChainReport(
                False,
                n,
                last_id + 1,
                "the expected head is not in the chain: events deleted or the chain rewritten",
                prev_hash,
            )
        bad, n_decisions = check_app_decisions(conn, decide_events, first_keyed_at)
    if bad is not None:
        event_id, problem = bad
        return ChainReport(False, n, event_id, problem, prev_hash, n_unkeyed, len(anchors))
    return ChainReport(
        True,
        n,
        head_hash=prev_hash,
        n_unkeyed=n_unkeyed,
        anchors_checked=len(anchors),
        decisions_checked=n_decisions,
    )


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
