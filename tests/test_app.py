"""The app as a user meets it, through Streamlit's AppTest."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from store.db import dispose_engine
from store.reads import clear_memo
from store.sample import SAMPLE_BUNDLE

APP = str(Path(__file__).resolve().parents[1] / "app.py")


@pytest.fixture
def fresh_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
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


def test_first_start_loads_sample_and_data_page_shows_counts(fresh_store: str) -> None:
    at = AppTest.from_file(APP, default_timeout=180)
    at.run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    expected = sum(1 for _ in open(SAMPLE_BUNDLE / "recommendations.csv", encoding="utf-8")) - 1
    assert metrics["Recommendations"] == f"{expected:,}"
    assert int(metrics["Decisions"].replace(",", "")) > 0
    findings = [e.label for e in at.expander]
    assert any("Overrides without a reason" in f for f in findings)
    assert any("no owner" in f for f in findings)
    assert any("sample data" in w.value for w in at.sidebar.warning)
    # go-live inferred from the first recommendation with a model_version
    assert "inferred" in at.sidebar.date_input[0].label


def test_empty_store_without_sample_shows_empty_state(
    fresh_store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import store.sample

    monkeypatch.setattr(store.sample, "SAMPLE_BUNDLE", Path("/nonexistent"))
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception
    assert any("no recommendations yet" in i.value for i in at.info)
