"""A recommendation's peers (its type at its site) and each driver's typical value among them.

``peer_values`` summarises every (type, site) group once per version of the recommendations:
for each numeric input of the type's surrogate its peers' values sorted (so the median and a
value's percentile are exact), for each text input its most common value. ``typical_from``
then describes one recommendation from that summary, as ``text.typical_values`` does from
the whole log, without reading the log.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

TYPE_FEATURE = "rec_type"
TYPICAL_COLUMNS = ["feature", "value", "typical", "percentile", "n_peers", "pct_fraction"]


@dataclass(frozen=True)
class PeerGroup:
    """The recommendations of one type at one site, as far as typical values need them.

    ``values[f]``: the finite values of numeric feature ``f``, sorted; ``biggest[f]`` the
    largest |value| (NaN without one); ``modes[f]``: (most common value, how many have one)
    of text feature ``f``; ``size``: recommendations in the group.
    """

    size: int = 0
    values: dict[str, np.ndarray] = field(default_factory=dict)
    biggest: dict[str, float] = field(default_factory=dict)
    modes: dict[str, tuple[str | None, int]] = field(default_factory=dict)


@dataclass(frozen=True)
class PeerValues:
    """Every (type, site) group's ``PeerGroup``; ``features`` are the log's ``f_*`` columns,
    ``numeric`` those it holds as numbers (one row alone cannot tell "12" the code from 12)."""

    features: tuple[str, ...]
    numeric: frozenset[str]
    groups: dict[tuple[str, str | None], PeerGroup]

    def group(self, rec_type: str, site: Any) -> PeerGroup:
        return self.groups.get((str(rec_type), _site_key(site)), PeerGroup())

    def typical(self, rec: pd.Series, features: Sequence[str]) -> pd.DataFrame:
        """Each feature's typical value among ``rec``'s peers beside its own.

        Returns ``TYPICAL_COLUMNS``, one row per feature in the order given: ``value`` (raw),
        ``typical`` (median; most common value for text), ``percentile`` (share of peers at
        or below the value, 0–100; NaN for text or missing), ``n_peers`` (peers with a
        value), ``pct_fraction`` (a ``*_pct`` column holding fractions).
        """
        group = self.group(rec["rec_type"], rec["site"])
        rows = []
        for f in features:
            value = rec[f] if f in rec.index else None
            if f == TYPE_FEATURE:
                rows.append((f, str(value), str(value), float("nan"), group.size, False))
            elif f in self.numeric:
                rows.append((f, *_numeric_row(group, f, value)))
            else:
                typical, n_peers = group.modes.get(f, (None, 0))
                raw = None if _missing(value) else str(value)
                rows.append((f, raw, typical, float("nan"), n_peers, False))
        return pd.DataFrame(rows, columns=TYPICAL_COLUMNS)


def _numeric_row(group: PeerGroup, f: str, value: Any) -> tuple[float, float, float, int, bool]:
    peers = group.values.get(f, np.zeros(0))
    n = len(peers)
    x = float("nan") if _missing(value) else float(value)
    median = float(np.median(peers)) if n else float("nan")
    known = math.isfinite(x) and n > 0
    pct = int(np.searchsorted(peers, x, side="right")) / n * 100 if known else float("nan")
    frac = f.endswith("_pct") and n > 0 and group.biggest.get(f, float("nan")) <= 1.0
    return x, median, pct, n, frac


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def _site_key(site: Any) -> str | None:
    return None if _missing(site) else str(site)


def _floats(col: pd.Series) -> np.ndarray:
    """A numeric column as float64 without copying it when it already is one."""
    if col.dtype == np.float64:
        return col.to_numpy()
    return col.to_numpy(dtype="float64", na_value=np.nan)


def is_numeric_feature(col: pd.Series) -> bool:
    """Whether a feature column holds numbers (not text, not categories)."""
    return pd.api.types.is_numeric_dtype(col) and not isinstance(col.dtype, pd.CategoricalDtype)


def mode(col: pd.Series, pos: np.ndarray) -> tuple[str | None, int]:
    """Most common value of ``col`` at ``pos`` (ties: the first name) and how many have one."""
    if isinstance(col.dtype, pd.CategoricalDtype):
        codes = col.cat.codes.to_numpy()[pos]
        codes = codes[codes >= 0]
        if len(codes) == 0:
            return None, 0
        counts = np.bincount(codes, minlength=len(col.cat.categories))
        names = np.asarray(col.cat.categories, dtype=str)
        best = np.flatnonzero(counts == counts.max())
        return str(min(names[best])), len(codes)
    values = col.iloc[pos].dropna().astype("string")
    if values.empty:
        return None, 0
    counts = values.value_counts().sort_index()
    return str(counts.sort_values(ascending=False, kind="stable").index[0]), len(values)


def _group(recs: pd.DataFrame, pos: np.ndarray, features: Sequence[str]) -> PeerGroup:
    values: dict[str, np.ndarray] = {}
    biggest: dict[str, float] = {}
    modes: dict[str, tuple[str | None, int]] = {}
    for f in features:
        if f == TYPE_FEATURE or f not in recs.columns:
            continue
        col = recs[f]
        if not is_numeric_feature(col):
            modes[f] = mode(col, pos)
            continue
        x = _floats(col)[pos]
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all missing: NaN
            biggest[f] = float(np.nanmax(np.abs(x))) if len(x) else float("nan")
        values[f] = np.sort(x[np.isfinite(x)])
    return PeerGroup(size=len(pos), values=values, biggest=biggest, modes=modes)


def peer_values(
    recommendations: pd.DataFrame, features_by_type: Mapping[str, Sequence[str]]
) -> PeerValues:
    """``PeerValues`` of every site of each type in ``features_by_type`` (its surrogate's
    inputs), from the ``rec_type``, ``site`` and feature columns of ``recommendations``."""
    recs = recommendations
    features = tuple(c for c in recs.columns if c.startswith("f_"))
    numeric = frozenset(f for f in features if is_numeric_feature(recs[f]))
    groups: dict[tuple[str, str | None], PeerGroup] = {}
    types = recs["rec_type"].astype("string").to_numpy(dtype=object, na_value=None)
    sites = recs["site"].astype("string").to_numpy(dtype=object, na_value=None)
    for rec_type, feats in features_by_type.items():
        of_type = np.flatnonzero(types == rec_type)
        codes, names = pd.factorize(pd.Series(sites[of_type], dtype=object), use_na_sentinel=True)
        order = np.argsort(codes, kind="stable")
        bounds = np.searchsorted(codes[order], np.arange(-1, len(names) + 1))
        for code in range(-1, len(names)):
            pos = of_type[order[bounds[code + 1] : bounds[code + 2]]]
            if len(pos):
                site = None if code < 0 else str(names[code])
                groups[(str(rec_type), site)] = _group(recs, pos, feats)
    return PeerValues(features=features, numeric=numeric, groups=groups)


def _equal_mask(col: pd.Series, value: Any) -> np.ndarray:
    if _missing(value):
        return col.isna().to_numpy()
    if isinstance(col.dtype, pd.CategoricalDtype):
        # Compare integer codes: a million-row string comparison per explanation is too slow.
        cats = col.cat.categories
        if value not in cats:
            return np.zeros(len(col), dtype=bool)
        return col.cat.codes.to_numpy() == cats.get_loc(value)
    return (col == value).to_numpy(dtype=bool, na_value=False)


def peer_positions(recommendations: pd.DataFrame, rec_type: str, site: Any) -> np.ndarray:
    """Row positions of recommendations with the same ``rec_type`` and ``site``."""
    same_type = _equal_mask(recommendations["rec_type"], rec_type)
    return np.flatnonzero(same_type & _equal_mask(recommendations["site"], site))


def one_group(
    recommendations: pd.DataFrame, rec_type: str, site: Any, features: Sequence[str]
) -> PeerValues:
    """``PeerValues`` holding only the group of ``rec_type`` at ``site`` (one explanation)."""
    recs = recommendations
    cols = tuple(c for c in recs.columns if c.startswith("f_"))
    numeric = frozenset(f for f in cols if is_numeric_feature(recs[f]))
    group = _group(recs, peer_positions(recs, rec_type, site), features)
    return PeerValues(
        features=cols, numeric=numeric, groups={(str(rec_type), _site_key(site)): group}
    )
