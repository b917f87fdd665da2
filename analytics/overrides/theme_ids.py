"""Stable theme ids: a new data version's themes take the ids of the previous version's.

The previous fit is remembered as one row per unit — ``(normalised reason, context)``
with its theme id (``ThemeModel.memory``). Each new theme takes the id of the previous
theme it overlaps most, counted in overrides, when that covers at least half of its
previously themed overrides and no larger theme took that id first; the others get
new ids after every id used before, so an id never changes meaning.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

FIRST_THEME_ID = 2  # 0: no reason given, 1: other


def stable_ids(
    labels: np.ndarray,
    counts: np.ndarray,
    unit_keys: pd.MultiIndex,
    previous: pd.DataFrame | None,
) -> np.ndarray:
    """Theme id per cluster: the previous theme it overlaps most, else a new id (by size)."""
    k = int(labels.max()) + 1 if (labels >= 0).any() else 0
    sizes = np.bincount(labels[labels >= 0], weights=counts[labels >= 0], minlength=k)
    order = sorted(range(k), key=lambda c: -sizes[c])  # ties: first unit in sorted order
    ids = np.full(k, -1, dtype=np.int64)
    next_id = FIRST_THEME_ID
    if previous is not None and len(previous):
        prev = previous.set_index(["reason", "context"])["theme_id"]
        prev_id = prev.reindex(unit_keys).to_numpy(dtype="float64", na_value=np.nan)
        themed = (labels >= 0) & ~np.isnan(prev_id) & (prev_id >= FIRST_THEME_ID)
        pairs = pd.DataFrame({"c": labels[themed], "p": prev_id[themed].astype(np.int64),
                              "n": counts[themed]})  # fmt: skip
        overlap = pairs.groupby(["c", "p"], sort=True)["n"].sum().reset_index()
        had = pairs.groupby("c")["n"].sum()
        overlap = overlap.sort_values(["n", "c", "p"], ascending=[False, True, True], kind="stable")
        taken: set[int] = set()
        for c, p, n in overlap.itertuples(index=False):
            if ids[c] < 0 and p not in taken and n >= 0.5 * had[c]:
                ids[c] = p
                taken.add(int(p))
        next_id = max(FIRST_THEME_ID, int(previous["theme_id"].max()) + 1)
    for c in order:
        if ids[c] < 0:
            ids[c] = next_id
            next_id += 1
    return ids
