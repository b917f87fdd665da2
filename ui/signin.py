"""Sign-in and the audit-trail banner, called by ``app.py`` before any page runs.

``establish_session`` sets ``st.session_state["user"]`` and ``["role"]`` (read by
``ui/session.py``) without drawing anything; when nobody is signed in,
``sign_in_screen`` draws the sign-in and stops. Three modes:

* an OIDC provider configured in ``.streamlit/secrets.toml`` (``[auth]``): Streamlit's
  ``st.login``; the role comes from the store's users by a *verified* claim only
  (``email`` with ``email_verified``, else ``sub``) — never a display name; someone
  the store does not know reads only (``exec``). A mistyped ``[auth]`` stops the app.
* **local mode**: named users with argon2id passwords in the store
  (``python cli.py users add NAME --role ROLE``). Signing in gives a signed,
  expiring session token (``store.auth.sessions``) kept in a cookie, so a reload or
  a new tab stays signed in; signing out revokes it.
* local mode with **no users yet** (open mode): the OS user acts as ``admin`` — only
  when the server listens on loopback and the browser is on this machine, unless
  ``WORKBENCH_OPEN_MODE=1`` is set.
"""

from __future__ import annotations

import difflib
import getpass
import os
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import streamlit as st
from sqlalchemy import Engine

from analytics.shared.safe_text import escape_markdown
from store import users
from store.auth import sessions
from store.auth.signin import sign_in, sign_out, throttle_rule
from ui import cache

READ_ONLY_ROLE = "exec"
ADD_USER_HINT = "`python cli.py users add NAME --role planner|sop_lead|exec|admin`"
COOKIE = "wb_session"
OPEN_MODE_ENV = "WORKBENCH_OPEN_MODE"
LOOPBACK = {"127.0.0.1", "::1", "localhost"}
_TOKEN_TEXT = re.compile(r"^[A-Za-z0-9_.\-]{20,200}$")
# What Streamlit's st.login needs, at [auth] or in each [auth.<provider>].
_AUTH_TOP = ("redirect_uri", "cookie_secret")
_AUTH_PROVIDER = ("client_id", "client_secret", "server_metadata_url")


class AuthConfigError(RuntimeError):
    """The ``[auth]`` section is there but unusable: sign-in must not fall back to open mode."""


def _near_miss(key: str, known: tuple[str, ...]) -> str | None:
    found = difflib.get_close_matches(key.lower().replace("-", "_"), known, n=1, cutoff=0.8)
    return found[0] if found and found[0] != key else None


def auth_config(secrets: Mapping[str, Any]) -> tuple[bool, str | None]:
    """(OIDC configured?, provider for ``st.login`` or None for the default) from the secrets.

    Raises ``AuthConfigError`` for a section that looks meant for sign-in but is not
    usable (a near-miss section name such as ``[Auth]`` or ``[oauth]``, a missing or
    misspelt key), so that a typo never silently drops the app to open mode.
    """
    for key in secrets:
        if key != "auth" and (
            key.lower().strip() in ("auth", "oauth", "oidc")
            or (key.lower().startswith("auth") and hasattr(secrets[key], "keys"))
        ):
            raise AuthConfigError(f"secrets.toml has a [{key}] section: did you mean [auth]?")
    auth = secrets.get("auth")
    if auth is None:
        return False, None
    if not hasattr(auth, "keys") or not auth:
        raise AuthConfigError("the [auth] section of secrets.toml is empty")
    flat = {k: v for k, v in auth.items() if not hasattr(v, "keys")}
    providers = sorted(k for k, v in auth.items() if hasattr(v, "keys"))
    for key in flat:
        guess = _near_miss(key, _AUTH_TOP + _AUTH_PROVIDER)
        if guess and guess not in flat:
            raise AuthConfigError(f"[auth] has {key!r}: did you mean {guess!r}?")
    missing = [k for k in _AUTH_TOP if not flat.get(k)]
    if any(k in flat for k in _AUTH_PROVIDER) or not providers:
        missing += [k for k in _AUTH_PROVIDER if not flat.get(k)]
        provider = None
    else:
        provider = providers[0]
        block = auth[provider]
        for key in block:
            guess = _near_miss(key, _AUTH_PROVIDER)
            if guess and guess not in block:
                raise AuthConfigError(f"[auth.{provider}] has {key!r}: did you mean {guess!r}?")
        missing += [f"{provider}.{k}" for k in _AUTH_PROVIDER if not block.get(k)]
    if missing:
        raise AuthConfigError("the [auth] section of secrets.toml lacks " + ", ".join(missing))
    return True, provider


def verified_identity(claims: Mapping[str, Any]) -> tuple[str | None, str]:
    """The stable, verified claim to look a user up by, and what kind it is.

    ``email`` only when the provider says ``email_verified`` is true, else ``sub``;
    never a display name or ``preferred_username``, which anyone can choose.
    """
    email, verified = claims.get("email"), claims.get("email_verified")
    if email and (verified is True or str(verified).lower() == "true"):
        return str(email).strip(), "email"
    sub = claims.get("sub")
    return (str(sub).strip(), "sub") if sub else (None, "")


def open_mode_allowed(
    *, server_address: str | None, client_ip: object, headers: Mapping[str, str], env: str | None
) -> bool:
    """Whether "no users → everyone is admin" may apply to this browser.

    Only when the server listens on loopback and the browser connects from this
    machine directly (no proxy's forwarding headers), unless ``WORKBENCH_OPEN_MODE=1``.
    """
    if env == "1":
        return True
    if (server_address or "").strip() not in LOOPBACK:
        return False
    if isinstance(client_ip, str) and client_ip not in LOOPBACK:
        return False
    lowered = {str(k).lower() for k in headers}
    return not lowered & {"x-forwarded-for", "forwarded", "x-real-ip"}


def _server_address() -> str | None:
    return st.get_option("server.address")


def _headers() -> dict[str, str]:
    try:
        return {str(k): str(v) for k, v in st.context.headers.items()}
    except Exception:  # no client connection (tests): no forwarding headers
        return {}


def _cookie_token() -> str | None:
    try:
        value = st.context.cookies.get(COOKIE)
    except Exception:  # no client connection (tests)
        return None
    return value if isinstance(value, str) and _TOKEN_TEXT.match(value) else None


def _set(user: str, role: str, mode: str) -> None:
    st.session_state["user"] = user
    st.session_state["role"] = role
    st.session_state["auth_mode"] = mode


def _forget() -> None:
    for key in ("user", "role", "auth_mode", "auth_token"):
        st.session_state.pop(key, None)


def _cookie_script(token: str | None) -> None:
    """Store (or clear) the session cookie in the browser: what a reload or new tab sends."""
    secure = "; Secure" if str(getattr(st.context, "url", "") or "").startswith("https") else ""
    if token is None:
        value = f"{COOKIE}=; Path=/; Max-Age=0; SameSite=Strict{secure}"
    else:
        age = int(sessions.session_hours() * 3600)
        value = f"{COOKIE}={token}; Path=/; Max-Age={age}; SameSite=Strict{secure}"
    st.html(f"<script>document.cookie = {value!r};</script>", unsafe_allow_javascript=True)


def _local_sign_out() -> None:
    engine = cache.current_engine()
    sign_out(engine, st.session_state.get("auth_token"), user=st.session_state.get("user", ""))
    _forget()
    st.session_state["auth_clear_cookie"] = True


def establish_session(engine: Engine) -> bool:
    """Set the acting user and role if someone is signed in (draws nothing). Signed in?"""
    enabled, _ = oidc_settings()
    if enabled:
        if not st.user.get("is_logged_in", False):
            return False
        ident, kind = verified_identity(st.user)
        role = users.role_of(engine, ident) if ident else None
        _set(ident or "unverified account", role or READ_ONLY_ROLE, "oidc")
        st.session_state["auth_claim"] = kind
        return True
    if users.user_count(engine) == 0:
        if open_mode_allowed(
            server_address=_server_address(),
            client_ip=st.context.ip_address,
            headers=_headers(),
            env=os.environ.get(OPEN_MODE_ENV),
        ):
            _set(getpass.getuser(), "admin", "local-open")
            return True
        _forget()
        return False
    token = st.session_state.get("auth_token")
    if token is None and not st.session_state.get("auth_clear_cookie"):
        token = _cookie_token()
    user = sessions.resolve(engine, token) if token else None
    role = users.role_of(engine, user) if user else None
    if user is None or role is None:  # expired, revoked, removed user: sign in again
        _forget()
        return False
    # Re-read on every run: a role change takes effect at once, a removal signs out.
    _set(user, role, "local")
    st.session_state["auth_token"] = token
    return True


def oidc_settings() -> tuple[bool, str | None]:
    """``auth_config`` over ``st.secrets``; stops the app with the reason when it is mistyped."""
    try:
        secrets: Mapping[str, Any] = {k: st.secrets[k] for k in st.secrets}
    except Exception:  # no secrets.toml at all: Streamlit raises rather than returning {}
        return False, None
    try:
        return auth_config(secrets)
    except AuthConfigError as e:
        st.error(
            f"**Sign-in is misconfigured**: {e}. Fix `.streamlit/secrets.toml` and restart; "
            "the workbench does not open without sign-in when one was meant.",
            icon=":material/gpp_bad:",
        )
        st.stop()
        raise  # pragma: no cover - st.stop() raises


def sidebar_notice() -> None:
    """What the sidebar says about how this person is signed in, and the sign-out button."""
    mode = st.session_state.get("auth_mode")
    if st.session_state.pop("auth_set_cookie", False):
        _cookie_script(st.session_state.get("auth_token"))
    with st.sidebar:
        if mode == "local-open":
            st.info(
                f"**Open mode** — no users are set up, so you act as **{getpass.getuser()}** with "
                "the admin role and nobody is asked to sign in. This is allowed only on this "
                f"machine (loopback) unless {OPEN_MODE_ENV}=1 is set. To require sign-in, add "
                f"the first admin with {ADD_USER_HINT.replace('planner|sop_lead|exec|admin', 'admin')}.",
                icon=":material/person:",
            )
        elif mode == "local":
            st.caption(
                "**Local mode**: users and argon2id-hashed passwords are kept in this "
                "workbench's store; no identity provider is configured."
            )
            st.button("Sign out", key="auth_local_logout", on_click=_local_sign_out)
        elif mode == "oidc":
            if (
                st.session_state.get("role") == READ_ONLY_ROLE
                and users.role_of(cache.current_engine(), st.session_state.get("user", "")) is None
            ):
                st.info(
                    f"You can read but not change anything: **{escape_markdown(st.session_state.get('user'))}** "
                    "(your verified e-mail, or your provider's subject id) has no role in this "
                    f"workbench yet. An admin can give you one with {ADD_USER_HINT}.",
                    icon=":material/lock:",
                )
            st.button("Sign out", key="auth_oidc_logout", on_click=st.logout)


def sign_in_screen(engine: Engine) -> None:
    """Draw the sign-in for whoever is not signed in, then stop the script."""
    if st.session_state.pop("auth_clear_cookie", False):
        _cookie_script(None)
    enabled, provider = oidc_settings()
    st.title("Sign in")
    if enabled:
        st.write("This workbench signs you in through your organisation's identity provider.")
        st.button(
            "Sign in",
            key="auth_oidc_login",
            type="primary",
            on_click=st.login,
            args=(provider,) if provider else (),
        )
        st.stop()
    if users.user_count(engine) == 0:
        st.error(
            "**No users are set up, and open mode is off here.** Open mode (everyone acts as "
            "admin) is allowed only when the server listens on loopback (127.0.0.1) and you "
            f"browse from the same machine, or when {OPEN_MODE_ENV}=1 is set. Create the first "
            f"admin on the server with {ADD_USER_HINT.replace('planner|sop_lead|exec|admin', 'admin')}.",
            icon=":material/lock:",
        )
        st.stop()
    st.info(
        "**Local mode**: no identity provider (OIDC) is configured, so the workbench keeps its "
        f"own users with hashed passwords. An admin adds users with {ADD_USER_HINT}. "
        + throttle_rule(),
        icon=":material/person:",
    )
    with st.form("auth_form"):
        name = st.text_input("User name", key="auth_name")
        password = st.text_input("Password", type="password", key="auth_password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if submitted:
        client = st.context.ip_address
        result = sign_in(
            engine,
            name,
            password,
            client=client if isinstance(client, str) else "loopback",
            now=datetime.now(UTC),
        )
        if not result.ok:
            st.error(result.message, icon=":material/error:")
        else:
            st.session_state["auth_token"] = result.token
            st.session_state["auth_set_cookie"] = True
            st.rerun()  # the same URL (page and query parameters): lands where it was asked
    st.stop()


def chain_banner(engine: Engine) -> None:
    """A red banner on every page when the audit chain does not verify (checked once a minute)."""
    report = cache.audit_chain(engine.url.render_as_string(hide_password=False))
    if report["ok"]:
        return
    st.error(
        f"**The audit trail has been tampered with.** {report['problem'].capitalize()} "
        f"(first broken event: #{report['first_broken_id']}). Records were changed or deleted "
        "outside the workbench, so its history "
        "cannot be trusted from that point on. Run `python cli.py audit verify` for details and "
        "restore the store from a backup.",
        icon=":material/gpp_bad:",
    )
