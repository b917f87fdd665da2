"""Shared fixtures: a fresh store per test on SQLite, and on PostgreSQL when one is given.

PostgreSQL tests need ``WORKBENCH_TEST_PG_URL`` (e.g. ``postgresql+psycopg://postgres@127.0.0.1:5433/postgres``);
``.ci/run`` starts a throwaway server and sets it. Each test gets its own database.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from store.db import dispose_engine, get_engine
from store.reads import clear_memo

PG_URL = os.environ.get("WORKBENCH_TEST_PG_URL")
REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "sample_data" / "bundle"


def _sqlite_engine(tmp_path: Path) -> tuple[str, Engine]:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    return url, get_engine(url)


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    url, engine = _sqlite_engine(tmp_path)
    yield engine
    dispose_engine(url)
    clear_memo()


@pytest.fixture
def pg_engine() -> Iterator[Engine]:
    if not PG_URL:
        pytest.skip(
            "PostgreSQL tests need WORKBENCH_TEST_PG_URL (set by .ci/run, which starts a server)"
        )
    name = f"wb_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_URL.rsplit("/", 1)[0] + "/" + name
    engine = get_engine(url)
    yield engine
    dispose_engine(url)
    clear_memo()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A fresh, empty store: every test using it runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        yield request.getfixturevalue("sqlite_engine")
    else:
        yield request.getfixturevalue("pg_engine")


def write_bundle(folder: Path, tables: dict[str, str]) -> Path:
    """Write ``{table: csv text}`` as a bundle folder and return it."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, body in tables.items():
        (folder / f"{name}.csv").write_text(body.strip() + "\n", encoding="utf-8")
    return folder
