"""How surprising a rule's support is: its own type's base rate, its p-value, and
false-discovery control over every candidate tested.

A rule is compared with the recommendations of its own type: each type's rate of each
direction (``type_rates``), weighted by the types a rule covers (``coverage_by_type``).

The miner tests thousands of ``conditions × direction`` candidates; at that count a few
reach any fixed z by chance ("17 of 82 overridden" on a quiet supplier). Each candidate
gets a one-sided binomial p-value of its support against its expected overrides, and the
Benjamini–Hochberg adjustment is taken over **every** candidate tested, not only the
ones shown, so the adjusted p-value a page prints is honest about the search.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analytics.overrides.log import DIRECTIONS, match_mask

FDR = 0.05
_BINCOUNT_LIMIT = 20_000_000


def binomial_p_value(support: np.ndarray, coverage: np.ndarray, rate: np.ndarray) -> np.ndarray:
    """P(at least ``support`` of ``coverage`` overridden) when each is at ``rate``."""
    support = np.asarray(support, dtype=float)
    coverage = np.asarray(coverage, dtype=float)
    rate = np.clip(np.asarray(rate, dtype=float), 1e-12, 1 - 1e-12)
    from scipy.stats import binom  # here: scipy.stats costs every page ~0.5 s to import

    return binom.sf(support - 1, coverage, rate)


def benjamini_hochberg(p_values: np.ndarray, *, n_tests: int | None = None) -> np.ndarray:
    """BH-adjusted p-values (q-values), in input order.

    ``n_tests`` is the number of hypotheses tested when only some p-values are passed
    (the rest are known to be larger than every one passed); default ``len(p_values)``.
    """
    p = np.asarray(p_values, dtype=float)
    m = len(p) if n_tests is None else max(int(n_tests), len(p))
    if not len(p):
        return p
    order = np.argsort(p, kind="stable")
    ranked = p[order] * m / np.arange(1, len(p) + 1)
    q = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty(len(p))
    out[order] = np.minimum(q, 1.0)
    return out


def type_rates(log: pd.DataFrame, dcode: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's type code (missing = the last) and each type's base rate per direction.

    Returns ``(row_type, rates)`` with ``rates`` of shape ``(n_types + 1, 3)``: the rate of
    each direction among decided recommendations of that type; the last row (no type,
    or no ``rec_type`` column) is the overall rate.
    """
    n = len(log)
    overall = np.bincount(dcode[dcode >= 0], minlength=3) / max(n, 1)
    if "rec_type" not in log.columns or n == 0:
        return np.zeros(n, dtype=np.int64), overall[None, :]
    col = log["rec_type"]
    if not isinstance(col.dtype, pd.CategoricalDtype):
        col = col.astype("string").astype("category")
    t = col.cat.codes.to_numpy().astype(np.int64)
    k = len(col.cat.categories)
    t = np.where(t >= 0, t, k)
    rates = np.tile(overall, (k + 1, 1))
    size = np.bincount(t, minlength=k + 1).astype(float)
    for d in range(3):
        hits = np.bincount(t[dcode == d], minlength=k + 1)
        rates[:k, d] = np.where(size[:k] > 0, hits[:k] / np.maximum(size[:k], 1), overall[d])
    return t, rates


def type_base_rates(log: pd.DataFrame, dcode: np.ndarray) -> np.ndarray:
    """Per row, the base rate of each direction among decided recommendations of its type."""
    t, rates = type_rates(log, dcode)
    return rates[t]


def coverage_by_type(
    akey: np.ndarray, avalid: np.ndarray, space: int, wanted: np.ndarray, row_type: np.ndarray,
    n_types: int,
) -> np.ndarray:  # fmt: skip
    """``(len(wanted), n_types)``: decided recommendations of each type per wanted key."""
    n_w = len(wanted)
    if space <= _BINCOUNT_LIMIT:
        lookup = np.full(space + 1, n_w, dtype=np.int64)
        lookup[wanted] = np.arange(n_w)
        idx = lookup[np.where(avalid, akey, space)]
    else:
        pos = np.clip(np.searchsorted(wanted, akey), 0, max(n_w - 1, 0))
        hit = avalid & (wanted[pos] == akey)
        idx = np.where(hit, pos, n_w)
    flat = np.bincount(idx * n_types + row_type, minlength=(n_w + 1) * n_types)
    return flat.reshape(n_w + 1, n_types)[:n_w]


def direction_codes(log: pd.DataFrame) -> np.ndarray:
    """0 increase, 1 decrease, 2 reject, -1 no direction."""
    labels = log["direction"].astype("string").to_numpy(dtype=object, na_value="")
    codes = np.full(len(log), -1, dtype=np.int64)
    for i, d in enumerate(DIRECTIONS):
        codes[labels == d] = i
    return codes


def rule_stats(log: pd.DataFrame, conditions: dict[str, str], direction: str) -> dict[str, float]:
    """Support, coverage, confidence and lift (over its own base rate) of one rule over ``log``."""
    match = match_mask(log, conditions)
    is_dir = (log["direction"] == direction).to_numpy(dtype=bool)
    support, coverage = int((match & is_dir).sum()), int(match.sum())
    d = DIRECTIONS.index(direction) if direction in DIRECTIONS else -1
    if coverage and d >= 0:
        base = float(type_base_rates(log, direction_codes(log))[match, d].mean())
    else:
        base = float(is_dir.mean()) if len(log) else float("nan")
    conf = support / coverage if coverage else float("nan")
    return {
        "support": support,
        "coverage": coverage,
        "confidence": conf,
        "lift": conf / base if coverage and base > 0 else float("nan"),
    }
