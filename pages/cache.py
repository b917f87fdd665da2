"""Every Streamlit cache wrapper of the workbench, in one place.

Caches are keyed on small hashable values — the database URL and the store's
data version — never on a large DataFrame (Streamlit hashes only a sample of
one). Engines, frames and fitted models are ``cache_resource`` and read-only.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st
from sqlalchemy import Engine

from analytics.health import overview
from store.db import data_version, get_engine, resolve_url
from store.reads import Frames, import_batches, load_frames
from store.schema import TABLES


@st.cache_resource(show_spinner=False)
def engine_for(url: str) -> Engine:
    return get_engine(url)


def current_url() -> str:
    return resolve_url(st.session_state.get("db_url"))


def current_engine() -> Engine:
    return engine_for(current_url())


def current_version() -> str:
    return data_version(current_engine())


@st.cache_resource(show_spinner="Reading the decision log…", max_entries=2)
def _frames(url: str, version: str, _engine: Engine) -> Frames:
    return load_frames(_engine)


def get_frames() -> Frames:
    """The whole log for the current data version (shared, read-only)."""
    engine = current_engine()
    return _frames(current_url(), data_version(engine), engine)


def clear_after_write() -> None:
    """Drop cached results after the store changed (new data version keys most of them anyway)."""
    st.cache_data.clear()


@st.cache_data(ttl=600, max_entries=4, show_spinner="Checking data health…")
def data_overview(url: str, version: str) -> dict:
    """Counts, date ranges and health findings for the Data page (small JSON-able dict)."""
    frames = get_frames()
    tables = {name: getattr(frames, name) for name in TABLES}
    return overview(tables, import_batches(engine_for(url)), now=pd.Timestamp.now(tz="UTC"))
