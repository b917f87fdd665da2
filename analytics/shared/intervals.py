"""Confidence intervals shared by every journey."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

Z90 = 1.6448536269514722
Z95 = 1.959963984540054


def wilson_interval(k: ArrayLike, n: ArrayLike, *, z: float = Z95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for ``k`` successes in ``n`` trials, element-wise.

    Keeps its coverage for small ``n`` and rates near 0 or 1, where the normal
    interval does not. NaN where ``n`` is 0.
    """
    k = np.asarray(k, dtype="float64")
    n = np.asarray(n, dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        n = np.where(n > 0, n, np.nan)
        p = k / n
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half
