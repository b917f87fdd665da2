"""Small UI helpers shared by the pages: the sidebar's go-live, the acting user, empty states."""

from __future__ import annotations

import getpass
from datetime import date

import streamlit as st


def go_live() -> date | None:
    """The go-live date chosen in the shared sidebar (None when the store has no data)."""
    return st.session_state.get("go_live_value")


def go_live_inferred() -> bool:
    return bool(st.session_state.get("go_live_inferred", False))


def current_user() -> str:
    """Who is acting: the signed-in user, else the local OS user name."""
    return st.session_state.get("user") or getpass.getuser()


def current_role() -> str:
    return st.session_state.get("role") or "admin"


def empty_state(message: str, *, hint: str | None = None) -> None:
    st.info(message + (f"\n\n{hint}" if hint else ""), icon=":material/inbox:")
