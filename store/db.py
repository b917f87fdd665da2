"""The one engine factory, and the per-table data versions that key every cache.

The database is chosen by, in order: the ``url`` argument (``--db``), the
``WORKBENCH_DB`` environment variable, then an embedded SQLite file at
``data/workbench.db`` beside the code. PostgreSQL is reached through
``postgresql+psycopg://user:pass@host:port/db``.
"""

from __future__ import annotations

import os
import secrets
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError
from sqlmodel import SQLModel

from store import models  # noqa: F401  (registers every table on SQLModel.metadata)
from store.models import DataVersion

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB_PATH = REPO_ROOT / "data" / "workbench.db"


def utcnow() -> datetime:
    """The current instant, aware, in UTC: the time every write records."""
    return datetime.now(UTC)


_engines: dict[str, Engine] = {}
_lock = threading.Lock()


def resolve_url(url: str | None = None) -> str:
    """The database URL in force: argument, then ``WORKBENCH_DB``, then the default file."""
    if url:
        return url
    env = os.environ.get("WORKBENCH_DB")
    if env:
        return env
    return f"sqlite:///{DEFAULT_DB_PATH}"


def is_sqlite(engine: Engine | Connection) -> bool:
    return engine.dialect.name == "sqlite"


def sqlite_path(url: str) -> Path | None:
    """The file behind a SQLite URL, or None for another database or ``:memory:``."""
    if not url.startswith("sqlite"):
        return None
    path = url.split("///", 1)[1] if "///" in url else ""
    if not path or path == ":memory:":
        return None
    return Path(path)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    # WAL lets the app read while a load writes; NORMAL keeps every commit atomic.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    # 128 MB page cache: bulk loads of a million keyed rows stop thrashing the B-trees.
    cur.execute("PRAGMA cache_size=-131072")
    cur.close()


def get_engine(url: str | None = None) -> Engine:
    """The engine for ``url`` (see module doc), with the schema created on first use.

    Engines are kept per URL for the life of the process.
    """
    resolved = resolve_url(url)
    with _lock:
        engine = _engines.get(resolved)
        if engine is not None:
            return engine
        path = sqlite_path(resolved)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        if resolved.startswith("sqlite"):
            engine = create_engine(resolved, connect_args={"check_same_thread": False})
            event.listen(engine, "connect", _sqlite_pragmas)
        else:
            engine = create_engine(resolved, pool_pre_ping=True)
        SQLModel.metadata.create_all(engine)
        _add_new_columns(engine)
        _add_app_decisions_index(engine)
        store_identity(engine)
        _engines[resolved] = engine
        return engine


# Nullable columns added after stores were first created: (table, column, SQL type).
_ADDED_COLUMNS = (
    ("decisions", "audit_event_id", "INTEGER"),
    ("decisions", "audit_hash", "VARCHAR"),
)


def _add_new_columns(engine: Engine) -> None:
    """Give a store created by an earlier version the columns added since (NULL in old rows)."""
    inspector = inspect(engine)
    with engine.begin() as conn:
        for table, column, sql_type in _ADDED_COLUMNS:
            present = {c["name"] for c in inspector.get_columns(table)}
            if column not in present:
                conn.execute(text(f'ALTER TABLE "{table}" ADD COLUMN "{column}" {sql_type}'))


def _add_app_decisions_index(engine: Engine) -> None:
    """Index the decisions recorded in the workbench (``source = 'app'``) apart: the Why page
    reads them after every decision (``store.reads.app_decisions``) and the audit check reads
    them too; a partial index leaves a load of a million imported decisions untouched."""
    if any(ix["name"] == "ix_decisions_app" for ix in inspect(engine).get_indexes("decisions")):
        return
    sql = "CREATE INDEX IF NOT EXISTS ix_decisions_app ON decisions (rec_id) WHERE source = 'app'"
    try:
        with engine.begin() as conn:
            conn.execute(text(sql))
    except (OperationalError, ProgrammingError, IntegrityError):  # another process made it
        pass


def dispose_engine(url: str | None = None) -> None:
    """Forget (and close) the cached engine for ``url``; tests use it between stores."""
    resolved = resolve_url(url)
    with _lock:
        engine = _engines.pop(resolved, None)
    if engine is not None:
        engine.dispose()


IDENTITY_ROW = "store_identity"


def store_identity(engine: Engine) -> int:
    """A random number made when the store was created, kept in ``data_version``: caches
    and snapshots keyed on it never mistake a recreated database for the old one, whose
    data versions may well be the same numbers."""
    query = text("SELECT version FROM data_version WHERE table_name = :t")
    with engine.connect() as conn:
        found = conn.execute(query, {"t": IDENTITY_ROW}).scalar_one_or_none()
    if found is not None:
        return int(found)
    try:
        with engine.begin() as conn:
            conn.execute(
                text("INSERT INTO data_version (table_name, version) VALUES (:t, :v)"),
                {"t": IDENTITY_ROW, "v": secrets.randbits(30) + 1},  # an INTEGER column
            )
    except IntegrityError:
        pass  # another process made it first
    with engine.connect() as conn:
        return int(conn.execute(query, {"t": IDENTITY_ROW}).scalar_one())


def data_versions(engine: Engine) -> dict[str, int]:
    """``{table: version}`` for every table that has been written at least once."""
    with engine.connect() as conn:
        rows = conn.execute(select(DataVersion.table_name, DataVersion.version)).all()
    return {name: int(version) for name, version in rows}


def data_version(engine: Engine) -> str:
    """One short string that changes whenever any table changes: the cache key of the store."""
    versions = data_versions(engine)
    return ".".join(f"{k}{v}" for k, v in sorted(versions.items())) or "empty"


def bump_versions(conn: Connection, tables: list[str] | tuple[str, ...]) -> None:
    """Increment the version of ``tables`` inside the caller's transaction."""
    for table in tables:
        updated = conn.execute(
            text("UPDATE data_version SET version = version + 1 WHERE table_name = :t"),
            {"t": table},
        ).rowcount
        if not updated:
            conn.execute(
                text("INSERT INTO data_version (table_name, version) VALUES (:t, 1)"), {"t": table}
            )
