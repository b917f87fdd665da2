"""Precedent: what happened the last times a recommendation like this one came up.

For each recommendation type the decided recommendations form an index in
standardized feature space (the type surrogate's ``f_*`` inputs; numbers as
z-scores, text one-hot). Each dimension is weighted by the feature's share of
the surrogate's mean |SHAP|, so that columns the model ignores (noise, bin
codes) do not decide who counts as similar. A query looks only at
recommendations created before the one being explained, so a precedent is
always something the planner could have known.

Also here: the contract's value added per recommendation, and matching a
recommendation against candidate rules (``{"conditions": {attr: value}}``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
from sklearn.neighbors import NearestNeighbors

from analytics.surrogate_model import TYPE_FEATURE, Surrogates, global_drivers, one_thread
from store.schema import MONTHS, QUARTERS, WEEKDAYS

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


def value_added(recommended: Any, final: Any, actual: Any) -> np.ndarray:
    """Contract value added per recommendation: ``|rec − actual| − |final − actual|``.

    Positive when the person's final quantity ended closer to what was needed;
    NaN where any of the three is missing.
    """
    r = np.asarray(recommended, dtype="float64")
    f = np.asarray(final, dtype="float64")
    a = np.asarray(actual, dtype="float64")
    return np.abs(r - a) - np.abs(f - a)


@dataclass(frozen=True)
class TypePrecedents:
    """Decided recommendations of one type, sorted by ``created_at``, as a search space."""

    rec_type: str
    numeric: tuple[str, ...]
    center: np.ndarray
    scale: np.ndarray
    num_weight: np.ndarray
    categories: dict[str, tuple[str, ...]]
    cat_weight: dict[str, float]
    matrix: np.ndarray
    created_at: np.ndarray
    table: pd.DataFrame

    def embed(self, rows: pd.DataFrame) -> np.ndarray:
        """Rows (raw snapshot values) as points of this space (float32)."""
        parts = []
        if self.numeric:
            x = np.column_stack(
                [rows[c].to_numpy(dtype="float64", na_value=np.nan) for c in self.numeric]
            )
            z = (x - self.center) / self.scale
            parts.append(np.nan_to_num(z, nan=0.0) * np.sqrt(self.num_weight))
        for col, cats in self.categories.items():
            codes = pd.Categorical(rows[col].astype("string"), categories=cats).codes
            onehot = np.zeros((len(rows), len(cats)), dtype="float64")
            ok = codes >= 0
            onehot[np.flatnonzero(ok), codes[ok]] = 1.0
            # Two one-hot rows that differ are sqrt(2) apart; scale so a mismatch costs its weight.
            parts.append(onehot * np.sqrt(self.cat_weight[col] / 2.0))
        if not parts:
            return np.zeros((len(rows), 0), dtype="float32")
        return np.hstack(parts).astype("float32")


@dataclass(frozen=True)
class PrecedentIndex:
    types: dict[str, TypePrecedents]


def decided_table(frames: Any) -> pd.DataFrame:
    """Recommendations joined with their decision and outcome (decided ones only).

    Columns: the recommendation's columns, ``decision``, ``decided_by``, ``reason``,
    ``final_qty``, ``actual_qty``, ``stockout``, ``value_added``.
    """
    recs = frames.recommendations
    dec = frames.decisions
    if recs.empty or dec.empty:
        return recs.iloc[:0].assign(
            decision=pd.Series(dtype="string"),
            decided_by=pd.Series(dtype="string"),
            reason=pd.Series(dtype="string"),
            final_qty=pd.Series(dtype="float64"),
            actual_qty=pd.Series(dtype="float64"),
            stockout=pd.Series(dtype="boolean"),
            value_added=pd.Series(dtype="float64"),
        )
    d = dec[["rec_id", "decision", "decided_by", "reason", "final_qty"]]
    out = recs.merge(d, on="rec_id", how="inner", sort=False)
    outc = frames.outcomes
    if len(outc):
        out = out.merge(
            outc[["rec_id", "actual_qty", "stockout"]], on="rec_id", how="left", sort=False
        )
    else:
        out["actual_qty"] = np.nan
        out["stockout"] = pd.Series(pd.NA, index=out.index, dtype="boolean")
    out["value_added"] = value_added(out["recommended_qty"], out["final_qty"], out["actual_qty"])
    return out


def _weights(model: Surrogates, rec_type: str, features: list[str]) -> dict[str, float]:
    imp = global_drivers(model, rec_type=rec_type).set_index("feature")["mean_abs_shap"]
    w = imp.reindex(features).fillna(0.0).clip(lower=0.0)
    if float(w.sum()) <= 0:
        return dict.fromkeys(features, 1.0)
    w = w / w.sum() * len(features)
    return {f: float(v) for f, v in w.items()}


def build_precedent_index(
    frames: Any, model: Surrogates, *, rec_types: Iterable[str] | None = None
) -> PrecedentIndex:
    """Index the decided recommendations of each explained type (see module doc).

    Parameters
    ----------
    frames : Frames
        ``recommendations``, ``decisions`` (final_qty with contract defaults), ``outcomes``.
    model : Surrogates
        Fitted surrogates: they say which features each type uses and how much each matters.
    rec_types : iterable of str, optional
        Only these types (default: every type the model explains).
    """
    wanted = list(model.types) if rec_types is None else [t for t in rec_types]
    decided = decided_table(frames)
    types: dict[str, TypePrecedents] = {}
    rt = decided["rec_type"].astype("string")
    for t in wanted:
        if t not in model.types:
            continue
        rows = decided.loc[(rt == t).fillna(False).to_numpy(dtype=bool)]
        rows = rows.sort_values(["created_at", "rec_id"], kind="stable").reset_index(drop=True)
        feats = [f for f in model.types[t].features if f != TYPE_FEATURE]
        weights = _weights(model, t, feats)
        numeric, categories = [], {}
        for f in feats:
            col = rows[f]
            if isinstance(col.dtype, pd.CategoricalDtype) or not pd.api.types.is_numeric_dtype(col):
                cats = col.astype("string").dropna().unique()
                categories[f] = tuple(sorted(str(c) for c in cats))
            else:
                numeric.append(f)
        if numeric:
            x = np.column_stack(
                [rows[c].to_numpy(dtype="float64", na_value=np.nan) for c in numeric]
            )
            with np.errstate(all="ignore"):
                center = np.nan_to_num(np.nanmean(x, axis=0)) if len(x) else np.zeros(len(numeric))
                scale = np.nanstd(x, axis=0) if len(x) else np.ones(len(numeric))
            scale = np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)
        else:
            center, scale = np.zeros(0), np.ones(0)
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
            table=rows[
                [
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
                ]
            ],
        )
        types[t] = replace(tp, matrix=tp.embed(rows))
    return PrecedentIndex(types=types)


def find_precedents(
    index: PrecedentIndex, rec: pd.DataFrame | pd.Series, *, k: int = 5
) -> pd.DataFrame:
    """The ``k`` decided recommendations of the same type nearest to ``rec``, created before it.

    ``rec`` is one row of the recommendations frame (a one-row DataFrame or a
    Series). Returns ``PRECEDENT_COLUMNS``, nearest first (ties by rec_id); empty
    when the type is not indexed or nothing of its type was decided before.
    """
    row = rec if isinstance(rec, pd.DataFrame) else rec.to_frame().T
    rec = row.iloc[0]
    tp = index.types.get(str(rec["rec_type"]))
    if tp is None or k <= 0:
        return pd.DataFrame(columns=PRECEDENT_COLUMNS)
    created = np.datetime64(pd.Timestamp(rec["created_at"]).tz_convert("UTC").tz_localize(None))
    n_past = int(np.searchsorted(tp.created_at, created.astype("datetime64[us]"), side="left"))
    if n_past == 0:
        return pd.DataFrame(columns=PRECEDENT_COLUMNS)
    query = tp.embed(row)
    n = min(k, n_past)
    if tp.matrix.shape[1] == 0:
        idx = np.arange(n_past - n, n_past)[::-1]  # no features: the most recent ones
        dist = np.zeros(n)
    else:
        with one_thread():
            nn = NearestNeighbors(n_neighbors=n, algorithm="brute").fit(tp.matrix[:n_past])
            d, i = nn.kneighbors(query)
        idx, dist = i[0], d[0]
    out = tp.table.iloc[idx].copy()
    out["distance"] = dist.astype("float64")
    out = out.sort_values(["distance", "rec_id"], kind="stable").reset_index(drop=True)
    return out[PRECEDENT_COLUMNS]


def rec_attributes(rec: pd.Series, *, decided_by: str | None = None) -> dict[str, str]:
    """The contract's rule attributes of one recommendation (calendar ones from ``created_at``, UTC)."""
    out: dict[str, str] = {}
    for attr in ("rec_type", "site", "sku", "supplier", "customer", "resource"):
        v = rec.get(attr)
        if v is not None and not pd.isna(v):
            out[attr] = str(v)
    ts = rec.get("created_at")
    if ts is not None and not pd.isna(ts):
        ts = pd.Timestamp(ts).tz_convert("UTC")
        out["month"] = MONTHS[ts.month - 1]
        out["quarter"] = QUARTERS[(ts.month - 1) // 3]
        out["weekday"] = WEEKDAYS[ts.day_of_week]
    if decided_by:
        out["decided_by"] = str(decided_by)
    return out


def matching_rules(
    rules: Iterable[Mapping[str, Any]], rec: pd.Series, *, decided_by: str | None = None
) -> list[dict[str, Any]]:
    """The rules whose every condition holds for ``rec``, in the order given.

    Each rule is a mapping with ``conditions`` (``{attr: value}`` using the
    contract's attribute names); the rule is returned unchanged. A condition on
    ``decided_by`` is checked against ``decided_by`` (the acting planner, or who
    decided it) and fails when that is not given.
    """
    attrs = rec_attributes(rec, decided_by=decided_by)
    out = []
    for rule in rules:
        conditions = rule.get("conditions") or {}
        if conditions and all(attrs.get(a) == str(v) for a, v in conditions.items()):
            out.append(dict(rule))
    return out


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


def rules_table(rules: list[dict[str, Any]]) -> pd.DataFrame:
    """Matching rules (``cli.py rules`` records) as a table a planner reads."""
    return pd.DataFrame(
        {
            "conditions": [
                " · ".join(f"{k} = {v}" for k, v in r["conditions"].items()) for r in rules
            ],
            "planners usually": [r.get("direction") for r in rules],
            "median adjustment %": [r.get("median_adjustment_pct") for r in rules],
            "support": [r.get("support") for r in rules],
            "confidence": [r.get("confidence") for r in rules],
            "value added": [r.get("value_added") for r in rules],
            "theme": [r.get("theme_label") for r in rules],
            "status": [r.get("status") for r in rules],
        }
    )
