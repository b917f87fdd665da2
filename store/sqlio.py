"""Moving whole columns between pandas and the database, per dialect, fast.

Bulk writes go straight to the driver (``executemany`` on SQLite, ``COPY`` on
PostgreSQL) inside the caller's transaction; no ORM object is made per row.
Reads select plain columns and type them with the contract's dtypes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import text
from sqlalchemy.engine import Connection

from contract.tables import TableSpec
from contract.vocabulary import TS_DTYPE
from store.ingest.staging import arrow_rows, column_kind, insert_columns
from store.ingest.values import SANE_FROM, SANE_UNTIL

CHUNK_ROWS = 50_000
_SANE_FROM_US = int(SANE_FROM.astype("int64"))
_SANE_UNTIL_US = int(SANE_UNTIL.astype("int64"))


def _to_db(values: pd.Series, kind: str, dialect: str) -> list:
    """One column as a list of driver-ready Python values (None for missing)."""
    if kind in ("timestamp", "date"):
        arr = (
            pd.Series(values).astype(TS_DTYPE).dt.tz_localize(None).to_numpy(dtype="datetime64[us]")
        )
        missing = np.isnat(arr)
        if dialect == "postgresql":
            text = np.datetime_as_string(arr, unit="us").astype(object) + "+00:00"
        else:
            # SQLite: microseconds since the epoch (see store.models.UTCDateTime).
            text = arr.view("int64").astype(object)
        text[missing] = None
        return text.tolist()
    if kind == "float":
        out = np.asarray(values, dtype="float64")
        if dialect == "sqlite":
            return out.tolist()  # SQLite stores NaN as NULL
        obj = out.astype(object)
        obj[np.isnan(out)] = None
        return obj.tolist()
    if kind in ("int", "meta_int", "bool"):
        series = pd.Series(values)
        obj = series.astype(object).to_numpy().copy()
        obj[series.isna().to_numpy()] = None
        if kind == "bool":
            return [None if v is None else bool(v) for v in obj.tolist()]
        return [None if v is None else int(v) for v in obj.tolist()]
    series = pd.Series(values)
    if isinstance(series.array, pd.arrays.ArrowStringArray):
        return pa.array(series.array).to_pylist()
    obj = series.astype(object)
    return obj.where(series.notna(), None).tolist()


def bulk_insert(
    conn: Connection, spec: TableSpec, frame: pd.DataFrame, *, batch_id: int | None
) -> int:
    """Insert ``frame``'s rows into ``spec``'s table inside the caller's transaction.

    SQLite loads normally go through ``store.ingest.staging`` instead; this path serves
    PostgreSQL (``COPY``) and SQLite when the ADBC driver is missing.
    """
    frame, columns = insert_columns(spec, frame)
    frame["batch_id"] = batch_id
    columns.append("batch_id")
    dialect = conn.dialect.name
    kinds = [column_kind(spec, c) for c in columns]
    raw = conn.connection.driver_connection
    col_sql = ", ".join(f'"{c}"' for c in columns)

    def rows() -> Iterator[tuple[Any, ...]]:
        # Convert to Python values a chunk at a time, so peak memory stays flat.
        for start in range(0, len(frame), CHUNK_ROWS):
            part = frame.iloc[start : start + CHUNK_ROWS]
            yield from zip(
                *[_to_db(part[c], k, dialect) for c, k in zip(columns, kinds, strict=True)],
                strict=True,
            )

    if dialect == "postgresql":
        with raw.cursor() as cur, cur.copy(f'COPY "{spec.name}" ({col_sql}) FROM STDIN') as copy:
            for row in rows():
                copy.write_row(row)
    else:
        marks = ", ".join("?" for _ in columns)
        cur = raw.cursor()
        cur.executemany(f'INSERT INTO "{spec.name}" ({col_sql}) VALUES ({marks})', rows())
        cur.close()
    return len(frame)


def _select_expr(name: str, kind: str, dialect: str) -> str:
    if kind in ("timestamp", "date") and dialect == "postgresql":
        return f'CAST(EXTRACT(EPOCH FROM "{name}") * 1000000 AS BIGINT) AS "{name}"'
    return f'"{name}"'


def _arrow(values: list, type_: pa.DataType) -> pa.Array:
    return pa.array(values, type=type_, from_pandas=True)


_ARROW_TYPE = {"timestamp": pa.int64(), "date": pa.int64(), "float": pa.float64()}


def _from_db(values: list | np.ndarray, kind: str, dialect: str) -> pd.Series:
    # Python values from the driver become Arrow arrays in C, then pandas: several times
    # faster than pandas' own conversion of object lists at a million rows.
    if kind == "bool":
        return pd.Series(values, dtype=object).astype("boolean")
    default = pa.int64() if kind in ("int", "meta_int") else pa.string()
    return from_arrow(_arrow(values, _ARROW_TYPE.get(kind, default)), kind)


def from_arrow(values: pa.Array, kind: str) -> pd.Series:
    """A stored column (as SQLite holds it: microseconds since the epoch for timestamps,
    integers for int and bool) in the contract's pandas dtype."""
    if kind in ("timestamp", "date"):
        # Both dialects select microseconds since the epoch (see _select_expr). A value
        # outside the loader's window (stored by an older release: year 0 or 10000 once
        # in UTC) reads as missing: every reader keeps working instead of failing on it.
        micros = values.cast(pa.int64())
        sane = pc.and_(
            pc.greater_equal(micros, pa.scalar(_SANE_FROM_US, pa.int64())),
            pc.less(micros, pa.scalar(_SANE_UNTIL_US, pa.int64())),
        )
        stamps = pc.if_else(sane, micros, pa.scalar(None, pa.int64())).cast(
            pa.timestamp("us", tz="UTC")
        )
        return pd.Series(stamps.to_pandas(), dtype=TS_DTYPE)
    if kind == "float":
        return pd.Series(values.cast(pa.float64()).to_numpy(zero_copy_only=False))
    if kind in ("int", "meta_int"):
        return pd.Series(pd.arrays.ArrowExtensionArray(values.cast(pa.int64()))).astype("Int64")
    if kind == "bool":
        return pd.Series(values.to_pylist(), dtype=object).astype("boolean")
    strings = pd.Series(pd.arrays.ArrowStringArray(values.cast(pa.string())))
    if kind in ("category", "enum"):
        return strings.astype("category")
    return strings


def frame_as_read(spec: TableSpec, frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """What ``read_sql_frame(..., columns, where="ORDER BY key")`` returns once ``frame``'s
    rows are the table's only rows: they pass through the same stored values (see
    ``store.ingest.staging.arrow_rows``) and are sorted by key as SQLite's BINARY collation does."""
    rows, stored = insert_columns(spec, frame)
    table = arrow_rows(spec, rows, stored)
    order = pc.sort_indices(table, sort_keys=[(k, "ascending") for k in spec.key])
    table = table.take(order)
    n = table.num_rows
    return pd.DataFrame(
        {
            c: from_arrow(
                table.column(c).combine_chunks() if c in stored else pa.nulls(n, pa.string()),
                column_kind(spec, c),
            )
            for c in columns
        }
    )


def read_sql_matching(
    conn: Connection, spec: TableSpec, columns: list[str], column: str, values: pd.Series
) -> pd.DataFrame:
    """``read_sql_frame`` of the rows whose text ``column`` is one of ``values``: what a
    load compares its rows with. Only those rows leave the database, so a nightly load
    of a few thousand rows into a million-row store reads a few thousand back."""
    empty_table = conn.execute(text(f'SELECT 1 FROM "{spec.name}" LIMIT 1')).first() is None
    wanted = [] if empty_table else pd.unique(values.dropna().astype(str).to_numpy(dtype=object))
    if len(wanted) == 0:
        return read_sql_frame(conn, spec, columns, where="WHERE 0 = 1")
    wanted = list(wanted)
    if conn.dialect.name == "sqlite":
        where = f'WHERE "{column}" IN (SELECT value FROM json_each(:wanted))'
        return read_sql_frame(
            conn, spec, columns, where=where, params={"wanted": json.dumps(wanted)}
        )
    where = f'WHERE "{column}" = ANY(:wanted)'
    return read_sql_frame(conn, spec, columns, where=where, params={"wanted": wanted})


def read_sql_frame(
    conn: Connection,
    spec: TableSpec,
    columns: list[str] | None = None,
    *,
    where: str = "",
    params: dict | None = None,
) -> pd.DataFrame:
    """Rows of ``spec``'s table as a typed DataFrame (contract dtypes, UTC timestamps)."""
    columns = columns or list(spec.column_names)
    dialect = conn.dialect.name
    kinds = {c: column_kind(spec, c) for c in columns}
    sql = "SELECT " + ", ".join(_select_expr(c, kinds[c], dialect) for c in columns)
    sql += f' FROM "{spec.name}" {where}'
    if dialect == "sqlite":
        # The driver's own cursor returns plain tuples; SQLAlchemy's Row objects cost ~40% more.
        rows = conn.connection.driver_connection.execute(sql, params or {}).fetchall()
    else:
        rows = conn.execute(text(sql), params or {}).fetchall()
    cols = list(zip(*rows, strict=True)) if rows else [() for _ in columns]
    return pd.DataFrame(
        {c: _from_db(list(cols[i]), kinds[c], dialect) for i, c in enumerate(columns)}
    )
