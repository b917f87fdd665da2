"""SQLite loads staged through ADBC store exactly what the direct insert stores."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pyarrow as pa
import pytest
from sqlalchemy import Engine, text

from contract.tables import TABLES
from store.db import dispose_engine, get_engine
from store.ingest import load as load_module
from store.ingest import staging
from store.ingest.load import load_bundle
from store.reads import clear_memo
from tests.conftest import SAMPLE, write_bundle
from tests.store.test_load import DECS, RECS

pytestmark = pytest.mark.skipif(not staging.available(), reason="ADBC SQLite driver missing")


def _engine(path: Path) -> Engine:
    return get_engine(f"sqlite:///{path}")


def _dump(engine: Engine) -> dict[str, list[tuple]]:
    """Every stored value of the contract tables and quarantine as its SQL literal
    (``quote()`` tells 1 from 1.0 and '1'), in insertion order."""
    out = {}
    with engine.connect() as conn:
        for table in [*TABLES, "quarantine"]:
            cols = [r[1] for r in conn.exec_driver_sql(f'PRAGMA table_info("{table}")')]
            quoted = ", ".join(f'quote("{c}")' for c in cols)
            order = "rowid" if table == "quarantine" else ", ".join(TABLES[table].key)
            out[table] = [
                tuple(r)
                for r in conn.exec_driver_sql(f'SELECT {quoted} FROM "{table}" ORDER BY {order}')
            ]
    return out


@pytest.mark.parametrize("chunk_rows", [staging.CHUNK_ROWS, 997])
def test_staged_load_stores_exactly_what_the_direct_insert_stores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk_rows: int
) -> None:
    # 997 rows a chunk: every table of the sample goes in chunks, more than SQLite lets one
    # connection attach files for, so the chunks are capped by the files left (one per table).
    monkeypatch.setattr(staging, "CHUNK_ROWS", chunk_rows)
    attached: list[int] = []
    real_insert = staging.Stage.insert

    def insert(self: staging.Stage, *args: object, **kw: object) -> int:
        n = real_insert(self, *args, **kw)  # type: ignore[arg-type]
        attached.append(len(self._attached))
        return n

    monkeypatch.setattr(staging.Stage, "insert", insert)
    staged, direct = _engine(tmp_path / "staged.db"), _engine(tmp_path / "direct.db")
    try:
        a = load_bundle(SAMPLE, engine=staged, actor="t", role="admin")
        if chunk_rows < 1000:
            assert max(attached) == 10 and len(attached) == 10  # all the slots, and no more
        else:
            assert len(attached) == len([n for n in a.loaded.values() if n])
        with monkeypatch.context() as m:
            m.setattr(staging, "adbc_sqlite", None)
            assert not staging.available()
            b = load_bundle(SAMPLE, engine=direct, actor="t", role="admin")
        assert a.loaded == b.loaded and a.rejected == b.rejected
        assert sum(a.loaded.values()) > 20_000
        dump_a, dump_b = _dump(staged), _dump(direct)
        for table in dump_a:
            assert dump_a[table] == dump_b[table], table
        # and each path sees the other's rows as the same rows
        assert load_bundle(SAMPLE, engine=direct, actor="t", role="admin").unchanged == a.loaded
    finally:
        dispose_engine(f"sqlite:///{tmp_path / 'staged.db'}")
        dispose_engine(f"sqlite:///{tmp_path / 'direct.db'}")
        clear_memo()


@pytest.mark.parametrize("fail", [False, True])
def test_scratch_files_are_detached_and_deleted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fail: bool
) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    url = f"sqlite:///{tmp_path / 'store.db'}"
    engine = get_engine(url)
    bundle = write_bundle(tmp_path / "b", {"recommendations": RECS, "decisions": DECS})

    def boom(table: str) -> None:
        if fail and table == "decisions":
            raise RuntimeError("disk pulled mid-load")

    try:
        if fail:
            with pytest.raises(RuntimeError):
                load_bundle(bundle, engine=engine, _after_table=boom, role="admin")
        else:
            assert load_bundle(bundle, engine=engine, role="admin").loaded == {
                "recommendations": 3,
                "decisions": 3,
            }
        assert list(scratch.iterdir()) == []
        with engine.connect() as conn:
            attached = [r[1] for r in conn.exec_driver_sql("PRAGMA database_list")]
            n = conn.execute(text("SELECT COUNT(*) FROM recommendations")).scalar_one()
        assert [a for a in attached if a.startswith("stage_")] == []
        assert n == (0 if fail else 3)
    finally:
        dispose_engine(url)
        clear_memo()


def test_arrow_values_are_the_driver_values() -> None:
    """Each kind becomes what Python's sqlite3 would bind: micros, NULL for NaN/NA, 0/1."""
    import pandas as pd

    spec = TABLES["recommendations"]
    frame = pd.DataFrame(
        {
            "created_at": pd.to_datetime(["2025-03-03T08:00:00Z", None], utc=True),
            "confidence": [0.5, float("nan")],
            "row_hash": [-(2**63) + 5, 2**63 - 7],
            "rec_id": pd.array(["R1", None], dtype="string"),
        }
    )
    table = staging.arrow_rows(spec, frame, list(frame.columns))
    assert table.column("created_at").to_pylist() == [1740988800000000, None]
    assert table.column("confidence").to_pylist() == [0.5, None]
    assert table.column("row_hash").to_pylist() == [-(2**63) + 5, 2**63 - 7]
    assert table.column("rec_id").type == pa.string()
    assert table.column("rec_id").to_pylist() == ["R1", None]


def test_stale_scratch_of_a_killed_load_is_cleaned_on_the_next_load(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    from store.ingest.staging import SCRATCH_PREFIX, clean_stale_scratch

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    killed = tmp_path / f"{SCRATCH_PREFIX}killed"
    killed.mkdir()
    (killed / "pid").write_text(dead.stdout.strip())
    (killed / "recommendations.db").write_bytes(b"x" * 1000)
    live = tmp_path / f"{SCRATCH_PREFIX}live"
    live.mkdir()
    (live / "pid").write_text(str(os.getppid()))
    unknown = tmp_path / f"{SCRATCH_PREFIX}fresh"
    unknown.mkdir()
    assert clean_stale_scratch(tmp_path) == [killed]
    assert not killed.exists() and live.exists() and unknown.exists()


@pytest.mark.parametrize("where", ["write", "check"])
def test_a_failure_while_a_table_is_written_in_the_background_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    """Recommendations are written while decisions are parsed: a failure of that write,
    or of the next table's check meanwhile, rolls the whole load back and leaves no
    write in flight on the connection."""
    url = f"sqlite:///{tmp_path / 'store.db'}"
    engine = get_engine(url)
    bundle = write_bundle(tmp_path / "b", {"recommendations": RECS, "decisions": DECS})
    real_insert, real_parse = staging.Stage.insert, load_module._parse
    written: list[str] = []

    def insert(self: staging.Stage, name: str, spec: object, *, batch_id: int | None) -> int:
        if where == "write" and name == "recommendations":
            raise OSError("disk full while writing recommendations")
        n = real_insert(self, name, spec, batch_id=batch_id)  # type: ignore[arg-type]
        written.append(name)
        return n

    def parse(spec: object, raw: object, tz: str) -> object:
        if where == "check" and getattr(spec, "name", "") == "decisions":
            raise ValueError("decisions unreadable")
        return real_parse(spec, raw, tz)  # type: ignore[arg-type]

    monkeypatch.setattr(staging.Stage, "insert", insert)
    monkeypatch.setattr(load_module, "_parse", parse)
    try:
        with pytest.raises(OSError if where == "write" else ValueError):
            load_bundle(bundle, engine=engine, role="admin")
        with engine.connect() as conn:
            counts = [
                conn.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar_one()
                for t in ("recommendations", "decisions", "import_batch")
            ]
        assert counts == [0, 0, 0]
        if where == "check":
            assert written == ["recommendations"]  # it was written, then rolled back
        monkeypatch.undo()
        assert load_bundle(bundle, engine=engine, role="admin").loaded == {
            "recommendations": 3,
            "decisions": 3,
        }
    finally:
        dispose_engine(url)
        clear_memo()


def test_the_load_skips_sqlites_key_check_and_every_connection_has_it_back(
    tmp_path: Path,
) -> None:
    # The staged load checks every decision's rec_id itself (an orphan is quarantined, not
    # loaded), so it switches SQLite's foreign-key check off for its own connection only;
    # afterwards each pooled connection enforces it again.
    engine = _engine(tmp_path / "s.db")
    try:
        orphan = DECS.rstrip("\n") + "\nR999,2025-03-06T00:00:00Z,ana,accepted,,\n"
        report = load_bundle(
            write_bundle(tmp_path / "b", {"recommendations": RECS, "decisions": orphan}),
            engine=engine,
            actor="t",
            role="admin",
        )
        assert report.loaded["decisions"] == 3 and len(report.rejected) == 1, report.rejected
        assert "R999" in str(report.rejected[0])
        conns = [engine.connect() for _ in range(3)]  # the load's connection among them
        try:
            for conn in conns:
                assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
                conn.rollback()
            with pytest.raises(Exception, match="FOREIGN KEY"), conns[0].begin():
                conns[0].execute(
                    text(
                        "INSERT INTO decisions (rec_id, decided_at, decided_by, decision, "
                        "row_hash, source) VALUES ('R998', 0, 'x', 'accepted', 0, 'app')"
                    )
                )
        finally:
            for conn in conns:
                conn.close()
    finally:
        dispose_engine(str(engine.url))
        clear_memo()


@pytest.mark.parametrize("snapshot", [True, False])
def test_a_load_returns_with_its_rows_in_the_database_file(tmp_path: Path, snapshot: bool) -> None:
    # The commit leaves the copy of SQLite's write-ahead log into the file to a thread that
    # runs beside the snapshot writes; the load waits for it, so a copy of the file alone
    # (no -wal beside it) taken right after holds every row.
    import shutil
    import sqlite3

    engine = _engine(tmp_path / "s.db")
    try:
        report = load_bundle(SAMPLE, engine=engine, actor="t", role="admin", snapshot=snapshot)
        shutil.copy(tmp_path / "s.db", tmp_path / "copy.db")
        copy = sqlite3.connect(tmp_path / "copy.db")
        try:
            for table, n in report.loaded.items():
                assert copy.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0] == n
        finally:
            copy.close()
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 1000
    finally:
        dispose_engine(str(engine.url))
        clear_memo()
