"""Finding a recommendation to explain: by id, SKU or supplier; open ones by type, site, owner."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from analytics.shared.lookups import id_positions
from analytics.shared.owners import resolve_owners

PICK_COLUMNS = [
    "rec_id",
    "rec_type",
    "site",
    "sku",
    "supplier",
    "owner",
    "created_at",
    "est_impact_usd",
    "decision",
]


def pick_list(frames: Any) -> pd.DataFrame:
    """Every recommendation with what a planner picks it by, highest impact first.

    Columns ``PICK_COLUMNS``: ``owner`` from the ownership matrix (most specific row),
    ``decision`` missing for open recommendations. Sorted by ``est_impact_usd``
    descending (missing last), then ``rec_id``.
    """
    return with_decisions(pick_base(frames), frames.decisions)


def pick_base(frames: Any) -> pd.DataFrame:
    """``pick_list`` without its ``decision`` column: what a decision does not change (built
    once per version of the recommendations and the ownership matrix)."""
    recs = frames.recommendations
    out = pd.DataFrame(index=recs.index)
    for col in ("rec_id", "rec_type", "site", "sku", "supplier", "created_at", "est_impact_usd"):
        out[col] = recs[col] if col in recs.columns else pd.NA
    out["owner"] = resolve_owners(recs, frames.owners)["owner"].to_numpy()
    impact = out["est_impact_usd"].to_numpy(dtype="float64", na_value=np.nan)
    order = np.lexsort((out["rec_id"].to_numpy(dtype=str), np.nan_to_num(-impact, nan=np.inf)))
    return out.iloc[order][[c for c in PICK_COLUMNS if c != "decision"]].reset_index(drop=True)


def with_decisions(base: pd.DataFrame, decisions: pd.DataFrame) -> pd.DataFrame:
    """``pick_base`` plus each recommendation's ``decision`` (missing when open): ``pick_list``."""
    out = base.copy(deep=False)
    if len(decisions):
        pos = id_positions(decisions["rec_id"], out["rec_id"])
        values = decisions["decision"].astype("string").array.take(pos, allow_fill=True)
        out["decision"] = pd.array(values, dtype="string")
    else:
        out["decision"] = pd.array([pd.NA] * len(out), dtype="string")
    return out[PICK_COLUMNS]


def row_positions(table: pd.DataFrame, rec_ids: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(rows of ``table`` whose ``rec_id`` is one of ``rec_ids``, which one each is): a hash
    of the few ids probed by the million, not a hash of the million."""
    ids = pa.array(table["rec_id"].array)
    if isinstance(ids, pa.ChunkedArray):
        ids = ids.combine_chunks()
    wanted = pa.array([str(r) for r in rec_ids], type=ids.type)
    found = pc.index_in(ids, value_set=wanted)
    rows = np.flatnonzero(found.is_valid().to_numpy(zero_copy_only=False))
    return rows, found.drop_null().to_numpy(zero_copy_only=False).astype(np.int64)


def is_open(table: pd.DataFrame, rec_ids: np.ndarray) -> np.ndarray:
    """Whether each of ``rec_ids`` is in ``table`` (a pick list) without a decision."""
    rows, which = row_positions(table, list(rec_ids))
    out = np.zeros(len(rec_ids), dtype=bool)
    out[which] = table["decision"].isna().to_numpy()[rows]
    return out


def with_recent(table: pd.DataFrame, recent: pd.DataFrame) -> pd.DataFrame:
    """``table`` (a ``pick_list``) with the ``decision`` of the few ``recent`` decisions
    (``rec_id``, ``decision``) set: the pick list of the version they were recorded in."""
    if recent.empty:
        return table
    rows, which = row_positions(table, list(recent["rec_id"].astype(str)))
    decision = pa.array(table["decision"].array)
    if isinstance(decision, pa.ChunkedArray):
        decision = decision.combine_chunks()
    mask = np.zeros(len(table), dtype=bool)
    mask[rows] = True
    values = recent["decision"].astype(str).to_numpy()[which]  # in row order, as the mask
    decision = pc.replace_with_mask(decision, pa.array(mask), pa.array(values, decision.type))
    out = table.copy(deep=False)
    out["decision"] = pd.array(decision, dtype=table["decision"].dtype)
    return out


def pick_options(table: pd.DataFrame, column: str) -> list[str]:
    """The values of ``column`` present in ``table``, sorted as text (a filter's choices):
    from the category codes or Arrow's unique, not a million Python strings."""
    col = table[column]
    if isinstance(col.dtype, pd.CategoricalDtype):
        codes = col.cat.codes.to_numpy()
        seen = np.bincount(codes[codes >= 0], minlength=len(col.cat.categories)) > 0
        values = col.cat.categories[seen]
    else:
        values = pc.unique(pa.array(col.array)).drop_null().to_pylist()
    return sorted(map(str, values))


def filter_pick_list(
    table: pd.DataFrame,
    *,
    query: str | None = None,
    open_only: bool = True,
    rec_type: str | None = None,
    site: str | None = None,
    owner: str | None = None,
    limit: int = 500,
) -> pd.DataFrame:
    """Rows of ``pick_list`` matching the filters, in its order, at most ``limit``.

    ``query`` matches a case-insensitive substring of ``rec_id``, ``sku`` or ``supplier``.
    """
    mask = np.ones(len(table), dtype=bool)
    if open_only:
        mask &= table["decision"].isna().to_numpy()
    for col, value in (("rec_type", rec_type), ("site", site), ("owner", owner)):
        if value:
            mask &= (table[col].astype("string") == value).fillna(False).to_numpy(dtype=bool)
    q = (query or "").strip().lower()
    if q:
        hit = np.zeros(len(table), dtype=bool)
        for col in ("rec_id", "sku", "supplier"):
            text = table[col].astype("string").str.lower()
            hit |= text.str.contains(q, regex=False).fillna(False).to_numpy(dtype=bool)
        mask &= hit
    return table.loc[mask].head(limit).reset_index(drop=True)
