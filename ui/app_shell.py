"""The script every session runs (``app.py`` calls :func:`run`): page config, the shared
sidebar and the navigation over the pages ``app.py`` lists — nothing else."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import streamlit as st
from sqlalchemy.engine import Engine

from analytics.shared.safe_text import escape_markdown
from store import roles
from store.ingest.sample import ensure_sample, only_sample_data, store_is_empty
from store.settings import GO_LIVE, set_setting
from ui import cache, session
from ui.signin import chain_banner, establish_session, sidebar_notice, sign_in_screen

ROOT = Path(__file__).resolve().parents[1]


def run(registered: list[tuple[str, str, str, str]]) -> None:
    """Draw the shell and run the page the URL asks for; ``registered`` holds (script, title,
    icon, URL path) for each page."""
    st.set_page_config(
        page_title="Override-learning workbench", page_icon=":material/fact_check:", layout="wide"
    )

    engine = cache.current_engine()
    cache.stale_scratch_cleaned()  # once per process: what killed loads left in the temp folder
    signed_in = establish_session(engine)
    # Navigation first, whoever is signed in: the URL asked for (page and query parameters) is
    # kept through the sign-in, and nothing but the six pages is ever listed (hidden until then).
    pages = [
        st.Page(str(ROOT / path), title=title, icon=icon, url_path=slug)
        for path, title, icon, slug in registered
        if (ROOT / path).exists()
    ]

    def _home() -> None:
        # Streamlit serves its default page at "/" and nowhere else; so that Data also
        # answers at /data, the default is this hidden page, which opens Data (a link's query
        # parameters go with it).
        st.switch_page(pages[0], query_params=st.query_params.to_dict())

    home = st.Page(_home, title="Home", url_path="home", default=True, visibility="hidden")
    nav = st.navigation([home, *pages], position="sidebar" if signed_in else "hidden")

    if "sample_checked" not in st.session_state:
        # Only a first start on an empty store has work to show; otherwise say nothing.
        if store_is_empty(engine):
            with st.status(
                "First start: loading the shipped sample bundle…", expanded=False
            ) as status:
                report = ensure_sample(engine)
                if report is None:
                    status.update(
                        label="The store is empty: load a bundle on the Data page", state="complete"
                    )
                else:
                    status.update(
                        label=f"Loaded sample data ({sum(report.loaded.values()):,} rows)",
                        state="complete",
                    )
                    cache.clear_after_write()  # its analyses build in the background
        st.session_state["sample_checked"] = True

    if not signed_in:
        sign_in_screen(engine)  # stops the script
    if nav is home:
        # Before anything is drawn: a switch drops what this run drew (the session cookie
        # written just after signing in would be lost with it).
        st.switch_page(pages[0], query_params=st.query_params.to_dict())
    sidebar_notice()

    _sidebar(engine)
    chain_banner(engine)

    with session.shell():
        nav.run()


def _sidebar(engine: Engine) -> None:
    """The store, the sample-data warning, the go-live (an admin saves it for everyone) and who
    is signed in."""
    with st.sidebar:
        st.caption(f"Store: `{engine.url.render_as_string(hide_password=True)}`")
        if only_sample_data(engine):
            st.warning(
                "You are looking at **sample data** (generated, not a real plant). Load your own "
                "decision log on the **Data** page or with `python cli.py load BUNDLE`.",
                icon=":material/science:",
            )
        saved, was_set = cache.go_live()
        if saved is None:
            st.session_state["go_live_value"] = None
            st.caption("Go-live: load recommendations to set it.")
        else:
            # The picker sits in a popover: its content is drawn only when opened, and a date
            # picker on every page's first screen cost a new browser session 0.6 s (its
            # front-end chunk). The label says the go-live in force for this session.
            shown = st.session_state.get("app_go_live", saved)
            label = f"Go-live: {shown:%d %b %Y}" + (
                "" if was_set or shown != saved else " (inferred)"
            )
            with st.popover(label, icon=":material/event:", width="stretch"):
                chosen = st.date_input(
                    "Go-live date" + ("" if was_set else " (inferred)"),
                    value=saved,
                    key="app_go_live",
                    help="Before it is the pre-AI baseline, from it on is current. Inferred from "
                    "the first recommendation with a model_version until someone sets it.",
                )
            st.session_state["go_live_value"] = chosen
            st.session_state["go_live_inferred"] = not was_set and chosen == saved
            if chosen != saved or not was_set:
                if roles.can(session.current_role(), "settings"):
                    if st.button(
                        "Save go-live for everyone",
                        key="app_go_live_save",
                        disabled=chosen == saved and was_set,
                    ):
                        set_setting(
                            engine,
                            GO_LIVE,
                            date.isoformat(chosen),
                            actor=session.current_user(),
                            role=session.current_role(),
                        )
                        st.rerun()
                elif chosen != saved:
                    st.caption(
                        "Only an admin can save the go-live; this choice lasts for your session."
                    )
        st.caption(
            f"Signed in as **{escape_markdown(session.current_user())}** ({session.current_role()})"
        )
