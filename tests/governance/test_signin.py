"""Sign-in: argon2id with old scrypt hashes upgraded, throttling, audited failures, session
tokens that expire and are revoked, a loud [auth] check, verified OIDC claims, open mode."""

from __future__ import annotations

import hashlib
import os
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from streamlit.testing.v1 import AppTest

from store.audit import read_events, verify_chain
from store.auth import sessions
from store.auth.keyfile import KeyFileError, key_path, session_secret
from store.auth.passwords import check_password, hash_password, needs_rehash
from store.auth.signin import FREE_FAILURES, pause_seconds, sign_in, sign_out
from store.users import add_user, remove_user
from tests.conftest import tiles
from ui.signin import AuthConfigError, auth_config, open_mode_allowed, verified_identity

PW = "correct horse battery"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
APP = str(Path(__file__).resolve().parents[2] / "app.py")


def _scrypt(password: str, n: int) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=n, r=8, p=1, dklen=32, maxmem=256 * 1024 * 1024
    )
    return f"scrypt${n}$8$1${salt.hex()}${digest.hex()}"


def _stored_hash(engine: Engine, name: str) -> str:
    with engine.connect() as conn:
        return conn.execute(
            text("SELECT password_hash FROM app_user WHERE name = :n"), {"n": name}
        ).scalar_one()


def _set_hash(engine: Engine, name: str, value: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE app_user SET password_hash = :h WHERE name = :n"), {"h": value, "n": name}
        )


def _actions(engine: Engine) -> list[str]:
    return read_events(engine, limit=1000)["action"].tolist()


def test_argon2id_with_owasp_parameters_and_scrypt_of_any_cost_still_verifies() -> None:
    stored = hash_password(PW)
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert check_password(PW, stored) and not check_password(PW + "!", stored)
    assert not needs_rehash(stored)
    # 2**17 needs 128 MiB: the old check refused it (a silent lock-out)
    for n in (2**14, 2**17):
        old = _scrypt(PW, n)
        assert check_password(PW, old) and not check_password("wrong one", old)
        assert needs_rehash(old)
    weaker = "$argon2id$v=19$m=8192,t=1,p=1$" + stored.split("$", 4)[4]
    assert needs_rehash(weaker)
    assert not check_password(PW, "scrypt$1099511627776$8$1$00$00")  # absurd cost: refused


def test_sign_in_rehashes_an_old_scrypt_hash_once(engine: Engine) -> None:
    add_user(engine, "ana", role="planner", password=PW, actor="t", actor_role="admin")
    _set_hash(engine, "ana", _scrypt(PW, 2**15))
    result = sign_in(engine, "ana", PW, now=T0)
    assert result.ok and result.role == "planner"
    upgraded = _stored_hash(engine, "ana")
    assert upgraded.startswith("$argon2id$") and check_password(PW, upgraded)
    assert sign_in(engine, "ana", PW, now=T0).ok
    assert _stored_hash(engine, "ana") == upgraded  # not rehashed again
    assert _actions(engine).count("user_rehash") == 1
    assert verify_chain(engine).ok


def test_failures_are_throttled_per_name_said_on_screen_and_audited(engine: Engine) -> None:
    add_user(engine, "ana", role="planner", password=PW, actor="t", actor_role="admin")
    add_user(engine, "bo", role="planner", password=PW, actor="t", actor_role="admin")
    for i in range(1, FREE_FAILURES + 1):
        r = sign_in(engine, "ana", "guess", now=T0 + timedelta(seconds=i))
        assert not r.ok and r.message.startswith("Wrong user name or password.")
    assert "waits 30 s" in r.message
    # the right password during the pause is refused without being checked
    at = T0 + timedelta(seconds=FREE_FAILURES + 10)
    r = sign_in(engine, "ana", PW, now=at)
    assert not r.ok and r.wait_seconds == 21 and "Too many failed sign-ins for 'ana'" in r.message
    assert sign_in(engine, "bo", PW, now=at).ok  # another name is not affected
    # after the pause the right password works, and clears the count
    r = sign_in(engine, "ana", PW, now=T0 + timedelta(seconds=FREE_FAILURES + 31))
    assert r.ok
    assert not sign_in(engine, "ana", "guess", now=T0 + timedelta(minutes=2)).wait_seconds
    events = read_events(engine, limit=1000)
    failed = events[events["action"] == "sign_in_failed"]
    assert len(failed) == FREE_FAILURES + 2 and set(failed["entity_id"]) == {"ana"}
    assert failed["after"].str.contains("throttled").sum() == 1
    assert PW not in " ".join(events["after"].fillna(""))
    # unknown names are throttled the same way, so a pause does not reveal who exists
    for i in range(FREE_FAILURES):
        sign_in(engine, "mallory", "x", now=T0 + timedelta(seconds=i))
    assert sign_in(engine, "mallory", "x", now=T0 + timedelta(seconds=6)).wait_seconds > 0


def test_pause_doubles_and_is_capped() -> None:
    assert [pause_seconds(n) for n in (0, 4, 5, 6, 7)] == [0, 0, 30, 60, 120]
    assert pause_seconds(40) == 15 * 60


def test_session_token_resolves_until_expiry_sign_out_or_password_change(engine: Engine) -> None:
    add_user(engine, "ana", role="planner", password=PW, actor="t", actor_role="admin")
    token = sign_in(engine, "ana", PW, now=T0).token
    assert token and PW not in token
    now = T0 + timedelta(hours=1)
    assert sessions.resolve(engine, token, now=now) == "ana"
    # tampered: another expiry, another signature, another session id
    v, sid, exp, sig = token.split(".")
    assert sessions.resolve(engine, f"{v}.{sid}.{int(exp) + 3600}.{sig}", now=now) is None
    # (a random id or signature may already hold the character swapped in: never the same one)
    lead = "B" if sig[0] == "A" else "A"  # a first character carries six bits of the MAC
    assert sessions.resolve(engine, f"{v}.{sid}.{exp}.{lead}{sig[1:]}", now=now) is None
    first = "y" if sid[0] == "x" else "x"
    assert sessions.resolve(engine, f"{v}.{first}{sid[1:]}.{exp}.{sig}", now=now) is None
    assert sessions.resolve(engine, "garbage", now=now) is None
    assert sessions.resolve(engine, token, now=T0 + timedelta(hours=12, seconds=1)) is None
    # signing out revokes it at once
    assert sign_out(engine, token, user="ana")
    assert sessions.resolve(engine, token, now=now) is None
    assert "sign_out" in _actions(engine)
    # a password change revokes every session of that user, not others'
    add_user(engine, "bo", role="planner", password=PW, actor="t", actor_role="admin")
    a1, a2 = (sign_in(engine, "ana", PW, now=T0).token for _ in range(2))
    b1 = sign_in(engine, "bo", PW, now=T0).token
    add_user(engine, "ana", role="planner", password="another pass", actor="t", actor_role="admin")
    assert sessions.resolve(engine, a1, now=now) is None
    assert sessions.resolve(engine, a2, now=now) is None
    assert sessions.resolve(engine, b1, now=now) == "bo"
    remove_user(engine, "bo", actor="t", actor_role="admin")
    assert sessions.resolve(engine, b1, now=now) is None


def test_the_secret_lives_outside_the_database_owner_only(
    sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WORKBENCH_SESSION_KEY", raising=False)
    add_user(sqlite_engine, "ana", role="planner", password=PW, actor="t", actor_role="admin")
    token = sign_in(sqlite_engine, "ana", PW, now=T0).token
    path = key_path(sqlite_engine)
    assert path.exists() and path.name == "store.db.session-key"
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    with sqlite_engine.connect() as conn:
        stored = " ".join(map(str, conn.execute(text("SELECT * FROM auth_session")).all()[0]))
    assert token.split(".")[1] not in stored  # only a hash of the session id is stored
    now = T0 + timedelta(minutes=1)
    # another secret (a copied database elsewhere) cannot vouch for the token
    monkeypatch.setenv("WORKBENCH_SESSION_KEY", "k" * 40)
    assert sessions.resolve(sqlite_engine, token, now=now) is None
    monkeypatch.delenv("WORKBENCH_SESSION_KEY")
    assert sessions.resolve(sqlite_engine, token, now=now) == "ana"
    os.chmod(path, 0o644)
    with pytest.raises(KeyFileError, match="chmod 600"):
        session_secret(sqlite_engine)


def test_a_key_file_never_exists_without_its_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two processes open a new store at once: the one that did not make the key must
    never read the file while it is still empty (it used to be created, then written)."""
    from store.auth import keyfile
    from store.db import dispose_engine, get_engine

    url = f"sqlite:///{tmp_path / 'store.db'}"
    monkeypatch.delenv("WORKBENCH_SESSION_KEY", raising=False)
    engine = get_engine(url)
    path = key_path(engine)
    path.unlink(missing_ok=True)
    seen: list[bytes | None] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:  # while the key is being written, a reader looks
        seen.append(path.read_bytes() if path.exists() else None)
        real_fsync(fd)

    monkeypatch.setattr(keyfile.os, "fsync", fsync)
    try:
        key = session_secret(engine)
    finally:
        dispose_engine(url)
    assert seen == [None]  # not there at all until it holds the whole key
    assert path.read_bytes().strip() == key and len(key) == 64
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


GOOD = {
    "redirect_uri": "http://localhost:8501/oauth2callback",
    "cookie_secret": "s",
    "client_id": "wb",
    "client_secret": "c",
    "server_metadata_url": "https://idp.example/.well-known/openid-configuration",
}


def test_auth_config_is_checked_loudly() -> None:
    assert auth_config({}) == (False, None)
    assert auth_config({"auth": GOOD}) == (True, None)
    nested = {"redirect_uri": "r", "cookie_secret": "s", "okta": {**GOOD}}
    for key in ("redirect_uri", "cookie_secret"):
        del nested["okta"][key]
    assert auth_config({"auth": nested}) == (True, "okta")
    for secrets_, match in [
        ({"Auth": GOOD}, r"\[Auth\].*did you mean \[auth\]"),
        ({"oauth": GOOD}, "did you mean"),
        ({"auth": {k: v for k, v in GOOD.items() if k != "cookie_secret"}}, "lacks cookie_secret"),
        ({"auth": {**{k: v for k, v in GOOD.items() if k != "client_id"}, "client-id": "wb"}},
         "'client-id': did you mean 'client_id'"),
        ({"auth": {"redirect_uri": "r", "cookie_secret": "s", "okta": {"client_id": "wb"}}},
         "okta.client_secret"),
        ({"auth": {}}, "empty"),
    ]:  # fmt: skip
        with pytest.raises(AuthConfigError, match=match):
            auth_config(secrets_)


def test_oidc_roles_come_only_from_a_verified_claim() -> None:
    assert verified_identity({"email": "a@x.com", "email_verified": True, "sub": "s1"}) == (
        "a@x.com", "email",
    )  # fmt: skip
    # unverified e-mail or a chosen display name never names a workbench user
    assert verified_identity({"email": "alice@corp", "name": "alice", "sub": "ext|9"}) == (
        "ext|9", "sub",
    )  # fmt: skip
    assert verified_identity({"email": "a@x", "email_verified": "false", "sub": "s"})[1] == "sub"
    assert verified_identity({"name": "alice", "preferred_username": "alice"}) == (None, "")


def test_open_mode_only_on_loopback_unless_asked_for() -> None:
    local = {"server_address": "127.0.0.1", "client_ip": None, "headers": {}, "env": None}
    assert open_mode_allowed(**local)
    assert not open_mode_allowed(**{**local, "server_address": "0.0.0.0"})
    assert not open_mode_allowed(**{**local, "server_address": None})  # Streamlit: all interfaces
    assert not open_mode_allowed(**{**local, "client_ip": "10.0.0.7"})
    assert not open_mode_allowed(**{**local, "headers": {"X-Forwarded-For": "203.0.113.9"}})
    assert open_mode_allowed(**{**local, "server_address": "0.0.0.0", "env": "1"})
    assert not open_mode_allowed(**{**local, "server_address": "0.0.0.0", "env": "yes"})


@pytest.fixture
def app_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    import streamlit as st

    from store.db import dispose_engine, get_engine

    url = f"sqlite:///{tmp_path / 'store.db'}"
    monkeypatch.setenv("WORKBENCH_DB", url)
    st.cache_data.clear()
    st.cache_resource.clear()
    yield get_engine(url)
    st.cache_data.clear()
    st.cache_resource.clear()
    dispose_engine(url)


def test_no_users_off_loopback_asks_for_the_first_admin(
    app_store: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("ui.signin._server_address", lambda: "0.0.0.0")
    monkeypatch.delenv("WORKBENCH_OPEN_MODE", raising=False)
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception, at.exception
    assert any("open mode is off here" in e.value for e in at.error)
    assert not tiles(at) and "user" not in at.session_state
    monkeypatch.setenv("WORKBENCH_OPEN_MODE", "1")
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception and at.session_state["role"] == "admin"
    assert any("Open mode" in i.value for i in at.sidebar.info)


def test_sign_in_then_sign_out_revokes_the_session(app_store: Engine) -> None:
    add_user(app_store, "ana", role="planner", password=PW, actor="t", actor_role="admin")
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert [t.value for t in at.title] == ["Sign in"]
    assert "failed sign-ins in a row" in at.info[0].value  # the throttle is said up front
    at.text_input(key="auth_name").input("ana")
    at.text_input(key="auth_password").input(PW)
    next(b for b in at.button if b.label == "Sign in").click()
    at.run()
    assert not at.exception, at.exception
    assert at.session_state["user"] == "ana" and at.session_state["role"] == "planner"
    token = at.session_state["auth_token"]
    assert sessions.resolve(app_store, token) == "ana"
    # the cookie a reload sends is written in the browser, never the password
    scripts = [h.proto.body for h in at.get("html")]
    assert any(f"wb_session={token}" in s for s in scripts) and not any(PW in s for s in scripts)
    at.sidebar.button(key="auth_local_logout").click().run()
    assert not at.exception, at.exception
    assert [t.value for t in at.title] == ["Sign in"] and "user" not in at.session_state
    assert sessions.resolve(app_store, token) is None
    assert any("wb_session=; Path=/; Max-Age=0" in h.proto.body for h in at.get("html"))
