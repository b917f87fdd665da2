"""``python cli.py monitor``: the issue's JSON shape, reference options and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

import cli
from store.db import dispose_engine, get_engine
from store.ingest.load import load_bundle
from store.learning.monitoring import acknowledge_alert
from store.reads import clear_memo
from tests.monitoring import monitor_data as md

REPO = Path(__file__).resolve().parents[2]
ALERT_KEYS = ["kind", "rec_type", "site", "model_version", "feature", "since", "statistic",
              "value", "threshold", "message", "acknowledged"]  # fmt: skip


@pytest.fixture
def db(tmp_path: Path) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    log = md.make_log(weeks=30, per_week=120, seed=3)
    load_bundle(
        md.write_bundle(tmp_path / "b", log), engine=get_engine(url), actor="t", role="admin"
    )
    yield url
    dispose_engine(url)
    clear_memo()


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_monitor_json_shape_and_fail_on_alert(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "monitor", "--db", db, "--json")
    assert code == 0  # alerts are not a failure unless asked
    payload = json.loads(out)
    assert list(payload) == ["reference", "alerts", "calibration", "drift"]
    assert payload["reference"] == {"from": "2025-01-06", "to": "2025-03-02"}
    assert payload["alerts"] and all(list(a) == ALERT_KEYS for a in payload["alerts"])
    drift = next(a for a in payload["alerts"] if a["kind"] == "feature_drift")
    assert drift["feature"] == "f_lead_time_days" and drift["model_version"] is None
    assert drift["statistic"] == "psi" and drift["threshold"] == 0.2
    assert abs((date.fromisoformat(drift["since"]) - md.DRIFT_START).days) <= 14
    assert set(payload["calibration"]) == {"m1", "m2"}
    assert set(payload["calibration"]["m2"]) == {"ece", "brier", "false_positive_rate", "n"}
    assert payload["drift"]["f_lead_time_days"]["psi_max"] >= 0.2
    assert run(capsys, "monitor", "--db", db, "--json", "--fail-on-alert")[0] == 1
    # Acknowledge them all: the scheduler's check passes, the alerts stay listed.
    engine = get_engine(db)
    from flows.monitoring import monitor_for_store

    for alert in monitor_for_store(engine).alerts:  # type: ignore[union-attr]
        acknowledge_alert(engine, alert=alert, note="checked", actor="ada", role="admin")
    code, out, _ = run(capsys, "monitor", "--db", db, "--json", "--fail-on-alert")
    assert code == 0
    assert all(a["acknowledged"] for a in json.loads(out)["alerts"])


def test_reference_options(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "monitor", "--db", db, "--json", "--reference-from", "2025-05-12",
                       "--reference-to", "2025-07-06")  # fmt: skip
    assert code == 0
    payload = json.loads(out)
    assert payload["reference"] == {"from": "2025-05-12", "to": "2025-07-06"}
    # Measured against the weeks after the change, lead time no longer drifts.
    assert not [a for a in payload["alerts"] if a["feature"] == "f_lead_time_days"]
    code, _, err = run(capsys, "monitor", "--db", db, "--reference-from", "2025-05-12")
    assert code == 2 and "both" in err
    code, _, err = run(capsys, "monitor", "--db", db, "--reference-from", "2025-13-01",
                       "--reference-to", "2025-14-01")  # fmt: skip
    assert code == 2


def test_empty_store_prints_the_empty_shape(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    done = subprocess.run(
        [sys.executable, str(REPO / "cli.py"), "monitor", "--db", url, "--json", "--fail-on-alert"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "reference": {"from": None, "to": None}, "alerts": [], "calibration": {}, "drift": {},
    }  # fmt: skip
    assert "not enough data" in done.stderr


def test_text_output(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "monitor", "--db", db)
    assert code == 0
    assert out.startswith("reference window 2025-01-06 .. 2025-03-02")
    assert "[OPEN] feature_drift" in out and "f_lead_time_days rose" in out
