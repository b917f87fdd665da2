"""Verdict intervals that hold their level at small samples, against values worked out by hand.

The false-verdict rates themselves (simulated with no change) are printed by
``bench/verdicts.py``; here each interval is checked on a tiny sample.
"""

from __future__ import annotations

import numpy as np
import pytest

from analytics.baseline.bootstrap import (
    ProportionSample,
    RatioSample,
    delta_interval,
    newcombe_interval,
    welch_interval,
)
from analytics.baseline.compare import NOISE, compare_kpi
from analytics.baseline.kpis import KPI_BY_KEY


def test_newcombe_matches_the_published_example() -> None:
    # Newcombe (1998), Statistics in Medicine 17:873, example (a): 56/70 − 48/80 = 0.2000,
    # method 10 (hybrid score) gives 0.0524 to 0.3339.
    low, high = newcombe_interval(ProportionSample(48, 80), ProportionSample(56, 70))
    assert (low, high) == (pytest.approx(0.0524, abs=1e-4), pytest.approx(0.3339, abs=1e-4))
    # The change interval of two proportions is this one, whatever the seed.
    assert delta_interval(ProportionSample(48, 80), ProportionSample(56, 70), random_state=7) == (
        low,
        high,
    )


def test_stockouts_at_one_site_over_three_months_is_noise_by_welch() -> None:
    # Monthly totals 10, 6, 8 before and 4, 6, 2 since: means 8 and 4, each variance 4, so
    # se² = 4/3 + 4/3, Welch df = (8/3)² / (2 · (4/3)² / 2) = 4, t(0.975, 4) = 2.776445:
    # −4 ± 2.776445 · √(8/3) = −8.5339 to 0.5339 — it contains 0.
    base = RatioSample(np.array([10.0, 6.0, 8.0]), np.ones(3))
    cur = RatioSample(np.array([4.0, 6.0, 2.0]), np.ones(3))
    low, high = welch_interval(base, cur)
    assert (low, high) == (pytest.approx(-8.53393, abs=1e-4), pytest.approx(0.53393, abs=1e-4))
    change = compare_kpi(KPI_BY_KEY["stockouts_per_month"], base, cur)
    assert change.delta == pytest.approx(-4.0) and change.verdict == NOISE


def test_expedite_ratio_interval_by_linearisation() -> None:
    # Baseline: COGS 100 each, expedite 3, 5, 4 → 4%; residuals y − 0.04·x = −1, 1, 0 over
    # x̄ = 100, ×100 → variance 1, se² = 1/3. Current: COGS 100, 200, 100, expedite 2, 4, 2
    # → 2%, residuals all 0. Welch df = (1/3)² / ((1/3)² / 2) = 2, t(0.975, 2) = 4.302653:
    # −2 ± 4.302653 · √(1/3) = −4.48414 to 0.48414.
    base = RatioSample(np.array([3.0, 5.0, 4.0]), np.array([100.0, 100.0, 100.0]), scale=100.0)
    cur = RatioSample(np.array([2.0, 4.0, 2.0]), np.array([100.0, 200.0, 100.0]), scale=100.0)
    low, high = welch_interval(base, cur)
    assert (low, high) == (pytest.approx(-4.48414, abs=1e-4), pytest.approx(0.48414, abs=1e-4))
    assert compare_kpi(KPI_BY_KEY["expedite_pct_cogs"], base, cur).verdict == NOISE


def test_one_row_a_side_has_no_interval() -> None:
    one = RatioSample(np.array([3.0]), np.array([1.0]))
    low, high = welch_interval(one, one)
    assert np.isnan(low) and np.isnan(high)
