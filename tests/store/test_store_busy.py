"""A decision while a SQLite load holds the write lock (issue 17): a clear "store is busy"
message after a bounded wait and one retry — not a traceback after 30 s — and the
decision records once the load is done."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import Engine

import store.decisions
from store.decisions import StoreBusy, decision_for, record_decision
from store.ingest.load import load_bundle
from tests.conftest import write_bundle

RECS = """
rec_id,rec_type,signal_at,created_at,site,recommended_qty
R1,stockout_risk,2026-01-05T08:00:00Z,2026-01-05T09:00:00Z,P100,120
"""


def test_decision_during_a_load_says_busy_then_records(
    sqlite_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_bundle(
        write_bundle(tmp_path / "b", {"recommendations": RECS}), engine=sqlite_engine, role="admin"
    )
    monkeypatch.setattr(store.decisions, "BUSY_SECONDS", 0.2)
    loader = sqlite3.connect(sqlite_engine.url.database, isolation_level=None)
    loader.execute("BEGIN IMMEDIATE")  # what a long load holds
    try:
        with pytest.raises(StoreBusy, match="the store is busy loading a bundle"):
            record_decision(sqlite_engine, "R1", decision="accepted", actor="ana", role="planner")
    finally:
        loader.execute("ROLLBACK")
        loader.close()
    assert decision_for(sqlite_engine, "R1") is None
    out = record_decision(sqlite_engine, "R1", decision="accepted", actor="ana", role="planner")
    assert out["final_qty"] == 120.0
