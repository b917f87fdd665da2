"""The Population Stability Index of a feature: reference window against a current window.

Conventions (checked against Evidently's ``psi`` stattest and the credit-scoring practice it
follows):

- numeric features are cut at the reference's deciles (at most ``n_bins`` bins, fewer when the
  reference has ties), with open outer bins so that values beyond the reference's range land in
  the first or last bin; a categorical value gets its own bin when it holds ≥ 5% of the
  reference (at most ``n_bins − 1``), rarer reference values share ``other`` and values the
  reference never had go to ``new``;
- a missing value is its own bin, so a feature that starts arriving empty drifts too;
- an empty bin's share is replaced by ``EPSILON`` = 0.0001 (Evidently's ``feel_zeroes``), so the
  logarithm stays finite: PSI = Σ (ref − cur) · ln(ref / cur) over the bins.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

EPSILON = 1e-4
N_BINS = 10


@dataclass(frozen=True)
class Binning:
    """How one feature's values are put in bins: ``edges`` (inner cut points, numeric) or
    ``categories`` (the categorical values with a bin of their own). After the value bins
    come "other" (reference values too rare for a bin), "new" (values the reference never
    had) and "missing"; a numeric feature leaves "other" and "new" empty."""

    kind: str  # "numeric" | "categorical"
    edges: np.ndarray
    categories: tuple[str, ...]
    known: frozenset[str] = frozenset()

    @property
    def n_value_bins(self) -> int:
        return len(self.edges) + 1 if self.kind == "numeric" else len(self.categories)

    @property
    def n_bins(self) -> int:
        return self.n_value_bins + 3  # + other + new + missing

    def labels(self) -> list[str]:
        if self.kind == "categorical":
            values = list(self.categories)
        else:
            cuts = [f"{e:.4g}" for e in self.edges]
            values = [f"< {cuts[0]}"] if cuts else ["all values"]
            values += [f"{a} – {b}" for a, b in zip(cuts[:-1], cuts[1:], strict=True)]
            values += [f"≥ {cuts[-1]}"] if cuts else []
        return values + ["other", "new", "missing"]


def is_numeric(values: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(
        values.dtype
    )


def fit_binning(reference: pd.Series, *, n_bins: int = N_BINS) -> Binning:
    """The bins of a feature, from its reference values (missing values ignored)."""
    present = reference.dropna()
    if is_numeric(reference):
        values = present.to_numpy(dtype="float64")
        if len(values) == 0:
            return Binning("numeric", np.array([]), ())
        qs = np.quantile(values, np.linspace(0, 1, n_bins + 1)[1:-1])
        edges = np.unique(qs)
        # A cut at the minimum would leave the first bin empty by construction.
        edges = edges[edges > values.min()]
        return Binning("numeric", edges, ())
    shares = present.astype(str).value_counts(normalize=True, sort=False).sort_index()
    # A value gets its own bin when it holds at least half a decile's share (at most
    # n_bins − 1 of them); rarer ones share "other". One bin per code of a 40-code field
    # would leave bins empty in an ordinary week and pass 0.2 on noise alone.
    top = shares[shares >= 1 / (2 * n_bins)].sort_values(ascending=False, kind="stable")
    top = top.index[: n_bins - 1]
    return Binning(
        "categorical", np.array([]), tuple(sorted(map(str, top))), frozenset(map(str, shares.index))
    )


def bin_codes(values: pd.Series, binning: Binning) -> np.ndarray:
    """The bin number (0 .. ``binning.n_bins - 1``) of every value."""
    missing = values.isna().to_numpy()
    other, new, missing_bin = (
        binning.n_value_bins,
        binning.n_value_bins + 1,
        binning.n_value_bins + 2,
    )
    if binning.kind == "numeric":
        x = pd.to_numeric(values, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        codes = np.searchsorted(binning.edges, x, side="right")
        missing = missing | np.isnan(x)
    else:
        if isinstance(values.dtype, pd.CategoricalDtype):  # look up each category once
            cats = values.cat.categories.astype(str).to_numpy(dtype=object)
            per_cat = _categorical_codes(cats, binning, other, new)
            codes = np.append(per_cat, missing_bin)[values.cat.codes.to_numpy()]
        else:
            codes = _categorical_codes(
                values.astype(str).to_numpy(dtype=object), binning, other, new
            )
    return np.where(missing, missing_bin, codes).astype("int64")


def _categorical_codes(text: np.ndarray, binning: Binning, other: int, new: int) -> np.ndarray:
    codes = pd.Index(binning.categories).get_indexer(text)
    known = pd.Index(sorted(binning.known)).get_indexer(text) >= 0
    return np.where(codes >= 0, codes, np.where(known, other, new))


def psi_from_counts(reference: np.ndarray, current: np.ndarray) -> float:
    """PSI of two count vectors over the same bins (NaN when either side is empty)."""
    ref = np.asarray(reference, dtype="float64")
    cur = np.asarray(current, dtype="float64")
    if ref.sum() == 0 or cur.sum() == 0:
        return float("nan")
    p = ref / ref.sum()
    q = cur / cur.sum()
    p = np.where(p == 0, EPSILON, p)
    q = np.where(q == 0, EPSILON, q)
    return float(np.sum((p - q) * np.log(p / q)))


def psi(reference: pd.Series, current: pd.Series, *, n_bins: int = N_BINS) -> float:
    """PSI of ``current`` against ``reference`` (bins fitted on ``reference``, see module doc)."""
    binning = fit_binning(reference, n_bins=n_bins)
    ref = np.bincount(bin_codes(reference, binning), minlength=binning.n_bins)
    cur = np.bincount(bin_codes(current, binning), minlength=binning.n_bins)
    return psi_from_counts(ref, cur)
