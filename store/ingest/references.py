"""Checks of a decision (or outcome) row against its recommendation: the rec_id exists
(loading now or stored), or else depends on a rejected row; time order; final_qty.

Ids are matched with Arrow's hash tables (``index_in``), not per-row Python.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy.engine import Connection

from contract.tables import RECOMMENDATIONS
from store.ingest.validate import Problems
from store.sqlio import read_sql_matching

_NAT = np.iinfo("int64").min


def _micros(values: pd.Series) -> np.ndarray:
    """UTC timestamps as int64 microseconds (NaT as the int64 minimum), without Python objects."""
    naive = pd.Series(values).astype("datetime64[us, UTC]").dt.tz_localize(None)
    return naive.to_numpy(dtype="datetime64[us]").view("int64")


def _arrow_text(values: pd.Series) -> pa.Array:
    """Text values as an Arrow string array (zero-copy when they already are Arrow)."""
    if isinstance(values.array, pd.arrays.ArrowStringArray):
        arr = pa.array(values.array)
        return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
    obj = values.astype(object)
    return pa.array(obj.where(obj.notna(), None), type=pa.string(), from_pandas=True)


def _positions(values: pd.Series, universe: pd.Series) -> np.ndarray:
    """Where each value first occurs in ``universe`` (-1 when absent or missing); hashed by
    Arrow in C, which at a million ids is several times faster than a pandas object Index."""
    if len(universe) == 0 or len(values) == 0:
        return np.full(len(values), -1, dtype="int64")
    pos = pc.index_in(_arrow_text(values), value_set=_arrow_text(universe), skip_nulls=True)
    return pc.fill_null(pos, -1).to_numpy(zero_copy_only=False).astype("int64")


def check_references(
    conn: Connection,
    frame: pd.DataFrame,
    probs: Problems,
    recs: pd.DataFrame | None,
    recs_bad: np.ndarray | None,
) -> None:
    """rec_id must name a recommendation that loads now or is stored; time order and
    ``final_qty`` rules that need the recommendation are checked here too."""
    rec_cols = ["rec_id", "created_at", "recommended_qty"]
    rec_id = frame["rec_id"]
    has_id = rec_id.notna().to_numpy()
    rejected = pd.DataFrame({"rec_id": pd.Series(dtype=object), "_line": pd.Series(dtype="int64")})
    loading = pd.DataFrame({c: pd.Series(dtype=object) for c in rec_cols})
    if recs is not None and recs_bad is not None:
        loading = recs.loc[~recs_bad, rec_cols]
        rejected = recs.loc[recs_bad, ["rec_id", "_line"]].dropna(subset=["rec_id"])
    # A rec loading now comes before a stored one; only the ids it does not give are
    # looked up in the store (a load may have written this bundle's recommendations
    # already, and reading them back would cost a second pass over them).
    pos = _positions(rec_id, loading["rec_id"])
    elsewhere = has_id & (pos < 0)
    stored = (
        read_sql_matching(conn, RECOMMENDATIONS, rec_cols, "rec_id", rec_id[elsewhere])
        if elsewhere.any()
        else loading.iloc[:0]
    )
    if len(stored):
        stored = stored.assign(rec_id=stored["rec_id"].astype(object))
        in_store = _positions(rec_id, stored["rec_id"])
        pos = np.where(elsewhere & (in_store >= 0), len(loading) + in_store, pos)
    known = pd.concat([loading, stored], ignore_index=True) if len(stored) else loading
    found = pos >= 0
    dep = _positions(rec_id, rejected["rec_id"])
    dep_line = (
        np.where(dep >= 0, rejected["_line"].to_numpy(dtype="float64")[np.maximum(dep, 0)], np.nan)
        if len(rejected)
        else np.full(len(frame), np.nan)
    )
    dependent = has_id & ~found & ~np.isnan(dep_line)
    probs.add(
        dependent,
        "rec_id",
        "depends on rejected recommendations row ",
        np.nan_to_num(dep_line).astype("int64"),
        quote=False,
    )
    missing = has_id & ~found & np.isnan(dep_line)
    if missing.any():
        probs.add(
            missing,
            "rec_id",
            "rec_id ",
            rec_id.astype(object).to_numpy(),
            quote=True,
            suffix=" not found in recommendations",
        )
    if "decision" in frame.columns:
        rejected_qty = (frame["decision"] == "rejected").fillna(False).to_numpy(dtype=bool) & (
            frame["final_qty"].to_numpy(dtype="float64") > 0
        )
        probs.add(
            rejected_qty,
            "final_qty",
            "rejected means not done: final_qty must be empty or 0 (record it as modified)",
        )
    if "decided_at" in frame.columns and len(known):
        at = np.where(found, pos, 0)
        created = _micros(known["created_at"])[at]
        decided = _micros(frame["decided_at"])
        early = found & (decided != _NAT) & (created != _NAT) & (decided < created)
        probs.add(early, "decided_at", "decided_at is before the recommendation's created_at")
        rec_qty = known["recommended_qty"].to_numpy(dtype="float64", na_value=np.nan)[at]
        decision = frame["decision"]
        modified = (decision == "modified").fillna(False).to_numpy(dtype=bool)
        accepted = (decision == "accepted").fillna(False).to_numpy(dtype=bool)
        final = frame["final_qty"].to_numpy(dtype="float64")
        # The app's rules (store/decide.py): accepted is done as proposed, rejected not done.
        probs.add(
            found & accepted & ~np.isnan(final) & (np.isnan(rec_qty) | (final != rec_qty)),
            "final_qty",
            "accepted means done as proposed: final_qty is not the recommended_qty "
            "(record it as modified)",
        )
        probs.add(
            found
            & modified
            & ~np.isnan(rec_qty)
            & np.isnan(frame["final_qty"].to_numpy(dtype="float64")),
            "final_qty",
            "final_qty required for a modified decision when recommended_qty is set",
        )
