"""The Ownership page's *Digest routing* tab: who gets their digest where, and the app URL.

Everyone sees the routing (webhooks shown by host and a short hash, never the secret path);
only an admin changes it, each change on the audit trail. Kept apart from the page script
because it is a form of its own.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st
from sqlalchemy import Engine

from analytics.shared.safe_text import escape_markdown
from flows.digests import people
from store import roles
from store.outbox import DigestError
from store.settings import get_setting, set_setting
from store.webhooks import APP_URL, WebhookRoutes, check_app_url, get_routes, set_routes
from ui import cache, session


def _table(routes: WebhookRoutes, owners: list[str], contacts: list[str]) -> pd.DataFrame:
    shown = routes.redacted()
    rows = []
    for name in sorted(set(owners) | set(contacts) | set(routes.people)):
        role = " and ".join(
            r for r, names in (("owner", owners), ("escalation contact", contacts)) if name in names
        )
        own = shown["people"].get(name)
        rows.append(
            {
                "person": name,
                "as": role or "not in the matrix",
                "webhook": own or (f"default: {shown['default']}" if shown["default"] else "none"),
            }
        )
    return pd.DataFrame(rows, columns=["person", "as", "webhook"])


def render(engine: Engine, owners_frame: pd.DataFrame) -> None:
    """Draw the tab: the routing table, and the admin's forms."""
    routes = get_routes(engine)
    owners, contacts = people(owners_frame)
    app_url = get_setting(engine, APP_URL)
    st.markdown(
        "`python cli.py digest --all-owners` posts each owner's and each escalation contact's "
        "digest to their webhook below, else to the default. Each item links to "
        + (f"`{app_url}/why?rec=…`." if app_url else "the workbench once its address is set.")
    )
    st.dataframe(_table(routes, owners, contacts), hide_index=True, key="ownership_routes")
    if not roles.can(session.current_role(), "settings"):
        st.caption("Only an admin can change the routing.")
        return
    names = sorted(set(owners) | set(contacts))
    with st.form("ownership_route_form", clear_on_submit=True):
        st.markdown("**Route a person's digest** (recorded on the audit trail, without the secret)")
        r1, r2 = st.columns([1, 3])
        person = r1.selectbox(
            "Person", names, key="ownership_route_person", accept_new_options=True
        )
        hook = r2.text_input(
            "Incoming-webhook URL (empty: use the default)",
            type="password",
            key="ownership_route_url",
        )
        save_person = st.form_submit_button("Save route")
    with st.form("ownership_default_form", clear_on_submit=True):
        d1, d2 = st.columns(2)
        default = d1.text_input(
            "Default webhook (empty: keep; '-' removes it)",
            type="password",
            key="ownership_default",
        )
        new_app = d2.text_input(
            "App URL for deep links", placeholder=app_url or "https://workbench.example.com",
            key="ownership_app_url",
        )  # fmt: skip
        save_default = st.form_submit_button("Save default and app URL")
    actor, role = session.current_user(), session.current_role()
    try:
        if save_person and person:
            chosen = dict(routes.people)
            if hook.strip():
                chosen[person] = hook.strip()
            else:
                chosen.pop(person, None)
            set_routes(engine, WebhookRoutes(chosen, routes.default), actor=actor, role=role)
            st.session_state["ownership_route_flash"] = (
                f"{person}'s digest now goes to their own webhook."
                if hook.strip()
                else f"{person}'s digest now goes to the default webhook."
            )
        if save_default:
            kept = routes.default
            if default.strip() == "-":
                kept = None
            elif default.strip():
                kept = default.strip()
            set_routes(engine, WebhookRoutes(dict(routes.people), kept), actor=actor, role=role)
            if new_app.strip():
                set_setting(engine, APP_URL, check_app_url(new_app), actor=actor, role=role)
            st.session_state["ownership_route_flash"] = "Saved the default webhook and app URL."
    except (DigestError, roles.PermissionDenied) as exc:
        st.error(escape_markdown(str(exc)))
    else:
        if save_person or save_default:
            # The next form starts clean: no secret stays in a field after it was saved.
            for key in ("ownership_route_url", "ownership_default", "ownership_app_url"):
                st.session_state.pop(key, None)
            cache.clear_after_write()
            st.rerun()
    if flash := st.session_state.pop("ownership_route_flash", None):
        st.success(escape_markdown(flash))
