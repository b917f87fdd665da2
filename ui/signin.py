"""Sign-in and the audit-trail banner, called by ``app.py`` before any page runs.

Not a page (``app.py`` lists pages by name). ``sign_in_gate`` sets
``st.session_state["user"]`` and ``["role"]``, which ``pages/ui.py`` reads:

* an OIDC provider configured in ``.streamlit/secrets.toml`` (``[auth]``): Streamlit's
  ``st.login``; the role comes from the store's users (by e-mail, then name), and
  someone the store does not know reads only (``exec``);
* otherwise **local mode**: named users with hashed passwords in the store
  (``python cli.py users add NAME --role ROLE``), with a visible notice;
* local mode with no users yet: the OS user acts as ``admin`` and the sidebar says so,
  so a fresh install opens at once.
"""

from __future__ import annotations

import getpass
from typing import Any

import streamlit as st
from sqlalchemy import Engine

from store import users
from ui import cache

READ_ONLY_ROLE = "exec"
ADD_USER_HINT = "`python cli.py users add NAME --role planner|sop_lead|exec|admin`"


def oidc_provider() -> tuple[bool, str | None]:
    """(OIDC configured?, provider name for ``st.login`` or None for the default ``[auth]``)."""
    try:
        auth: Any = st.secrets.get("auth")
    except Exception:  # no secrets.toml at all: Streamlit raises rather than returning None
        return False, None
    if not auth:
        return False, None
    if "client_id" in auth or "server_metadata_url" in auth:
        return True, None
    providers = sorted(k for k, v in auth.items() if hasattr(v, "keys"))
    return (True, providers[0]) if providers else (False, None)


def _set(user: str, role: str, mode: str) -> None:
    st.session_state["user"] = user
    st.session_state["role"] = role
    st.session_state["auth_mode"] = mode


def _oidc_sign_in(engine: Engine, provider: str | None) -> None:
    # ``is_logged_in`` is missing where no auth runtime exists (AppTest): treat as signed out.
    if not st.user.get("is_logged_in", False):
        st.title("Sign in")
        st.write("This workbench signs you in through your organisation's identity provider.")
        st.button(
            "Sign in",
            key="auth_oidc_login",
            type="primary",
            on_click=st.login,
            args=(provider,) if provider else (),
        )
        st.stop()
    ident = next(
        str(st.user.get(k))
        for k in ("email", "preferred_username", "name", "sub")
        if st.user.get(k)
    )
    role = users.role_of(engine, ident) or users.role_of(engine, str(st.user.get("name") or ""))
    _set(ident, role or READ_ONLY_ROLE, "oidc")
    with st.sidebar:
        if role is None:
            st.info(
                f"You can read but not change anything: **{ident}** has no role in this workbench "
                f"yet. An admin can give you one with {ADD_USER_HINT.replace('NAME', ident)}.",
                icon=":material/lock:",
            )
        st.button("Sign out", key="auth_oidc_logout", on_click=st.logout)


def _sign_out() -> None:
    for key in ("user", "role", "auth_mode"):
        st.session_state.pop(key, None)


def _local_sign_in(engine: Engine) -> None:
    if users.user_count(engine) == 0:
        _set(getpass.getuser(), "admin", "local-open")
        st.sidebar.info(
            f"**Local mode** — no users are set up, so you act as **{getpass.getuser()}** with the "
            f"admin role and nobody is asked to sign in. To require sign-in, add users with "
            f"{ADD_USER_HINT}.",
            icon=":material/person:",
        )
        return
    signed_in = st.session_state.get("auth_mode") == "local" and st.session_state.get("user")
    if signed_in:
        # Re-read the role on every run: a role change or removal takes effect at once.
        role = users.role_of(engine, st.session_state["user"])
        if role is not None:
            _set(st.session_state["user"], role, "local")
            st.sidebar.caption(
                "**Local mode**: users and hashed passwords are kept in this workbench's store; "
                "no identity provider is configured."
            )
            st.sidebar.button("Sign out", key="auth_local_logout", on_click=_sign_out)
            return
        _sign_out()
    st.title("Sign in")
    st.info(
        "**Local mode**: no identity provider (OIDC) is configured, so the workbench keeps its "
        f"own users with hashed passwords. An admin adds users with {ADD_USER_HINT}.",
        icon=":material/person:",
    )
    with st.form("auth_form"):
        name = st.text_input("User name", key="auth_name")
        password = st.text_input("Password", type="password", key="auth_password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if submitted:
        role = users.verify_user(engine, name, password)
        if role is None:
            st.error("Wrong user name or password.")
        else:
            _set(name.strip(), role, "local")
            st.rerun()
    st.stop()


def sign_in_gate(engine: Engine) -> None:
    """Make sure someone is signed in and set ``session_state["user"]``/``["role"]``.

    Stops the script (showing a sign-in screen) until someone is signed in when sign-in
    is required; with no local users and no OIDC it lets the OS user in as admin.
    """
    enabled, provider = oidc_provider()
    if enabled:
        _oidc_sign_in(engine, provider)
    else:
        _local_sign_in(engine)


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
