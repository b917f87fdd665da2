"""Local users: salted scrypt hashes, admin-only changes, every change audited without secrets."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text

from store.audit import read_events, verify_chain
from store.roles import PermissionDenied
from store.users import (
    NO_PASSWORD,
    UserError,
    add_user,
    check_password,
    hash_password,
    list_users,
    remove_user,
    role_of,
    set_role,
    user_count,
    verify_user,
)

PW = "correct horse"


def test_hash_is_salted_and_checks() -> None:
    a, b = hash_password(PW), hash_password(PW)
    assert a != b and a.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert check_password(PW, a) and check_password(PW, b)
    assert not check_password("correct horsE", a)
    assert not check_password(PW, "not-a-hash") and not check_password(PW, NO_PASSWORD)


def test_add_list_and_verify(sqlite_engine: Engine) -> None:
    e = sqlite_engine
    assert user_count(e) == 0
    change = add_user(e, " ana ", role="planner", password=PW, actor="root", actor_role="admin")
    assert change.to_json() == {
        "user": "ana",
        "role": "planner",
        "created": True,
        "role_changed": False,
        "password_changed": True,
    }
    add_user(e, "bo@example.com", role="exec", password=None, actor="root", actor_role="admin")
    users = list_users(e)
    assert list(users["name"]) == ["ana", "bo@example.com"]
    assert list(users["local_password"]) == [True, False]
    assert verify_user(e, "ana", PW) == "planner"
    assert verify_user(e, "ana", "wrong password") is None
    assert verify_user(e, "nobody", PW) is None
    # No local password: only the identity provider can sign this user in.
    assert verify_user(e, "bo@example.com", "") is None
    assert role_of(e, "bo@example.com") == "exec"
    with e.connect() as conn:
        stored = conn.execute(
            text("SELECT password_hash FROM app_user WHERE name='ana'")
        ).scalar_one()
    assert PW not in stored


def test_role_change_is_audited_before_and_after(sqlite_engine: Engine) -> None:
    e = sqlite_engine
    add_user(e, "ana", role="planner", password=PW, actor="root", actor_role="admin")
    assert set_role(e, "ana", "sop_lead", actor="root", actor_role="admin") is True
    assert set_role(e, "ana", "sop_lead", actor="root", actor_role="admin") is False  # no-op
    assert role_of(e, "ana") == "sop_lead"
    events = read_events(e)
    assert list(events["action"]) == ["user_role", "user_add"]
    role_event = events.iloc[0]
    assert role_event["actor"] == "root" and role_event["entity_id"] == "ana"
    assert role_event["before"] == '{"role": "planner"}'
    assert role_event["after"] == '{"role": "sop_lead"}'
    # Password hashes never enter the audit trail.
    assert not events["after"].fillna("").str.contains("scrypt").any()
    assert verify_chain(e).ok


def test_add_existing_user_changes_role_and_password(sqlite_engine: Engine) -> None:
    e = sqlite_engine
    add_user(e, "ana", role="planner", password=PW, actor="root", actor_role="admin")
    change = add_user(
        e, "ana", role="admin", password="new secret 1", actor="root", actor_role="admin"
    )
    assert (change.created, change.role_changed, change.password_changed) == (False, True, True)
    assert verify_user(e, "ana", "new secret 1") == "admin"
    assert verify_user(e, "ana", PW) is None
    assert list(read_events(e)["action"]) == ["user_password", "user_role", "user_add"]


def test_remove_user(sqlite_engine: Engine) -> None:
    e = sqlite_engine
    add_user(e, "ana", role="planner", password=PW, actor="root", actor_role="admin")
    remove_user(e, "ana", actor="root", actor_role="admin")
    assert user_count(e) == 0
    assert read_events(e).iloc[0]["action"] == "user_remove"
    with pytest.raises(UserError, match="no user named"):
        remove_user(e, "ana", actor="root", actor_role="admin")


@pytest.mark.parametrize(
    ("name", "role", "password", "message"),
    [
        ("", "planner", PW, "cannot be empty"),
        ("ana", "boss", PW, "unknown role 'boss'"),
        ("ana", "planner", "short", "at least 8 characters"),
    ],
)
def test_bad_input_is_refused_and_nothing_written(
    sqlite_engine: Engine, name: str, role: str, password: str, message: str
) -> None:
    with pytest.raises(UserError, match=message):
        add_user(
            sqlite_engine, name, role=role, password=password, actor="root", actor_role="admin"
        )
    assert user_count(sqlite_engine) == 0
    assert read_events(sqlite_engine).empty


@pytest.mark.parametrize("role", ["planner", "sop_lead", "exec", None])
def test_only_admin_manages_users(sqlite_engine: Engine, role: str | None) -> None:
    e = sqlite_engine
    with pytest.raises(PermissionDenied):
        add_user(e, "eve", role="admin", password=PW, actor="eve", actor_role=role)
    add_user(e, "ana", role="planner", password=PW, actor="root", actor_role="admin")
    with pytest.raises(PermissionDenied):
        set_role(e, "ana", "admin", actor="ana", actor_role=role)
    with pytest.raises(PermissionDenied):
        remove_user(e, "ana", actor="ana", actor_role=role)
    assert role_of(e, "ana") == "planner" and user_count(e) == 1
