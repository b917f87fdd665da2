"""The f_* feature snapshot and the score: a documented function of its drivers.

Also plants the ~2% of rows dominated by one driver, and records the truth about
drivers per rec type (order by importance, irrelevant features, formula).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd

from sample_data.gen_io import _codes
from sample_data.gen_world import REC_TYPES

# Features present per rec type (others empty); f_noise_a, f_noise_b, f_bin_code
# are present everywhere and never affect anything.
SKU_FEATURES = ("f_days_of_cover", "f_on_hand_qty", "f_abc_class")
TYPE_FEATURES: dict[str, tuple[str, ...]] = {
    "stockout_risk": SKU_FEATURES + ("f_supplier_otd_pct", "f_lead_time_days",
                                      "f_demand_cv", "f_forecast_bias_pct", "f_open_po_qty"),
    "supplier_delay": SKU_FEATURES + ("f_supplier_otd_pct", "f_lead_time_days",
                                       "f_open_po_qty"),
    "expedite": SKU_FEATURES + ("f_supplier_otd_pct", "f_lead_time_days", "f_demand_cv",
                                 "f_open_po_qty"),
    "demand_revision": SKU_FEATURES + ("f_demand_cv", "f_forecast_bias_pct"),
    "production_reschedule": SKU_FEATURES + ("f_backlog_hours", "f_oee_pct"),
    "maintenance": ("f_backlog_hours", "f_oee_pct", "f_hours_since_pm", "f_vibration_mm_s"),
    "quality_hold": SKU_FEATURES + ("f_supplier_otd_pct", "f_defect_rate_pct"),
}  # fmt: skip
NOISE_FEATURES = ("f_noise_a", "f_noise_b", "f_bin_code")
INT_FEATURES = ("f_open_po_qty", "f_on_hand_qty")
FEATURE_COLUMNS = (
    "f_days_of_cover", "f_supplier_otd_pct", "f_lead_time_days", "f_demand_cv",
    "f_forecast_bias_pct", "f_open_po_qty", "f_on_hand_qty", "f_abc_class",
    "f_backlog_hours", "f_oee_pct", "f_hours_since_pm", "f_vibration_mm_s",
    "f_defect_rate_pct", "f_noise_a", "f_noise_b", "f_bin_code",
)  # fmt: skip
# score = sigmoid(intercept + sum coef * term); a term is the feature itself, or
# (1 - pct/100) for "one_minus_pct", or an indicator per category for f_abc_class.
SCORE_MODEL: dict[str, tuple[float, tuple[tuple[str, str, Any], ...]]] = {
    "stockout_risk": (2.0, (("f_days_of_cover", "linear", -0.45),
                            ("f_supplier_otd_pct", "one_minus_pct", 5.0),
                            ("f_demand_cv", "linear", 1.2))),
    "supplier_delay": (-2.0, (("f_supplier_otd_pct", "one_minus_pct", 8.0),
                              ("f_days_of_cover", "linear", -0.06),
                              ("f_lead_time_days", "linear", 0.04))),
    "expedite": (3.0, (("f_days_of_cover", "linear", -0.6),
                       ("f_lead_time_days", "linear", 0.05),
                       ("f_abc_class", "category", {"A": 0.8, "B": 0.4, "C": 0.0}))),
    "demand_revision": (-0.5, (("f_forecast_bias_pct", "linear", 0.08),
                               ("f_demand_cv", "linear", 1.5))),
    "production_reschedule": (-2.0, (("f_backlog_hours", "linear", 0.04),
                                     ("f_oee_pct", "one_minus_pct", 4.0))),
    "maintenance": (-4.0, (("f_vibration_mm_s", "linear", 0.8),
                           ("f_hours_since_pm", "linear", 0.005))),
    "quality_hold": (-2.0, (("f_defect_rate_pct", "linear", 0.9),
                            ("f_supplier_otd_pct", "one_minus_pct", 3.0))),
}  # fmt: skip
DOMINANT_SHARE = 0.02
MIN_DOMINANT_LOGIT = 1.5
FEATURE_BOUNDS = {
    "f_days_of_cover": (0.05, 120.0), "f_supplier_otd_pct": (5.0, 100.0),
    "f_lead_time_days": (1.0, 180.0), "f_demand_cv": (0.02, 4.0),
    "f_forecast_bias_pct": (-90.0, 90.0), "f_backlog_hours": (0.0, 400.0),
    "f_oee_pct": (5.0, 99.0), "f_hours_since_pm": (0.0, 5000.0),
    "f_vibration_mm_s": (0.1, 40.0), "f_defect_rate_pct": (0.0, 40.0),
}  # fmt: skip


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def _raw_features(
    rng: np.random.Generator, rec: pd.DataFrame, ent: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """Feature values for every row, before blanking features a type lacks."""
    n = len(rec)
    sup = rec["supplier"].to_numpy()
    sku = rec["sku"].to_numpy()
    q4_slip = (sup == 16) & (rec["quarter"].to_numpy() == 3)
    otd = ent["sup_otd"][sup] + rng.normal(0, 6, n) - np.where(q4_slip, 8.0, 0.0)
    daily = ent["sku_demand"][sku]
    return {
        "f_days_of_cover": rng.gamma(2.0, 4.0, n),
        "f_supplier_otd_pct": otd,
        "f_lead_time_days": ent["sup_lead"][sup] + rng.normal(0, 4, n),
        "f_demand_cv": rng.gamma(2.0, 0.2, n),
        "f_forecast_bias_pct": rng.normal(0, 12, n),
        "f_open_po_qty": np.round(daily * rng.gamma(2.0, 6.0, n)),
        "f_on_hand_qty": np.round(daily * rng.gamma(2.0, 5.0, n)),
        "f_abc_class": np.array(["A", "B", "C"], dtype=object)[ent["sku_abc"][sku]],
        "f_backlog_hours": rng.gamma(2.0, 15.0, n),
        "f_oee_pct": 100 * rng.beta(8.0, 2.5, n),
        "f_hours_since_pm": rng.gamma(3.0, 100.0, n),
        "f_vibration_mm_s": rng.gamma(2.0, 1.5, n),
        "f_defect_rate_pct": rng.gamma(2.0, 1.0, n),
        "f_noise_a": rng.normal(0, 1, n),
        "f_noise_b": rng.uniform(0, 100, n),
        "f_bin_code": _codes("BIN-", rng.integers(1, 41, n), 2),
    }


def _term(values: np.ndarray, kind: str, coef: Any) -> np.ndarray:
    """One additive term of the logit."""
    if kind == "linear":
        return coef * values
    if kind == "one_minus_pct":
        return coef * (1.0 - values / 100.0)
    return pd.Series(values).map(coef).to_numpy(dtype=float)


def _plant_dominant(
    rng: np.random.Generator, feats: dict[str, np.ndarray], rtype: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Make ~2% of rows dominated by one numeric driver; others set to typical values.

    The driver goes 4 SD past its mean in the direction that raises the score; only
    drivers whose swing is worth >= ``MIN_DOMINANT_LOGIT`` in logit space are used,
    so the domination is unmistakable. Returns row indices and feature names.
    """
    rows_out, feat_out = [np.empty(0, np.int64)], [np.empty(0, object)]
    for t, name in enumerate(REC_TYPES):
        idx = np.flatnonzero(rtype == t)
        numeric = [(f, k, c) for f, k, c in SCORE_MODEL[name][1] if k != "category"]
        extremes = {}
        for f, kind, coef in numeric:
            x = feats[f][idx]
            up = (coef > 0) == (kind == "linear")
            lo, hi = FEATURE_BOUNDS[f]
            extreme = float(np.clip(x.mean() + (4.0 if up else -4.0) * x.std(), lo, hi))
            scale = coef if kind == "linear" else coef / 100.0
            if abs(scale * (extreme - x.mean())) >= MIN_DOMINANT_LOGIT:
                extremes[f] = extreme
        chosen = idx[rng.random(len(idx)) < DOMINANT_SHARE]
        names = sorted(extremes, key=[f for f, _, _ in numeric].index)
        which = rng.integers(0, len(names), len(chosen))
        for j, f in enumerate(names):
            rows = chosen[which == j]
            lo, hi = FEATURE_BOUNDS[f]
            feats[f][rows] = np.clip(extremes[f] * rng.uniform(0.97, 1.03, len(rows)), lo, hi)
            for g, _, _ in numeric:
                if g != f:
                    feats[g][rows] = np.median(feats[g][idx])
            rows_out.append(rows)
            feat_out.append(np.full(len(rows), f, dtype=object))
    rows = np.concatenate(rows_out)
    feats_arr = np.concatenate(feat_out)
    order = np.argsort(rows)
    return rows[order], feats_arr[order]


def _features_and_score(
    rng: np.random.Generator, rec: pd.DataFrame, ent: dict[str, np.ndarray]
) -> tuple[dict[str, np.ndarray], np.ndarray, dict[str, Any], pd.DataFrame]:
    """Feature snapshot, score, the truth about drivers and the dominant-driver rows."""
    feats = _raw_features(rng, rec, ent)
    for f, (lo, hi) in FEATURE_BOUNDS.items():
        feats[f] = np.clip(feats[f], lo, hi)
    rtype = rec["rtype"].to_numpy()
    dom_rows, dom_feat = _plant_dominant(rng, feats, rtype)
    for f in FEATURE_COLUMNS:
        if f.startswith("f_noise") or f == "f_bin_code":
            continue
        if feats[f].dtype == object:
            continue
        decimals = 0 if f in INT_FEATURES else 2
        feats[f] = np.round(feats[f], decimals)
    feats["f_noise_a"] = np.round(feats["f_noise_a"], 3)
    feats["f_noise_b"] = np.round(feats["f_noise_b"], 2)

    score = np.zeros(len(rec))
    drivers: dict[str, Any] = {}
    for t, name in enumerate(REC_TYPES):
        m = rtype == t
        intercept, terms = SCORE_MODEL[name]
        z = np.full(m.sum(), intercept)
        importance = {}
        for f, kind, coef in terms:
            term = _term(feats[f][m], kind, coef)
            z += term
            # Mean |term - mean term| is the linear SHAP importance in logit space.
            importance[f] = float(np.mean(np.abs(term - term.mean())))
        score[m] = _sigmoid(z)
        present = TYPE_FEATURES[name] + NOISE_FEATURES
        ordered = sorted(importance, key=lambda k: -importance[k])
        drivers[name] = {
            "drivers": ordered,
            "irrelevant": [f for f in FEATURE_COLUMNS if f in present and f not in importance],
            "formula": _formula_text(intercept, terms),
            "importance_logit": {k: round(importance[k], 4) for k in ordered},
        }
        # Blank the features this type does not carry.
        for f in FEATURE_COLUMNS:
            if f not in present:
                if feats[f].dtype == object:
                    feats[f] = np.where(m, None, feats[f])
                else:
                    feats[f] = np.where(m, np.nan, feats[f])
    dominant = pd.DataFrame({"row": dom_rows, "feature": dom_feat})
    return feats, np.round(score, 4), drivers, dominant


def _formula_text(intercept: float, terms: tuple[tuple[str, str, Any], ...]) -> str:
    parts = [f"{intercept:g}"]
    for f, kind, coef in terms:
        if kind == "linear":
            parts.append(f"{coef:+g}*{f}")
        elif kind == "one_minus_pct":
            parts.append(f"{coef:+g}*(1 - {f}/100)")
        else:
            parts.append(f"{json.dumps(coef, sort_keys=True)}[{f}]")
    return "score = sigmoid(" + " ".join(parts) + ")"
