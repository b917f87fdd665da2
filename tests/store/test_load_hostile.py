"""Hostile or broken bundles: refused per row or per file with a reason, never stored
wrong, never a traceback (issue 17). Store-facing tests run on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import struct
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine

from store.ingest.bundle import BundleError, read_bundle_checked
from store.ingest.load import load_bundle
from store.reads import import_batches, load_frames, quarantine, table_counts
from tests.conftest import write_bundle

HEAD = "rec_id,rec_type,signal_at,created_at,site"
GOOD = "R1,expedite,2025-03-03T08:00:00Z,2025-03-03T09:00:00Z,P1"


def _load(engine: Engine, source, **kw):  # type: ignore[no-untyped-def]
    kw.setdefault("role", "admin")
    return load_bundle(source, engine=engine, actor="tester", **kw)


def _reasons(report, table: str = "recommendations") -> list[tuple[int | None, str | None, str]]:  # type: ignore[no-untyped-def]
    return [(r["row"], r["column"], r["reason"]) for r in report.rejected if r["table"] == table]


# --- instants and numbers ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("signal", "created"),
    [
        ("9999-12-31T23:00:00-05:00", "9999-12-31T23:30:00-05:00"),  # year 10000 in UTC
        ("0000-01-01T00:00:00Z", "2025-01-01T00:00:00Z"),
        ("1899-12-31T23:59:59Z", "2025-01-01T00:00:00Z"),
        ("2200-01-01T00:00:00Z", "2200-01-02T00:00:00Z"),
    ],
)
def test_instants_outside_the_sane_years_are_bad_rows_and_the_store_stays_readable(
    engine: Engine, tmp_path: Path, signal: str, created: str
) -> None:
    csv = f"{HEAD}\n{GOOD}\nR2,expedite,{signal},{created},P1"
    report = _load(engine, write_bundle(tmp_path / "b", {"recommendations": csv}))
    assert report.loaded == {"recommendations": 1}
    rows = _reasons(report)
    assert rows and all(row == 3 for row, _, _ in rows)
    assert any(col == "signal_at" for _, col, _ in rows)
    # Every read still works, and only the good row is there.
    recs = load_frames(engine).recommendations
    assert list(recs["rec_id"]) == ["R1"]


def test_years_at_the_edges_of_the_window_load(engine: Engine, tmp_path: Path) -> None:
    csv = f"{HEAD}\nR1,expedite,1900-01-01T00:00:00Z,2199-12-31T23:59:59Z,P1"
    report = _load(engine, write_bundle(tmp_path / "b", {"recommendations": csv}))
    assert report.rejected == [] and report.loaded == {"recommendations": 1}


@pytest.mark.parametrize(
    ("column", "value", "reason"),
    [
        ("recommended_qty", "1e309", "too large to store: '1e309'"),
        ("score", "-1e309", "too large to store: '-1e309'"),
        ("est_impact_usd", "1e-400", "too small to store (reads as 0): '1e-400'"),
        ("confidence", "inf", "not a number: 'inf'"),
    ],
)
def test_non_finite_and_underflowing_numbers_are_bad_rows(
    engine: Engine, tmp_path: Path, column: str, value: str, reason: str
) -> None:
    csv = f"{HEAD},{column}\n{GOOD},{value}"
    report = _load(engine, write_bundle(tmp_path / "b", {"recommendations": csv}), strict=True)
    assert report.strict_failed
    assert _reasons(report) == [(2, column, reason)]
    assert table_counts(engine)["recommendations"] == 0


def test_zero_written_many_ways_is_still_zero(engine: Engine, tmp_path: Path) -> None:
    csv = f"{HEAD},recommended_qty,score\n{GOOD},0.000e-400,-0"
    report = _load(engine, write_bundle(tmp_path / "b", {"recommendations": csv}))
    assert report.rejected == []
    assert load_frames(engine).recommendations.iloc[0]["recommended_qty"] == 0


def test_whole_number_too_large_for_int64_is_a_bad_row(engine: Engine, tmp_path: Path) -> None:
    kpis = "period_start,site,cogs_usd,stockout_events\n2024-02-01,P1,10,1e20\n2024-03-01,P1,10,3"
    report = _load(
        engine,
        write_bundle(tmp_path / "b", {"recommendations": f"{HEAD}\n{GOOD}", "kpi_periods": kpis}),
    )
    assert _reasons(report, "kpi_periods") == [
        (2, "stockout_events", "whole number beyond ±9007199254740992: '1e20'")
    ]
    kp = load_frames(engine).kpi_periods
    assert kp["stockout_events"].tolist() == [3]


def test_dates_are_calendar_dates_never_moved_by_the_zone(engine: Engine, tmp_path: Path) -> None:
    kpis = "period_start,site,cogs_usd\n2024-02-01,P1,10"
    orders = (
        "order_id,site,qty_ordered,promised_date,delivered_date\n"
        "O1,P1,5,2024-02-01,2024-02-03T23:30:00-02:00"
    )
    report = _load(
        engine,
        write_bundle(
            tmp_path / "b",
            {"recommendations": f"{HEAD}\n{GOOD}", "kpi_periods": kpis, "orders": orders},
        ),
        tz="Europe/Berlin",
    )
    assert report.rejected == []
    frames = load_frames(engine)
    assert frames.kpi_periods.iloc[0]["period_start"] == pd.Timestamp("2024-02-01", tz="UTC")
    assert frames.orders.iloc[0]["promised_date"] == pd.Timestamp("2024-02-01", tz="UTC")
    # the date as written, not 2024-02-04 (its UTC instant)
    assert frames.orders.iloc[0]["delivered_date"] == pd.Timestamp("2024-02-03", tz="UTC")
    assert report.naive_timestamps == {}


def test_local_time_repeated_by_a_clock_change_is_named_so(engine: Engine, tmp_path: Path) -> None:
    csv = f"{HEAD}\nR1,expedite,2024-10-27 02:30:00,2024-10-27T05:00:00Z,P1"
    report = _load(
        engine, write_bundle(tmp_path / "b", {"recommendations": csv}), tz="Europe/Berlin"
    )
    assert _reasons(report) == [
        (
            2,
            "signal_at",
            "local time skipped or repeated by a clock change in Europe/Berlin; "
            "give its UTC offset: '2024-10-27 02:30:00'",
        )
    ]


def test_unknown_time_zone_is_a_usage_error(engine: Engine, tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="unknown time zone 'Mars/Olympus'"):
        _load(
            engine,
            write_bundle(tmp_path / "b", {"recommendations": f"{HEAD}\n{GOOD}"}),
            tz="Mars/Olympus",
        )


# --- keys and decisions ---------------------------------------------------------------------


def test_rec_id_is_trimmed_so_a_trailing_space_is_the_same_id(
    engine: Engine, tmp_path: Path
) -> None:
    csv = f"{HEAD}\n R1 ,expedite,2025-03-03T08:00:00Z,2025-03-03T09:00:00Z,P1\n{GOOD}"
    decs = "rec_id,decided_at,decided_by,decision\nR1  ,2025-03-03T10:00:00Z,ann,accepted"
    report = _load(
        engine, write_bundle(tmp_path / "b", {"recommendations": csv, "decisions": decs})
    )
    assert _reasons(report) == [(3, "rec_id", "duplicate key: first given at row 2")]
    assert list(load_frames(engine).recommendations["rec_id"]) == ["R1"]
    assert list(load_frames(engine).decisions["rec_id"]) == ["R1"]


def test_loader_refuses_the_decisions_the_app_refuses(engine: Engine, tmp_path: Path) -> None:
    recs = f"{HEAD},recommended_qty\n" + "\n".join(
        f"R{i},expedite,2025-03-03T08:00:00Z,2025-03-03T09:00:00Z,P1,100" for i in range(1, 6)
    )
    decs = """rec_id,decided_at,decided_by,decision,final_qty,reason
R1,2025-03-03T10:00:00Z,ann,accepted,80,
R2,2025-03-03T10:00:00Z,ann,rejected,40,not needed
R3,2025-03-03T10:00:00Z,ann,accepted,100,
R4,2025-03-03T10:00:00Z,ann,rejected,0,not needed
R5,2025-03-03T10:00:00Z,ann,accepted,,"""
    report = _load(
        engine, write_bundle(tmp_path / "b", {"recommendations": recs, "decisions": decs})
    )
    assert _reasons(report, "decisions") == [
        (
            2,
            "final_qty",
            "accepted means done as proposed: final_qty is not the recommended_qty "
            "(record it as modified)",
        ),
        (
            3,
            "final_qty",
            "rejected means not done: final_qty must be empty or 0 (record it as modified)",
        ),
    ]
    assert report.loaded["decisions"] == 3


def test_nul_byte_is_a_row_problem_on_every_store(engine: Engine, tmp_path: Path) -> None:
    csv = f"{HEAD},action\n{GOOD},ok\nR2,expedite,2025-03-03T08:00:00Z,2025-03-03T09:00:00Z,P1,bad\x00text"
    decs = (
        "rec_id,decided_at,decided_by,decision,reason\nR1,2025-03-03T10:00:00Z,ann\x00,rejected,x"
    )
    report = _load(
        engine, write_bundle(tmp_path / "b", {"recommendations": csv, "decisions": decs})
    )
    assert _reasons(report) == [
        (3, "action", "contains a NUL byte (\\0), which the store cannot keep")
    ]
    assert [r[:2] for r in _reasons(report, "decisions")] == [(2, "decided_by")]
    assert report.loaded == {"recommendations": 1, "decisions": 0}
    assert len(quarantine(engine)) == 2


# --- rows the parser cannot split, and line numbers -----------------------------------------


def test_ragged_row_is_reported_and_the_rest_loads(engine: Engine, tmp_path: Path) -> None:
    csv = (
        f"{HEAD},action\n"
        f"{GOOD},one\n"
        "\n"
        'R2,expedite,2025-03-03T08:00:00Z,2025-03-03T09:00:00Z,P1,"two\nlines"\n'
        "R3,expedite,2025-03-03T08:00:00Z,2025-03-03T09:00:00Z,P1,x,EXTRA\n"
        "R4,expedite,yesterday,2025-03-03T09:00:00Z,P1,four\n"
    )
    folder = tmp_path / "b"
    folder.mkdir()
    (folder / "recommendations.csv").write_text(csv, encoding="utf-8")
    report = _load(engine, folder)
    assert report.loaded == {"recommendations": 2}
    # the file's own lines: R3 is on line 6 (after a blank line and a two-line value)
    assert _reasons(report) == [
        (6, None, "has 7 fields, the header has 6"),
        (7, "signal_at", "not an ISO 8601 timestamp: 'yesterday'"),
    ]
    q = quarantine(engine)
    assert sorted(q["row"].tolist()) == [6, 7]


def test_a_very_long_row_loads(engine: Engine, tmp_path: Path) -> None:
    long_action = "x" * 3_000_000
    csv = f"{HEAD},action\n{GOOD},{long_action}\nR2,expedite,2025-03-03T08:00:00Z,2025-03-03T09:00:00Z,P1,y"
    report = _load(engine, write_bundle(tmp_path / "b", {"recommendations": csv}))
    assert report.loaded == {"recommendations": 2}


# --- file-level problems -----------------------------------------------------------------


def test_duplicated_csv_header_refuses_the_file_naming_the_column(
    engine: Engine, tmp_path: Path
) -> None:
    decs = "rec_id,decided_at,decided_by,decision,decision\nR1,2025-03-03T10:00:00Z,ann,accepted,rejected"
    report = _load(
        engine,
        write_bundle(tmp_path / "b", {"recommendations": f"{HEAD}\n{GOOD}", "decisions": decs}),
    )
    assert [p.to_json() for p in report.file_problems] == [
        {
            "file": "decisions.csv",
            "table": "decisions",
            "column": "decision",
            "reason": "column 'decision' appears 2 times in the header; each column must be named once",
            "level": "refused",
        }
    ]
    assert report.loaded == {"recommendations": 1}
    assert report.to_json()["file_problems"][0]["level"] == "refused"


def test_duplicated_header_in_recommendations_refuses_the_bundle(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="column 'site' appears 2 times"):
        read_bundle_checked(
            write_bundle(tmp_path / "b", {"recommendations": f"{HEAD},site\n{GOOD},P2"})
        )


def test_semicolon_file_is_one_file_level_problem(engine: Engine, tmp_path: Path) -> None:
    decs = "rec_id;decided_at;decided_by;decision\nR1;2025-03-03T10:00:00Z;ann;accepted"
    report = _load(
        engine,
        write_bundle(tmp_path / "b", {"recommendations": f"{HEAD}\n{GOOD}", "decisions": decs}),
    )
    assert report.rejected == []
    (problem,) = report.file_problems
    assert problem.refused and problem.table == "decisions"
    assert "looks ';'-separated" in problem.reason


def test_table_names_match_in_any_case(engine: Engine, tmp_path: Path) -> None:
    decs = "rec_id,decided_at,decided_by,decision\nR1,2025-03-03T10:00:00Z,ann,accepted"
    report = _load(
        engine,
        {"Recommendations.csv": f"{HEAD}\n{GOOD}".encode(), "decisions.CSV": decs.encode()},
    )
    assert report.loaded == {"recommendations": 1, "decisions": 1}
    assert report.file_problems == []


def test_unrecognised_files_and_near_miss_headers_warn_and_strict_refuses(
    engine: Engine, tmp_path: Path
) -> None:
    recs = f"{HEAD},recommended_quantity,Confidence,sku \n{GOOD},5,0.5,S1"
    source = {
        "recommendations.csv": recs.encode(),
        "decision.csv": b"rec_id\nR1\n",
        "notes.txt": b"hello",
    }
    report = _load(engine, source)
    warnings = {(p.file, p.column): p.reason for p in report.file_problems}
    assert (
        warnings[("decision.csv", None)]
        == "not a contract table, not read (did you mean decisions.csv?)"
    )
    assert warnings[("notes.txt", None)] == "not a contract table, not read"
    assert (
        "did you mean recommended_qty?" in warnings[("recommendations.csv", "recommended_quantity")]
    )
    assert "did you mean confidence?" in warnings[("recommendations.csv", "Confidence")]
    assert "did you mean sku?" in warnings[("recommendations.csv", "sku ")]
    assert not any(p.refused for p in report.file_problems)
    assert report.loaded == {"recommendations": 1}
    strict = _load(engine, source, strict=True)
    assert strict.strict_failed and strict.loaded == {"recommendations": 0}
    assert import_batches(engine)["loaded"].iloc[0] == {"recommendations": 0}


def _zip(entries: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=method) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_back_slash_zip_paths_load_and_nested_zips_warn(engine: Engine) -> None:
    inner = _zip({"decisions.csv": b"rec_id\n"})
    data = _zip({"export\\Recommendations.csv": f"{HEAD}\n{GOOD}".encode(), "more.zip": inner})
    report = _load(engine, {"bundle.zip": data})
    assert report.loaded == {"recommendations": 1}
    assert [(p.file, p.reason) for p in report.file_problems] == [
        ("bundle.zip:more.zip", "a zip inside the bundle is not read: unzip it and load its files")
    ]
    assert _load(engine, {"bundle.zip": data}, strict=True).strict_failed


def test_zip_bomb_is_refused_before_it_is_inflated(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    bomb = _zip({"recommendations.csv": f"{HEAD}\n".encode() + b"0" * 50_000_000})
    assert len(bomb) < 200_000
    with pytest.raises(BundleError, match="likely zip bomb"):
        read_bundle_checked({"b.zip": bomb})
    monkeypatch.setenv("WORKBENCH_MAX_UNZIPPED_MB", "1")
    with pytest.raises(BundleError, match="over the 1 MB limit"):
        read_bundle_checked({"b.zip": bomb})


def test_ignored_zip_entries_are_never_inflated(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("WORKBENCH_MAX_UNZIPPED_MB", "1")
    data = _zip({"recommendations.csv": f"{HEAD}\n{GOOD}".encode(), "junk.bin": b"0" * 50_000_000})
    tables, problems = read_bundle_checked({"b.zip": data})
    assert tables["recommendations"].num_rows == 1
    assert [p.file for p in problems] == ["b.zip:junk.bin"]


def _patch(data: bytes, field: tuple[int, int], value: int) -> bytes:
    """Set a 2-byte field of every local header and central-directory entry (offsets in each)."""
    out = bytearray(data)
    for sig, offset in zip((b"PK\x03\x04", b"PK\x01\x02"), field, strict=True):
        start = 0
        while (pos := out.find(sig, start)) >= 0:
            out[pos + offset : pos + offset + 2] = struct.pack("<H", value)
            start = pos + 4
    return bytes(out)


def test_encrypted_and_unknown_compression_entries_are_refused_with_a_reason() -> None:
    plain = _zip({"recommendations.csv": f"{HEAD}\n{GOOD}".encode()}, zipfile.ZIP_STORED)
    with pytest.raises(BundleError, match="is encrypted"):
        read_bundle_checked({"b.zip": _patch(plain, (6, 8), 0x1)})
    with pytest.raises(BundleError, match="compression method 99"):
        read_bundle_checked({"b.zip": _patch(plain, (8, 10), 99)})


# --- workbooks ------------------------------------------------------------------------------


def _workbook(tmp_path: Path, rows: list[list[object]], sheet: str = "recommendations") -> Path:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = sheet
    for row in rows:
        ws.append(row)
    path = tmp_path / "log.xlsx"
    wb.save(path)
    return path


def test_xlsx_sheet_any_case_numeric_ids_keep_their_text(engine: Engine, tmp_path: Path) -> None:
    head = HEAD.split(",")
    path = _workbook(
        tmp_path,
        [head, [1001, "expedite", "2025-03-03T08:00:00Z", "2025-03-03T09:00:00Z", 100]],
        sheet="Recommendations",
    )
    report = _load(engine, path)
    assert report.rejected == [] and report.loaded == {"recommendations": 1}
    rec = load_frames(engine).recommendations.iloc[0]
    assert rec["rec_id"] == "1001" and rec["site"] == "100"


def test_xlsx_duplicate_header_formula_and_na_cells_are_problems(
    engine: Engine, tmp_path: Path
) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "recommendations"
    ws.append([*HEAD.split(","), "score"])
    ws.append(["R1", "expedite", "2025-03-03T08:00:00Z", "2025-03-03T09:00:00Z", "P1", "=1+1"])
    ws.append(["R2", "expedite", "2025-03-03T08:00:00Z", "2025-03-03T09:00:00Z", "P1", "#N/A"])
    ws.append(["R3", "expedite", "2025-03-03T08:00:00Z", "2025-03-03T09:00:00Z", "P1", 3])
    dec = wb.create_sheet("decisions")
    dec.append(["rec_id", "decided_at", "decided_by", "decision", "decided_by"])
    dec.append(["R3", "2025-03-03T10:00:00Z", "ann", "accepted", "bob"])
    path = tmp_path / "log.xlsx"
    wb.save(path)
    report = _load(engine, path)
    assert _reasons(report) == [
        (
            2,
            "score",
            "formula without a saved result (open and save the workbook in Excel, or paste values)",
        ),
        (3, "score", "Excel error #N/A"),
    ]
    assert [(p.table, p.column, p.refused) for p in report.file_problems] == [
        ("decisions", "decided_by", True)
    ]
    assert report.loaded == {"recommendations": 1}


def test_reads_survive_a_bad_instant_an_older_release_stored(
    engine: Engine, tmp_path: Path
) -> None:
    import contextlib
    import io

    from sqlalchemy import text

    import cli
    from store.reads import clear_memo

    csv = f"{HEAD},model_version\n{GOOD},v1\nR2,expedite,2025-03-03T08:00:00Z,2025-03-03T09:00:00Z,P1,v1"
    _load(engine, write_bundle(tmp_path / "b", {"recommendations": csv}))
    year_10000 = (
        "253402318800000000 + 14400000000"
        if engine.dialect.name == "sqlite"
        else "TIMESTAMPTZ '10000-01-01 04:00:00+00'"
    )
    with engine.begin() as conn:
        conn.execute(
            text(f"UPDATE recommendations SET signal_at = {year_10000}, created_at = {year_10000} "
                 "WHERE rec_id = 'R2'")
        )  # fmt: skip
        conn.execute(
            text(
                "UPDATE data_version SET version = version + 1 WHERE table_name = 'recommendations'"
            )
        )
    clear_memo()
    recs = load_frames(engine).recommendations.set_index("rec_id")
    assert pd.isna(recs.loc["R2", "signal_at"]) and not pd.isna(recs.loc["R1", "signal_at"])
    url = engine.url.render_as_string(hide_password=False)
    for command in ("info", "gates"):
        with contextlib.redirect_stdout(io.StringIO()):
            assert cli.main([command, "--json", "--db", url]) in (0, 1)
