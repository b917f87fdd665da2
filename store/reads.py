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

import json
import threading
from collections.abc import Collection, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Engine, select, text

from contract.frames import Frames, frames_version
from contract.tables import DECISIONS, TABLES, TableSpec
from contract.vocabulary import TS_DTYPE
from store.db import data_versions, store_identity
from store.ingest.values import parse_numbers
from store.models import ImportBatch
from store.snapshots import append_rows, finish, read_columns, snapshot_path, write_snapshot
from store.sqlio import read_sql_frame

_memo: dict[tuple[str, str, int], pd.DataFrame] = {}
_memo_lock = threading.Lock()


def _read_table(engine: Engine, spec: TableSpec) -> pd.DataFrame:
    columns = read_columns(spec)
    order = ", ".join(f'"{k}"' for k in spec.key)
    with engine.connect() as conn:
        df = read_sql_frame(conn, spec, columns, where=f"ORDER BY {order}")
    return finish(spec, df)


def read_table(engine: Engine, table: str) -> pd.DataFrame:
    """One contract table, typed, through the Parquet snapshot of its current version.

    Treat the result as read-only: it is shared by every caller of this version.
    """
    spec = TABLES[table]
    version = data_versions(engine).get(table, 0)
    url = engine.url.render_as_string(hide_password=False)
    key = (url, store_identity(engine), table, version)
    with _memo_lock:
        if key in _memo:
            return _memo[key]
    if version == 0:
        df = _read_table(engine, spec)
    else:
        path = snapshot_path(engine, table, version)
        df = None
        if path.exists():
            try:
                df = pd.read_parquet(path)
            except Exception:  # a damaged snapshot is only a cache: rebuild it
                df = None
        if df is None and table == "decisions":
            df = _decisions_since_snapshot(engine, version)
        if df is None:
            df = _read_table(engine, spec)
        if not path.exists():
            write_snapshot(engine, table, version, df)
    with _memo_lock:
        for k in [k for k in _memo if k[0] == key[0] and k[2] == key[2] and k != key]:
            del _memo[k]
        _memo[key] = df
    return df


def _decisions_since_snapshot(engine: Engine, version: int) -> pd.DataFrame | None:
    """Version ``version`` of the decisions as the snapshot of an earlier version plus the
    decisions recorded in the workbench since (``app_decisions``); None when there is no
    such snapshot or a load changed the decisions since (read from the store then)."""
    older = {}
    prefix = snapshot_path(engine, "decisions", 0).name.rsplit("-v", 1)[0] + "-v"
    for path in snapshot_path(engine, "decisions", 0).parent.glob(prefix + "*.parquet"):
        found = path.name[len(prefix) : -len(".parquet")]
        if found.isdigit() and int(found) < version:
            older[int(found)] = path
    if not older:
        return None
    before = max(older)
    try:
        old = pd.read_parquet(older[before])
    except Exception:  # a damaged snapshot is only a cache
        return None
    now, app = app_decisions(engine)
    if len(app):
        known = pc.is_in(
            pa.array(app["rec_id"].astype(str).tolist(), type=pa.large_string()),
            value_set=pa.array(old["rec_id"].array, type=pa.large_string()),
        )
        app = app[~known.to_numpy(zero_copy_only=False)]
    if now != version or len(app) != version - before:
        return None
    return append_rows(TABLES["decisions"], old, _typed_like(app, old))


def _typed_like(rows: pd.DataFrame, like: pd.DataFrame) -> pd.DataFrame:
    """``rows`` (read from the database) with the dtypes of ``like`` (read from a snapshot):
    the same values, spelled the way a snapshot's Parquet round trip spells them."""
    out = rows.copy()
    for col in out.columns.intersection(like.columns):
        want = like[col].dtype
        if isinstance(want, pd.CategoricalDtype) and isinstance(
            out[col].dtype, pd.CategoricalDtype
        ):
            cats = out[col].cat.categories.astype(want.categories.dtype)
            out[col] = out[col].cat.rename_categories(cats)
        elif out[col].dtype != want:
            out[col] = out[col].astype(want)
    return out


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
        # Arrow's hash lookup: a third of the time of pandas' over a million string ids.
        found = pc.index_in(
            pa.array(out["rec_id"].array, type=pa.large_string()),
            value_set=pa.array(recs["rec_id"].array, type=pa.large_string()),
        )
        pos = found.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
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
    version = frames_version(versions)
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


_BATCH_COLUMNS = (
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
)


def import_batches(engine: Engine) -> pd.DataFrame:
    """Import history, newest first, with per-table counts expanded from JSON.

    Read through the table's column types, so ``started_at`` / ``finished_at`` come back
    as instants on every backend (SQLite stores them as integer microseconds, which a
    bare ``SELECT`` hands over as plain numbers).
    """
    table = ImportBatch.__table__  # type: ignore[attr-defined]
    query = select(*(table.c[c] for c in _BATCH_COLUMNS)).order_by(table.c.id.desc())
    with engine.connect() as conn:
        rows = conn.execute(query).mappings().all()
    df = pd.DataFrame([dict(r) for r in rows])
    if df.empty:
        return pd.DataFrame(columns=list(_BATCH_COLUMNS))
    for col in ("files", "loaded", "unchanged", "naive_timestamps"):
        df[col] = df[col].map(json.loads)
    for col in ("started_at", "finished_at"):
        df[col] = pd.to_datetime(df[col], utc=True).astype(TS_DTYPE)
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


def quarantine_summary(engine: Engine) -> pd.DataFrame:
    """How many rows and problems each import left in quarantine, per table and column —
    nothing of what the rows held (for roles that may not read the raw rows)."""
    sql = (
        'SELECT batch_id, table_name AS "table", column_name AS "column", '
        'COUNT(DISTINCT row_number) AS "rows", COUNT(*) AS problems FROM quarantine '
        "GROUP BY batch_id, table_name, column_name ORDER BY batch_id DESC, table_name, column_name"
    )
    with engine.connect() as conn:
        rows = conn.execute(text(sql)).mappings().all()
    return pd.DataFrame(
        [dict(r) for r in rows], columns=["batch_id", "table", "column", "rows", "problems"]
    )


def recommendation_row(
    engine: Engine, rec_id: str, *, features: Sequence[str], numeric: Collection[str]
) -> pd.DataFrame:
    """One recommendation read by its key, typed as ``load_frames`` types it (no rows when
    there is none): one column per ``f_*`` name in ``features``, numbers for those in
    ``numeric`` (the ones the whole log holds as numbers, which one row cannot tell: "12"
    may be a bin code) and text for the others."""
    spec = TABLES["recommendations"]
    with engine.connect() as conn:
        df = read_sql_frame(
            conn, spec, read_columns(spec), where="WHERE rec_id = :r", params={"r": rec_id}
        )
    raw = df.pop("features")
    stored = json.loads(raw.iloc[0]) if len(df) and isinstance(raw.iloc[0], str) else {}
    for name in sorted({*features, *stored}):
        value = stored.get(name)
        text = None if value is None else str(value)
        if name in numeric:
            df[name] = parse_numbers(pa.array([text or ""] * len(df), type=pa.string()))[0]
        else:
            df[name] = pd.Series([text] * len(df), index=df.index, dtype="string").astype(
                "category"
            )
    return df


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


def app_decisions(engine: Engine) -> tuple[int, pd.DataFrame]:
    """(the decisions table's version, every decision recorded in the workbench), the version
    read first: a decision landing between the two reads adds a row the count below rejects.

    A decision recorded in the workbench (``source = "app"``) adds one row and bumps the
    version by exactly one; a load that writes decisions bumps it too, without adding app
    rows. So a holder of version ``v``'s decisions takes the app rows it lacks as all that
    changed exactly when there are ``version - v`` of them
    (``flows.explain.decisions_since``).
    """
    columns = list(DECISIONS.column_names) + ["source"]
    with engine.connect() as conn, conn.begin():
        found = conn.execute(
            text("SELECT version FROM data_version WHERE table_name = 'decisions'")
        ).scalar_one_or_none()
        rows = read_sql_frame(conn, DECISIONS, columns, where="WHERE source = 'app'")
    return int(found or 0), finish(DECISIONS, rows)


def clear_memo() -> None:
    """Forget in-process frames (tests; after deleting a store)."""
    with _memo_lock:
        _memo.clear()
        _frames_memo.clear()
