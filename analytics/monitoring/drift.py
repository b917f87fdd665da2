"""Feature drift: every ``f_*`` feature's PSI week by week against the reference window.

A feature is judged on the recommendation types that carry it (types with at least one
value in the reference window), so a change in the mix of types is not read as drift.
A week is judged when it holds at least ``min_rows`` values; with fewer, PSI's own noise
(about (bins − 1) / n) would pass the threshold by chance. An alert needs ``consecutive``
judged weeks in a row at or past ``threshold`` after the reference window; its ``since``
is the first week of the latest such run.

The type-suited test, on the latest judged week against the reference: two-sample
Kolmogorov–Smirnov for a numeric feature, chi-square on the bins for a categorical one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

from analytics.monitoring.keys import factor
from analytics.monitoring.psi import (
    EPSILON,
    N_BINS,
    Binning,
    bin_codes,
    fit_binning,
    psi_from_counts,
)
from analytics.monitoring.window import Reference, day_numbers, week_date, week_of_day

THRESHOLD = 0.2
CONSECUTIVE = 2
MIN_ROWS = 100


@dataclass(frozen=True)
class DriftRun:
    """The latest run of weeks in which a feature stayed at or past the threshold."""

    feature: str
    since: date
    n_weeks: int
    psi_last: float
    psi_max: float
    sites: tuple[str, ...]  # sites whose own PSI over the run passes the threshold
    all_sites: bool
    rec_types: tuple[str, ...]
    kind: str
    ref_median: float | None
    run_median: float | None
    ref_missing: float
    run_missing: float
    top_value: str | None  # categorical: the value whose share moved most
    ref_share: float | None
    run_share: float | None


@dataclass(frozen=True)
class FeatureDrift:
    weekly: pd.DataFrame  # feature, week, n, psi, judged, current
    summary: pd.DataFrame  # feature, kind, test, p_value, n_reference, psi_latest, psi_max
    runs: list[DriftRun]
    shares: dict[str, pd.DataFrame] = field(default_factory=dict)  # bin, reference, latest


def _shares(binning: Binning, ref: np.ndarray, latest: np.ndarray) -> pd.DataFrame:
    out = pd.DataFrame(
        {"bin": binning.labels(), "reference": ref / max(ref.sum(), 1),
         "latest": latest / max(latest.sum(), 1)}
    )  # fmt: skip
    return out[(out["reference"] > 0) | (out["latest"] > 0)].reset_index(drop=True)


def _test(kind: str, ref_values: pd.Series, cur_values: pd.Series, ref: np.ndarray,
          cur: np.ndarray) -> tuple[str, float]:  # fmt: skip
    from scipy import stats  # here, not at import: scipy.stats costs every page ~0.5 s

    if kind == "numeric":
        a, b = ref_values.dropna().to_numpy(float), cur_values.dropna().to_numpy(float)
        if len(a) == 0 or len(b) == 0:
            return "ks", float("nan")
        return "ks", float(stats.ks_2samp(a, b).pvalue)
    keep = (ref + cur) > 0
    if keep.sum() < 2:
        return "chi2", 1.0
    return "chi2", float(stats.chi2_contingency(np.vstack([ref[keep], cur[keep]]))[1])


def _group_psi(
    codes: np.ndarray,
    groups: np.ndarray,
    labels: list[str],
    ref_mask: np.ndarray,
    run_mask: np.ndarray,
    n_bins: int,
    min_rows: int,
    threshold: float,
) -> tuple[list[str], list[str]]:
    """(groups whose own PSI over the run passes the threshold, groups judged)."""
    size = (len(labels) + 1) * n_bins
    ok = groups >= 0

    def table(mask: np.ndarray) -> np.ndarray:
        m = mask & ok
        return np.bincount(groups[m] * n_bins + codes[m], minlength=size).reshape(-1, n_bins)

    ref, cur = table(ref_mask), table(run_mask)
    hit, judged = [], []
    for g, label in enumerate(labels):
        if ref[g].sum() < min_rows or cur[g].sum() < min_rows:
            continue
        judged.append(label)
        if psi_from_counts(ref[g], cur[g]) >= threshold:
            hit.append(label)
    return sorted(hit), sorted(judged)


def feature_drift(
    recommendations: pd.DataFrame,
    reference: Reference,
    *,
    features: list[str] | None = None,
    threshold: float = THRESHOLD,
    consecutive: int = CONSECUTIVE,
    min_rows: int = MIN_ROWS,
    n_bins: int = N_BINS,
) -> FeatureDrift:
    """Weekly PSI of each feature in ``recommendations`` (``created_at``, ``rec_type``, ``site``
    and the ``f_*`` columns) against ``reference``; see the module doc for the rules."""
    feats = features if features is not None else [
        c for c in recommendations.columns if c.startswith("f_")
    ]  # fmt: skip
    day = day_numbers(recommendations["created_at"])
    week = week_of_day(day)
    in_ref_all = reference.contains(day)
    rec_type, type_labels = factor(recommendations["rec_type"])
    site, site_labels = factor(recommendations["site"])
    weekly, summary, runs, shares = [], [], [], {}
    for feat in feats:
        full = recommendations[feat]
        carriers = np.unique(rec_type[in_ref_all & full.notna().to_numpy()])
        carriers = carriers[carriers >= 0]
        carries = np.zeros(len(type_labels) + 1, dtype=bool)  # code −1 (missing) → False
        carries[carriers] = True
        # From here on, only the rows of the types that carry the feature.
        idx = np.flatnonzero(carries[rec_type])
        col = full.iloc[idx]
        w, in_ref = week[idx], in_ref_all[idx]
        if in_ref.sum() < min_rows:
            summary.append({"feature": feat, "kind": None, "test": None, "p_value": np.nan,
                            "n_reference": int(in_ref.sum()), "psi_latest": np.nan,
                            "psi_max": np.nan})  # fmt: skip
            continue
        binning = fit_binning(col[in_ref], n_bins=n_bins)
        codes = bin_codes(col, binning)
        nb = binning.n_bins
        ref_counts = np.bincount(codes[in_ref], minlength=nb)
        k = (w - int(w.min())) // 7
        table = np.bincount(k * nb + codes, minlength=(int(k.max()) + 1) * nb)
        table = table.reshape(-1, nb)
        n = table.sum(axis=1)
        p = ref_counts / ref_counts.sum()
        p = np.where(p == 0, EPSILON, p)
        q = table / np.maximum(n, 1)[:, None]
        q = np.where(q == 0, EPSILON, q)
        psi = np.sum((p - q) * np.log(p / q), axis=1)
        weeks = int(w.min()) + 7 * np.arange(len(n))
        frame = pd.DataFrame({"feature": feat, "week": weeks, "n": n,
                              "psi": np.where(n >= min_rows, psi, np.nan)})  # fmt: skip
        frame["judged"] = frame["n"] >= min_rows
        frame["current"] = frame["week"] > reference.last_week
        frame = frame[frame["n"] > 0].reset_index(drop=True)
        weekly.append(frame)
        cur = frame[frame["current"] & frame["judged"]]
        latest = cur.iloc[-1] if len(cur) else None
        test, p_value = (None, np.nan)
        if latest is not None:
            latest_rows = w == latest["week"]
            test, p_value = _test(binning.kind, col[in_ref], col[latest_rows], ref_counts,
                                  np.bincount(codes[latest_rows], minlength=nb))  # fmt: skip
            shares[feat] = _shares(binning, ref_counts,
                                   np.bincount(codes[latest_rows], minlength=nb))  # fmt: skip
        summary.append({
            "feature": feat, "kind": binning.kind, "test": test, "p_value": p_value,
            "n_reference": int(in_ref.sum()),
            "psi_latest": np.nan if latest is None else float(latest["psi"]),
            "psi_max": float(cur["psi"].max()) if len(cur) else np.nan,
        })  # fmt: skip
        run = _latest_run(frame[frame["current"]], threshold, consecutive)
        if run is None:
            continue
        run_weeks = run["week"].to_numpy()
        run_mask = np.isin(w, run_weeks)
        hit_sites, judged_sites = _group_psi(
            codes, site[idx], site_labels, in_ref, run_mask, nb, min_rows, threshold
        )
        hit_types, _ = _group_psi(
            codes, rec_type[idx], type_labels, in_ref, run_mask, nb, min_rows, threshold
        )
        runs.append(_describe(feat, binning, col, in_ref, run_mask, ref_counts,
                              np.bincount(codes[run_mask], minlength=nb), run, hit_sites,
                              judged_sites, hit_types or sorted(type_labels[c] for c in carriers)))  # fmt: skip
    weekly_df = (
        pd.concat(weekly, ignore_index=True) if weekly
        else pd.DataFrame(columns=["feature", "week", "n", "psi", "judged", "current"])
    )  # fmt: skip
    return FeatureDrift(weekly_df, pd.DataFrame(summary), runs, shares)


def _latest_run(frame: pd.DataFrame, threshold: float, consecutive: int) -> pd.DataFrame | None:
    """The latest stretch of calendar-consecutive judged weeks at or past ``threshold``."""
    over = (frame["psi"] >= threshold).to_numpy() & frame["judged"].to_numpy()
    weeks = frame["week"].to_numpy()
    best: tuple[int, int] | None = None
    i = 0
    while i < len(over):
        if not over[i]:
            i += 1
            continue
        j = i
        while j + 1 < len(over) and over[j + 1] and weeks[j + 1] - weeks[j] == 7:
            j += 1
        if j - i + 1 >= consecutive:
            best = (i, j)
        i = j + 1
    return None if best is None else frame.iloc[best[0] : best[1] + 1]


def _describe(feat: str, binning: Binning, col: pd.Series, in_ref: np.ndarray,
              run_mask: np.ndarray, ref: np.ndarray, cur: np.ndarray, run: pd.DataFrame,
              sites: list[str], judged_sites: list[str], types: list[str]) -> DriftRun:  # fmt: skip
    ref_vals, run_vals = col[in_ref], col[run_mask]
    top_value = ref_share = run_share = None
    ref_median = run_median = None
    if binning.kind == "numeric":
        ref_median = float(ref_vals.median()) if ref_vals.notna().any() else None
        run_median = float(run_vals.median()) if run_vals.notna().any() else None
    else:
        labels = binning.labels()
        p, q = ref / max(ref.sum(), 1), cur / max(cur.sum(), 1)
        k = int(np.argmax(np.abs(p - q)[:-1]))  # the missing bin is described apart
        top_value, ref_share, run_share = labels[k], float(p[k]), float(q[k])
    return DriftRun(
        feature=feat,
        since=week_date(int(run["week"].iloc[0])),
        n_weeks=len(run),
        psi_last=float(run["psi"].iloc[-1]),
        psi_max=float(run["psi"].max()),
        sites=tuple(sites),
        all_sites=bool(judged_sites) and sites == judged_sites,
        rec_types=tuple(types),
        kind=binning.kind,
        ref_median=ref_median,
        run_median=run_median,
        ref_missing=float(ref[-1] / max(ref.sum(), 1)),
        run_missing=float(cur[-1] / max(cur.sum(), 1)),
        top_value=top_value,
        ref_share=ref_share,
        run_share=run_share,
    )
