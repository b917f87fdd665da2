"""Signing in with a local password: throttled per user name, audited, old hashes upgraded.

After ``FREE_FAILURES`` failed sign-ins in a row for one user name (known or not, so
the pause does not reveal which names exist) that name must wait ``BASE_PAUSE_S``
before the next try, doubling with each further failure up to ``MAX_PAUSE_S``; a
successful sign-in clears the count. Every failed or refused sign-in is an audit
event (``sign_in_failed``), and so is every sign-in and sign-out. A password that
verified against an old hash (scrypt, or weaker argon2id parameters) is rehashed
with today's setting in the same transaction.
"""

from __future__ import annotations

import functools
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection

from store.audit import record_event
from store.auth import sessions
from store.auth.passwords import check_password, hash_password, needs_rehash
from store.models import AppUser, SignInThrottle

FREE_FAILURES = 5
BASE_PAUSE_S = 30
MAX_PAUSE_S = 15 * 60
_USERS = AppUser.__table__  # type: ignore[attr-defined]
_THROTTLE = SignInThrottle.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class SignInResult:
    """What a sign-in attempt gave: a user, role and session token, or a message why not."""

    user: str | None
    role: str | None
    token: str | None
    message: str
    wait_seconds: int = 0

    @property
    def ok(self) -> bool:
        return self.token is not None


def pause_seconds(failures: int) -> int:
    """The wait before the next try after ``failures`` failures in a row (0 while free)."""
    if failures < FREE_FAILURES:
        return 0
    return min(MAX_PAUSE_S, BASE_PAUSE_S * 2 ** (failures - FREE_FAILURES))


def throttle_rule() -> str:
    """The throttling rule in words, for the sign-in screen."""
    return (
        f"After {FREE_FAILURES} failed sign-ins in a row, a user name pauses for "
        f"{BASE_PAUSE_S} s, doubling with each further failure (at most {MAX_PAUSE_S // 60} min)."
    )


@functools.cache
def _dummy_hash() -> str:
    return hash_password(secrets.token_hex(8))


def _failures(conn: Connection, name: str) -> tuple[int, datetime | None]:
    row = conn.execute(
        select(_THROTTLE.c.failures, _THROTTLE.c.last_failed_at).where(_THROTTLE.c.name == name)
    ).first()
    return (0, None) if row is None else (int(row.failures), row.last_failed_at)


def _count_failure(conn: Connection, name: str, now: datetime) -> int:
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    stmt = insert(_THROTTLE).values(name=name, failures=1, last_failed_at=now)
    stmt = stmt.on_conflict_do_update(
        index_elements=[_THROTTLE.c.name],
        set_={"failures": _THROTTLE.c.failures + 1, "last_failed_at": now},
    )
    conn.execute(stmt)
    return _failures(conn, name)[0]


def _refuse(conn: Connection, name: str, reason: str, client: str | None, **detail: object) -> None:
    record_event(
        conn,
        actor=name or "(empty)",
        action="sign_in_failed",
        entity="app_user",
        entity_id=name or None,
        after={"reason": reason, "client": client, **detail},
    )


def sign_in(
    engine: Engine,
    name: str,
    password: str,
    *,
    client: str | None = None,
    now: datetime | None = None,
) -> SignInResult:
    """Check ``name``/``password``; on success open a session and return its token.

    ``client`` (the browser's address, if known) goes into the audit event. The
    message never says whether the name exists.
    """
    name = (name or "").strip()[:120]
    now = now or datetime.now(UTC)
    with engine.begin() as conn:
        failures, last = _failures(conn, name)
        if last is not None:
            left = (last + timedelta(seconds=pause_seconds(failures)) - now).total_seconds()
            if left > 0:
                wait = int(left) + 1
                _refuse(conn, name, "throttled", client, failures=failures, wait_seconds=wait)
                return SignInResult(
                    None,
                    None,
                    None,
                    f"Too many failed sign-ins for {name!r}: wait {wait} s before trying again. "
                    + throttle_rule(),
                    wait,
                )
        row = conn.execute(select(_USERS).where(_USERS.c.name == name)).mappings().first()
        # Unknown names cost the same work, so timing does not reveal which names exist.
        stored = row["password_hash"] if row is not None else _dummy_hash()
        if row is None or not check_password(password, stored):
            failures = _count_failure(conn, name, now)
            _refuse(
                conn, name, "wrong user name or password", client,
                known_user=row is not None, failures=failures,
            )  # fmt: skip
            left = FREE_FAILURES - failures
            return SignInResult(
                None,
                None,
                None,
                "Wrong user name or password."
                + (
                    f" {left} more failed attempt{'s' if left != 1 else ''} before this name "
                    "pauses."
                    if 0 < left < FREE_FAILURES
                    else f" This name now waits {pause_seconds(failures)} s before the next try."
                    if left <= 0
                    else ""
                ),
                pause_seconds(failures),
            )
        conn.execute(delete(_THROTTLE).where(_THROTTLE.c.name == name))
        if needs_rehash(stored):
            conn.execute(
                _USERS.update()
                .where(_USERS.c.name == name)
                .values(password_hash=hash_password(password))
            )
            record_event(
                conn,
                actor=name,
                action="user_rehash",
                entity="app_user",
                entity_id=name,
                before={"scheme": stored.split("$")[1] if stored.startswith("$") else "scrypt"},
                after={"scheme": "argon2id"},
            )
        token = sessions.issue(conn, engine, name, now=now)
        record_event(
            conn,
            actor=name,
            action="sign_in",
            entity="app_user",
            entity_id=name,
            after={"client": client, "expires_in_hours": sessions.session_hours()},
        )
    return SignInResult(name, str(row["role"]), token, f"Signed in as {name}.")


def sign_out(engine: Engine, token: str | None, *, user: str) -> bool:
    """Revoke the session ``token`` (audited when there was one). Returns whether it was live."""
    revoked = sessions.revoke(engine, token)
    if revoked:
        with engine.begin() as conn:
            record_event(conn, actor=user, action="sign_out", entity="app_user", entity_id=user)
    return revoked
