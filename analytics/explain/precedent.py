"""Precedent: what happened the last times a recommendation like this one came up.

For each recommendation type the decided recommendations form an index in
standardized feature space (the type surrogate's ``f_*`` inputs; numbers as
z-scores, text one-hot). Each dimension is weighted by the feature's share of
the surrogate's mean |SHAP|, so that columns the model ignores (noise, bin
codes) do not decide who counts as similar. A query looks only at
recommendations created before the one being explained, so a precedent is
always something the planner could have known.

Matching a recommendation against candidate rules is ``analytics.explain.rule_match``.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from analytics.explain.fit import (
    TYPE_FEATURE,
    Surrogates,
    category_codes,
    global_drivers,
)
from analytics.shared.forecast_value import unit_gain
from analytics.shared.lookups import id_keys, key_positions, key_text

PRECEDENT_COLUMNS = [
    "rec_id",
    "created_at",
    "site",
    "decision",
    "decided_by",
    "reason",
    "recommended_qty",
    "final_qty",
    "actual_qty",
    "stockout",
    "value_added",
    "distance",
]


@dataclass(frozen=True)
class TypePrecedents:
    """Every recommendation of one type, sorted by ``created_at``, as a search space.

    Only features carrying at least ``MIN_WEIGHT`` of the surrogate's mean |SHAP|
    are dimensions: the others could not change who is nearest anyway.
    """

    rec_type: str
    numeric: tuple[str, ...]
    center: np.ndarray
    scale: np.ndarray
    num_weight: np.ndarray
    categories: dict[str, tuple[str, ...]]
    cat_weight: dict[str, float]
    matrix: np.ndarray
    created_at: np.ndarray
    rec_id: np.ndarray  # analytics.shared.lookups.id_keys
    site: pd.Categorical
    recommended_qty: np.ndarray

    def embed(self, rows: pd.DataFrame) -> np.ndarray:
        """Rows (raw snapshot values) as points of this space (float32)."""
        parts = []
        if self.numeric:
            x = rows[list(self.numeric)].to_numpy(dtype="float64", na_value=np.nan)
            z = (x - self.center) / self.scale
            parts.append(np.nan_to_num(z, nan=0.0) * np.sqrt(self.num_weight))
        for col, cats in self.categories.items():
            codes = category_codes(rows[col], cats)
            ok = np.isfinite(codes)
            onehot = np.zeros((len(rows), len(cats)), dtype="float64")
            onehot[np.flatnonzero(ok), codes[ok].astype(np.int64)] = 1.0
            # Two one-hot rows that differ are sqrt(2) apart; scale so a mismatch costs its weight.
            parts.append(onehot * np.sqrt(self.cat_weight[col] / 2.0))
        if not parts:
            return np.zeros((len(rows), 0), dtype="float32")
        return np.hstack(parts).astype("float32")


@dataclass(frozen=True)
class PrecedentIndex:
    """Per explained type, its recommendations in feature space (depends on recommendations only)."""

    types: dict[str, TypePrecedents]


@dataclass(frozen=True)
class DecisionLookup:
    """Decisions and outcomes by ``rec_id``; cheap to rebuild after a recorded decision.

    Holds sorted ids and row positions into the (shared, read-only) decisions and
    outcomes frames; rows are only read for the few precedents shown. ``recent`` holds
    decisions recorded since it was built (``with_recent``), on recommendations it has open.
    """

    rec_ids: np.ndarray
    rows: np.ndarray
    decisions: pd.DataFrame
    outcome_ids: np.ndarray
    outcome_rows: np.ndarray
    outcomes: pd.DataFrame
    recent: pd.DataFrame | None = None

    def with_recent(self, recent: pd.DataFrame) -> DecisionLookup:
        """This lookup plus ``recent`` decisions (a few rows of the decisions' columns, on
        recommendations it has open), without copying the million it holds."""
        return replace(self, recent=recent.reset_index(drop=True))

    def decided(self, rec_ids: np.ndarray) -> np.ndarray:
        """Index of each id (into ``rec_ids``, then ``recent``), -1 when the recommendation is open."""
        at = _find(self.rec_ids, rec_ids)
        if self.recent is not None and len(self.recent):
            where = {r: i for i, r in enumerate(self.recent["rec_id"].astype(str))}
            text = key_text(np.asarray(rec_ids))
            late = np.array([where.get(r, -1) for r in text], dtype=np.int64)
            at = np.where(late >= 0, len(self.rec_ids) + late, at)
        return at

    def table(self, at: np.ndarray) -> pd.DataFrame:
        """``rec_id``, ``decision``, ``decided_by``, ``reason``, ``final_qty``, ``actual_qty``,
        ``stockout`` for the decided positions ``at`` (from ``decided``)."""
        at = np.asarray(at, dtype=np.int64)
        old = at < len(self.rec_ids)
        rows = self.rows[at[old]]
        ids = np.empty(len(at), dtype=object)
        ids[old] = key_text(self.rec_ids[at[old]])
        out = {"rec_id": ids}
        for col in ("decision", "decided_by", "reason", "final_qty"):
            values = np.empty(len(at), dtype="float64" if col == "final_qty" else object)
            values[old] = _gather(self.decisions[col], rows)
            if not old.all() and self.recent is not None:
                late = at[~old] - len(self.rec_ids)
                recent = self.recent[col].to_numpy(dtype=values.dtype, na_value=_NONE[col])
                values[~old] = recent[late]
            out[col] = values
        if not old.all() and self.recent is not None:
            ids[~old] = self.recent["rec_id"].astype(str).to_numpy()[at[~old] - len(self.rec_ids)]
        table = pd.DataFrame(out)
        o_at = _find(self.outcome_ids, ids)
        hit = o_at >= 0
        actual = np.full(len(at), np.nan)
        stockout = np.full(len(at), None, dtype=object)
        if hit.any():
            o_rows = self.outcome_rows[o_at[hit]]
            actual[hit] = _gather(self.outcomes["actual_qty"], o_rows)
            stockout[hit] = _gather(self.outcomes["stockout"], o_rows)
        table["actual_qty"] = actual
        table["stockout"] = pd.array(stockout, dtype="boolean")
        return table


_NONE = {"decision": None, "decided_by": None, "reason": None, "final_qty": np.nan}


def _gather(col: pd.Series, rows: np.ndarray) -> np.ndarray:
    """``col`` at a few ``rows`` without a take over the whole column (NaN/None if missing).

    On a million-row Arrow column a take costs about half a millisecond however few
    rows it asks for; a handful of scalar reads is far cheaper.
    """
    if isinstance(col.dtype, pd.CategoricalDtype):
        codes = col.cat.codes.to_numpy()[rows]
        names = np.asarray(col.cat.categories, dtype=object)
        return np.where(codes >= 0, names[np.maximum(codes, 0)], None)
    if col.dtype == np.float64:
        return col.to_numpy()[rows]
    values = [col.iloc[int(r)] for r in rows]
    return np.array([None if v is None or v is pd.NA else v for v in values], dtype=object)


_find = key_positions


def _sorted_ids(ids: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    arr = id_keys(ids.to_numpy(dtype=object))
    # Frames are read ORDER BY rec_id, so checking is enough; sort only otherwise.
    if len(arr) < 2 or bool(np.all(arr[1:] >= arr[:-1])):
        return arr, np.arange(len(arr))
    order = np.argsort(arr, kind="stable")
    return arr[order], order


def decision_lookup(frames: Any) -> DecisionLookup:
    """Index ``frames.decisions`` (final_qty with contract defaults) and ``frames.outcomes``."""
    ids, rows = _sorted_ids(frames.decisions["rec_id"])
    o_ids, o_rows = _sorted_ids(frames.outcomes["rec_id"])
    # Only what a precedent shows: the lookup is read back on every new server process.
    decisions = frames.decisions[["decision", "decided_by", "reason", "final_qty"]]
    outcomes = frames.outcomes[["actual_qty", "stockout"]]
    return DecisionLookup(ids, rows, decisions, o_ids, o_rows, outcomes)


def _weights(model: Surrogates, rec_type: str, features: list[str]) -> dict[str, float]:
    """Each feature's share of the type's mean |SHAP| (equal shares when all are zero)."""
    imp = global_drivers(model, rec_type=rec_type).set_index("feature")["mean_abs_shap"]
    w = imp.reindex(features).fillna(0.0).clip(lower=0.0)
    if float(w.sum()) <= 0:
        return dict.fromkeys(features, 1.0 / max(len(features), 1))
    return {f: float(v) for f, v in (w / w.sum()).items()}


MIN_WEIGHT = 0.01


def build_precedent_index(
    frames: Any, model: Surrogates, *, rec_types: Iterable[str] | None = None
) -> PrecedentIndex:
    """Index the recommendations of each explained type (see module doc).

    Parameters
    ----------
    frames : Frames
        Needs ``recommendations`` only: decisions are looked up at query time
        (``decision_lookup``), so recording a decision does not rebuild this.
    model : Surrogates
        Fitted surrogates: they say which features each type uses and how much each matters.
    rec_types : iterable of str, optional
        Only these types (default: every type the model explains).
    """
    recs = frames.recommendations
    wanted = list(model.types) if rec_types is None else list(rec_types)
    types: dict[str, TypePrecedents] = {}
    for t in wanted:
        if t not in model.types:
            continue
        pos = peer_type_positions(recs, t)
        rows = recs.iloc[pos]
        order = np.lexsort(
            (
                rows["rec_id"].to_numpy(dtype=str),
                rows["created_at"].to_numpy(dtype="datetime64[us]"),
            )
        )
        rows = rows.iloc[order]
        feats = [f for f in model.types[t].features if f != TYPE_FEATURE]
        weights = _weights(model, t, feats)
        kept = [f for f in feats if weights[f] >= MIN_WEIGHT] or feats
        total = sum(weights[f] for f in kept) or 1.0
        weights = {f: weights[f] / total * len(kept) for f in kept}
        numeric, categories = [], {}
        for f in kept:
            col = rows[f]
            if isinstance(col.dtype, pd.CategoricalDtype) or not pd.api.types.is_numeric_dtype(col):
                cats = col.astype("string").dropna().unique()
                categories[f] = tuple(sorted(str(c) for c in cats))
            else:
                numeric.append(f)
        x = rows[numeric].to_numpy(dtype="float64", na_value=np.nan)
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # an all-missing column
            center = np.nan_to_num(np.nanmean(x, axis=0)) if len(x) else np.zeros(len(numeric))
            scale = np.nanstd(x, axis=0) if len(x) else np.ones(len(numeric))
        scale = np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)
        tp = TypePrecedents(
            rec_type=t,
            numeric=tuple(numeric),
            center=center,
            scale=scale,
            num_weight=np.array([weights[f] for f in numeric], dtype="float64"),
            categories=categories,
            cat_weight={f: weights[f] for f in categories},
            matrix=np.zeros((0, 0), dtype="float32"),
            created_at=rows["created_at"].to_numpy(dtype="datetime64[us]"),
            rec_id=id_keys(rows["rec_id"].to_numpy(dtype=object)),
            site=pd.Categorical(rows["site"].astype("string")),
            recommended_qty=rows["recommended_qty"].to_numpy(dtype="float64", na_value=np.nan)
            if "recommended_qty" in rows.columns
            else np.full(len(rows), np.nan),
        )
        types[t] = replace(tp, matrix=tp.embed(rows))
    return PrecedentIndex(types=types)


def peer_type_positions(recommendations: pd.DataFrame, rec_type: str) -> np.ndarray:
    col = recommendations["rec_type"]
    if isinstance(col.dtype, pd.CategoricalDtype):
        cats = col.cat.categories
        if rec_type not in cats:
            return np.array([], dtype=np.int64)
        return np.flatnonzero(col.cat.codes.to_numpy() == cats.get_loc(rec_type))
    return np.flatnonzero((col == rec_type).to_numpy(dtype=bool, na_value=False))


def _nearest(dist: np.ndarray, want: int) -> np.ndarray:
    """Positions of the ``want`` smallest distances, nearest first (ties: lower position)."""
    part = np.argpartition(dist, want - 1)[:want] if want < len(dist) else np.arange(len(dist))
    return part[np.lexsort((part, dist[part]))]


def _empty_precedents() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="object") for c in PRECEDENT_COLUMNS})


def find_precedents(
    index: PrecedentIndex,
    rec: pd.DataFrame | pd.Series,
    lookup: DecisionLookup,
    *,
    k: int = 5,
) -> pd.DataFrame:
    """The ``k`` decided recommendations of the same type nearest to ``rec``, created before it.

    Parameters
    ----------
    index : PrecedentIndex
    rec : one-row DataFrame or Series
        The recommendation (a row of the recommendations frame).
    lookup : DecisionLookup
        How each candidate was decided and what happened.
    k : int

    Returns
    -------
    pd.DataFrame
        ``PRECEDENT_COLUMNS``, nearest first (ties by rec_id); empty when the type is
        not indexed or nothing of its type was decided before.
    """
    row = rec if isinstance(rec, pd.DataFrame) else rec.to_frame().T
    first = row.iloc[0]
    tp = index.types.get(str(first["rec_type"]))
    if tp is None or k <= 0:
        return _empty_precedents()
    created = pd.Timestamp(first["created_at"]).tz_convert("UTC").tz_localize(None)
    n_past = int(np.searchsorted(tp.created_at, np.datetime64(created, "us"), side="left"))
    if n_past == 0:
        return _empty_precedents()
    query = tp.embed(row)
    want = min(n_past, 4 * k)
    every = None
    if tp.matrix.shape[1]:  # Euclidean distances to every earlier one, in float64
        diff = tp.matrix[:n_past].astype("float64") - query[0].astype("float64")
        every = np.sqrt(np.einsum("ij,ij->i", diff, diff))
    while True:
        if every is None:
            idx = np.arange(n_past - want, n_past)[::-1]  # no features: the most recent ones
            dist = np.zeros(want)
        else:
            idx = _nearest(every, want)
            dist = every[idx]
        at = lookup.decided(tp.rec_id[idx])
        if (at >= 0).sum() >= k or want == n_past:
            break
        want = min(n_past, want * 8)  # mostly open neighbours: look further out
    keep = np.flatnonzero(at >= 0)
    out = lookup.table(at[keep])
    out["created_at"] = pd.to_datetime(tp.created_at[idx[keep]]).tz_localize("UTC")
    out["distance"] = dist[keep].astype("float64")
    out["site"] = pd.Series(tp.site.take(idx[keep])).to_numpy(dtype=object, na_value=None)
    out["recommended_qty"] = tp.recommended_qty[idx[keep]]
    out["value_added"] = unit_gain(out["recommended_qty"], out["final_qty"], out["actual_qty"])
    out = out.sort_values(["distance", "rec_id"], kind="stable").head(k).reset_index(drop=True)
    return out[PRECEDENT_COLUMNS]


def precedent_summary(precedents: pd.DataFrame, rec_type_label: str) -> str:
    """One line on how the precedents were decided and what the overrides were worth.

    ``rec_type_label`` is the plural type label (``"stockout risks"``).
    """
    if precedents.empty:
        return f"No {rec_type_label} were decided before this one."
    counts = precedents["decision"].astype("string").value_counts()
    text = (
        f"The {len(precedents)} most similar {rec_type_label} decided before it (nearest in the "
        "features that drive the model): " + ", ".join(f"{n} {d}" for d, n in counts.items())
    )
    va = precedents["value_added"].dropna()
    if len(va):
        text += (
            f". Value added where the outcome is known: {va.sum():+,.0f} units in total "
            "(|recommended − actual| − |final − actual|; positive = the people improved on it)"
        )
    return text + "."
