"""How surprising a rule's support is, and false-discovery control over every candidate tested.

The miner tests thousands of ``conditions × direction`` candidates; at that count a few
reach any fixed z by chance ("17 of 82 overridden" on a quiet supplier). Each candidate
gets a one-sided binomial p-value of its support against its expected overrides, and the
Benjamini–Hochberg adjustment is taken over **every** candidate tested, not only the
ones shown, so the adjusted p-value a page prints is honest about the search.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import binom

FDR = 0.05


def binomial_p_value(support: np.ndarray, coverage: np.ndarray, rate: np.ndarray) -> np.ndarray:
    """P(at least ``support`` of ``coverage`` overridden) when each is at ``rate``."""
    support = np.asarray(support, dtype=float)
    coverage = np.asarray(coverage, dtype=float)
    rate = np.clip(np.asarray(rate, dtype=float), 1e-12, 1 - 1e-12)
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
