"""Override propensity: which open recommendations will people override?

Three gradient-boosted models over what was known when each recommendation was
created (``analytics.policy.features``): P(override) over decided
recommendations (accepted, modified, rejected; expired ones had no human
decision), P(rejected | overridden) over overrides, and the adjustment % of
modified ones. The **likely decision** is the most probable of accepted
(1 − p), modified (p·(1 − q)) and rejected (p·q); the **expected adjustment** is
that decision's: 0% accepted, −100% rejected, the predicted adjustment modified.

Validation is temporal: the models are fitted on the decided recommendations
created before the last ``TEST_SHARE`` of them and scored on that latest
period (AUC, Brier score against the base rate's, and a calibration table). The
models that score open recommendations are then refitted on everything. Trees
fitted on log loss are calibrated on average (their mean prediction on the
training rows equals the override share); the calibration table shows whether
that holds on the later period. Training rows are capped at ``MAX_TRAIN`` (the
most recent), which keeps a fit at a million rows within seconds.

The **driving rules** of an open recommendation are the candidate rules whose
conditions it meets (rules that name ``decided_by`` cannot be met before
someone decides).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from analytics.overrides.log import match_mask
from analytics.policy.features import FeatureEncoder, fit_encoder
from analytics.policy.proposal import rule_attributes
from analytics.shared.lookups import id_positions

if TYPE_CHECKING:  # scikit-learn loads for a fit (or the unpickling of one), not on every page
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

TEST_SHARE = 0.2
MAX_TRAIN = 200_000
MIN_TRAIN = 50
# One OpenMP thread: on a shared server, spinning OpenMP workers of the trees slow a
# fit down many times over when other processes hold the cores.
THREADS = 1
N_BINS = 10
DECIDED = ("accepted", "modified", "rejected")


class NotEnoughDecisions(ValueError):
    """Too few decided recommendations (or no overrides) to learn propensity from."""


@dataclass(frozen=True)
class Propensity:
    """The fitted models and their temporal validation."""

    encoder: FeatureEncoder
    override: HistGradientBoostingClassifier
    reject: HistGradientBoostingClassifier | None
    reject_share: float
    adjustment: HistGradientBoostingRegressor | None
    median_adjustment: float
    evaluation: dict[str, Any]
    calibration: pd.DataFrame


def _classifier(random_state: int) -> HistGradientBoostingClassifier:
    from sklearn.ensemble import HistGradientBoostingClassifier  # here: see TYPE_CHECKING

    return HistGradientBoostingClassifier(
        max_iter=80,
        learning_rate=0.08,
        max_leaf_nodes=15,
        min_samples_leaf=100,
        l2_regularization=1.0,
        early_stopping=False,
        random_state=random_state,
    )


def _fillable(x: np.ndarray) -> np.ndarray:
    """``x`` with columns that are missing throughout set to 0 (the trees cannot bin them;
    a constant column is simply never split on)."""
    empty = np.isnan(x).all(axis=0)
    if not empty.any():
        return x
    x = x.copy()
    x[:, empty] = 0.0
    return x


def _fit_classifier(
    x: np.ndarray, y: np.ndarray, mask: np.ndarray, random_state: int
) -> HistGradientBoostingClassifier:
    model = _classifier(random_state)
    model.set_params(categorical_features=mask)
    return model.fit(_fillable(x), y)


def _decided(frames: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decided recommendations by ``created_at``: their positions in ``recommendations``,
    decision and adjustment %. Positions, not rows: at a million rows only the slices a
    fit uses are ever copied."""
    recs, dec = frames.recommendations, frames.decisions
    decision = dec["decision"].astype("string").to_numpy(dtype=object, na_value="")
    keep = np.isin(decision, DECIDED)
    pos = id_positions(recs["rec_id"], dec["rec_id"][keep])
    ok = pos >= 0
    rpos, chosen = pos[ok], decision[keep][ok]
    final = dec["final_qty"].to_numpy(dtype="float64", na_value=np.nan)[keep][ok]
    created = recs["created_at"].to_numpy(dtype="datetime64[us]")[rpos]
    order = np.argsort(created, kind="stable")
    rpos, chosen, final = rpos[order], chosen[order], final[order]
    rec_qty = (
        recs["recommended_qty"].to_numpy(dtype="float64", na_value=np.nan)[rpos]
        if "recommended_qty" in recs
        else np.full(len(rpos), np.nan)
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        adj = np.where(rec_qty > 0, (final - rec_qty) / rec_qty * 100.0, np.nan)
    return rpos, chosen, adj


def open_recommendations(frames: Any) -> pd.DataFrame:
    """Recommendations without a decision row, in the store's order."""
    recs, dec = frames.recommendations, frames.decisions
    if dec.empty:
        return recs
    return recs[~decided_mask(recs, dec)]


def decided_mask(recs: pd.DataFrame, decisions: pd.DataFrame) -> np.ndarray:
    """Whether each recommendation has a decision row (at most one per rec id)."""
    if decisions.empty:
        return np.zeros(len(recs), dtype=bool)
    return id_positions(decisions["rec_id"], recs["rec_id"]) >= 0


def _fit_all(
    recs: pd.DataFrame, rpos: np.ndarray, chosen: np.ndarray, adj: np.ndarray, random_state: int
) -> tuple[FeatureEncoder, Any, Any, float, Any, float]:
    """Fit the three models on the most recent ``MAX_TRAIN`` of the given decided rows."""
    from sklearn.ensemble import HistGradientBoostingRegressor  # here: see TYPE_CHECKING

    rows = recs.iloc[rpos[-MAX_TRAIN:]]
    chosen, adj = chosen[-MAX_TRAIN:], adj[-MAX_TRAIN:]
    enc = fit_encoder(rows)
    x = enc.transform(rows)
    mask = enc.categorical_mask
    over = np.isin(chosen, ("modified", "rejected"))
    override = _fit_classifier(x, over.astype(int), mask, random_state)
    rejected = chosen[over] == "rejected"
    reject_share = float(rejected.mean()) if over.any() else 0.0
    reject = None
    if rejected.any() and not rejected.all() and over.sum() >= MIN_TRAIN:
        reject = _fit_classifier(x[over], rejected.astype(int), mask, random_state)
    mod = (chosen == "modified") & np.isfinite(adj)
    median_adj = float(np.median(adj[mod])) if mod.any() else 0.0
    adjustment = None
    if mod.sum() >= MIN_TRAIN:
        adjustment = HistGradientBoostingRegressor(
            max_iter=60,
            categorical_features=mask,
            early_stopping=False,
            random_state=random_state,
        ).fit(_fillable(x[mod]), np.clip(adj[mod], -100.0, 500.0))
    return enc, override, reject, reject_share, adjustment, median_adj


def calibration_table(y: np.ndarray, p: np.ndarray, *, n_bins: int = N_BINS) -> pd.DataFrame:
    """Mean predicted vs observed override share in ``n_bins`` equal-count bins of ``p``."""
    if not len(p):
        return pd.DataFrame(columns=["bin", "n", "mean_predicted", "observed"])
    order = np.argsort(p, kind="stable")
    bins = np.empty(len(p), dtype=np.int64)
    bins[order] = np.arange(len(p)) * n_bins // len(p)
    table = pd.DataFrame({"bin": bins, "p": p, "y": y})
    out = table.groupby("bin").agg(
        n=("y", "size"), mean_predicted=("p", "mean"), observed=("y", "mean")
    )
    return out.reset_index()


def fit_propensity(frames: Any, *, random_state: int = 0) -> Propensity:
    """Validate on a temporal split, then refit on every decided recommendation.

    Parameters
    ----------
    frames
        ``.recommendations`` and ``.decisions`` in the store's dtypes (read-only).
    random_state : int
        Seeds the trees: same data, same model.

    Raises
    ------
    NotEnoughDecisions
        Fewer than ``MIN_TRAIN`` decided recommendations before the split, or no
        override / no acceptance among them.
    """
    with threadpool_limits(limits=THREADS, user_api="openmp"):
        return _fit_propensity(frames, random_state=random_state)


def _fit_propensity(frames: Any, *, random_state: int) -> Propensity:
    from sklearn.metrics import brier_score_loss, roc_auc_score  # here: see TYPE_CHECKING

    if frames.decisions.empty or frames.recommendations.empty:
        raise NotEnoughDecisions("no decided recommendations to learn from")
    recs = frames.recommendations
    rpos, chosen, adj = _decided(frames)
    over = np.isin(chosen, ("modified", "rejected")).astype(int)
    cut = int(len(rpos) * (1 - TEST_SHARE))
    if cut < MIN_TRAIN or len(rpos) - cut < 1 or over[:cut].min() == over[:cut].max():
        raise NotEnoughDecisions(
            f"propensity needs at least {MIN_TRAIN} decided recommendations with both "
            f"overrides and acceptances before the latest period (have {cut})"
        )
    enc, model, *_ = _fit_all(recs, rpos[:cut], chosen[:cut], adj[:cut], random_state)
    test = recs.iloc[rpos[cut:]]
    p = model.predict_proba(enc.transform(test))[:, 1]
    y = over[cut:]
    base = float(over[:cut].mean())
    created = test["created_at"]
    evaluation = {
        "auc": float(roc_auc_score(y, p)) if 0 < y.sum() < len(y) else None,
        "brier": float(brier_score_loss(y, p)),
        "n": int(len(y)),
        "from": created.min().isoformat(),
        "to": created.max().isoformat(),
        "base_rate": base,
        "base_rate_brier": float(np.mean((y - base) ** 2)),
        "mean_predicted": float(p.mean()),
        "observed": float(y.mean()),
    }
    enc, model, reject, share, adjustment, median_adj = _fit_all(
        recs, rpos, chosen, adj, random_state
    )
    return Propensity(
        encoder=enc,
        override=model,
        reject=reject,
        reject_share=share,
        adjustment=adjustment,
        median_adjustment=median_adj,
        evaluation=evaluation,
        calibration=calibration_table(y, p),
    )


def driving_rules(recs: pd.DataFrame, rules: pd.DataFrame | None) -> list[list[str]]:
    """Per row of ``recs``: ids of the ``rules`` (``id``, ``conditions``) whose conditions it meets."""
    out: list[list[str]] = [[] for _ in range(len(recs))]
    if rules is None or rules.empty or recs.empty:
        return out
    attrs = rule_attributes(recs)
    for rid, cond in zip(rules["id"], rules["conditions"], strict=True):
        if any(a not in attrs.columns for a in cond):
            continue  # decided_by, or an attribute this store does not have
        for i in np.flatnonzero(match_mask(attrs, cond)):
            out[i].append(str(rid))
    return out


def score_open(
    model: Propensity, recs: pd.DataFrame, *, rules: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Score recommendations (typically the open ones), most likely to be overridden first.

    Returns
    -------
    DataFrame
        ``rec_id``, ``p_override``, ``p_rejected`` (P(rejected) overall),
        ``likely_decision``, ``expected_adjustment_pct``, ``rules`` (list of rule ids).
    """
    cols = [
        "rec_id",
        "p_override",
        "p_rejected",
        "likely_decision",
        "expected_adjustment_pct",
        "rules",
    ]
    if recs.empty:
        return pd.DataFrame(columns=cols)
    x = model.encoder.transform(recs)
    with threadpool_limits(limits=THREADS, user_api="openmp"):
        return _score(model, recs, x, rules, cols)


def _score(
    model: Propensity,
    recs: pd.DataFrame,
    x: np.ndarray,
    rules: pd.DataFrame | None,
    cols: list[str],
) -> pd.DataFrame:
    p = model.override.predict_proba(x)[:, 1]
    q = (
        model.reject.predict_proba(x)[:, 1]
        if model.reject is not None
        else np.full(len(p), model.reject_share)
    )
    adj = (
        model.adjustment.predict(x)
        if model.adjustment is not None
        else np.full(len(p), model.median_adjustment)
    )
    probs = np.column_stack([1 - p, p * (1 - q), p * q])
    likely = np.array(DECIDED, dtype=object)[probs.argmax(axis=1)]
    expected = np.where(likely == "accepted", 0.0, np.where(likely == "rejected", -100.0, adj))
    out = pd.DataFrame(
        {
            "rec_id": recs["rec_id"].to_numpy(dtype=object),
            "p_override": p,
            "p_rejected": p * q,
            "likely_decision": likely,
            "expected_adjustment_pct": expected,
            "rules": driving_rules(recs, rules),
        }
    )
    order = np.lexsort((out["rec_id"].to_numpy(dtype=str), -p))
    return out.iloc[order].reset_index(drop=True)


def propensity_payload(model: Propensity, scored: pd.DataFrame) -> dict[str, Any]:
    """The ``cli.py propensity --json`` document."""
    ev = model.evaluation
    return {
        "evaluation": {
            "auc": None if ev["auc"] is None else round(ev["auc"], 4),
            "brier": round(ev["brier"], 4),
            "n": ev["n"],
            "from": ev["from"],
            "to": ev["to"],
        },
        "open": [
            {
                "rec_id": str(r.rec_id),
                "p_override": round(float(r.p_override), 4),
                "likely_decision": str(r.likely_decision),
                "expected_adjustment_pct": round(float(r.expected_adjustment_pct), 1),
                "rules": list(r.rules),
            }
            for r in scored.itertuples(index=False)
        ],
    }


def rank_by_propensity(table: pd.DataFrame, scores: pd.DataFrame) -> pd.DataFrame:
    """``table`` (with ``rec_id``) most likely to be overridden first, plus ``p_override``;
    unscored rows (decided ones) keep their order after the scored ones."""
    p = table["rec_id"].map(scores.set_index("rec_id")["p_override"]) if len(scores) else None
    out = table.assign(p_override=np.nan if p is None else p.to_numpy(dtype="float64"))
    key = np.nan_to_num(-out["p_override"].to_numpy(dtype="float64"), nan=np.inf)
    return out.iloc[np.argsort(key, kind="stable")].reset_index(drop=True)
