"""Fitting surrogate models of the recommender, to explain why recommendations fired.

The log keeps each recommendation's feature snapshot (``f_*``) and the model
output that made it fire (``score``; ``confidence`` for a type that logs no
score) but not the model. We fit a gradient-boosted surrogate
(``HistGradientBoostingRegressor``) that reproduces that output from the
snapshot, and explain the surrogate with ``shap.TreeExplainer``
(``analytics.explain.fit``). Explanations are exact for the surrogate (base
value + Σ contributions = surrogate prediction); how well the surrogate matches
the recommender is its **fidelity**, R² on held-out recommendations, reported
with every explanation.

Two strategies are fitted on the same sample and split: one surrogate per
``rec_type``, and one pooled surrogate per output column with ``rec_type`` as a
feature. Each type keeps whichever scores the higher held-out R² on its own
recommendations (per-type wins ties: its explanations never mention the type).
Large logs are fitted on a stratified sample (``stratified_sample``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import shap
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.metrics import r2_score

from analytics.explain.fit import (
    TYPE_FEATURE,
    Encoding,
    Surrogates,
    TypeModel,
    forward_link,
    inverse_link,
    one_thread,
    output_contributions,
)
from analytics.explain.trees import leaf_paths

MIN_TYPE_ROWS = 50
DEFAULT_MAX_ROWS = 120_000


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


def predict_raw(est: HistGradientBoostingRegressor, x: np.ndarray) -> np.ndarray:
    with one_thread():
        return est.predict(x)


def tree_shap(explainer: Any, x: np.ndarray, n_features: int) -> np.ndarray:
    values = explainer.shap_values(x, check_additivity=False)
    return np.asarray(values, dtype="float64").reshape(len(x), n_features)


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
        z_all[p["mask"]] = forward_link(p["link"], y_all[p["mask"]])

    per_type: dict[str, tuple[Encoding, HistGradientBoostingRegressor, float]] = {}
    if strategy in ("auto", "per_type"):
        for t, p in plans.items():
            enc, est = _fit_one(
                sample.loc[p["train"]], z_all[p["train"]], p["features"], random_state
            )
            pred = inverse_link(p["link"], predict_raw(est, enc.encode(sample.loc[p["test"]])))
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
                pred = inverse_link(link, predict_raw(est, enc.encode(sample.loc[test])))
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
        raw = tree_shap(explainer, enc.encode(rows), len(enc.columns))
        sv = output_contributions(p["link"], raw, base_link)
        types[t] = TypeModel(
            rec_type=t,
            target=p["target"],
            strategy="pooled" if use_pooled else "per_type",
            link=p["link"],
            encoding=enc,
            trees=leaf_paths(explainer.model, len(enc.columns)),
            base_value=float(inverse_link(p["link"], np.array([base_link]))[0]),
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
