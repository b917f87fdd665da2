"""Import history reads back when each import ran, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from sqlalchemy import Engine, text

from store.ingest.load import load_bundle
from store.reads import import_batches
from tests.conftest import write_bundle

RECS = """
rec_id,rec_type,signal_at,created_at,site
R1,expedite,2025-07-01T08:00:00Z,2025-07-01T09:00:00Z,P1
"""


def test_started_and_finished_are_the_moments_of_the_load(engine: Engine, tmp_path: Path) -> None:
    before = pd.Timestamp.now(tz="UTC")
    load_bundle(
        write_bundle(tmp_path / "b", {"recommendations": RECS}), engine=engine, role="admin"
    )
    after = pd.Timestamp.now(tz="UTC")
    row = import_batches(engine).iloc[0]
    # Not 1970-01-21 (microseconds read as nanoseconds), not text.
    assert before - pd.Timedelta(seconds=1) <= row["started_at"] <= row["finished_at"]
    assert row["finished_at"] <= after + pd.Timedelta(seconds=1)
    assert str(import_batches(engine)["started_at"].dtype) == "datetime64[us, UTC]"


def test_a_finished_at_stored_as_text_by_an_older_version_still_reads(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    load_bundle(
        write_bundle(tmp_path / "b", {"recommendations": RECS}), engine=sqlite_engine, role="admin"
    )
    with sqlite_engine.begin() as conn:
        conn.execute(text("UPDATE import_batch SET finished_at = '2026-11-30 10:15:00.500000'"))
    row = import_batches(sqlite_engine).iloc[0]
    assert row["finished_at"] == pd.Timestamp("2026-11-30 10:15:00.5", tz="UTC")
