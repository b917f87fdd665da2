"""The Data page: what a failed load says, and when each import happened."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from store.db import dispose_engine
from store.reads import clear_memo
from tests.conftest import APP, write_bundle

RECS = """
rec_id,rec_type,signal_at,created_at,site
R1,stockout_risk,2025-03-03T08:00:00Z,2025-03-03T09:00:00Z,P100
"""


@pytest.fixture
def fresh_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    import store.ingest.sample

    monkeypatch.setattr(store.ingest.sample, "SAMPLE_BUNDLE", Path("/nonexistent"))
    url = f"sqlite:///{tmp_path / 'store.db'}"
    monkeypatch.setenv("WORKBENCH_DB", url)
    st.cache_data.clear()
    st.cache_resource.clear()
    clear_memo()
    yield url
    st.cache_data.clear()
    st.cache_resource.clear()
    dispose_engine(url)
    clear_memo()


def _load(at: AppTest, path: str) -> None:
    at.text_input(key="data_path").set_value(path)
    at.button(key="data_load").click()
    at.run()
    assert not at.exception, at.exception


def test_a_bad_server_path_says_why_as_the_last_load(
    fresh_store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WORKBENCH_IMPORT_DIRS", str(tmp_path))  # server paths load from here
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    _load(at, str(write_bundle(tmp_path / "good", {"recommendations": RECS})))
    assert any("no row was rejected" in s.value for s in at.success)
    missing = tmp_path / "no" / "such" / "bundle"
    _load(at, str(missing))
    # The reason is shown in the page as the last load, not inside a collapsed status box,
    # and the earlier load's result no longer stands in for it.
    errors = [e.value for e in at.error]
    # One reason for every path that cannot be loaded (issue 17: never whether a path exists).
    assert any("inside the import folder" in e for e in errors), errors
    assert not any("no row was rejected" in s.value for s in at.success)
    assert not [d for d in at.dataframe if list(d.value.columns) == ["loaded", "unchanged"]]
    # A second bad path replaces the first reason; a good load then clears it.
    _load(at, str(tmp_path / "other"))
    assert len([e for e in at.error if "inside the import folder" in e.value]) == 1
    _load(at, str(write_bundle(tmp_path / "good2", {"recommendations": RECS})))
    assert not any("inside the import folder" in e.value for e in at.error)
    assert any("no row was rejected" in s.value for s in at.success)


def test_import_history_shows_when_each_import_ran(
    fresh_store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WORKBENCH_IMPORT_DIRS", str(tmp_path))
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    before = pd.Timestamp.now(tz="UTC")
    _load(at, str(write_bundle(tmp_path / "good", {"recommendations": RECS})))
    history = next(d.value for d in at.dataframe if "loaded_by" in d.value.columns)
    started = pd.Timestamp(history["started_at"].iloc[0])
    started = started.tz_localize("UTC") if started.tzinfo is None else started
    # Today, not 1970 (microseconds since the epoch once read as nanoseconds).
    assert abs(started - before) < pd.Timedelta(minutes=10)


PASSWD = "root:x:0:0:root:/root:/bin/bash"


@pytest.mark.parametrize(("role", "sees_rows"), [("admin", True), ("sop_lead", True),
                                                 ("planner", False), ("exec", False)])  # fmt: skip
def test_quarantined_rows_are_shown_only_to_roles_that_may_load(
    fresh_store: str, tmp_path: Path, role: str, sees_rows: bool
) -> None:
    """Quarantine keeps a rejected row's raw content (once a line of /etc/passwd): only a
    role with the import permission reads it; the others see counts per table and column."""
    from store.db import get_engine
    from store.ingest.load import load_bundle
    from store.users import add_user
    from tests.conftest import session_token

    engine = get_engine(fresh_store)
    bad = RECS + f"R2,stockout_risk,{PASSWD},2025-03-03T09:00:00Z,P100\n"  # not an instant
    load_bundle(write_bundle(tmp_path / "b", {"recommendations": bad}), engine=engine, role="admin")
    add_user(engine, "eve", role=role, password=None, actor="test", actor_role="admin")
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["auth_token"] = session_token(engine, "eve")
    at.run()
    assert not at.exception, at.exception
    assert any(f"({role})" in c.value for c in at.sidebar.caption)
    tables = [d.value for d in at.dataframe]
    raw_shown = any(
        t.astype(str).apply(lambda c: c.str.contains("/bin/bash")).any().any() for t in tables
    )
    keys = {b.proto.id for b in at.get("download_button")}
    assert raw_shown is sees_rows
    assert any("data_dl_quarantine" in k for k in keys) is sees_rows
    if not sees_rows:
        summary = next(d.value for d in at.dataframe if "problems" in d.value)
        assert summary[["table", "column", "rows", "problems"]].values.tolist() == [
            ["recommendations", "signal_at", 1, 1]
        ]
        assert any("only to roles that may load data" in c.value for c in at.caption)
