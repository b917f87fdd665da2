"""Calibration and false positives of a ``score`` that is a probability of ``stockout``.

Judged only where acting could not have changed the outcome: recommendations that were
rejected, expired or left open and have an outcome with ``stockout`` filled in; and only
those a model issued (a ``model_version``), as the pre-AI process has nothing to calibrate. (An accepted
stockout alert that led to an expedite may well have prevented the stockout it predicted.)

- **ECE** (expected calibration error): 10 equal-width bins of the score over [0, 1] (the
  last one closed), Σ n_b / N · |mean score_b − stockout rate_b| — the binning of scikit-
  learn's ``calibration_curve(strategy="uniform")``, weighted by bin size.
- **Brier score**: mean (score − stockout)².
- **False-positive rate**: the share of judged recommendations with score ≥ 0.5 after which
  no stockout followed.

Intervals are 95%: Wilson for rates, the normal one for the Brier score's mean, and for ECE a
parametric bootstrap over the bins (each bin's size, mean score and stockout count redrawn),
seeded with ``random_state``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analytics.monitoring.keys import flag, member, positions, spread, text
from analytics.monitoring.window import day_numbers, week_of_day
from analytics.shared.intervals import Z95 as Z
from analytics.shared.intervals import wilson_interval

N_BINS = 10
CUT = 0.5
JUDGED_DECISIONS = ("rejected", "expired")


def default_types(recommendations: pd.DataFrame, outcomes: pd.DataFrame) -> list[str]:
    """Types whose every ``score`` lies in 0..1 and whose outcomes carry ``stockout``."""
    if recommendations.empty or "score" not in recommendations or "stockout" not in outcomes:
        return []
    scored = recommendations[recommendations["score"].notna()]
    in_range = scored.groupby("rec_type", observed=True)["score"].agg(["min", "max"])
    ok = set(in_range.index[(in_range["min"] >= 0) & (in_range["max"] <= 1)].astype(str))
    pos = positions(recommendations, outcomes)
    pos = pos[(pos >= 0) & outcomes["stockout"].notna().to_numpy()]
    carried = set(text(recommendations["rec_type"])[pos])
    return sorted(ok & carried)


def judged_set(
    recommendations: pd.DataFrame,
    decisions: pd.DataFrame,
    outcomes: pd.DataFrame,
    *,
    types: list[str],
) -> pd.DataFrame:
    """The recommendations calibration is judged on: ``rec_id, rec_type, site, model_version,
    created_at, day, week, score, stockout`` (stockout as 0/1)."""
    cols = ["rec_id", "rec_type", "site", "model_version", "created_at", "score"]
    n = len(recommendations)
    if n == 0 or "score" not in recommendations or "stockout" not in outcomes:
        return pd.DataFrame(columns=cols + ["stockout", "day", "week"])
    stockout = spread(
        n,
        positions(recommendations, outcomes),
        outcomes["stockout"].astype("Float64").to_numpy(dtype="float64", na_value=np.nan),
    )
    acted = np.zeros(n, dtype=bool)
    if len(decisions):
        judged_decision = member(decisions["decision"], JUDGED_DECISIONS)
        acted = flag(n, positions(recommendations, decisions), ~judged_decision)
    score = recommendations["score"].to_numpy(dtype="float64", na_value=np.nan)
    # Exceptions of the pre-AI process (no model_version) have no model to calibrate.
    has_model = (
        recommendations["model_version"].notna().to_numpy()
        if "model_version" in recommendations
        else np.ones(n, dtype=bool)
    )
    keep = (
        has_model
        & member(recommendations["rec_type"], types)
        & (score >= 0)
        & (score <= 1)
        & ~np.isnan(stockout)
        & ~acted
    )
    df = recommendations.loc[keep, [c for c in cols if c in recommendations]].reset_index(drop=True)
    if "model_version" not in df:
        df["model_version"] = pd.NA
    df["stockout"] = stockout[keep].astype("int8")
    df["day"] = day_numbers(df["created_at"])
    df["week"] = week_of_day(df["day"].to_numpy())
    return df


def bin_index(score: np.ndarray, n_bins: int = N_BINS) -> np.ndarray:
    return np.minimum((np.asarray(score, dtype="float64") * n_bins).astype("int64"), n_bins - 1)


def bin_sums(score: np.ndarray, y: np.ndarray, n_bins: int = N_BINS) -> np.ndarray:
    """Per bin: count, Σ score, Σ stockout (shape ``(3, n_bins)``)."""
    b = bin_index(score, n_bins)
    return np.vstack(
        [
            np.bincount(b, minlength=n_bins),
            np.bincount(b, weights=score, minlength=n_bins),
            np.bincount(b, weights=y, minlength=n_bins),
        ]
    ).astype("float64")


def ece_from_sums(sums: np.ndarray) -> float:
    n, s, k = sums
    total = n.sum()
    if total == 0:
        return float("nan")
    with np.errstate(invalid="ignore", divide="ignore"):
        gap = np.where(n > 0, np.abs(s / n - k / n), 0.0)
    return float(np.sum(n / total * gap))


def expected_calibration_error(score: np.ndarray, y: np.ndarray, *, n_bins: int = N_BINS) -> float:
    """ECE over ``n_bins`` equal-width bins (NaN without data)."""
    return ece_from_sums(bin_sums(np.asarray(score, float), np.asarray(y, float), n_bins))


def brier_score(score: np.ndarray, y: np.ndarray) -> float:
    score, y = np.asarray(score, float), np.asarray(y, float)
    return float(np.mean((score - y) ** 2)) if len(score) else float("nan")


def false_positive_rate(score: np.ndarray, y: np.ndarray, *, cut: float = CUT) -> float:
    flagged = np.asarray(score, float) >= cut
    return float(np.mean(np.asarray(y)[flagged] == 0)) if flagged.any() else float("nan")


def wilson(k: float, n: float) -> tuple[float, float]:
    """The shared Wilson interval (``analytics.shared.intervals``) of one rate, as floats."""
    low, high = wilson_interval(k, n, z=Z)
    return float(low), float(high)


def _ece_interval(
    score: np.ndarray, y: np.ndarray, reps: int, random_state: int
) -> tuple[float, float]:
    """Parametric bootstrap of ECE over the bins (see module doc)."""
    rng = np.random.default_rng(random_state)
    b = bin_index(score)
    n = np.bincount(b, minlength=N_BINS)
    if n.sum() < 2:
        return float("nan"), float("nan")
    mean_s = np.bincount(b, weights=score, minlength=N_BINS) / np.maximum(n, 1)
    sq = np.bincount(b, weights=score**2, minlength=N_BINS) / np.maximum(n, 1)
    sd_s = np.sqrt(np.maximum(sq - mean_s**2, 0))
    rate = np.bincount(b, weights=y, minlength=N_BINS) / np.maximum(n, 1)
    counts = rng.multinomial(n.sum(), n / n.sum(), size=reps)
    safe = np.maximum(counts, 1)
    s = mean_s + rng.standard_normal((reps, N_BINS)) * sd_s / np.sqrt(safe)
    k = rng.binomial(counts, rate) / safe
    ece = np.sum(counts / n.sum() * np.abs(s - k), axis=1)
    lo, hi = np.quantile(ece, [0.025, 0.975])
    return float(lo), float(hi)


def calibration_table(
    judged: pd.DataFrame, *, by: str | list[str] = "model_version", reps: int = 400,
    random_state: int = 0, min_n: int = 1,
) -> pd.DataFrame:  # fmt: skip
    """Per group: ``n, ece, ece_low, ece_high, brier, brier_low, brier_high, n_flagged,
    false_positive_rate, fpr_low, fpr_high, first_week`` (groups with fewer than ``min_n``
    judged recommendations are left out)."""
    keys = [by] if isinstance(by, str) else list(by)
    rows = []
    data = judged.assign(**{k: judged[k].astype("string").fillna("(none)") for k in keys})
    for key, g in data.groupby(keys, observed=True, sort=True):
        if len(g) < min_n:
            continue
        s, y = g["score"].to_numpy(float), g["stockout"].to_numpy(float)
        sq = (s - y) ** 2
        brier = float(sq.mean())
        half = Z * float(sq.std(ddof=1)) / np.sqrt(len(sq)) if len(sq) > 1 else np.nan
        flagged = s >= CUT
        n_fp = int(np.sum(flagged & (y == 0)))
        lo, hi = _ece_interval(s, y, reps, random_state)
        fpr_lo, fpr_hi = wilson(n_fp, int(flagged.sum()))
        rows.append({
            **dict(zip(keys, key if isinstance(key, tuple) else (key,), strict=True)),
            "n": len(g), "ece": expected_calibration_error(s, y), "ece_low": lo, "ece_high": hi,
            "brier": brier, "brier_low": brier - half, "brier_high": brier + half,
            "n_flagged": int(flagged.sum()),
            "false_positive_rate": n_fp / flagged.sum() if flagged.any() else np.nan,
            "fpr_low": fpr_lo, "fpr_high": fpr_hi, "first_week": int(g["week"].min()),
        })  # fmt: skip
    cols = keys + ["n", "ece", "ece_low", "ece_high", "brier", "brier_low", "brier_high",
                   "n_flagged", "false_positive_rate", "fpr_low", "fpr_high", "first_week"]  # fmt: skip
    return pd.DataFrame(rows, columns=cols)


def reliability(judged: pd.DataFrame, *, n_bins: int = N_BINS) -> pd.DataFrame:
    """The reliability diagram's points: per non-empty bin ``bin_low, bin_high, n,
    mean_score, stockout_rate, ci_low, ci_high``."""
    s, y = judged["score"].to_numpy(float), judged["stockout"].to_numpy(float)
    n, ss, k = bin_sums(s, y, n_bins)
    rows = []
    for i in np.flatnonzero(n):
        lo, hi = wilson(k[i], n[i])
        rows.append({"bin_low": i / n_bins, "bin_high": (i + 1) / n_bins, "n": int(n[i]),
                     "mean_score": ss[i] / n[i], "stockout_rate": k[i] / n[i],
                     "ci_low": lo, "ci_high": hi})  # fmt: skip
    cols = ["bin_low", "bin_high", "n", "mean_score", "stockout_rate", "ci_low", "ci_high"]
    return pd.DataFrame(rows, columns=cols)


def miscalibration_start(judged: pd.DataFrame, *, threshold: float, min_n: int) -> int:
    """The week (Monday day number) a group's miscalibration started: its first week when its
    first ``min_n`` judged recommendations already pass ``threshold``; else the earliest week
    from which the ECE of everything after passes it while everything before stays within it."""
    g = judged.sort_values("created_at", kind="stable")
    s, y = g["score"].to_numpy(float), g["stockout"].to_numpy(float)
    weeks = g["week"].to_numpy()
    if expected_calibration_error(s[:min_n], y[:min_n]) > threshold:
        return int(weeks[0])
    for w in np.unique(weeks)[1:]:
        before, after = weeks < w, weeks >= w
        if after.sum() < min_n // 2:
            break
        if (
            expected_calibration_error(s[after], y[after]) > threshold
            and expected_calibration_error(s[before], y[before]) <= threshold
        ):
            return int(w)
    return int(weeks[0])
