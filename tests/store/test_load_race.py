"""A planner's decision landing while a PostgreSQL load is checking (issue 17): the load
holds what it checked, so the decision waits, then meets the loaded row and is told
so; the load neither crashes with UniqueViolation nor rolls back."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from sqlalchemy import Engine

from store.decisions import AlreadyDecided, decision_for, record_decision
from store.ingest.load import load_bundle
from tests.conftest import write_bundle

RECS = """
rec_id,rec_type,signal_at,created_at,site,recommended_qty
R1,stockout_risk,2026-01-05T08:00:00Z,2026-01-05T09:00:00Z,P100,120
"""
DECS = """
rec_id,decided_at,decided_by,decision,final_qty,reason
R1,2026-01-05T12:00:00Z,bob,rejected,,not needed
"""


def test_decision_during_the_load_check_waits_and_is_told_it_was_decided(
    pg_engine: Engine, tmp_path: Path
) -> None:
    load_bundle(
        write_bundle(tmp_path / "a", {"recommendations": RECS}), engine=pg_engine, role="admin"
    )
    outcome: dict[str, object] = {}
    started = threading.Event()

    def planner() -> None:
        started.set()
        try:
            outcome["result"] = record_decision(
                pg_engine, "R1", decision="accepted", actor="ana", role="planner"
            )
        except Exception as exc:  # noqa: BLE001 - the outcome is what the test checks
            outcome["error"] = exc

    thread = threading.Thread(target=planner)

    def progress(step: str, _fraction: float) -> None:
        if step.startswith("checking decisions") and not thread.is_alive():
            thread.start()
            started.wait()
            time.sleep(1.0)  # the planner's insert would land here, between check and write

    report = load_bundle(
        write_bundle(tmp_path / "b", {"decisions": DECS, "recommendations": RECS}),
        engine=pg_engine,
        role="admin",
        progress=progress,
    )
    thread.join(timeout=30)
    assert report.loaded["decisions"] == 1 and report.rejected == []
    assert isinstance(outcome.get("error"), AlreadyDecided), outcome
    assert decision_for(pg_engine, "R1")["decided_by"] == "bob"
