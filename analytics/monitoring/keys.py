"""Joining and grouping the contract tables fast at a million rows.

``Series.isin``, ``merge`` and comparisons on Arrow-backed strings go through Python
objects. Here ``rec_id`` lookups use Arrow's hash kernels, and code columns (``rec_type``,
``site``, ``model_version``…) are handled as integer codes with a list of labels.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Collection

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


def _arrow_text(values: pd.Series) -> pa.Array | pa.ChunkedArray:
    if isinstance(values.dtype, pd.CategoricalDtype):
        cats = pa.array([str(c) for c in values.cat.categories], type=pa.string())
        codes = values.cat.codes.to_numpy()
        taken = cats.take(pa.array(np.where(codes < 0, 0, codes)))
        return pc.if_else(pa.array(codes < 0), pa.scalar(None, pa.string()), taken)
    array = pa.array(values.array) if hasattr(values.array, "__arrow_array__") else None
    if array is None:
        array = pa.array(values.astype(object).to_numpy(), from_pandas=True)
    return array if pa.types.is_string(array.type) or pa.types.is_large_string(array.type) else (
        pc.cast(array, pa.string())
    )  # fmt: skip


# The last few lookups, by the identity of the two frames (frames are read-only: see
# store.reads). One monitor run joins the same decisions and outcomes several times.
_memo: dict[tuple[int, int], tuple[weakref.ref, weakref.ref, np.ndarray]] = {}
_lock = threading.Lock()


def positions(recommendations: pd.DataFrame, other: pd.DataFrame) -> np.ndarray:
    """For each row of ``other``, the position of its ``rec_id`` in ``recommendations`` (−1
    when it has none). Treat the result as read-only."""
    if other.empty or recommendations.empty:
        return np.full(len(other), -1, dtype="int64")
    key = (id(recommendations), id(other))
    with _lock:
        hit = _memo.get(key)
    if hit is not None and hit[0]() is recommendations and hit[1]() is other:
        return hit[2]
    found = pc.index_in(
        _arrow_text(other["rec_id"]), value_set=_arrow_text(recommendations["rec_id"])
    )
    pos = np.asarray(pc.fill_null(found, -1).to_numpy(zero_copy_only=False), dtype="int64")
    pos.setflags(write=False)
    with _lock:
        for stale in [k for k, v in _memo.items() if v[0]() is None or v[1]() is None]:
            del _memo[stale]
        while len(_memo) >= 8:
            del _memo[next(iter(_memo))]
        _memo[key] = (weakref.ref(recommendations), weakref.ref(other), pos)
    return pos


def spread(n: int, pos: np.ndarray, values: np.ndarray | pd.Series) -> np.ndarray:
    """A float per recommendation: ``values`` where a row of the other table points, NaN
    elsewhere (``pos`` from ``positions``)."""
    out = np.full(n, np.nan)
    ok = pos >= 0
    out[pos[ok]] = np.asarray(values, dtype="float64")[ok]
    return out


def flag(n: int, pos: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """A boolean per recommendation: True where a row of the other table (within ``mask``)
    points at it."""
    out = np.zeros(n, dtype=bool)
    chosen = pos >= 0 if mask is None else (pos >= 0) & np.asarray(mask, dtype=bool)
    out[pos[chosen]] = True
    return out


def factor(values: pd.Series) -> tuple[np.ndarray, list[str]]:
    """(integer code per row, −1 when missing; the labels the codes stand for, as str)."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values.cat.codes.to_numpy().astype("int64"), [str(c) for c in values.cat.categories]
    codes, uniques = pd.factorize(values, sort=True)
    return codes.astype("int64"), [str(u) for u in uniques]


def text(values: pd.Series) -> np.ndarray:
    """A code column as a numpy array of str (missing as "")."""
    codes, labels = factor(values)
    return np.asarray(labels + [""], dtype=object)[codes]


def member(values: pd.Series, allowed: Collection[str]) -> np.ndarray:
    """Whether each row's value (as str) is in ``allowed``; missing values are not."""
    codes, labels = factor(values)
    inside = np.append(np.isin(np.asarray(labels, dtype=object), list(allowed)), False)
    return inside[codes]
