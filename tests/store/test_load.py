"""The loader against every contract rule, on SQLite and PostgreSQL (see conftest)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine, text

from store.ingest.bundle import BundleError
from store.ingest.load import load_bundle
from store.reads import import_batches, load_frames, quarantine, table_counts
from tests.conftest import write_bundle

RECS = """
rec_id,rec_type,signal_at,created_at,site,sku,supplier,recommended_qty,confidence,model_version,f_days_of_cover,f_abc
R1,stockout_risk,2025-03-03T08:00:00+01:00,2025-03-03T09:00:00+01:00,P100,S1,SUP-1,100,0.8,v1,2.5,A
R2,stockout_risk,2025-03-04T08:00:00Z,2025-03-04T08:30:00Z,P100,S2,SUP-1,50,0.6,v1,7,B
R3,expedite,2025-03-05T08:00:00Z,2025-03-05T09:00:00Z,P200,S3,SUP-2,,,,1.5,C
"""
DECS = """
rec_id,decided_at,decided_by,decision,final_qty,reason
R1,2025-03-03T12:00:00+01:00,ann,modified,120,supplier late in winter
R2,2025-03-05T08:00:00Z,bob,accepted,,
R3,2025-03-05T10:00:00Z,bob,rejected,,not needed
"""


def _load(engine: Engine, folder: Path, **kw) -> object:
    kw.setdefault("role", "admin")
    return load_bundle(folder, engine=engine, actor="tester", **kw)


def _only(report, table: str) -> list[dict]:
    return [r for r in report.rejected if r["table"] == table]


def test_good_bundle_loads_with_types(engine: Engine, tmp_path: Path) -> None:
    report = _load(
        engine, write_bundle(tmp_path / "b", {"recommendations": RECS, "decisions": DECS})
    )
    assert report.loaded == {"recommendations": 3, "decisions": 3}
    assert report.rejected == []
    frames = load_frames(engine)
    recs = frames.recommendations.set_index("rec_id")
    # 08:00 at +01:00 is 07:00 UTC
    assert recs.loc["R1", "signal_at"] == pd.Timestamp("2025-03-03T07:00:00Z")
    assert recs.loc["R1", "f_days_of_cover"] == 2.5
    assert str(recs["f_abc"].dtype) == "category"
    assert str(recs["site"].dtype) == "category"
    dec = frames.decisions.set_index("rec_id")
    # contract defaults: accepted -> recommended_qty, rejected -> 0
    assert dec.loc["R2", "final_qty"] == 50
    assert dec.loc["R3", "final_qty"] == 0
    assert dec.loc["R1", "reason"] == "supplier late in winter"


@pytest.mark.parametrize(
    ("body", "column", "reason"),
    [
        ("R9,stockout_risk,,2025-03-03T09:00:00Z,P100", "signal_at", "required value missing"),
        (
            "R9,stockout_risk,yesterday,2025-03-03T09:00:00Z,P100",
            "signal_at",
            "not an ISO 8601 timestamp: 'yesterday'",
        ),
        (
            "R9,stockout_risk,2025-03-03T08:00:00Z,2025-03-03T07:00:00Z,P100",
            "created_at",
            "created_at is before signal_at",
        ),
    ],
)
def test_row_rules_on_recommendations(
    engine: Engine, tmp_path: Path, body: str, column: str, reason: str
) -> None:
    csv = (
        "rec_id,rec_type,signal_at,created_at,site\nR8,expedite,2025-03-03T08:00:00Z,2025-03-03T09:00:00Z,P1\n"
        + body
    )
    report = _load(engine, write_bundle(tmp_path / "b", {"recommendations": csv}))
    assert report.loaded == {"recommendations": 1}
    assert report.rejected == [
        {"table": "recommendations", "row": 3, "key": "R9", "column": column, "reason": reason}
    ]


@pytest.mark.parametrize(
    ("qty", "confidence", "column", "reason"),
    [
        ("12x", "0.5", "recommended_qty", "not a number: '12x'"),
        ("-3", "0.5", "recommended_qty", "must be >= 0, got '-3'"),
        ("10", "1.2", "confidence", "must be <= 1, got '1.2'"),
        ("10", "nan", "confidence", "not a number: 'nan'"),
    ],
)
def test_numbers_are_checked_never_coerced(
    engine: Engine, tmp_path: Path, qty: str, confidence: str, column: str, reason: str
) -> None:
    csv = (
        "rec_id,rec_type,signal_at,created_at,site,recommended_qty,confidence\n"
        f"R1,expedite,2025-03-03T08:00:00Z,2025-03-03T09:00:00Z,P1,{qty},{confidence}"
    )
    report = _load(engine, write_bundle(tmp_path / "b", {"recommendations": csv}))
    assert report.loaded == {"recommendations": 0}
    assert report.rejected == [
        {"table": "recommendations", "row": 2, "key": "R1", "column": column, "reason": reason}
    ]


def test_missing_required_column_rejects_every_row(engine: Engine, tmp_path: Path) -> None:
    csv = "rec_id,rec_type,signal_at,created_at\nR1,expedite,2025-03-03T08:00:00Z,2025-03-03T09:00:00Z"
    report = _load(engine, write_bundle(tmp_path / "b", {"recommendations": csv}))
    assert report.loaded == {"recommendations": 0}
    assert report.rejected == [
        {
            "table": "recommendations",
            "row": 2,
            "key": "R1",
            "column": "site",
            "reason": "required column 'site' missing from the file",
        }
    ]


def test_decision_rules(engine: Engine, tmp_path: Path) -> None:
    decs = """
rec_id,decided_at,decided_by,decision,final_qty,reason
R1,2025-03-03T07:30:00Z,ann,accepted,,
R2,2025-03-05T08:00:00Z,bob,Accepted,,
R3,2025-03-05T10:00:00Z,bob,rejected,,
R3,2025-03-05T11:00:00Z,cid,accepted,,
R2,2025-03-05T10:00:00Z,,accepted,,
RX,2025-03-05T10:00:00Z,bob,accepted,,
"""
    recs = RECS
    report = _load(
        engine, write_bundle(tmp_path / "b", {"recommendations": recs, "decisions": decs})
    )
    got = {(r["row"], r["column"], r["reason"]) for r in _only(report, "decisions")}
    assert got == {
        (2, "decided_at", "decided_at is before the recommendation's created_at"),
        (3, "decision", "not one of accepted|modified|rejected|expired: 'Accepted'"),
        (5, "rec_id", "duplicate key: first given at row 4"),
        (6, "decided_by", "required value missing"),
        (6, "rec_id", "duplicate key: first given at row 3"),
        (7, "rec_id", "rec_id 'RX' not found in recommendations"),
    }
    assert report.loaded["decisions"] == 1  # only R3's first decision


def test_modified_needs_final_qty_when_recommendation_has_one(
    engine: Engine, tmp_path: Path
) -> None:
    decs = (
        "rec_id,decided_at,decided_by,decision,final_qty\nR1,2025-03-03T12:00:00Z,ann,modified,\n"
        "R3,2025-03-05T12:00:00Z,ann,modified,"
    )
    report = _load(
        engine, write_bundle(tmp_path / "b", {"recommendations": RECS, "decisions": decs})
    )
    # R3 has no recommended_qty, so a modified decision without final_qty is allowed
    assert report.rejected == [
        {
            "table": "decisions",
            "row": 2,
            "key": "R1",
            "column": "final_qty",
            "reason": "final_qty required for a modified decision when recommended_qty is set",
        }
    ]


def test_rows_depending_on_a_rejected_row_are_rejected_saying_so(
    engine: Engine, tmp_path: Path
) -> None:
    recs = RECS.replace("R2,stockout_risk,2025-03-04T08:00:00Z", "R2,stockout_risk,not-a-date")
    outs = "rec_id,observed_at,actual_qty,stockout\nR2,2025-03-20T00:00:00Z,40,maybe\nR1,2025-03-20T00:00:00Z,110,yes"
    report = _load(
        engine,
        write_bundle(
            tmp_path / "b", {"recommendations": recs, "decisions": DECS, "outcomes": outs}
        ),
    )
    dep = {
        (r["table"], r["row"], r["column"], r["reason"])
        for r in report.rejected
        if r["table"] != "recommendations"
    }
    assert dep == {
        ("decisions", 3, "rec_id", "depends on rejected recommendations row 3"),
        ("outcomes", 2, "rec_id", "depends on rejected recommendations row 3"),
        ("outcomes", 2, "stockout", "not a boolean (true/false/1/0/yes/no): 'maybe'"),
    }
    assert report.loaded == {"recommendations": 2, "decisions": 2, "outcomes": 1}
    frames = load_frames(engine)
    assert bool(frames.outcomes.set_index("rec_id").loc["R1", "stockout"]) is True


def test_bad_rows_are_kept_in_quarantine_with_raw_values(engine: Engine, tmp_path: Path) -> None:
    csv = (
        "rec_id,rec_type,signal_at,created_at,site,recommended_qty\n"
        "R1,expedite,2025-03-03T08:00:00Z,2025-03-03T09:00:00Z,P1,abc"
    )
    report = _load(engine, write_bundle(tmp_path / "b", {"recommendations": csv}))
    q = quarantine(engine)
    assert len(q) == 1
    row = q.iloc[0]
    assert (row["batch_id"], row["table"], row["row"], row["key"], row["column"]) == (
        report.batch_id,
        "recommendations",
        2,
        "R1",
        "recommended_qty",
    )
    assert '"recommended_qty":"abc"' in row["raw"]


def test_reload_adds_nothing(engine: Engine, tmp_path: Path) -> None:
    bundle = write_bundle(tmp_path / "b", {"recommendations": RECS, "decisions": DECS})
    _load(engine, bundle)
    before = table_counts(engine)
    again = _load(engine, bundle)
    assert again.loaded == {"recommendations": 0, "decisions": 0}
    assert again.unchanged == {"recommendations": 3, "decisions": 3}
    assert again.rejected == []
    assert table_counts(engine) == before


def test_same_instant_in_another_spelling_is_unchanged(engine: Engine, tmp_path: Path) -> None:
    _load(engine, write_bundle(tmp_path / "a", {"recommendations": RECS}))
    respelled = RECS.replace("2025-03-03T08:00:00+01:00", "2025-03-03T07:00:00Z").replace(
        ",100,", ",100.0,"
    )
    report = _load(engine, write_bundle(tmp_path / "b", {"recommendations": respelled}))
    assert report.unchanged == {"recommendations": 3}


def test_conflicting_row_is_rejected_never_overwritten(engine: Engine, tmp_path: Path) -> None:
    _load(engine, write_bundle(tmp_path / "a", {"recommendations": RECS, "decisions": DECS}))
    changed = DECS.replace(
        "R1,2025-03-03T12:00:00+01:00,ann,modified,120",
        "R1,2025-03-03T12:00:00+01:00,ann,modified,999",
    )
    extra = "R4,stockout_risk,2025-03-06T08:00:00Z,2025-03-06T09:00:00Z,P100,S4,SUP-1,10,0.7,v1,3,A"
    report = _load(
        engine,
        write_bundle(
            tmp_path / "b", {"recommendations": RECS.strip() + "\n" + extra, "decisions": changed}
        ),
    )
    assert report.loaded == {"recommendations": 1, "decisions": 0}
    assert report.rejected == [
        {
            "table": "decisions",
            "row": 2,
            "key": "R1",
            "column": None,
            "reason": "conflicts with the stored row (from import batch 1); "
            "stored rows are never overwritten",
        }
    ]
    assert load_frames(engine).decisions.set_index("rec_id").loc["R1", "final_qty"] == 120


def test_strict_writes_nothing(engine: Engine, tmp_path: Path) -> None:
    recs = RECS.replace(",0.8,", ",8,")
    report = _load(
        engine,
        write_bundle(tmp_path / "b", {"recommendations": recs, "decisions": DECS}),
        strict=True,
    )
    assert report.strict_failed
    assert report.loaded == {"recommendations": 0, "decisions": 0}
    assert len(report.rejected) == 2  # the bad confidence and the decision depending on it
    assert table_counts(engine)["recommendations"] == 0
    # Nothing loaded, but the refusal is in the import history with its bad rows.
    batches = import_batches(engine)
    assert len(batches) == 1 and batches.iloc[0]["n_rejected"] == 2
    assert batches.iloc[0]["loaded"] == {"recommendations": 0, "decisions": 0}
    assert len(quarantine(engine)) == 2
    with engine.connect() as conn:
        actions = conn.execute(text("SELECT action FROM audit_event")).scalars().all()
    assert actions == ["import_refused"]


def test_load_is_atomic(engine: Engine, tmp_path: Path) -> None:
    bundle = write_bundle(tmp_path / "b", {"recommendations": RECS, "decisions": DECS})

    def boom(table: str) -> None:
        if table == "decisions":
            raise RuntimeError("disk pulled mid-load")

    with pytest.raises(RuntimeError):
        load_bundle(bundle, engine=engine, _after_table=boom, role="admin")
    assert table_counts(engine) == {t: 0 for t in table_counts(engine)}
    with engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM import_batch")).scalar_one() == 0
        assert conn.execute(text("SELECT COUNT(*) FROM audit_event")).scalar_one() == 0
    # and the same bundle then loads cleanly
    assert _load(engine, bundle).loaded == {"recommendations": 3, "decisions": 3}


def test_timestamps_without_offset_read_in_bundle_zone_and_counted(
    engine: Engine, tmp_path: Path
) -> None:
    csv = "rec_id,rec_type,signal_at,created_at,site\nR1,expedite,2025-07-01 08:00:00,2025-07-01T09:00:00+02:00,P1"
    report = _load(
        engine, write_bundle(tmp_path / "b", {"recommendations": csv}), tz="Europe/Berlin"
    )
    assert report.naive_timestamps == {"recommendations.signal_at": 1}
    rec = load_frames(engine).recommendations.iloc[0]
    assert rec["signal_at"] == pd.Timestamp("2025-07-01T06:00:00Z")
    assert import_batches(engine).iloc[0]["naive_timestamps"] == {"recommendations.signal_at": 1}


def test_zip_and_xlsx_bundles(engine: Engine, tmp_path: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("export/recommendations.csv", RECS.strip())
    report = load_bundle({"bundle.zip": buf.getvalue()}, engine=engine, role="admin")
    assert report.loaded == {"recommendations": 3}
    xlsx = tmp_path / "log.xlsx"
    with pd.ExcelWriter(xlsx) as writer:
        pd.read_csv(io.StringIO(DECS.strip()), dtype=str).fillna("").to_excel(
            writer, sheet_name="decisions", index=False
        )
        pd.read_csv(io.StringIO(RECS.strip()), dtype=str).fillna("").to_excel(
            writer, sheet_name="recommendations", index=False
        )
    report = load_bundle(xlsx, engine=engine, role="admin")
    assert report.unchanged["recommendations"] == 3
    assert report.loaded["decisions"] == 3


def test_bundle_without_recommendations_is_refused(engine: Engine, tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="recommendations"):
        _load(engine, write_bundle(tmp_path / "b", {"decisions": DECS}))


def test_extra_columns_are_kept(engine: Engine, tmp_path: Path) -> None:
    csv = "rec_id,rec_type,signal_at,created_at,site,planner_note\nR1,expedite,2025-03-03T08:00:00Z,2025-03-03T09:00:00Z,P1,call Jo"
    _load(engine, write_bundle(tmp_path / "b", {"recommendations": csv}))
    with engine.connect() as conn:
        assert (
            conn.execute(text("SELECT extra FROM recommendations")).scalar_one()
            == '{"planner_note":"call Jo"}'
        )


def test_rows_with_every_feature_or_extra_empty_keep_the_others_aligned(
    engine: Engine, tmp_path: Path
) -> None:
    """A row with no feature snapshot (or no extra values) must not shift later rows' values."""
    csv = (
        "rec_id,rec_type,signal_at,created_at,site,f_days_of_cover,f_abc,planner_note\n"
        "R1,expedite,2025-03-03T08:00:00Z,2025-03-03T09:00:00Z,P1,2.5,A,call Jo\n"
        "R2,expedite,2025-03-04T08:00:00Z,2025-03-04T09:00:00Z,P1,,,\n"
        'R3,expedite,2025-03-05T08:00:00Z,2025-03-05T09:00:00Z,P1,7,"B ""x""",\n'
        "R4,expedite,2025-03-06T08:00:00Z,2025-03-06T09:00:00Z,P1,,C,ask \\ Al\n"
    )
    _load(engine, write_bundle(tmp_path / "b", {"recommendations": csv}))
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT rec_id, features, extra FROM recommendations ORDER BY rec_id")
        ).all()
    assert [tuple(r) for r in rows] == [
        ("R1", '{"f_abc":"A","f_days_of_cover":"2.5"}', '{"planner_note":"call Jo"}'),
        ("R2", None, None),
        ("R3", '{"f_abc":"B \\"x\\"","f_days_of_cover":"7"}', None),
        ("R4", '{"f_abc":"C"}', '{"planner_note":"ask \\\\ Al"}'),
    ]
    recs = load_frames(engine).recommendations.set_index("rec_id")
    assert recs.loc["R3", "f_days_of_cover"] == 7
    assert pd.isna(recs.loc["R2", "f_days_of_cover"]) and pd.isna(recs.loc["R4", "f_days_of_cover"])
    assert recs.loc["R4", "f_abc"] == "C"


def test_import_is_audited(engine: Engine, tmp_path: Path) -> None:
    from store.audit import read_events, verify_chain

    _load(engine, write_bundle(tmp_path / "b", {"recommendations": RECS}))
    events = read_events(engine)
    assert list(events["action"]) == ["import"]
    assert events.iloc[0]["actor"] == "tester"
    assert verify_chain(engine).ok


@pytest.mark.parametrize("copies", [1, 1000])
def test_row_hashes_keep_the_definition_stored_hashes_were_made_with(
    tmp_path: Path, copies: int
) -> None:
    """Re-loading a bundle compares its row hashes with the stored ones, so their definition
    must never drift: hash_pandas_object over the contract columns, missing text as "",
    missing numbers as -1.2345e300, timestamps as UTC microseconds. With a thousand copies
    the ids and feature snapshots are mostly distinct, which is hashed by another path."""
    import numpy as np
    import pyarrow as pa

    from contract.tables import TABLES
    from store.ingest.validate import parse_table, row_hashes

    rows = {
        "rec_id": ["R1", "R2", "R3"],
        "rec_type": ["expedite", "expedite", "stockout_risk"],
        "signal_at": ["2025-03-03T08:00:00Z", "2025-03-04T08:00:00+01:00", ""],
        "created_at": ["2025-03-03T09:00:00Z", "2025-03-04T09:00:00Z", "2025-03-05T09:00:00Z"],
        "site": ["P1", "P1", "P2"],
        "supplier": ["SUP-1", "", "SUP-2"],
        "recommended_qty": ["10", "", "2.5"],
        "f_days_of_cover": ["2.5", "", ""],
    }
    raw = pa.table({k: v * copies for k, v in rows.items()})
    if copies > 1:  # unique ids and feature snapshots, one in three missing
        n = raw.num_rows
        raw = raw.set_column(0, "rec_id", pa.array([f"R{i}" for i in range(n)]))
        cover = [f"{i / 7:.3f}" if i % 3 else "" for i in range(n)]
        raw = raw.set_column(raw.num_columns - 1, "f_days_of_cover", pa.array(cover))
    spec = TABLES["recommendations"]
    frame = parse_table(raw, spec).frame
    cols: dict[str, object] = {}
    for col in spec.columns:
        s = frame[col.name]
        if col.kind in ("timestamp", "date"):
            cols[col.name] = s.dt.tz_localize(None).to_numpy(dtype="datetime64[us]").view("int64")
        elif col.kind in ("float", "int", "bool"):
            cols[col.name] = s.astype("float64").fillna(-1.2345e300).to_numpy()
        else:
            text = s.astype(object)
            cols[col.name] = pd.Series(text.where(text.notna(), "").to_numpy(), dtype=object)
    feats = frame["features"].astype(object)
    cols["features"] = pd.Series(feats.where(feats.notna(), "").to_numpy(), dtype=object)
    expected = pd.util.hash_pandas_object(pd.DataFrame(cols), index=False).to_numpy()
    np.testing.assert_array_equal(row_hashes(frame, spec), expected.view("int64"))


def test_timestamp_spellings_parse_alike_and_odd_ones_are_reported_not_fatal() -> None:
    """The fast Arrow path and the pandas path read every spelling the same; an offset of
    hours only is an offset (it used to crash the load as a "naive" value)."""
    import pyarrow as pa

    from store.ingest.validate import parse_timestamps

    good = [
        "2024-10-01T01:07:46+08:00",
        "2024-10-01 01:07:46-0530",
        "2024-10-01T01:07:46.123456Z",
        "2024-10-01T01:07+02:00",
        "2024-10-01T01:07:46+08",
        "2024-10-01T01:07:46",
    ]
    fast, bad, naive = parse_timestamps(pa.array(good), "Europe/Berlin")
    # an impossible date in the batch sends every value down the pandas path
    slow, bad2, naive2 = parse_timestamps(
        pa.array([*good, "2024-02-30T01:00:00Z"]), "Europe/Berlin"
    )
    assert list(fast) == list(slow[: len(good)])
    assert not bad.any() and list(bad2) == [False] * len(good) + [True]
    assert list(naive) == [False] * 5 + [True] and list(naive2[: len(good)]) == list(naive)
    assert str(fast[4]) == "2024-09-30 17:07:46+00:00"
    assert str(fast[5]) == "2024-09-30 23:07:46+00:00"  # Berlin summer time
    odd = ["2024-10-01T01:07:46+08:00:00", "2024-10-01T23:59:60Z", "soon", "2024-10-01"]
    values, bad3, naive3 = parse_timestamps(pa.array(odd), "UTC")
    assert list(bad3) == [True, True, True, False] and list(naive3) == [False, False, False, True]


def test_first_load_writes_the_snapshot_a_read_of_the_store_would_build(
    engine: Engine, tmp_path: Path
) -> None:
    """Tables empty before a load get their snapshot from the loaded rows; it must be the
    frame that reading the table back from the database gives (after the same Parquet trip)."""
    import io

    from contract.tables import TABLES
    from store.db import data_versions
    from store.reads import _read_table, clear_memo, read_table
    from store.snapshots import snapshot_dir, snapshot_path
    from tests.conftest import SAMPLE

    report = load_bundle(SAMPLE, engine=engine, actor="t", role="admin")
    versions = data_versions(engine)
    written = sorted(p.name for p in snapshot_dir(engine).glob("*.parquet"))
    assert written == sorted(
        snapshot_path(engine, t, versions[t]).name for t, n in report.loaded.items() if n
    )
    assert len(written) == len(TABLES)
    clear_memo()
    for name, spec in TABLES.items():
        from_load = read_table(engine, name)
        buffer = io.BytesIO()
        _read_table(engine, spec).to_parquet(buffer, index=False)
        from_store = pd.read_parquet(buffer)
        assert len(from_load) == report.loaded[name]
        pd.testing.assert_frame_equal(from_load, from_store, check_exact=True, obj=name)
    # a later load appends: that table's next snapshot is built from the store again
    more = RECS.replace("R1,", "X1,").replace("R2,", "X2,").replace("R3,", "X3,")
    load_bundle(
        write_bundle(tmp_path / "more", {"recommendations": more}), engine=engine, role="admin"
    )
    clear_memo()
    assert len(read_table(engine, "recommendations")) == report.loaded["recommendations"] + 3


def test_appending_load_extends_the_snapshot_as_a_read_of_the_store_would(
    engine: Engine, tmp_path: Path
) -> None:
    """A load into a non-empty table writes the new snapshot as the previous one plus the
    loaded rows; it must equal reading the table back from the database."""
    import io

    from contract.tables import TABLES
    from store.db import data_versions
    from store.reads import _read_table, clear_memo, read_table
    from store.snapshots import snapshot_path
    from tests.conftest import SAMPLE

    first = tmp_path / "first"
    first.mkdir()
    recs = pd.read_csv(SAMPLE / "recommendations.csv", dtype=str, keep_default_na=False)
    # every other recommendation first, so appended keys fall between stored ones
    keep = set(recs["rec_id"].iloc[::2])
    for csv in sorted(SAMPLE.glob("*.csv")):
        table = pd.read_csv(csv, dtype=str, keep_default_na=False)
        if "rec_id" in table.columns:
            table = table[table["rec_id"].isin(keep)]
        elif csv.stem != "owners":
            table = table.iloc[: len(table) // 2]
        table.to_csv(first / csv.name, index=False)
    load_bundle(first, engine=engine, actor="t", role="admin")
    report = load_bundle(SAMPLE, engine=engine, actor="t", role="admin")
    appended = [t for t, n in report.loaded.items() if n and report.unchanged.get(t)]
    assert {"recommendations", "decisions", "orders"} <= set(appended)
    versions = data_versions(engine)
    for name in appended:  # the new version's snapshot, written by the load itself
        assert snapshot_path(engine, name, versions[name]).exists(), name
    clear_memo()
    for name in appended:
        buffer = io.BytesIO()
        _read_table(engine, TABLES[name]).to_parquet(buffer, index=False)
        pd.testing.assert_frame_equal(
            read_table(engine, name), pd.read_parquet(buffer), check_exact=True, obj=name
        )


def test_decisions_in_a_later_bundle_are_checked_against_the_stored_recommendations(
    engine: Engine, tmp_path: Path
) -> None:
    """A later load reads back only the stored rows its keys name; the checks against them
    (reference, time order, conflicts) must be those against the whole store."""
    _load(engine, write_bundle(tmp_path / "a", {"recommendations": RECS}))
    decs = """
rec_id,decided_at,decided_by,decision,final_qty,reason
R1,2025-03-03T07:30:00Z,ann,accepted,,
R2,2025-03-05T08:00:00Z,bob,accepted,,
RX,2025-03-05T10:00:00Z,bob,accepted,,
"""
    other = RECS.strip().splitlines()[0] + "\n" + RECS.strip().splitlines()[1].replace("R1,", "R4,")
    report = _load(
        engine, write_bundle(tmp_path / "b", {"recommendations": other, "decisions": decs})
    )
    assert {(r["row"], r["column"], r["reason"]) for r in report.rejected} == {
        (2, "decided_at", "decided_at is before the recommendation's created_at"),
        (4, "rec_id", "rec_id 'RX' not found in recommendations"),
    }
    assert report.loaded == {"recommendations": 1, "decisions": 1}
    changed = RECS.replace("R3,expedite,", "R3,stockout_risk,")
    again = _load(engine, write_bundle(tmp_path / "c", {"recommendations": changed}))
    assert again.unchanged == {"recommendations": 2}
    assert [(r["key"], r["reason"][:29]) for r in again.rejected] == [
        ("R3", "conflicts with the stored row")
    ]


def test_snapshots_of_a_recreated_database_are_not_the_old_ones(tmp_path: Path) -> None:
    from store.db import dispose_engine, get_engine
    from store.reads import clear_memo

    url = f"sqlite:///{tmp_path / 'store.db'}"
    first = RECS
    second = RECS.replace("P100,S1", "P999,S1")
    for body, site in ((first, "P100"), (second, "P999")):
        engine = get_engine(url)
        _load(engine, write_bundle(tmp_path / site, {"recommendations": body}))
        recs = load_frames(engine).recommendations.set_index("rec_id")
        # Same URL, same data version (1) both times: only the store's identity differs.
        assert recs.loc["R1", "site"] == site
        dispose_engine(url)
        clear_memo()
        (tmp_path / "store.db").unlink()
