"""The monitor over a store: planted problems found from a loaded bundle, acknowledgements
kept across reloads, the saved reference window used (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine

from flows.governance import digest_for_store
from flows.monitoring import digest_alerts, monitor_for_store, monitor_payload, reference_for_store
from store.db import dispose_engine, get_engine
from store.ingest.load import load_bundle
from store.learning.monitoring import acknowledge_alert, save_reference
from store.reads import clear_memo
from tests.monitoring import monitor_data as md


def load_planted(engine: Engine, tmp_path: Path, **kw: int) -> None:
    log = md.make_log(weeks=30, per_week=kw.get("per_week", 120), seed=kw.get("seed", 3))
    report = load_bundle(
        md.write_bundle(tmp_path / "bundle", log), engine=engine, actor="t", role="admin"
    )
    assert not report.rejected


def test_monitor_over_the_store_finds_acknowledges_and_keeps(
    engine: Engine, tmp_path: Path
) -> None:
    load_planted(engine, tmp_path)
    report = monitor_for_store(engine)
    assert report is not None
    assert report.reference.to_json() == {"from": "2025-01-06", "to": "2025-03-02"}
    kinds = {(a["kind"], a["feature"] or a["model_version"] or a["site"]) for a in report.alerts}
    assert {("feature_drift", "f_lead_time_days"), ("calibration", "m2"),
            ("acceptance_drift", "P3")} <= kinds  # fmt: skip
    drift = next(a for a in report.alerts if a["kind"] == "feature_drift")
    assert abs((date.fromisoformat(drift["since"]) - md.DRIFT_START).days) <= 14
    acknowledge_alert(engine, alert=drift, note="P1–P4 moved to calendar days on 5 May",
                      actor="sam", role="sop_lead")  # fmt: skip
    url = engine.url.render_as_string(hide_password=False)
    dispose_engine(url)
    clear_memo()
    engine = get_engine(url)
    again = monitor_for_store(engine)
    assert again is not None
    marked = {a["key"]: a["acknowledged"] for a in again.alerts}
    assert marked[drift["key"]] is True
    assert sum(marked.values()) == 1
    assert again.alerts[-1]["key"] == drift["key"]  # open alerts first
    open_keys = {a["key"] for a in digest_alerts(engine) or []}
    assert drift["key"] not in open_keys and len(open_keys) == len(again.alerts) - 1
    digest = digest_for_store(engine)["digest"]
    assert {a["kind"] for a in digest["model_health"]} >= {"calibration", "acceptance_drift"}
    assert not any(a["message"] == drift["message"] for a in digest["model_health"])
    payload = monitor_payload(again)
    assert next(a for a in payload["alerts"] if a["kind"] == "feature_drift")["acknowledged"]


def test_saved_reference_window_wins_over_the_default(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    load_planted(sqlite_engine, tmp_path, per_week=40)
    ref, source = reference_for_store(sqlite_engine)
    assert source == "default" and ref is not None and ref.start == md.GO_LIVE
    save_reference(sqlite_engine, date(2025, 2, 3), date(2025, 4, 27), actor="ada", role="admin")
    ref, source = reference_for_store(sqlite_engine)
    assert source == "saved" and ref.to_json() == {"from": "2025-02-03", "to": "2025-04-27"}
    ref, source = reference_for_store(
        sqlite_engine, reference_from=date(2025, 3, 3), reference_to=date(2025, 3, 30)
    )
    assert source == "given" and ref.start == date(2025, 3, 3)
    with pytest.raises(ValueError, match="both"):
        reference_for_store(sqlite_engine, reference_from=date(2025, 3, 3))


def test_empty_store_has_no_reference_and_an_empty_payload(sqlite_engine: Engine) -> None:
    assert monitor_for_store(sqlite_engine) is None
    assert monitor_payload(None) == {
        "reference": {"from": None, "to": None}, "alerts": [], "calibration": {}, "drift": {},
    }  # fmt: skip
    assert digest_alerts(sqlite_engine) is None
