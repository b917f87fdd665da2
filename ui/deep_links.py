"""Deep links into a page (``why?rec=…``, ``overrides?rule=…``), as the digests send them.

A link only selects what the page shows: it carries no credential and records nothing.
Each link selects its item once — after that the user's own choice in the widget stands,
and a new link (another id) selects again.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from analytics.shared.safe_text import escape_markdown


def linked_row(
    table: pd.DataFrame,
    linked_id: str | None,
    *,
    key: str,
    widget: str,
    id_col: str = "rec_id",
    noun: str = "recommendation",
) -> pd.DataFrame | None:
    """The row of ``table`` whose ``id_col`` is ``linked_id``, or None.

    The first time a given id arrives it is put into the session state of the selectbox
    ``widget`` (remembered under ``key``), so the page opens on it. An id the table does
    not hold is said plainly (the page then works as without a link).
    """
    if not linked_id:
        return None
    rows = table[(table[id_col].astype("string") == linked_id).to_numpy(dtype=bool, na_value=False)]
    if rows.empty:
        st.warning(
            f"The link asks for {noun} **{escape_markdown(linked_id)}**, which this workbench does not hold "
            "(another store, or the data was reloaded without it). Pick one below.",
            icon=":material/link_off:",
        )
        return None
    if st.session_state.get(key) != linked_id:
        st.session_state[key] = linked_id
        st.session_state[widget] = linked_id
    return rows.head(1)


def linked_tab(linked_id: str | None, *, tab_key: str, label: str) -> None:
    """Open the tabs ``tab_key`` on ``label`` the first time ``linked_id`` arrives (before
    the tabs are drawn): a link opens the tab that shows its item, and after that the
    user's own choice of tab stands."""
    if linked_id and st.session_state.get(f"{tab_key}_linked") != linked_id:
        st.session_state[f"{tab_key}_linked"] = linked_id
        st.session_state[tab_key] = label
