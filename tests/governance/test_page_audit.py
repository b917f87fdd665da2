"""The Audit trail page, and the red banner every page shows when the chain is broken."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from streamlit.testing.v1 import AppTest

from store.db import dispose_engine, get_engine
from store.ingest.load import load_bundle
from store.reads import clear_memo
from store.settings import set_setting
from tests.conftest import APP, clear_streamlit, tiles, write_bundle

PAGE = "pages/audit.py"
RECS = """rec_id,rec_type,signal_at,created_at,site
r1,stockout_risk,2025-01-01T00:00:00Z,2025-01-01T00:05:00Z,P1
"""


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    monkeypatch.setenv("WORKBENCH_DB", url)
    clear_streamlit()
    engine = get_engine(url)
    load_bundle(
        write_bundle(tmp_path / "b", {"recommendations": RECS}),
        engine=engine,
        actor="loader",
        role="admin",
    )
    set_setting(engine, "kpi_targets", {"otif": 0.95}, actor="ana", role="admin")
    set_setting(engine, "go_live", "2025-01-01", actor="bo", role="admin")
    yield engine
    clear_streamlit()
    dispose_engine(url)
    clear_memo()


def _audit_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    assert not at.exception
    at.switch_page(PAGE)
    at.run()
    assert not at.exception, at.exception
    return at


def test_browse_filter_and_export(store: Engine) -> None:
    at = _audit_page()
    assert any("Chain intact: 3 events verified" in s.value for s in at.success)
    assert {m.label: m.value for m in tiles(at)}["Events shown"] == "3"
    table = at.dataframe[0].value
    assert list(table["action"]) == ["setting", "setting", "import"]
    assert list(table["actor"]) == ["bo", "ana", "loader"]
    at.multiselect(key="audit_actor").select("ana")
    at.run()
    assert {m.label: m.value for m in tiles(at)}["Events shown"] == "1"
    assert list(at.dataframe[0].value["entity_id"]) == ["kpi_targets"]
    at.multiselect(key="audit_actor").unselect("ana")
    at.text_input(key="audit_text").input("go_live")
    at.run()
    assert list(at.dataframe[0].value["actor"]) == ["bo"]
    download = at.get("download_button")
    assert download and "CSV" in download[0].proto.label


def test_the_chain_banner_counts_a_new_event_at_once(store: Engine) -> None:
    at = _audit_page()
    assert any("Chain intact: 3 events verified" in s.value for s in at.success)
    # A write through the workbench (another session, say): the banner and the list agree
    # on the next run, not a minute later when the check's cache expires.
    set_setting(store, "go_live", "2025-02-01", actor="cy", role="admin")
    at.run()
    assert not at.exception, at.exception
    assert {m.label: m.value for m in tiles(at)}["Events shown"] == "4"
    assert any("Chain intact: 4 events verified" in s.value for s in at.success)
    set_setting(store, "go_live", "2025-03-01", actor="cy", role="admin")
    at.run()
    assert any("Chain intact: 5 events verified" in s.value for s in at.success)


def test_tampering_shows_a_red_banner_and_names_the_event(store: Engine) -> None:
    with store.begin() as conn:
        conn.execute(text("UPDATE audit_event SET actor = 'mallory' WHERE id = 2"))
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    assert any("audit trail has been tampered with" in e.value for e in at.error)  # app-wide
    at.switch_page(PAGE)
    at.run()
    assert not at.exception
    errors = [e.value for e in at.error]
    assert any("Chain broken at event #2" in e and "setting by mallory" in e for e in errors)


def test_every_page_shows_the_banner(store: Engine) -> None:
    with store.begin() as conn:
        conn.execute(text("DELETE FROM audit_event WHERE id = 3"))  # the newest event
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    assert not at.exception
    banner = [e.value for e in at.error if "tampered" in e.value]
    assert banner and "first broken event: #3" in banner[0]
    assert "1 newest event(s) deleted" in banner[0]


def test_empty_trail(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    monkeypatch.setenv("WORKBENCH_DB", url)
    import store.ingest.sample

    monkeypatch.setattr(store.ingest.sample, "SAMPLE_BUNDLE", Path("/nonexistent"))
    clear_streamlit()
    try:
        at = _audit_page()
        assert any("No audit events yet" in i.value for i in at.info)
    finally:
        clear_streamlit()
        dispose_engine(url)
        clear_memo()
