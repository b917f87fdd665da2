"""Leaf paths (analytics/explain/trees.py) against scikit-learn's predictions and shap's TreeSHAP."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import shap
from sklearn.ensemble import HistGradientBoostingRegressor

from analytics.explain.trees import leaf_paths

ROOT = Path(__file__).resolve().parents[2]


def _fitted(seed: int, n: int = 2000) -> tuple[HistGradientBoostingRegressor, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 5))
    x[:, 3] = rng.integers(0, 4, size=n)  # a few codes, as the ordinal encoding gives
    y = np.sin(x[:, 0]) + x[:, 1] * (x[:, 3] == 2) + 0.5 * (x[:, 2] > 0) + rng.normal(0, 0.1, n)
    x[rng.random(n) < 0.15, 1] = np.nan  # missing values take the trees' default branch
    x[rng.random(n) < 0.05, 3] = np.nan
    est = HistGradientBoostingRegressor(max_iter=60, max_leaf_nodes=15, random_state=seed)
    return est.fit(x, y), x


@pytest.mark.parametrize("seed", [0, 1])
def test_leaf_paths_reproduce_predictions_and_tree_shap(seed: int) -> None:
    est, x = _fitted(seed)
    explainer = shap.TreeExplainer(est)
    paths = leaf_paths(explainer.model, x.shape[1])
    rows = x[:40]
    rows[0] = np.nan  # every input missing
    rows[1, 4] = 50.0  # far outside anything seen in training
    np.testing.assert_allclose(paths.predict(rows), est.predict(rows), rtol=0, atol=1e-10)
    expected = np.asarray(explainer.shap_values(rows, check_additivity=False))
    np.testing.assert_allclose(paths.shap_values(rows), expected, rtol=0, atol=1e-10)


def test_a_fitted_surrogate_unpickles_without_shap_or_scikit_learn(tmp_path: Path) -> None:
    from analytics.explain.surrogates import fit_surrogates
    from tests.explain.test_explain import _synthetic

    model = fit_surrogates(_synthetic(n=600), random_state=0)
    blob = tmp_path / "model.pickle"
    blob.write_bytes(pickle.dumps(model))
    script = (
        "import pickle, sys; import pandas as pd\n"
        f"m = pickle.loads(open({str(blob)!r}, 'rb').read())\n"
        "tm = m.types['stockout_risk']\n"
        "pred, contrib = tm.explain(tm.global_rows.head(3))\n"
        "print(sorted(k for k in ('shap', 'sklearn', 'scipy') if k in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"
