"""The fitted explanation surrogates and what they answer: outputs, exact SHAP, drivers.

``analytics.explain.surrogates.fit_surrogates`` builds these objects; everything here is
read-only once fitted (they are shared through a cache).

A probability output (every logged value of the type in 0..1) is fitted in
log-odds, where a logistic scorer is additive and the trees need far fewer
splits, and explained there exactly by ``TreeExplainer``. The contributions are
then shown in the model's own units: each log-odds SHAP value is scaled by the
same factor ``(p − p_base) / (z − z_base)``, so they keep their ranking and still
add up exactly, ``p_base + Σ contributions = p`` (the surrogate's probability).
Probability-space Shapley values would instead smear a logistic model's saturation
over every feature, so a driver four standard deviations out could rank below a
feature sitting at its median.

Categorical features are encoded as ordinal codes, not as the estimator's native
categories: shap 0.51 reads HistGradientBoosting trees as numeric threshold
splits and ignores categorical bitsets, so on natively categorical trees its
values do not add up to the prediction. The codes are ordered by the mean output
of each category in the training rows, so that a single threshold split can
still separate the categories that matter. The raw value a planner recognises is
kept apart from the code the trees see (``Encoding.encode``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import ThreadpoolController

from analytics.explain.trees import LeafPaths

FIDELITY_WARN = 0.8
TYPE_FEATURE = "rec_type"

_pool: ThreadpoolController | None = None


def one_thread() -> Any:
    """Context manager holding OpenMP to one thread.

    On a shared machine the estimators' spin-waiting OpenMP threads slow a fit or
    a one-row prediction down many times over; one thread is always close to best.
    """
    global _pool
    if _pool is None:
        _pool = ThreadpoolController()
    return _pool.limit(limits=1, user_api="openmp")


@dataclass(frozen=True)
class Encoding:
    """How raw snapshot columns become the surrogate's numeric input matrix.

    ``columns`` is the model's input order; ``categories[c]`` the categories of a
    categorical column in code order (code ``i`` = ``categories[c][i]``; anything
    else, including missing, is NaN).
    """

    columns: tuple[str, ...]
    categories: dict[str, tuple[str, ...]]

    def encode(self, rows: pd.DataFrame) -> np.ndarray:
        """The ``(n, len(columns))`` float64 matrix the trees see for ``rows``."""
        out = np.empty((len(rows), len(self.columns)), dtype="float64")
        for j, col in enumerate(self.columns):
            if col in self.categories:
                out[:, j] = category_codes(rows[col], self.categories[col])
            else:
                out[:, j] = rows[col].to_numpy(dtype="float64", na_value=np.nan)
        return out


def category_codes(values: pd.Series, categories: tuple[str, ...]) -> np.ndarray:
    """Position of each value in ``categories`` as float64 (NaN when missing or unknown)."""
    if len(values) <= 16:  # one explanation: a dict lookup beats building a hash index
        where = {c: float(i) for i, c in enumerate(categories)}
        return np.array(
            [np.nan if v is None or v is pd.NA else where.get(str(v), np.nan) for v in values],
            dtype="float64",
        )
    text = values.astype("string").to_numpy(dtype=object, na_value=None)
    codes = pd.Index(categories, dtype=object).get_indexer(text)
    out = codes.astype("float64")
    out[codes < 0] = np.nan
    return out


@dataclass(frozen=True)
class TypeModel:
    """The surrogate that explains one recommendation type.

    Attributes
    ----------
    rec_type : str
    target : str
        The logged column it reproduces, ``"score"`` or ``"confidence"``.
    strategy : str
        ``"per_type"`` or ``"pooled"`` (shared with other types, ``rec_type`` an input).
    encoding : Encoding
        How the snapshot columns become the trees' inputs.
    trees : LeafPaths
        The fitted regressor's trees as leaf paths: its output and exact TreeSHAP values
        with numpy alone (``analytics.explain.trees``), so reading a fitted model back
        needs neither scikit-learn nor shap.
    link : str
        ``"logit"`` (fitted and explained in log-odds, shown as probability) or ``"identity"``.
    base_value : float
        The average output in the target's units (``base_link`` mapped through the link).
    base_link : float
        The explainer's expected value in the fitted space.
    fidelity_r2 : float
        R² of the surrogate on this type's held-out recommendations.
    alternative_r2 : float
        Held-out R² of the strategy not chosen (NaN when it was not fitted).
    n_train, n_test : int
    global_rows : pd.DataFrame
        Raw feature values of up to ``n_global`` held-out recommendations (with rec_id).
    global_shap : np.ndarray
        Their SHAP values, shape ``(len(global_rows), len(encoding.columns))``.
    """

    rec_type: str
    target: str
    strategy: str
    link: str
    encoding: Encoding
    trees: LeafPaths
    base_value: float
    base_link: float
    fidelity_r2: float
    alternative_r2: float
    n_train: int
    n_test: int
    global_rows: pd.DataFrame
    global_shap: np.ndarray

    @property
    def features(self) -> tuple[str, ...]:
        return self.encoding.columns

    def predict(self, rows: pd.DataFrame) -> np.ndarray:
        """The surrogate's output in the target's units (a probability for ``logit``)."""
        return inverse_link(self.link, self.trees.predict(self.encoding.encode(rows)))

    def explain(self, rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """``(prediction, contributions)`` in output units, encoding ``rows`` once."""
        x = self.encoding.encode(rows)
        pred = inverse_link(self.link, self.trees.predict(x))
        raw = self.trees.shap_values(x)
        return pred, output_contributions(self.link, raw, self.base_link)

    def shap_values(self, rows: pd.DataFrame, *, units: str = "output") -> np.ndarray:
        """Contributions ``(n, n_features)``; ``base_value + row sum == predict`` exactly.

        ``units="output"`` (default) gives the target's units; ``units="link"`` the raw
        TreeExplainer values in the fitted space (log-odds for ``logit``).
        """
        raw = self.trees.shap_values(self.encoding.encode(rows))
        if units == "link":
            return raw
        return output_contributions(self.link, raw, self.base_link)


@dataclass(frozen=True)
class Surrogates:
    """Every fitted type surrogate, plus what was left out and why."""

    types: dict[str, TypeModel]
    skipped: dict[str, str]
    n_rows: int
    n_sampled: int
    random_state: int
    type_counts: dict[str, int] = field(default_factory=dict)

    @property
    def fidelity_r2(self) -> float:
        """Held-out R² per type, averaged with weights = held-out rows (NaN if none)."""
        if not self.types:
            return float("nan")
        r2 = np.array([m.fidelity_r2 for m in self.types.values()], dtype="float64")
        w = np.array([m.n_test for m in self.types.values()], dtype="float64")
        ok = np.isfinite(r2)
        return float(np.average(r2[ok], weights=w[ok])) if ok.any() else float("nan")

    def fidelity_table(self) -> pd.DataFrame:
        """One row per type: target, strategy, held-out R², the other strategy's R², rows."""
        rows = [
            {
                "rec_type": t,
                "target": m.target,
                "strategy": m.strategy,
                "fidelity_r2": m.fidelity_r2,
                "other_strategy_r2": m.alternative_r2,
                "n_train": m.n_train,
                "n_test": m.n_test,
            }
            for t, m in sorted(self.types.items())
        ]
        return pd.DataFrame(
            rows,
            columns=[
                "rec_type",
                "target",
                "strategy",
                "fidelity_r2",
                "other_strategy_r2",
                "n_train",
                "n_test",
            ],
        )


def fidelity_warning(r2: float) -> str | None:
    """A plain warning when the surrogate is too unfaithful to trust, else None."""
    if not np.isfinite(r2):
        return "Fidelity unknown: too few held-out recommendations to check the explanation."
    if r2 < FIDELITY_WARN:
        return (
            f"Low fidelity (held-out R² {r2:.2f} < {FIDELITY_WARN}): the surrogate reproduces the "
            "model's output only loosely, so treat these drivers as indicative, not as the model's "
            "reasons."
        )
    return None


_EPS = 1e-4  # probabilities logged as exactly 0 or 1 are fitted at this distance from the edge


def forward_link(link: str, y: np.ndarray) -> np.ndarray:
    if link == "identity":
        return y
    p = np.clip(y, _EPS, 1 - _EPS)
    return np.log(p / (1 - p))


def inverse_link(link: str, z: np.ndarray) -> np.ndarray:
    z = np.asarray(z, dtype="float64")
    return z if link == "identity" else 1.0 / (1.0 + np.exp(-z))


def output_contributions(link: str, raw: np.ndarray, base_link: float) -> np.ndarray:
    """Fitted-space SHAP values scaled per row to output units, keeping exact additivity."""
    if link == "identity":
        return raw
    dz = raw.sum(axis=1)
    p0 = 1.0 / (1.0 + np.exp(-base_link))
    p = 1.0 / (1.0 + np.exp(-(base_link + dz)))
    small = np.abs(dz) < 1e-12
    factor = np.where(small, p0 * (1 - p0), (p - p0) / np.where(small, 1.0, dz))
    return raw * factor[:, None]


def global_drivers(model: Surrogates, *, rec_type: str | None = None) -> pd.DataFrame:
    """Mean |SHAP| per feature on held-out recommendations, largest first.

    For one ``rec_type``, that type's surrogate; for all types, the per-type means
    weighted by each type's number of recommendations in the log (a feature a type
    does not carry counts as 0 for it). Columns: ``feature``, ``mean_abs_shap``.
    """
    if rec_type is not None:
        if rec_type not in model.types:
            raise KeyError(f"no surrogate for rec_type {rec_type!r}")
        chosen = {rec_type: model.types[rec_type]}
    else:
        chosen = model.types
    total: dict[str, float] = {}
    weight_sum = 0.0
    for t, m in chosen.items():
        w = float(model.type_counts.get(t, m.n_test)) if rec_type is None else 1.0
        weight_sum += w
        if len(m.global_shap) == 0:
            continue
        means = np.abs(m.global_shap).mean(axis=0)
        for f, v in zip(m.features, means, strict=True):
            total[f] = total.get(f, 0.0) + w * float(v)
    out = pd.DataFrame(
        {"feature": list(total), "mean_abs_shap": [v / weight_sum for v in total.values()]}
    )
    if out.empty:
        return pd.DataFrame({"feature": pd.Series(dtype="str"), "mean_abs_shap": []})
    return out.sort_values(["mean_abs_shap", "feature"], ascending=[False, True]).reset_index(
        drop=True
    )


def dependence(model: Surrogates, rec_type: str, feature: str) -> pd.DataFrame:
    """Raw value vs SHAP value of ``feature`` on the type's held-out sample.

    Columns: ``rec_id``, ``value`` (raw, as the planner sees it), ``shap``.
    """
    m = model.types[rec_type]
    if feature not in m.features:
        raise KeyError(f"{feature!r} is not an input of the {rec_type} surrogate")
    j = m.features.index(feature)
    return pd.DataFrame(
        {
            "rec_id": m.global_rows["rec_id"].to_numpy(),
            "value": m.global_rows[feature].to_numpy(),
            "shap": m.global_shap[:, j],
        }
    )
