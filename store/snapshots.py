"""Parquet snapshots of the stored tables, one file per table and data version.

A snapshot is only a cache of what the database holds: written after a load or a
decision (from the rows just written) or on the first read of a version, replaced
atomically, and rebuilt from the store when missing or damaged.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pajson
from sqlalchemy import Engine

from contract.tables import TABLES, TableSpec
from store.db import REPO_ROOT, sqlite_path, store_identity
from store.ingest.json_rows import string_buffers
from store.ingest.validate import parse_numbers
from store.sqlio import frame_as_read


def beside_store(engine: Engine, kind: str) -> Path:
    """The folder of derived files of ``kind`` for this store: ``<db file>.<kind>/`` beside a
    SQLite file, ``data/<kind>/<url hash>/`` beside the code for another database."""
    url = engine.url.render_as_string(hide_password=False)
    path = sqlite_path(url)
    if path is not None:
        return path.with_name(f"{path.name}.{kind}")
    digest = hashlib.sha1(url.encode()).hexdigest()[:12]
    return REPO_ROOT / "data" / kind / digest


def snapshot_dir(engine: Engine) -> Path:
    return beside_store(engine, "snapshots")


def _expand_features(df: pd.DataFrame) -> pd.DataFrame:
    """One column per ``f_*`` feature from the stored JSON text: numbers where every
    value of the feature is a number, else categories (the raw text a planner knows)."""
    features = df.pop("features")
    present = features.notna().to_numpy()
    if not present.any():
        return df
    # JSON Lines straight from the Arrow buffer: each value with "\n" appended, in order.
    # (Both read paths give the column as Arrow strings: see sqlio.from_arrow.)
    text = pa.array(features.array)
    if isinstance(text, pa.ChunkedArray):
        text = text.combine_chunks()
    lines = pc.binary_join_element_wise(
        pc.fill_null(text, "{}"), pa.scalar("\n", text.type), pa.scalar("", text.type)
    )
    table = pajson.read_json(
        pa.BufferReader(pa.py_buffer(string_buffers(lines)[1])),
        parse_options=pajson.ParseOptions(unexpected_field_behavior="infer"),
    )
    for name in sorted(table.column_names):
        text = table.column(name).combine_chunks()
        if not pa.types.is_string(text.type):
            text = pc.cast(text, pa.string())
        values, bad = parse_numbers(pc.fill_null(text, ""))
        if not bad.any():
            df[name] = values
        else:
            df[name] = pd.Series(
                text.to_numpy(zero_copy_only=False), index=df.index, dtype="string"
            ).astype("category")
    return df


def read_columns(spec: TableSpec) -> list[str]:
    columns = list(spec.column_names)
    if spec.name == "recommendations":
        columns.append("features")
    if spec.name == "decisions":
        columns.append("source")
    return columns


def finish(spec: TableSpec, df: pd.DataFrame) -> pd.DataFrame:
    if spec.name == "recommendations":
        df = _expand_features(df)
    if spec.name == "orders":
        df["line"] = df["line"].mask(df["line"] == "")
    if spec.name == "decisions":
        df["source"] = df["source"].astype("category")
    return df


def snapshot_path(engine: Engine, table: str, version: int) -> Path:
    """The snapshot file of ``version`` of ``table``, keyed on the store's identity too:
    a database recreated at the same URL starts its versions again from 1."""
    return snapshot_dir(engine) / f"{table}-s{store_identity(engine):x}-v{version}.parquet"


def write_snapshot(engine: Engine, table: str, version: int, df: pd.DataFrame) -> None:
    path = snapshot_path(engine, table, version)
    folder = path.parent
    folder.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    df.to_parquet(tmp, index=False)
    os.replace(tmp, path)
    for old in folder.glob(f"{table}-*.parquet"):
        if old != path:
            old.unlink(missing_ok=True)


def snapshot_loaded_rows(
    engine: Engine, table: str, version: int, rows: pd.DataFrame, *, previous: int | None = None
) -> bool:
    """Write the snapshot of ``version`` of ``table`` from the rows a load just added, so its
    first read needs no pass over the database.

    ``previous`` is the table's version before the load when it was not empty: the new
    snapshot is then that version's snapshot plus ``rows``. Returns False, writing nothing,
    when that snapshot is missing or the two cannot be joined exactly as a read of the
    store would type them (a feature numeric before and text now); the first read then
    builds the snapshot from the store.
    """
    spec = TABLES[table]
    df = finish(spec, frame_as_read(spec, rows, read_columns(spec)))
    if previous is not None:
        path = snapshot_path(engine, table, previous)
        if not path.exists():
            return False
        df = append_rows(spec, pd.read_parquet(path), df)
        if df is None:
            return False
    write_snapshot(engine, table, version, df)
    return True


def append_rows(spec: TableSpec, old: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame | None:
    """``old`` and ``new`` as one frame typed and ordered as ``_read_table`` reads it."""
    names = list(old.columns) + [c for c in new.columns if c not in old.columns]
    features = sorted(c for c in names if c.startswith("f_"))
    columns = {}
    for name in [c for c in names if not c.startswith("f_")] + features:
        a, b = old.get(name), new.get(name)
        a = a if a is not None else _missing_like(b, len(old))
        b = b if b is not None else _missing_like(a, len(new))
        if isinstance(a.dtype, pd.CategoricalDtype) and isinstance(b.dtype, pd.CategoricalDtype):
            cats = a.cat.categories.union(b.cat.categories)  # sorted, as a read's astype is
            a, b = a.cat.set_categories(cats), b.cat.set_categories(cats)
        elif a.dtype != b.dtype:
            return None
        columns[name] = pd.concat([a, b], ignore_index=True)
    df = pd.DataFrame(columns)
    return df.sort_values(list(spec.key), kind="stable", ignore_index=True)


def _missing_like(values: pd.Series, n: int) -> pd.Series:
    """``n`` missing values of ``values``' dtype (a feature one side never had)."""
    return pd.Series(pd.array([None] * n, dtype=values.dtype)) if n else values.iloc[:0].copy()
