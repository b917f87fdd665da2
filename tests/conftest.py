"""Shared fixtures: a fresh store per test on SQLite, and on PostgreSQL when one is given.

PostgreSQL tests need ``WORKBENCH_TEST_PG_URL`` (e.g. ``postgresql+psycopg://postgres@127.0.0.1:5433/postgres``);
``.ci/run`` starts a throwaway server and sets it. Each test gets its own database.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st
from sqlalchemy import Engine, create_engine, text
from streamlit.testing.v1 import AppTest

from flows import background
from flows.cli.prepare import prepare
from store.db import dispose_engine, get_engine
from store.ingest.load import load_bundle
from store.reads import clear_memo
from ui.tiles import Tile, read_tile

PG_URL = os.environ.get("WORKBENCH_TEST_PG_URL")
REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "sample_data" / "bundle"
APP = str(REPO / "app.py")
WIDGETS = ("selectbox", "multiselect", "number_input", "radio", "text_input", "text_area",
           "button_group", "checkbox", "toggle", "date_input", "slider")  # fmt: skip  # what AppTest runs: the whole shell, then switch_page


def open_tab(at: AppTest, key: str, label: str) -> AppTest:
    """Open tab ``label`` of the lazy tabs ``key`` (a page draws only its open tab) and rerun."""
    at.session_state[key] = label
    at.run()
    assert not at.exception, at.exception
    return at


def tiles(at: AppTest) -> list[Tile]:
    """The figure tiles (``ui.tiles``) a run drew, in page order, with their tooltips."""
    read = (read_tile(m.value, help=m.proto.help or None) for m in at.markdown)
    return [t for t in read if t is not None]


def drop_undrawn(at: AppTest, keys: list[str]) -> None:
    """Forget the state of those widgets ``keys`` the last run did not draw (a closed tab's),
    as a served Streamlit does at the end of such a run. AppTest keeps it: every run through ``app.py`` ends in
    ``ensure_shell``'s ``st.stop()``, which skips that clean-up, so a test of a choice that
    outlives its tab must drop the state itself or it could not fail."""
    drawn = {getattr(w, "key", None) for kind in WIDGETS for w in at.get(kind)}
    for key in keys:
        if key in at.session_state and key not in drawn:
            del at.session_state[key]


def clear_streamlit() -> None:
    """Forget every Streamlit cache and the store's in-memory frames between page tests."""
    st.cache_data.clear()
    st.cache_resource.clear()
    clear_memo()


def _sqlite_engine(tmp_path: Path) -> tuple[str, Engine]:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    return url, get_engine(url)


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    url, engine = _sqlite_engine(tmp_path)
    yield engine
    dispose_engine(url)
    clear_memo()


@pytest.fixture
def pg_engine() -> Iterator[Engine]:
    if not PG_URL:
        pytest.skip(
            "PostgreSQL tests need WORKBENCH_TEST_PG_URL (set by .ci/run, which starts a server)"
        )
    name = f"wb_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_URL.rsplit("/", 1)[0] + "/" + name
    engine = get_engine(url)
    yield engine
    dispose_engine(url)
    clear_memo()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A fresh, empty store: every test using it runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        yield request.getfixturevalue("sqlite_engine")
    else:
        yield request.getfixturevalue("pg_engine")


def write_bundle(folder: Path, tables: dict[str, str]) -> Path:
    """Write ``{table: csv text}`` as a bundle folder and return it."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, body in tables.items():
        (folder / f"{name}.csv").write_text(body.strip() + "\n", encoding="utf-8")
    return folder


@pytest.fixture(scope="session")
def sample_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The committed sample bundle loaded once into a SQLite file (copied per test)."""
    path = tmp_path_factory.mktemp("sample_store") / "sample.db"
    url = f"sqlite:///{path}"
    load_bundle(SAMPLE, engine=get_engine(url), role="admin")
    prepare_store(url)  # as `cli.py load` does: pages read the artefacts, never fit
    dispose_engine(url)
    clear_memo()
    return path


@pytest.fixture
def sample_store(sample_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A private copy of the sample store, set as the app's ``WORKBENCH_DB``; its URL."""
    yield from private_store(sample_db, tmp_path, monkeypatch)


def private_store(src: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fixture's body: a copy of the prepared store ``src`` (with what lives beside it) as
    the app's ``WORKBENCH_DB``; yields its URL and lets it go after the test."""
    path = tmp_path / "store.db"
    copy_store(src, path)
    url = f"sqlite:///{path}"
    monkeypatch.setenv("WORKBENCH_DB", url)
    clear_streamlit()
    yield url
    background.wait(url)  # a write's background build is done before its store goes
    clear_streamlit()
    dispose_engine(url)


def session_token(engine: Engine, user: str) -> str:
    """A signed session token for ``user``, as signing in would give (for AppTest's
    ``session_state["auth_token"]``, where no browser cookie exists)."""
    from datetime import UTC, datetime

    from store.auth import sessions

    with engine.begin() as conn:
        return sessions.issue(conn, engine, user, now=datetime.now(UTC))


def prepare_store(url: str) -> None:
    """Build the derived artefacts of a loaded store, as ``cli.py load`` does after a load."""
    report = prepare(get_engine(url), quiet=True)  # the artefacts, then the views pages open with
    failed = {n: r for n, r in report.items() if r["outcome"] == "failed"}
    assert not failed, failed


def copy_store(src: Path, dst: Path) -> None:
    """Copy a SQLite store with what lives beside it: the audit key and anchor
    (store/auth/audit_trust.py), the session key that signs its artefacts, its snapshots and
    artefacts (same identity, so they stay valid)."""
    shutil.copy(src, dst)
    for suffix in (".audit-key", ".audit-anchor.jsonl", ".session-key"):
        source = src.with_name(src.name + suffix)
        if source.exists():
            shutil.copy2(source, dst.with_name(dst.name + suffix))
    for suffix in (".snapshots", ".artefacts"):
        folder = src.with_name(src.name + suffix)
        if folder.is_dir():
            shutil.copytree(folder, dst.with_name(dst.name + suffix))
