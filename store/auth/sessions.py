"""Signed, expiring session tokens: what keeps someone signed in across reloads and tabs.

A token is ``v1.<session id>.<expiry, Unix seconds>.<signature>``: the signature is
an HMAC-SHA256, with the server-side secret (``store.auth.keyfile``), over the id,
the expiry and the user it was issued to. The store keeps only a SHA-256 of the
session id, the user and the expiry, so a token is good only while all hold:

* its signature checks with the current secret (a copy of the database cannot make one);
* it has not expired (``SESSION_HOURS``, default 12, or ``WORKBENCH_SESSION_HOURS``);
* it has not been revoked — by signing out, or for all of a user's sessions when
  their password changes or they are removed.

A token names a user, nothing more: the role is read from the users table on every
run, so a token can never do more than its user may do at that moment.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, delete, select, update
from sqlalchemy.engine import Connection

from store.auth.keyfile import session_secret
from store.models import AuthSession

VERSION = "v1"
DEFAULT_SESSION_HOURS = 12.0
_TABLE = AuthSession.__table__  # type: ignore[attr-defined]


def session_hours() -> float:
    """How long a session lasts from sign-in (``WORKBENCH_SESSION_HOURS``, default 12)."""
    try:
        hours = float(os.environ.get("WORKBENCH_SESSION_HOURS", DEFAULT_SESSION_HOURS))
    except ValueError:
        return DEFAULT_SESSION_HOURS
    return hours if 0 < hours <= 24 * 30 else DEFAULT_SESSION_HOURS


def _sid_hash(sid: str) -> str:
    return hashlib.sha256(sid.encode("ascii")).hexdigest()


def _signature(secret: bytes, sid: str, expires: int, user: str) -> str:
    message = f"{VERSION}|{sid}|{expires}|{user}".encode()
    digest = hmac.new(secret, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def issue(conn: Connection, engine: Engine, user: str, *, now: datetime) -> str:
    """A new token for ``user``, recorded inside the caller's transaction."""
    sid = secrets.token_urlsafe(24)
    expires_at = now + timedelta(hours=session_hours())
    expires = int(expires_at.timestamp())
    conn.execute(delete(_TABLE).where(_TABLE.c.expires_at < now - timedelta(days=1)))
    conn.execute(
        _TABLE.insert().values(
            sid_hash=_sid_hash(sid),
            user_name=user,
            created_at=now,
            expires_at=datetime.fromtimestamp(expires, UTC),
            revoked_at=None,
        )
    )
    return f"{VERSION}.{sid}.{expires}.{_signature(session_secret(engine), sid, expires, user)}"


def _parse(token: str) -> tuple[str, int, str] | None:
    parts = (token or "").strip().split(".")
    if len(parts) != 4 or parts[0] != VERSION:
        return None
    _, sid, expires_text, signature = parts
    if not sid or not signature or not expires_text.isdigit() or len(sid) > 64:
        return None
    return sid, int(expires_text), signature


def resolve(engine: Engine, token: str | None, *, now: datetime | None = None) -> str | None:
    """The user a still-valid token was issued to, else None (bad, expired or revoked)."""
    parsed = _parse(token or "")
    if parsed is None:
        return None
    sid, expires, signature = parsed
    now = now or datetime.now(UTC)
    if expires <= now.timestamp():
        return None
    with engine.connect() as conn:
        row = conn.execute(
            select(_TABLE.c.user_name, _TABLE.c.expires_at, _TABLE.c.revoked_at).where(
                _TABLE.c.sid_hash == _sid_hash(sid)
            )
        ).first()
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        return None
    expected = _signature(session_secret(engine), sid, expires, row.user_name)
    if not hmac.compare_digest(expected, signature):
        return None
    return str(row.user_name)


def revoke(engine: Engine, token: str | None, *, now: datetime | None = None) -> bool:
    """Revoke one token (signing out). Returns whether a live session was revoked."""
    parsed = _parse(token or "")
    if parsed is None:
        return False
    with engine.begin() as conn:
        done = conn.execute(
            update(_TABLE)
            .where(_TABLE.c.sid_hash == _sid_hash(parsed[0]), _TABLE.c.revoked_at.is_(None))
            .values(revoked_at=now or datetime.now(UTC))
        ).rowcount
    return bool(done)


def revoke_all(conn: Connection, user: str, *, now: datetime) -> int:
    """Revoke every live session of ``user`` inside the caller's transaction; how many."""
    return int(
        conn.execute(
            update(_TABLE)
            .where(_TABLE.c.user_name == user, _TABLE.c.revoked_at.is_(None))
            .values(revoked_at=now)
        ).rowcount
    )
