"""The command line's side of issue 17: usage errors exit 2, file-level findings in the
JSON report, ``audit verify --expect`` and the anchor, formula-safe CSV."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import cli
from tests.conftest import write_bundle

RECS = """
rec_id,rec_type,signal_at,created_at,site
R1,expedite,2025-03-03T08:00:00Z,2025-03-03T09:00:00Z,P1
"""


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.delenv("WORKBENCH_AUDIT_KEY", raising=False)
    monkeypatch.delenv("WORKBENCH_AUDIT_DIR", raising=False)
    return f"sqlite:///{tmp_path / 'store.db'}"


def test_unknown_time_zone_is_exit_2(db: str, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    bundle = write_bundle(tmp_path / "b", {"recommendations": RECS})
    assert cli.main(["load", str(bundle), "--db", db, "--tz", "Mars/Olympus"]) == 2
    assert "unknown time zone 'Mars/Olympus'" in capsys.readouterr().err


def test_file_problems_in_the_json_report_and_strict_refuses(
    db: str, tmp_path: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    bundle = write_bundle(tmp_path / "b", {"recommendations": RECS, "Decision": "rec_id\nR1"})
    assert cli.main(["load", str(bundle), "--db", db, "--json", "--no-snapshot"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) >= {"loaded", "rejected", "unchanged", "file_problems"}
    assert out["file_problems"] == [
        {
            "file": "Decision.csv",
            "table": None,
            "column": None,
            "reason": "not a contract table, not read (did you mean decisions.csv?)",
            "level": "warning",
        }
    ]
    assert cli.main(["load", str(bundle), "--db", db, "--strict", "--no-snapshot"]) == 1
    assert "warning: Decision.csv" in capsys.readouterr().out


def test_audit_verify_expect_and_the_anchor(db: str, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import text

    from store.db import get_engine

    bundle = write_bundle(tmp_path / "b", {"recommendations": RECS})
    cli.main(["load", str(bundle), "--db", db, "--no-snapshot"])
    capsys.readouterr()
    assert cli.main(["audit", "verify", "--db", db, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    head = result["head_hash"]
    assert result["n_events"] == 1 and result["anchors_checked"] >= 1
    assert (tmp_path / "store.db.audit-anchor.jsonl").exists()
    assert cli.main(["audit", "verify", "--db", db, "--expect", head]) == 0
    assert cli.main(["audit", "verify", "--db", db, "--expect", "f" * 64]) == 1
    capsys.readouterr()
    with get_engine(db).begin() as conn:
        conn.execute(text("DELETE FROM audit_event"))
        conn.execute(text("DELETE FROM data_version WHERE table_name = 'audit_event'"))
    assert cli.main(["audit", "verify", "--db", db]) == 1
    assert "newest event(s) deleted" in capsys.readouterr().err


def test_a_command_removes_killed_loads_scratch(
    db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:  # type: ignore[no-untyped-def]
    import tempfile

    from tests.test_app import scratch_folders

    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    killed, running = scratch_folders(scratch)
    assert cli.main(["info", "--db", db, "--json"]) == 0
    assert not killed.exists() and running.exists()
