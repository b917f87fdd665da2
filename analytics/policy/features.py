"""What was known when a recommendation was created, as a model's feature matrix.

Only the recommendation's own fields qualify (its type, site and entities, the
quantity, confidence, score and impact it carried, its feature snapshot
``f_*``, the detection latency and the calendar of ``created_at``) — never a
decision's fields (who decided, when, what), which are what is predicted.

Categorical values are coded against a vocabulary learnt on the training rows
(the ``MAX_CATEGORIES`` most frequent; rarer and unseen values are missing), so
the matrix suits ``HistGradientBoosting*`` with native categorical splits.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

MAX_CATEGORIES = 250
CATEGORICAL = ("rec_type", "site", "sku", "supplier", "customer", "resource", "model_version")
NUMERIC = ("recommended_qty", "confidence", "score", "est_impact_usd")


@dataclass(frozen=True)
class FeatureEncoder:
    """Column names and, per categorical column, its vocabulary (value → code)."""

    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    vocabularies: dict[str, pd.Index]

    @property
    def names(self) -> list[str]:
        return ["detection_hours", "month", "weekday", *self.numeric, *self.categorical]

    @property
    def categorical_mask(self) -> np.ndarray:
        n_fixed = 3 + len(self.numeric)
        return np.array([False] * n_fixed + [True] * len(self.categorical))

    def transform(self, recs: pd.DataFrame) -> np.ndarray:
        """The float feature matrix of ``recs`` (missing as NaN), columns ``names``."""
        created = pd.DatetimeIndex(recs["created_at"])
        cols = [
            _detection_hours(recs),
            created.month.to_numpy(dtype="float64", na_value=np.nan),
            created.day_of_week.to_numpy(dtype="float64", na_value=np.nan),
        ]
        for c in self.numeric:
            cols.append(recs[c].to_numpy(dtype="float64", na_value=np.nan))
        for c in self.categorical:
            cols.append(_codes(recs[c], self.vocabularies[c]))
        return np.column_stack(cols) if cols else np.empty((len(recs), 0))


def _detection_hours(recs: pd.DataFrame) -> np.ndarray:
    if "signal_at" not in recs.columns:
        return np.full(len(recs), np.nan)
    delta = recs["created_at"] - recs["signal_at"]
    return (delta.dt.total_seconds() / 3600.0).to_numpy(dtype="float64", na_value=np.nan)


def _as_category(col: pd.Series) -> pd.Series:
    if isinstance(col.dtype, pd.CategoricalDtype):
        return col
    return col.astype("string").astype("category")


def _codes(col: pd.Series, vocab: pd.Index) -> np.ndarray:
    cat = _as_category(col)
    lookup = vocab.get_indexer(cat.cat.categories.astype(str))
    lookup = np.append(lookup, -1).astype("float64")  # code -1 (missing) → last entry
    codes = lookup[cat.cat.codes.to_numpy()]
    codes[codes < 0] = np.nan
    return codes


def fit_encoder(recs: pd.DataFrame) -> FeatureEncoder:
    """Learn the vocabularies on ``recs`` (the training rows)."""
    numeric = [c for c in NUMERIC if c in recs.columns]
    categorical = [c for c in CATEGORICAL if c in recs.columns]
    for c in recs.columns:
        if not str(c).startswith("f_"):
            continue
        if pd.api.types.is_numeric_dtype(recs[c]) and not pd.api.types.is_bool_dtype(recs[c]):
            numeric.append(c)
        else:
            categorical.append(c)
    vocabularies = {}
    for c in categorical:
        counts = _as_category(recs[c]).value_counts(sort=True)
        counts = counts[counts > 0].head(MAX_CATEGORIES)
        vocabularies[c] = pd.Index(counts.index.astype(str))
    return FeatureEncoder(tuple(numeric), tuple(categorical), vocabularies)
