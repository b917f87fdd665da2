"""Surrogate models of the recommender and their exact SHAP explanations.

The log keeps each recommendation's feature snapshot (``f_*``) and the model
output that made it fire (``score``; ``confidence`` for a type that logs no
score) but not the model. We fit a gradient-boosted surrogate
(``HistGradientBoostingRegressor``) that reproduces that output from the
snapshot, and explain the surrogate with ``shap.TreeExplainer``. Explanations are
exact for the surrogate (base value + Σ contributions = surrogate prediction);
how well the surrogate matches the recommender is its **fidelity**, R² on
held-out recommendations, reported with every explanation.

Two strategies are fitted on the same sample and split: one surrogate per
``rec_type``, and one pooled surrogate per output column with ``rec_type`` as a
feature. Each type keeps whichever scores the higher held-out R² on its own
recommendations (per-type wins ties: its explanations never mention the type).

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
kept apart from the code the trees see (``TypeModel.encode`` / ``raw_values``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import shap
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.metrics import r2_score
from threadpoolctl import ThreadpoolController

FIDELITY_WARN = 0.8
MIN_TYPE_ROWS = 50
TYPE_FEATURE = "rec_type"
DEFAULT_MAX_ROWS = 120_000


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
    encoding, estimator, explainer
        Input encoding, fitted regressor and its ``shap.TreeExplainer``.
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
    estimator: HistGradientBoostingRegressor
    explainer: Any
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
        return _inverse_link(self.link, _predict(self.estimator, self.encoding.encode(rows)))

    def shap_values(self, rows: pd.DataFrame, *, units: str = "output") -> np.ndarray:
        """Contributions ``(n, n_features)``; ``base_value + row sum == predict`` exactly.

        ``units="output"`` (default) gives the target's units; ``units="link"`` the raw
        TreeExplainer values in the fitted space (log-odds for ``logit``).
        """
        raw = _tree_shap(self.explainer, self.encoding.encode(rows), len(self.features))
        if units == "link":
            return raw
        return _output_contributions(self.link, raw, self.base_link)


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


def model_target(recommendations: pd.DataFrame) -> pd.Series:
    """Per rec, the output to reproduce: ``score`` for types that log it, else ``confidence``.

    Returns a frame-aligned Series of column names (``"score"``, ``"confidence"`` or NA).
    """
    if recommendations.empty:
        return pd.Series(pd.NA, index=recommendations.index, dtype="string")
    rt = recommendations["rec_type"].astype("string")
    score_share = recommendations["score"].notna().groupby(rt.to_numpy()).mean()
    conf_share = recommendations["confidence"].notna().groupby(rt.to_numpy()).mean()
    choice = pd.Series(pd.NA, index=score_share.index, dtype="string")
    choice[conf_share > 0] = "confidence"
    choice[score_share > 0] = "score"
    return rt.map(choice).astype("string")


def _target_values(recs: pd.DataFrame, target: pd.Series) -> np.ndarray:
    score = recs["score"].to_numpy(dtype="float64", na_value=np.nan)
    conf = recs["confidence"].to_numpy(dtype="float64", na_value=np.nan)
    t = target.to_numpy(dtype=object, na_value=None)
    return np.where(t == "score", score, np.where(t == "confidence", conf, np.nan))


def stratified_sample(
    recommendations: pd.DataFrame,
    *,
    max_rows: int,
    random_state: int = 0,
    min_per_type: int = 2_000,
) -> np.ndarray:
    """Positions of a deterministic sample stratified by ``rec_type`` × ``site``.

    Every (type, site) cell keeps the same share ``max_rows / n`` (rounded up),
    raised for a small type so that it keeps about ``min(its rows, min_per_type)``
    and stays explainable. All rows are returned when ``n <= max_rows``.
    """
    n = len(recommendations)
    if n <= max_rows:
        return np.arange(n)
    rng = np.random.default_rng(random_state)
    key = rng.random(n)
    rt = recommendations["rec_type"].astype("string").fillna("").to_numpy(dtype=object)
    site = recommendations["site"].astype("string").fillna("").to_numpy(dtype=object)
    cells = pd.DataFrame({"rt": rt, "site": site, "key": key, "pos": np.arange(n)})
    cells = cells.sort_values(["rt", "site", "key"], kind="stable")
    rank = cells.groupby(["rt", "site"], sort=False).cumcount().to_numpy()
    size = cells.groupby(["rt", "site"], sort=False)["pos"].transform("size").to_numpy()
    type_size = cells.groupby("rt", sort=False)["pos"].transform("size").to_numpy()
    share = max(max_rows / n, 0.0)
    floor_share = np.minimum(1.0, min_per_type / type_size)
    quota = np.ceil(size * np.maximum(share, floor_share))
    return np.sort(cells["pos"].to_numpy()[rank < quota])


def _encoding_for(train: pd.DataFrame, y: np.ndarray, columns: list[str]) -> Encoding:
    categories: dict[str, tuple[str, ...]] = {}
    for col in columns:
        s = train[col]
        if isinstance(s.dtype, pd.CategoricalDtype) or not pd.api.types.is_numeric_dtype(s):
            text = s.astype("string")
            means = pd.Series(y).groupby(text.to_numpy(dtype=object, na_value=None)).mean()
            # Ordered by mean output (then name) so one threshold split separates what matters.
            order = sorted(means.index, key=lambda c: (means[c], str(c)))
            categories[col] = tuple(str(c) for c in order)
    return Encoding(columns=tuple(columns), categories=categories)


def _usable_features(rows: pd.DataFrame, features: list[str]) -> list[str]:
    return [f for f in features if rows[f].notna().any() and rows[f].nunique(dropna=True) > 1]


def _fit_one(
    train: pd.DataFrame, y: np.ndarray, columns: list[str], random_state: int
) -> tuple[Encoding, HistGradientBoostingRegressor]:
    enc = _encoding_for(train, y, columns)
    est = HistGradientBoostingRegressor(
        max_iter=300,
        learning_rate=0.1,
        max_leaf_nodes=31,
        min_samples_leaf=20,
        early_stopping=True,
        validation_fraction=0.1,
        n_iter_no_change=10,
        random_state=random_state,
    )
    with one_thread():
        est.fit(enc.encode(train), y)
    return enc, est


def _predict(est: HistGradientBoostingRegressor, x: np.ndarray) -> np.ndarray:
    with one_thread():
        return est.predict(x)


_EPS = 1e-4  # probabilities logged as exactly 0 or 1 are fitted at this distance from the edge


def _forward_link(link: str, y: np.ndarray) -> np.ndarray:
    if link == "identity":
        return y
    p = np.clip(y, _EPS, 1 - _EPS)
    return np.log(p / (1 - p))


def _inverse_link(link: str, z: np.ndarray) -> np.ndarray:
    z = np.asarray(z, dtype="float64")
    return z if link == "identity" else 1.0 / (1.0 + np.exp(-z))


def _tree_shap(explainer: Any, x: np.ndarray, n_features: int) -> np.ndarray:
    values = explainer.shap_values(x, check_additivity=False)
    return np.asarray(values, dtype="float64").reshape(len(x), n_features)


def _output_contributions(link: str, raw: np.ndarray, base_link: float) -> np.ndarray:
    """Fitted-space SHAP values scaled per row to output units, keeping exact additivity."""
    if link == "identity":
        return raw
    dz = raw.sum(axis=1)
    p0 = 1.0 / (1.0 + np.exp(-base_link))
    p = 1.0 / (1.0 + np.exp(-(base_link + dz)))
    small = np.abs(dz) < 1e-12
    factor = np.where(small, p0 * (1 - p0), (p - p0) / np.where(small, 1.0, dz))
    return raw * factor[:, None]


def _r2(y: np.ndarray, pred: np.ndarray) -> float:
    if len(y) < 2 or float(np.var(y)) == 0.0:
        return float("nan")
    return float(r2_score(y, pred))


def fit_surrogates(
    data: Any,
    *,
    random_state: int = 0,
    max_rows: int = DEFAULT_MAX_ROWS,
    test_share: float = 0.2,
    n_global: int = 300,
    strategy: str = "auto",
) -> Surrogates:
    """Fit the surrogates that explain why recommendations fired.

    Parameters
    ----------
    data : Frames or pd.DataFrame
        The log (anything with ``.recommendations``) or the recommendations frame:
        ``rec_id``, ``rec_type``, ``site``, ``score``, ``confidence`` and the ``f_*`` columns.
    random_state : int
        Seeds the sample, the held-out split and the trees.
    max_rows : int
        Above this many recommendations, fit on a stratified sample (``stratified_sample``).
    test_share : float
        Share of the (sampled) recommendations of each type held out to measure fidelity.
    n_global : int
        Held-out recommendations per type whose SHAP values feed the global view.
    strategy : {"auto", "per_type", "pooled"}
        ``auto`` fits both and keeps, per type, the one with the higher held-out R².

    Returns
    -------
    Surrogates
    """
    if strategy not in ("auto", "per_type", "pooled"):
        raise ValueError(f"unknown strategy {strategy!r}")
    recs = data.recommendations if hasattr(data, "recommendations") else data
    features = [c for c in recs.columns if c.startswith("f_")]
    counts = recs["rec_type"].astype("string").value_counts(dropna=True)
    type_counts = {str(k): int(v) for k, v in counts.items()}
    if recs.empty or not features:
        reason = "no f_* feature snapshot in the log" if len(recs) else "no recommendations"
        return Surrogates({}, {t: reason for t in type_counts}, len(recs), 0, random_state)

    pos = stratified_sample(recs, max_rows=max_rows, random_state=random_state)
    sample = recs.iloc[pos][["rec_id", "rec_type", "site", *features]].reset_index(drop=True)
    target = model_target(recs.iloc[pos]).reset_index(drop=True)
    y_all = _target_values(recs.iloc[pos].reset_index(drop=True), target)
    rng = np.random.default_rng(random_state)
    is_test = rng.random(len(sample)) < test_share
    rt = sample["rec_type"].astype("string").to_numpy(dtype=object, na_value=None)

    skipped: dict[str, str] = {}
    plans: dict[str, dict[str, Any]] = {}
    for t in sorted(type_counts):
        m = (rt == t) & np.isfinite(y_all)
        if m.sum() < MIN_TYPE_ROWS:
            skipped[t] = (
                f"only {int(m.sum())} recommendations with a logged score or confidence "
                f"(need {MIN_TYPE_ROWS})"
            )
            continue
        used = _usable_features(sample.loc[m], features)
        if not used:
            skipped[t] = "no feature in the snapshot varies for this type"
            continue
        test = m & is_test
        if test.sum() < 2:
            test = m & (np.arange(len(m)) % 5 == 0)
        y_t = y_all[m]
        plans[t] = {
            "mask": m,
            "train": m & ~test,
            "test": test,
            "features": used,
            "target": str(target[np.flatnonzero(m)[0]]),
            "link": "logit" if bool(((y_t >= 0) & (y_t <= 1)).all()) else "identity",
        }
    z_all = np.full(len(y_all), np.nan)
    for p in plans.values():
        z_all[p["mask"]] = _forward_link(p["link"], y_all[p["mask"]])

    per_type: dict[str, tuple[Encoding, HistGradientBoostingRegressor, float]] = {}
    if strategy in ("auto", "per_type"):
        for t, p in plans.items():
            enc, est = _fit_one(
                sample.loc[p["train"]], z_all[p["train"]], p["features"], random_state
            )
            pred = _inverse_link(p["link"], _predict(est, enc.encode(sample.loc[p["test"]])))
            per_type[t] = (enc, est, _r2(y_all[p["test"]], pred))

    pooled: dict[str, tuple[Encoding, HistGradientBoostingRegressor, float]] = {}
    if strategy in ("auto", "pooled"):
        groups: dict[tuple[str, str], list[str]] = {}
        for t, p in plans.items():
            groups.setdefault((p["target"], p["link"]), []).append(t)
        for (_target_name, link), group in sorted(groups.items()):
            if strategy == "auto" and len(group) < 2:
                continue  # pooling one type is the per-type model plus a constant column
            train = np.logical_or.reduce([plans[t]["train"] for t in group])
            cols = [TYPE_FEATURE] + sorted({f for t in group for f in plans[t]["features"]})
            cols = [TYPE_FEATURE] + [f for f in features if f in cols]
            enc, est = _fit_one(sample.loc[train], z_all[train], cols, random_state)
            for t in group:
                test = plans[t]["test"]
                pred = _inverse_link(link, _predict(est, enc.encode(sample.loc[test])))
                pooled[t] = (enc, est, _r2(y_all[test], pred))

    types: dict[str, TypeModel] = {}
    explainers: dict[int, Any] = {}
    for t, p in plans.items():
        a, b = per_type.get(t), pooled.get(t)
        r2a = a[2] if a else float("nan")
        r2b = b[2] if b else float("nan")
        use_pooled = b is not None and (a is None or (np.isfinite(r2b) and not r2b <= r2a))
        enc, est, r2 = b if use_pooled else a  # type: ignore[misc]
        if id(est) not in explainers:
            explainers[id(est)] = shap.TreeExplainer(est)
        explainer = explainers[id(est)]
        test_pos = np.flatnonzero(p["test"])[:n_global]
        rows = sample.iloc[test_pos].reset_index(drop=True)
        base_link = float(np.ravel(explainer.expected_value)[0])
        raw = _tree_shap(explainer, enc.encode(rows), len(enc.columns))
        sv = _output_contributions(p["link"], raw, base_link)
        types[t] = TypeModel(
            rec_type=t,
            target=p["target"],
            strategy="pooled" if use_pooled else "per_type",
            link=p["link"],
            encoding=enc,
            estimator=est,
            explainer=explainer,
            base_value=float(_inverse_link(p["link"], np.array([base_link]))[0]),
            base_link=base_link,
            fidelity_r2=r2,
            alternative_r2=r2a if use_pooled else r2b,
            n_train=int(p["train"].sum()),
            n_test=int(p["test"].sum()),
            global_rows=rows,
            global_shap=sv,
        )
    return Surrogates(
        types=types,
        skipped=skipped,
        n_rows=len(recs),
        n_sampled=len(sample),
        random_state=random_state,
        type_counts=type_counts,
    )


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
