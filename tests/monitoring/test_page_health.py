"""The Model health page as a user meets it (AppTest through app.py)."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st
from sqlalchemy import Engine
from streamlit.testing.v1 import AppTest

from flows import background
from store.audit import read_events
from store.db import dispose_engine, get_engine
from store.ingest.load import load_bundle
from store.reads import clear_memo
from tests.conftest import drop_undrawn, prepare_store, tiles
from tests.monitoring import monitor_data as md

APP = str(Path(__file__).resolve().parents[2] / "app.py")
PAGE = "pages/health.py"


def _store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **kw: int) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    monkeypatch.setenv("WORKBENCH_DB", url)
    st.cache_data.clear()
    st.cache_resource.clear()
    clear_memo()
    engine = get_engine(url)
    log = md.make_log(seed=3, **kw)
    load_bundle(md.write_bundle(tmp_path / "b", log), engine=engine, actor="tester", role="admin")
    prepare_store(url)  # as `cli.py load` does: the page reads the monitor, never builds it
    yield engine
    background.wait(url)
    st.cache_data.clear()
    st.cache_resource.clear()
    dispose_engine(url)
    clear_memo()


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    yield from _store(tmp_path, monkeypatch, weeks=30, per_week=120)


@pytest.fixture
def thin_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    yield from _store(tmp_path, monkeypatch, weeks=3, per_week=4)


def _open_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180)
    at.run()
    assert not at.exception
    at.switch_page(PAGE)
    at.run()
    assert not at.exception, at.exception
    return at


def _show(at: AppTest, key: str, value: str | bool) -> AppTest:
    """Open a tab (``health_tab``) or the reference expander, as a click does: only what is
    open is drawn."""
    at.session_state[key] = value
    at.run()
    assert not at.exception, at.exception
    return at


def _tag(key: str) -> str:
    return hashlib.sha1(key.encode()).hexdigest()[:10]


def _alert_texts(at: AppTest) -> list[str]:
    # As read on screen: alert messages are Markdown-escaped (feature names, sites and
    # versions come from the data), so drop the escapes before matching words.
    return [re.sub(r"\\(.)", r"\1", m.value) for m in at.markdown]


def _chart_titles(at: AppTest) -> list[str]:
    """The titles of the Vega-Lite charts drawn, top to bottom."""
    return [json.loads(c.proto.spec)["title"]["text"] for c in at.get("vega_lite_chart")]


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in tiles(at)}


def test_page_lists_the_planted_alerts_with_what_to_check(store: Engine) -> None:
    at = _open_page()
    texts = _alert_texts(at)
    assert any(t.startswith("f_lead_time_days rose") and "at every site" in t for t in texts)
    assert any(t.startswith("Model m2 is over-confident") for t in texts)
    assert any("override expedite at P3 much more" in t for t in texts)
    assert int(_metrics(at)["Open alerts"]) >= 3
    assert _metrics(at)["Acknowledged"] == "0"
    # Drift plots follow the picked feature; the stable one shows no alert marker run. Only
    # the open tab (drift, first) is drawn.
    assert [t.label for t in at.tabs][:1] == ["Feature drift"]
    assert _chart_titles(at) == [
        f"{at.selectbox(key='health_feature').value}: PSI per week against the reference",
        f"{at.selectbox(key='health_feature').value}: reference vs latest week",
    ]
    at.selectbox(key="health_feature").set_value("f_demand_cv")
    at.run()
    assert not at.exception
    assert _chart_titles(at)[0] == "f_demand_cv: PSI per week against the reference"
    # The judged set is said plainly on the page.
    _show(at, "health_tab", "Calibration & false positives")
    assert any("acting could not have changed the outcome" in c.value for c in at.caption)
    assert {c.key for c in at.get("plotly_chart")} == {"health_reliability"}
    drop_undrawn(at, ["health_feature"])  # as a served Streamlit forgets a closed tab's widgets
    _show(at, "health_tab", "Feature drift")
    assert at.selectbox(key="health_feature").value == "f_demand_cv"  # the choice outlives its tab
    _show(at, "health_tab", "Model versions")
    at.radio(key="health_versions_age").set_value("first 8 weeks of each version")
    at.run()
    assert not at.exception
    versions = next(d.value for d in at.dataframe if "acceptance_rate" in d.value.columns)
    assert list(versions["model_version"]) == ["m1", "m2"]


def test_acknowledge_two_alerts_in_a_row_then_reload(store: Engine) -> None:
    from flows.monitoring import monitor_for_store

    report = monitor_for_store(store)
    assert report is not None
    drift = next(a for a in report.alerts if a["kind"] == "feature_drift")
    accept = next(a for a in report.alerts if a["kind"] == "acceptance_drift")
    at = _open_page()
    # Without a note the store refuses, and says why.
    at.button(key=f"health_ack_{_tag(drift['key'])}").click()
    at.run()
    assert any("needs a note" in e.value for e in at.error)
    at.text_input(key=f"health_ack_note_{_tag(drift['key'])}").input("P2 moved to calendar days")
    at.button(key=f"health_ack_{_tag(drift['key'])}").click()
    at.run()
    assert not at.exception, at.exception
    assert _metrics(at)["Acknowledged"] == "1"
    assert any("P2 moved to calendar days" in c.value for c in at.caption)
    # The second alert's note starts empty: nothing carried over from the first.
    second = at.text_input(key=f"health_ack_note_{_tag(accept['key'])}")
    assert second.value == ""
    second.input("Checked with the P3 planners: new supplier")
    at.button(key=f"health_ack_{_tag(accept['key'])}").click()
    at.run()
    assert not at.exception, at.exception
    assert _metrics(at)["Acknowledged"] == "2"
    events = read_events(store)
    assert list(events["action"][:2]) == ["alert_acknowledged", "alert_acknowledged"]
    # A fresh session (caches cleared, as after a restart): still acknowledged, still listed.
    st.cache_data.clear()
    st.cache_resource.clear()
    clear_memo()
    again = _open_page()
    assert _metrics(again)["Acknowledged"] == "2"
    assert any(t.startswith("f_lead_time_days rose") for t in _alert_texts(again))
    assert not any(
        b.key == f"health_ack_{_tag(drift['key'])}" for b in again.button
    )  # no second acknowledgement offered


def test_admin_saves_a_reference_window(store: Engine) -> None:
    from datetime import date

    from store.learning.monitoring import saved_reference

    at = _show(_open_page(), "health_reference_open", True)
    at.date_input(key="health_reference").set_value((date(2025, 1, 13), date(2025, 3, 9)))
    at.button(key="health_save_settings").click()
    at.run()
    assert not at.exception, at.exception
    assert saved_reference(store) == (date(2025, 1, 13), date(2025, 3, 9))
    # The monitor of the new window is built in the background: the page fills in after it.
    background.wait(store.url.render_as_string(hide_password=False))
    at.run()
    assert any("13 Jan 2025 – 9 Mar 2025" in c.value and "saved" in c.value for c in at.caption)
    at.button(key="health_reset_settings").click()
    at.run()
    assert saved_reference(store) is None


def test_too_little_data_says_not_enough_data(thin_store: Engine) -> None:
    at = _open_page()
    infos = [i.value for i in at.info] + [i.value for i in at.main.info]
    assert any("not enough data" in v for v in infos)
    assert _metrics(at)["Open alerts"] == "0"


def _signed_in(name: str, password: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180)
    at.run()
    at.text_input(key="auth_name").input(name)
    at.text_input(key="auth_password").input(password)
    next(b for b in at.button if b.label == "Sign in").click()
    at.run()
    at.switch_page(PAGE)
    at.run()
    assert not at.exception, at.exception
    return at


def test_a_planner_reads_alerts_an_sop_lead_acknowledges(store: Engine) -> None:
    from store.users import add_user

    add_user(store, "root", role="admin", password="admin-pass", actor="t", actor_role="admin")
    add_user(store, "pat", role="planner", password="planner-pass", actor="t", actor_role="admin")
    add_user(store, "sam", role="sop_lead", password="lead-pass", actor="t", actor_role="admin")
    planner = _signed_in("pat", "planner-pass")
    assert any(t.startswith("f_lead_time_days rose") for t in _alert_texts(planner))
    assert not [b for b in planner.button if (b.key or "").startswith("health_ack_")]
    assert any("an admin or S&OP lead acknowledges" in c.value for c in planner.caption)
    _show(planner, "health_reference_open", True)
    assert planner.date_input(key="health_reference").disabled  # an admin's setting
    lead = _signed_in("sam", "lead-pass")
    buttons = [b for b in lead.button if (b.key or "").startswith("health_ack_")]
    assert buttons
    tag = buttons[0].key.removeprefix("health_ack_")
    lead.text_input(key=f"health_ack_note_{tag}").input("known: new supplier terms")
    lead.button(key=f"health_ack_{tag}").click()
    lead.run()
    assert not lead.exception, lead.exception
    assert _metrics(lead)["Acknowledged"] == "1"
    assert read_events(store).iloc[0]["actor"] == "sam"
