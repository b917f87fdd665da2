"""Local users of the workbench: named accounts with a role and a salted password hash.

Passwords are hashed with argon2id (``store.auth.passwords``, OWASP's parameters);
hashes from before it (scrypt) still verify and are rewritten on the next sign-in.
Every change (new user, new role, new password, removal) is an audit event made
in the same transaction as the write; password hashes never enter the audit trail.
A new password or a removal revokes all of that user's sessions.

Writes check the acting role here, on the server side (``store.roles.require``),
whatever the UI shows or hides.
"""

from __future__ import annotations

import functools
import secrets
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import Engine, func, select
from sqlalchemy.engine import Connection

from store.audit import audited_write
from store.auth.passwords import NO_PASSWORD, check_password, hash_password
from store.auth.sessions import revoke_all
from store.db import utcnow
from store.models import AppUser
from store.roles import ROLES, require

MIN_PASSWORD_LENGTH = 8
_TABLE = AppUser.__table__  # type: ignore[attr-defined]


class UserError(ValueError):
    """A user change that cannot be made (unknown role, short password, unknown user…)."""


@dataclass(frozen=True)
class UserChange:
    """What ``add_user`` did: ``created`` a user, or changed an existing one's role/password."""

    name: str
    role: str
    created: bool
    role_changed: bool
    password_changed: bool

    def to_json(self) -> dict[str, object]:
        return {
            "user": self.name,
            "role": self.role,
            "created": self.created,
            "role_changed": self.role_changed,
            "password_changed": self.password_changed,
        }


def _clean_name(name: str) -> str:
    cleaned = (name or "").strip()
    if not cleaned:
        raise UserError("a user name cannot be empty")
    if len(cleaned) > 120:
        raise UserError("a user name is at most 120 characters")
    return cleaned


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise UserError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    return role


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")


def _row(conn: Connection, name: str) -> dict | None:
    found = conn.execute(select(_TABLE).where(_TABLE.c.name == name)).mappings().first()
    return dict(found) if found is not None else None


def add_user(
    engine: Engine,
    name: str,
    *,
    role: str,
    password: str | None,
    actor: str,
    actor_role: str | None,
) -> UserChange:
    """Create user ``name`` with ``role``, or change an existing user's role (and password).

    Parameters
    ----------
    name
        The user name people sign in with (trimmed). For OIDC sign-in use the
        e-mail address the provider reports.
    role
        One of ``store.roles.ROLES``.
    password
        At least ``MIN_PASSWORD_LENGTH`` characters. ``None`` keeps an existing
        user's password, and gives a new user no local password (OIDC sign-in only).
    actor, actor_role
        Who makes the change; only ``admin`` may (``PermissionDenied`` otherwise).

    Returns
    -------
    UserChange
        What was done. Nothing is written (and nothing audited) when nothing changes.
    """
    require(actor_role, "users")
    name = _clean_name(name)
    _check_role(role)
    if password is not None:
        _check_password(password)
    with audited_write(
        engine, actor=actor, role=actor_role, permission="users", tables=["app_user"]
    ) as write:
        conn = write.conn
        before = _row(conn, name)
        if before is None:
            conn.execute(
                _TABLE.insert().values(
                    name=name,
                    role=role,
                    password_hash=hash_password(password) if password is not None else NO_PASSWORD,
                    created_at=utcnow(),
                )
            )
            write.event(
                action="user_add",
                entity="app_user",
                entity_id=name,
                after={"name": name, "role": role, "local_password": password is not None},
            )
            return UserChange(name, role, True, False, password is not None)
        role_changed = before["role"] != role
        if role_changed:
            conn.execute(_TABLE.update().where(_TABLE.c.name == name).values(role=role))
            write.event(
                action="user_role",
                entity="app_user",
                entity_id=name,
                before={"role": before["role"]},
                after={"role": role},
            )
        if password is not None:
            conn.execute(
                _TABLE.update()
                .where(_TABLE.c.name == name)
                .values(password_hash=hash_password(password))
            )
            revoke_all(conn, name, now=utcnow())  # a new password signs out every session
            write.event(
                action="user_password",
                entity="app_user",
                entity_id=name,
                before={"local_password": before["password_hash"] != NO_PASSWORD},
                after={"local_password": True},
            )
        return UserChange(name, role, False, role_changed, password is not None)


def set_role(engine: Engine, name: str, role: str, *, actor: str, actor_role: str | None) -> bool:
    """Change an existing user's role (audited). Returns whether anything changed."""
    require(actor_role, "users")
    name = _clean_name(name)
    _check_role(role)
    with engine.connect() as conn:
        if _row(conn, name) is None:
            raise UserError(f"no user named {name!r}")
    return add_user(
        engine, name, role=role, password=None, actor=actor, actor_role=actor_role
    ).role_changed


def remove_user(engine: Engine, name: str, *, actor: str, actor_role: str | None) -> None:
    """Delete user ``name`` (audited with the role it had)."""
    name = _clean_name(name)
    with audited_write(
        engine, actor=actor, role=actor_role, permission="users", tables=["app_user"]
    ) as write:
        before = _row(write.conn, name)
        if before is None:
            raise UserError(f"no user named {name!r}")
        write.conn.execute(_TABLE.delete().where(_TABLE.c.name == name))
        revoke_all(write.conn, name, now=utcnow())
        write.event(
            action="user_remove",
            entity="app_user",
            entity_id=name,
            before={"name": name, "role": before["role"]},
        )


def list_users(engine: Engine) -> pd.DataFrame:
    """Users by name: ``name``, ``role``, ``local_password`` (bool), ``created_at`` (UTC)."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                _TABLE.c.name, _TABLE.c.role, _TABLE.c.password_hash, _TABLE.c.created_at
            ).order_by(_TABLE.c.name)
        ).all()
    df = pd.DataFrame(rows, columns=["name", "role", "password_hash", "created_at"])
    df["local_password"] = df.pop("password_hash") != NO_PASSWORD
    df["created_at"] = pd.to_datetime(df["created_at"], utc=True)
    return df[["name", "role", "local_password", "created_at"]]


def user_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(_TABLE)).scalar_one())


def role_of(engine: Engine, name: str) -> str | None:
    """The role of user ``name``, or None when there is no such user."""
    with engine.connect() as conn:
        row = _row(conn, (name or "").strip())
    return None if row is None else str(row["role"])


def verify_user(engine: Engine, name: str, password: str) -> str | None:
    """The user's role when ``password`` is right, else None (unknown users cost the same time)."""
    with engine.connect() as conn:
        row = _row(conn, (name or "").strip())
    if row is None:
        # Spend the same work as a real check so timing does not reveal which names exist.
        check_password(password, _dummy_hash())
        return None
    return str(row["role"]) if check_password(password, row["password_hash"]) else None


@functools.cache
def _dummy_hash() -> str:
    return hash_password(secrets.token_hex(8))
