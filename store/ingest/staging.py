"""Bulk writes to SQLite through a scratch file that ADBC fills from Arrow.

Python's ``sqlite3`` binds every value of every row in the interpreter: at a
million recommendations that was half of a load's time. The ADBC SQLite driver
(Apache Arrow) binds whole Arrow columns in C with the GIL released, so one
table can be staged in a worker thread while the next is still being checked.

Staged rows reach the store in one ``INSERT … SELECT`` inside the load's own
transaction, so atomicity, constraints and the audit trail are exactly those of
the direct insert, and the values stored are the same (pinned by a test). The
scratch file is attached under a name used once and deleted when the load ends.
Without the driver (a platform with no wheel) loads use ``executemany``.

The driver carries its own copy of SQLite, so it must never open the store's file:
two SQLite libraries in one process on the same file defeat each other's POSIX locks
(sqlite.org/howtocorrupt.html, 2.2.1). It only ever writes its own scratch files,
each closed before the store's connection attaches it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import shutil
import sqlite3
import tempfile
import threading
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
from sqlalchemy.engine import Connection, Engine

from contract.tables import TableSpec

log = logging.getLogger(__name__)

try:  # the accelerator is a requirement, but a load must not depend on it existing
    import adbc_driver_sqlite.dbapi as adbc_sqlite
except ImportError:  # pragma: no cover - exercised by forcing ``available`` off in tests
    adbc_sqlite = None

_META_INT = {"row_hash", "batch_id"}
_TEXT_EXTRA = {"features", "extra", "source"}


SCRATCH_PREFIX = "workbench-load-"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def clean_stale_scratch(root: Path | None = None) -> list[Path]:
    """Delete scratch folders left by loads that were killed (their process is gone);
    returns what was removed. A load killed with -9 cannot clean up after itself, and
    each left 70-100 MB behind."""
    removed = []
    for folder in Path(root or tempfile.gettempdir()).glob(SCRATCH_PREFIX + "*"):
        try:
            pid = int((folder / "pid").read_text(encoding="utf-8").strip())
        except (OSError, ValueError):
            pid = None
        if pid is not None and pid != os.getpid() and _alive(pid):
            continue
        try:
            age = time.time() - folder.stat().st_mtime
        except OSError:  # another load cleaned it a moment ago
            continue
        if pid is None and age < 24 * 3600:
            continue  # no owner recorded (an older release, or still being made): a day's grace
        if pid == os.getpid():
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed


def available() -> bool:
    """Whether loads into SQLite can be staged (the ADBC driver is installed)."""
    return adbc_sqlite is not None


def column_kind(spec: TableSpec, name: str) -> str:
    """How a stored column is written: the contract's kind, or ``meta_int`` / ``text``."""
    if name in _META_INT:
        return "meta_int"
    if name in _TEXT_EXTRA:
        return "text"
    return spec.column(name).kind


def insert_columns(spec: TableSpec, frame: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """The rows as they are written (without ``batch_id``) and the columns to write."""
    frame = frame.copy(deep=False)  # columns are replaced, never written into
    if spec.name == "orders":
        frame["line"] = frame["line"].fillna("")
    columns = list(spec.column_names) + ["row_hash"]
    for optional in ("features", "extra"):
        if optional in frame.columns and frame[optional].notna().any():
            columns.append(optional)
    if spec.name == "decisions":
        if "source" not in frame.columns:
            frame["source"] = "import"
        columns.append("source")
    return frame, columns


def _arrow_column(values: pd.Series, kind: str) -> pa.Array:
    """One column as SQLite stores it (see ``store.sqlio._to_db``): microseconds since the
    epoch for timestamps, REAL with NULL for NaN, integers (booleans as 0/1), text."""
    if kind in ("timestamp", "date"):
        micros = (
            pd.Series(values)
            .astype("datetime64[us, UTC]")
            .dt.tz_localize(None)
            .to_numpy(dtype="datetime64[us]")
        )
        return pa.array(micros.view("int64"), mask=np.isnat(micros))
    if kind == "float":
        numbers = np.asarray(values, dtype="float64")
        return pa.array(numbers, mask=np.isnan(numbers))
    if kind in ("int", "meta_int", "bool"):
        series = pd.Series(values)
        missing = series.isna().to_numpy()
        return pa.array(series.to_numpy(dtype="int64", na_value=0), mask=missing)
    series = pd.Series(values)
    if isinstance(series.array, pd.arrays.ArrowStringArray):
        arr = pa.array(series.array)
    else:
        arr = pa.array(series.astype(object).where(series.notna(), None), type=pa.string())
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    return arr.cast(pa.string()) if arr.type != pa.string() else arr


def arrow_rows(spec: TableSpec, frame: pd.DataFrame, columns: list[str]) -> pa.Table:
    """``frame[columns]`` as an Arrow table of SQLite-ready values."""
    return pa.table({c: _arrow_column(frame[c], column_kind(spec, c)) for c in columns})


class Stage:
    """Scratch SQLite files for one load: ``put`` stages a table in the background,
    ``insert`` copies it into the store inside the caller's transaction.

    Each table has its own file, so a table can be staged while an earlier one is
    read. Use as a context manager around the load's transaction; on exit the files
    are detached from the connection and deleted, whatever happened.
    """

    def __init__(self, conn: Connection, *, tables: int = 1) -> None:
        if adbc_sqlite is None:
            raise RuntimeError("the ADBC SQLite driver is not installed")
        self._conn = conn
        clean_stale_scratch()
        self._dir = Path(tempfile.mkdtemp(prefix=SCRATCH_PREFIX))
        # The owner's pid, so a later load can tell a killed load's scratch from a live one.
        (self._dir / "pid").write_text(str(os.getpid()), encoding="utf-8")
        self._prefix = f"stage_{uuid.uuid4().hex[:12]}"
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="workbench-stage")
        self._staged: dict[str, tuple[list[str], Future[int]]] = {}
        self._attached: list[str] = []
        # SQLite's own foreign-key check looked up the recommendation of every decision and
        # outcome row inserted (60% of their INSERT): the load checks every rec_id itself
        # before anything is written (store.ingest.references, rows that name none are
        # quarantined), so the connection skips it for this load. Set before the transaction
        # begins (inside one the pragma is a no-op) and set back in ``close``.
        self._raw = conn.connection.driver_connection
        self._raw.execute("PRAGMA foreign_keys=OFF")
        # Nor does the commit copy the write-ahead log into the database file (SQLite's
        # automatic checkpoint, ~1 s per 350 MB loaded, holding the commit): the committed
        # load starts that copy beside its snapshot writes (``start_checkpoint``) and waits
        # for it before it returns (``checkpointed``), so its rows are in the file by then.
        self._raw.execute("PRAGMA wal_autocheckpoint=0")
        self._checkpoint: threading.Thread | None = None
        self._engine = conn.engine
        # A file stays attached until the commit (SQLite refuses to detach one a transaction
        # read), and a connection attaches at most SQLITE_LIMIT_ATTACHED (10 by default): the
        # tables still to come keep one file each, the rest go to the large tables' chunks.
        self._tables_left = tables
        self._max_attached = self._raw.getlimit(sqlite3.SQLITE_LIMIT_ATTACHED)

    def __enter__(self) -> Stage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def chunks_for(self, n_rows: int) -> int:
        """How many files to stage the next table's ``n_rows`` in (see ``write_rows``)."""
        spare = self._max_attached - len(self._attached) - len(self._staged) - self._tables_left
        self._tables_left = max(self._tables_left - 1, 0)
        return max(1, min(-(-n_rows // CHUNK_ROWS), 1 + spare))

    def start_checkpoint(self) -> None:
        """After the commit: copy the load's log into the database file in the background."""
        self._checkpoint = threading.Thread(
            target=_checkpoint, args=(self._engine,), name="workbench-checkpoint"
        )
        self._checkpoint.start()

    def checkpointed(self) -> None:
        """Wait for ``start_checkpoint``'s copy (see ``__init__``)."""
        if self._checkpoint is not None:
            self._checkpoint.join()

    def put(self, name: str, spec: TableSpec, frame: pd.DataFrame) -> None:
        """Start staging ``frame``'s rows for ``spec``'s table under ``name``."""
        rows, columns = insert_columns(spec, frame)
        self._staged[name] = (columns, self._pool.submit(self._write, name, spec, rows, columns))

    def _write(self, name: str, spec: TableSpec, rows: pd.DataFrame, columns: list[str]) -> int:
        table = arrow_rows(spec, rows, columns)
        with adbc_sqlite.connect(str(self._dir / f"{name}.db"), autocommit=True) as adbc:
            with adbc.cursor() as cur:
                # A scratch file read once and deleted: no journal, no fsync, a big cache.
                for pragma in ("journal_mode=OFF", "synchronous=OFF", "cache_size=-65536"):
                    cur.execute(f"PRAGMA {pragma}")
                    cur.fetchall()
                cur.adbc_ingest(name, table, mode="create")
        return table.num_rows

    def insert(self, name: str, spec: TableSpec, *, batch_id: int | None) -> int:
        """Copy the rows staged under ``name`` into ``spec``'s table; returns their number."""
        columns, future = self._staged.pop(name)
        n = future.result()
        if n == 0:
            return 0
        alias = f"{self._prefix}_{len(self._attached)}"
        self._raw.execute(f"ATTACH DATABASE ? AS {alias}", (str(self._dir / f"{name}.db"),))
        self._attached.append(alias)
        cols = ", ".join(f'"{c}"' for c in columns)
        self._raw.execute(
            f'INSERT INTO main."{spec.name}" ({cols}, "batch_id") '
            f'SELECT {cols}, ? FROM {alias}."{name}" ORDER BY rowid',
            (batch_id,),
        )
        return n

    def close(self) -> None:
        """Wait for the worker, detach and delete the scratch files (after the transaction)."""
        self._pool.shutdown(wait=True)
        for alias in self._attached:
            try:
                self._raw.execute(f"DETACH DATABASE {alias}")
            except Exception:
                # Still attached (a failed connection): keep it out of the pool.
                self._conn.invalidate()
                break
        self._attached = []
        if not self._conn.invalidated:
            try:
                self._raw.execute("PRAGMA foreign_keys=ON")
                self._raw.execute("PRAGMA wal_autocheckpoint=1000")
            except Exception:
                self._conn.invalidate()  # never back in the pool without its checks
        shutil.rmtree(self._dir, ignore_errors=True)


def _checkpoint(engine: Engine) -> None:
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
    except Exception as exc:  # the next commit's automatic checkpoint does it instead
        log.warning("checkpoint after the load failed: %s", exc)


CHUNK_ROWS = 250_000  # rows per scratch file of a large table


def write_rows(
    stage: Stage, name: str, spec: TableSpec, rows: pd.DataFrame, batch_id: int | None
) -> int:
    """Stage ``rows`` and copy them into ``spec``'s table, in order (one thread at a time on
    the connection: the load waits for this before its next database check).

    A large table goes in chunks, each staged in its own file while the previous one is
    copied in: staging (ADBC) and SQLite's INSERT both run with the GIL released, so the two
    cores overlap them instead of taking turns (at a million rows, ~4 s each)."""
    k = stage.chunks_for(len(rows))
    bounds = np.linspace(0, len(rows), k + 1).astype(int)
    parts = [name] if k == 1 else [f"{name}_{i}" for i in range(k)]
    stage.put(parts[0], spec, rows.iloc[bounds[0] : bounds[1]])
    n = 0
    for i, part in enumerate(parts):
        if i + 1 < k:  # staged on the stage's worker while this part is copied in
            stage.put(parts[i + 1], spec, rows.iloc[bounds[i + 1] : bounds[i + 2]])
        n += stage.insert(part, spec, batch_id=batch_id)
    return n


def stage_for(conn: Connection, *, tables: int = 1) -> AbstractContextManager[Stage | None]:
    """A scratch stage for SQLite loads of ``tables`` tables when the ADBC driver is there,
    else nothing."""
    if conn.dialect.name == "sqlite" and available():
        return Stage(conn, tables=tables)
    return nullcontext()


try:  # glibc only; elsewhere freed memory is left to the allocator
    _LIBC: ctypes.CDLL | None = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    _LIBC.malloc_trim  # noqa: B018 - probe: musl and macOS have no malloc_trim
except (OSError, AttributeError):
    _LIBC = None


def release_memory() -> None:
    """Hand memory freed by a finished table back to the system (Arrow's pool and the C
    heap keep it otherwise, and the next table's peak would stack on top of it)."""
    pa.default_memory_pool().release_unused()
    if _LIBC is not None:
        _LIBC.malloc_trim(0)
