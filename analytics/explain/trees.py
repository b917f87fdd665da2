"""A fitted tree ensemble as its root-to-leaf paths: predictions and exact path-dependent
TreeSHAP values with numpy alone.

``shap.TreeExplainer`` (``feature_perturbation="tree_path_dependent"``) explains a tree by
the game ``v(S)``: follow the row where a node splits on a feature in ``S``, else split the
way by the training cover. Along one root-to-leaf path the leaf's weight in ``v(S)`` is a
product over the path's features of ``A_f`` (1 if the row satisfies every split on ``f``
along the path, else 0) when ``f`` is in ``S`` and ``B_f`` (the product of the cover
fractions of those splits) when it is not. The Shapley value of such a product game is
closed-form: ``(A_i - B_i) * sum_k w_k e_k``, where ``e_k`` is the coefficient of ``t^k`` in
``prod_{f != i} (B_f + t A_f)`` and ``w_k = k! (M - k - 1)! / M!``. Summed over every leaf it
gives TreeExplainer's values to float rounding (``tests/explain`` checks it against shap), so
a page can explain one recommendation without importing shap or scikit-learn.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class LeafPaths:
    """Every leaf of a tree ensemble with, per input column, the interval its path allows.

    Attributes
    ----------
    value : np.ndarray
        ``(n_leaves,)`` leaf outputs.
    low, high : np.ndarray
        ``(n_leaves, n_features)``: the path holds for ``low < x <= high`` (±inf: no split).
    missing_ok : np.ndarray
        ``(n_leaves, n_features)`` bool: a missing value follows every split on the path.
    cover : np.ndarray
        ``(n_leaves, n_features)``: product of the cover fractions of the path's splits on
        each feature (1 where the path does not split on it).
    base_offset : float
        Added to every prediction (the ensemble's baseline).
    """

    value: np.ndarray
    low: np.ndarray
    high: np.ndarray
    missing_ok: np.ndarray
    cover: np.ndarray
    base_offset: float

    @property
    def n_features(self) -> int:
        return int(self.low.shape[1])

    def _follows(self, x: np.ndarray) -> np.ndarray:
        """``(n_leaves, n_features)`` float: 1 where ``x`` satisfies the path's splits."""
        with np.errstate(invalid="ignore"):
            inside = (x > self.low) & (x <= self.high)
        return np.where(np.isnan(x), self.missing_ok, inside).astype("float64")

    def predict(self, x: np.ndarray) -> np.ndarray:
        """The ensemble's raw output for each row of ``x`` ``(n, n_features)``."""
        x = np.atleast_2d(np.asarray(x, dtype="float64"))
        return np.array(
            [self.base_offset + float(self.value @ self._follows(r).prod(axis=1)) for r in x]
        )

    def shap_values(self, x: np.ndarray) -> np.ndarray:
        """Path-dependent TreeSHAP values ``(n, n_features)`` of each row of ``x``."""
        x = np.atleast_2d(np.asarray(x, dtype="float64"))
        return np.vstack([self._shap_row(r) for r in x])

    def _shap_row(self, x: np.ndarray) -> np.ndarray:
        m = self.n_features
        a, b = self._follows(x), self.cover
        weights = np.array(
            [math.factorial(k) * math.factorial(m - k - 1) / math.factorial(m) for k in range(m)]
        )
        # Prefix and suffix products of (B_f + t A_f), as polynomial coefficients per leaf,
        # so the product without feature i is one convolution of a prefix and a suffix.
        n = len(self.value)
        prefix = [np.ones((n, 1))]
        for f in range(m):
            prefix.append(_times_linear(prefix[-1], b[:, f], a[:, f]))
        suffix = [np.ones((n, 1))]
        for f in reversed(range(m)):
            suffix.append(_times_linear(suffix[-1], b[:, f], a[:, f]))
        suffix.reverse()  # suffix[f] = product over features f..m-1
        phi = np.zeros(m)
        for i in range(m):
            differs = a[:, i] != b[:, i]
            if not differs.any():
                continue
            left, right = prefix[i][differs], suffix[i + 1][differs]
            coefs = np.zeros((int(differs.sum()), m))
            for j in range(left.shape[1]):
                coefs[:, j : j + right.shape[1]] += left[:, j : j + 1] * right
            gain = (a[differs, i] - b[differs, i]) * (coefs @ weights)
            phi[i] = float(self.value[differs] @ gain)
        return phi


def _times_linear(poly: np.ndarray, const: np.ndarray, slope: np.ndarray) -> np.ndarray:
    """``poly * (const + t slope)`` row by row (coefficients, lowest degree first)."""
    out = np.zeros((poly.shape[0], poly.shape[1] + 1))
    out[:, :-1] += poly * const[:, None]
    out[:, 1:] += poly * slope[:, None]
    return out


def leaf_paths(ensemble: Any, n_features: int) -> LeafPaths:
    """``LeafPaths`` of a ``shap`` ``TreeEnsemble`` (``TreeExplainer(model).model``).

    Reads its node arrays (``children_left``/``right``/``default``, ``features``,
    ``thresholds``, ``values``, ``node_sample_weight``, ``base_offset``); splits send
    ``x <= threshold`` left and a missing value to the default child, as shap and
    scikit-learn's histogram trees do.
    """
    values, lows, highs, oks, covers = [], [], [], [], []
    for t in range(ensemble.children_left.shape[0]):
        left, right = ensemble.children_left[t], ensemble.children_right[t]
        default, feature = ensemble.children_default[t], ensemble.features[t]
        threshold, weight = ensemble.thresholds[t], ensemble.node_sample_weight[t]
        leaf_value = ensemble.values[t][:, 0]
        start = (np.full(n_features, -np.inf), np.full(n_features, np.inf))
        stack = [(0, *start, np.ones(n_features, bool), np.ones(n_features))]
        while stack:
            node, low, high, ok, cover = stack.pop()
            if left[node] < 0:
                values.append(leaf_value[node])
                lows.append(low)
                highs.append(high)
                oks.append(ok)
                covers.append(cover)
                continue
            f = feature[node]
            for child, goes_left in ((left[node], True), (right[node], False)):
                lo, hi, ok2, cov = low.copy(), high.copy(), ok.copy(), cover.copy()
                if goes_left:
                    hi[f] = min(hi[f], threshold[node])
                else:
                    lo[f] = max(lo[f], threshold[node])
                ok2[f] = ok2[f] and default[node] == child
                cov[f] *= weight[child] / weight[node]
                stack.append((child, lo, hi, ok2, cov))
    base = float(np.ravel(ensemble.base_offset)[0])
    if not values:
        empty = np.zeros((0, n_features))
        return LeafPaths(np.zeros(0), empty, empty, empty.astype(bool), empty, base)
    return LeafPaths(
        value=np.asarray(values, dtype="float64"),
        low=np.vstack(lows),
        high=np.vstack(highs),
        missing_ok=np.vstack(oks),
        cover=np.vstack(covers),
        base_offset=base,
    )
