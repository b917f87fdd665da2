"""Joining and grouping the contract tables fast at a million rows.

``Series.isin``, ``merge`` and comparisons on Arrow-backed strings go through Python
objects. Here ``rec_id`` lookups go through ``analytics.shared.lookups`` once per pair of
frames, and code columns (``rec_type``, ``site``, ``model_version``…) are handled as
integer codes with a list of labels.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Collection

import numpy as np
import pandas as pd

from analytics.shared.lookups import id_positions

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
    pos = np.asarray(id_positions(recommendations["rec_id"], other["rec_id"]), dtype="int64")
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
