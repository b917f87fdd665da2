"""Reading the log back as typed DataFrames, fast at a million rows.

Each table is read from the database once per data version and kept as a
Parquet snapshot beside the store (``<db file>.snapshots/`` for SQLite,
``data/snapshots/<url hash>/`` otherwise); later reads of the same version
come from the snapshot in well under a second. A write bumps the table's
version (``store.db.bump_versions``), so a snapshot is never stale.

Frames follow ``store/schema.py``: codes are ``category``, timestamps are
``datetime64[us, UTC]``, and recommendations carry one column per ``f_*``
feature (numbers as float64, text as category).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pajson
from sqlalchemy import Engine, text

from store.db import REPO_ROOT, data_versions, sqlite_path
from store.json_rows import string_buffers
from store.schema import DECISIONS, TABLES, TableSpec
from store.sqlio import frame_as_read, read_sql_frame
from store.validate import parse_numbers

_memo: dict[tuple[str, str, int], pd.DataFrame] = {}
_memo_lock = threading.Lock()


@dataclass(frozen=True)
class Frames:
    """The whole log, one DataFrame per contract table (empty with its columns when absent)."""

    recommendations: pd.DataFrame
    decisions: pd.DataFrame
    outcomes: pd.DataFrame
    orders: pd.DataFrame
    kpi_periods: pd.DataFrame
    owners: pd.DataFrame
    version: str

    @property
    def feature_columns(self) -> list[str]:
        return [c for c in self.recommendations.columns if c.startswith("f_")]

    def present(self, table: str) -> bool:
        return len(getattr(self, table)) > 0


def snapshot_dir(engine: Engine) -> Path:
    url = engine.url.render_as_string(hide_password=False)
    path = sqlite_path(url)
    if path is not None:
        return path.with_name(path.name + ".snapshots")
    digest = hashlib.sha1(url.encode()).hexdigest()[:12]
    return REPO_ROOT / "data" / "snapshots" / digest


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


def _read_columns(spec: TableSpec) -> list[str]:
    columns = list(spec.column_names)
    if spec.name == "recommendations":
        columns.append("features")
    if spec.name == "decisions":
        columns.append("source")
    return columns


def _finish(spec: TableSpec, df: pd.DataFrame) -> pd.DataFrame:
    if spec.name == "recommendations":
        df = _expand_features(df)
    if spec.name == "orders":
        df["line"] = df["line"].mask(df["line"] == "")
    if spec.name == "decisions":
        df["source"] = df["source"].astype("category")
    return df


def _read_table(engine: Engine, spec: TableSpec) -> pd.DataFrame:
    columns = _read_columns(spec)
    order = ", ".join(f'"{k}"' for k in spec.key)
    with engine.connect() as conn:
        df = read_sql_frame(conn, spec, columns, where=f"ORDER BY {order}")
    return _finish(spec, df)


def _write_snapshot(engine: Engine, table: str, version: int, df: pd.DataFrame) -> None:
    folder = snapshot_dir(engine)
    path = folder / f"{table}-v{version}.parquet"
    folder.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    df.to_parquet(tmp, index=False)
    os.replace(tmp, path)
    for old in folder.glob(f"{table}-v*.parquet"):
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
    df = _finish(spec, frame_as_read(spec, rows, _read_columns(spec)))
    if previous is not None:
        path = snapshot_dir(engine) / f"{table}-v{previous}.parquet"
        if not path.exists():
            return False
        df = _append_rows(spec, pd.read_parquet(path), df)
        if df is None:
            return False
    _write_snapshot(engine, table, version, df)
    return True


def _append_rows(spec: TableSpec, old: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame | None:
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


def read_table(engine: Engine, table: str) -> pd.DataFrame:
    """One contract table, typed, through the Parquet snapshot of its current version.

    Treat the result as read-only: it is shared by every caller of this version.
    """
    spec = TABLES[table]
    version = data_versions(engine).get(table, 0)
    url = engine.url.render_as_string(hide_password=False)
    key = (url, table, version)
    with _memo_lock:
        if key in _memo:
            return _memo[key]
    if version == 0:
        df = _read_table(engine, spec)
    else:
        folder = snapshot_dir(engine)
        path = folder / f"{table}-v{version}.parquet"
        df = None
        if path.exists():
            try:
                df = pd.read_parquet(path)
            except Exception:  # a damaged snapshot is only a cache: rebuild it
                df = None
        if df is None:
            df = _read_table(engine, spec)
            _write_snapshot(engine, table, version, df)
    with _memo_lock:
        for k in [k for k in _memo if k[:2] == key[:2] and k != key]:
            del _memo[k]
        _memo[key] = df
    return df


def _apply_decision_defaults(decisions: pd.DataFrame, recs: pd.DataFrame) -> pd.DataFrame:
    """The contract's defaults for ``final_qty``: accepted → recommended_qty, rejected → 0."""
    if decisions.empty:
        return decisions
    missing = decisions["final_qty"].isna().to_numpy()
    if not missing.any():
        return decisions
    out = decisions.copy()
    final = out["final_qty"].to_numpy(dtype="float64", copy=True)
    decision = out["decision"].astype(object).to_numpy()
    if len(recs):
        pos = pd.Index(recs["rec_id"].astype(object)).get_indexer(out["rec_id"].astype(object))
        rec_qty = recs["recommended_qty"].to_numpy(dtype="float64")[np.where(pos >= 0, pos, 0)]
        rec_qty[pos < 0] = np.nan
        accepted = missing & (decision == "accepted")
        final[accepted] = rec_qty[accepted]
    final[missing & (decision == "rejected")] = 0.0
    out["final_qty"] = final
    return out


_frames_memo: dict[tuple[str, str], Frames] = {}


def load_frames(engine: Engine) -> Frames:
    """Every contract table as a typed DataFrame; ``final_qty`` carries the contract's defaults.

    Kept in memory per data version: treat the frames as read-only.
    """
    versions = data_versions(engine)
    version = ".".join(f"{k}{versions.get(k, 0)}" for k in TABLES)
    key = (engine.url.render_as_string(hide_password=False), version)
    with _memo_lock:
        if key in _frames_memo:
            return _frames_memo[key]
    tables = {name: read_table(engine, name) for name in TABLES}
    frames = Frames(
        recommendations=tables["recommendations"],
        decisions=_apply_decision_defaults(tables["decisions"], tables["recommendations"]),
        outcomes=tables["outcomes"],
        orders=tables["orders"],
        kpi_periods=tables["kpi_periods"],
        owners=tables["owners"],
        version=version,
    )
    with _memo_lock:
        for old in [k for k in _frames_memo if k[0] == key[0]]:
            del _frames_memo[old]
        _frames_memo[key] = frames
    return frames


def table_counts(engine: Engine) -> dict[str, int]:
    """Row counts per contract table, straight from the database."""
    with engine.connect() as conn:
        return {
            name: int(conn.execute(text(f'SELECT COUNT(*) FROM "{name}"')).scalar_one())
            for name in TABLES
        }


def import_batches(engine: Engine) -> pd.DataFrame:
    """Import history, newest first, with per-table counts expanded from JSON."""
    with engine.connect() as conn:
        rows = (
            conn.execute(
                text(
                    "SELECT id, started_at, finished_at, loaded_by, source, tz, files, loaded, unchanged, "
                    "naive_timestamps, n_rejected FROM import_batch ORDER BY id DESC"
                )
            )
            .mappings()
            .all()
        )
    df = pd.DataFrame([dict(r) for r in rows])
    if df.empty:
        return pd.DataFrame(
            columns=[
                "id",
                "started_at",
                "finished_at",
                "loaded_by",
                "source",
                "tz",
                "files",
                "loaded",
                "unchanged",
                "naive_timestamps",
                "n_rejected",
            ]
        )
    for col in ("files", "loaded", "unchanged", "naive_timestamps"):
        df[col] = df[col].map(json.loads)
    for col in ("started_at", "finished_at"):
        df[col] = pd.to_datetime(df[col], utc=True)
    return df


def quarantine(
    engine: Engine, *, batch_id: int | None = None, limit: int = 100_000
) -> pd.DataFrame:
    """Rejected rows with their reasons (newest batch first)."""
    where = "WHERE batch_id = :b " if batch_id is not None else ""
    sql = (
        'SELECT batch_id, table_name AS "table", row_number AS "row", row_key AS "key", '
        'column_name AS "column", reason, raw FROM quarantine '
        + where
        + "ORDER BY batch_id DESC, id LIMIT :n"
    )
    params: dict[str, object] = {"n": limit}
    if batch_id is not None:
        params["b"] = batch_id
    with engine.connect() as conn:
        rows = conn.execute(text(sql), params).mappings().all()
    return pd.DataFrame(
        [dict(r) for r in rows],
        columns=["batch_id", "table", "row", "key", "column", "reason", "raw"],
    )


def decisions_for(engine: Engine, rec_ids: list[str]) -> pd.DataFrame:
    """Stored decisions for a few recommendations, read directly (not through the snapshot)."""
    if not rec_ids:
        return pd.DataFrame(columns=DECISIONS.column_names)
    with engine.connect() as conn:
        names = {f"r{i}": r for i, r in enumerate(rec_ids)}
        where = "WHERE rec_id IN (" + ", ".join(f":{k}" for k in names) + ")"
        return read_sql_frame(
            conn, DECISIONS, list(DECISIONS.column_names) + ["source"], where=where, params=names
        )


def clear_memo() -> None:
    """Forget in-process frames (tests; after deleting a store)."""
    with _memo_lock:
        _memo.clear()
        _frames_memo.clear()
