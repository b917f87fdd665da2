"""Health findings count stored rows, not how often they were loaded (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from sqlalchemy import Engine

from analytics.governance import health
from analytics.governance.gates import data_foundation_gate
from store.ingest.load import load_bundle
from store.reads import import_batches, load_frames
from tests.conftest import write_bundle

RECS = """
rec_id,rec_type,signal_at,created_at,site
R1,expedite,2025-07-01 08:00:00,2025-07-01T09:00:00Z,P1
R2,expedite,2025-07-02T08:00:00Z,2025-07-02 09:00:00,P1
R3,expedite,2025-07-03T08:00:00Z,2025-07-03T09:00:00Z,P1
"""
MORE = RECS + "R4,expedite,2025-07-04 08:00:00,2025-07-04T09:00:00Z,P1\n"


def _naive(engine: Engine) -> dict:
    return health.naive_timestamps(import_batches(engine))


def test_reloading_a_bundle_does_not_inflate_the_naive_timestamp_finding(
    engine: Engine, tmp_path: Path
) -> None:
    bundle = write_bundle(tmp_path / "b", {"recommendations": RECS})
    for _ in range(3):  # the same bundle, nothing added
        load_bundle(bundle, engine=engine, actor="tester", role="admin")
    finding = _naive(engine)
    # Stored: R1's signal_at and R2's created_at came without an offset — 2 values, once.
    assert finding["value"] == 2
    assert finding["columns"] == {
        "recommendations.signal_at": 1,
        "recommendations.created_at": 1,
    }
    assert finding["detail"].startswith("2 values had no offset")
    # One more row with a naive signal_at, and the three stored ones again: 2 + 1.
    load_bundle(
        write_bundle(tmp_path / "c", {"recommendations": MORE}),
        engine=engine,
        actor="tester",
        role="admin",
    )
    assert _naive(engine)["value"] == 3
    # The readiness gate quotes the same stored-row figure.
    recs = load_frames(engine).recommendations
    gate = data_foundation_gate(
        recs, import_batches(engine), now=pd.Timestamp("2025-07-05", tz="UTC")
    )
    tz_check = next(c for c in gate["evidence"]["checks"] if c["check"] == "time zones")
    assert tz_check["value"] == 3 and tz_check["detail"].startswith("3 values had no offset")


def test_rejected_rows_do_not_count_as_stored_naive_values(engine: Engine, tmp_path: Path) -> None:
    # R9's created_at is before its (naive) signal_at: the row is quarantined, not stored.
    bad = RECS + "R9,expedite,2025-07-09 08:00:00,2025-07-01T09:00:00Z,P1\n"
    load_bundle(write_bundle(tmp_path / "b", {"recommendations": bad}), engine=engine, role="admin")
    assert _naive(engine)["value"] == 2
