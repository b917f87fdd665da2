"""Verdict bench: how often "improved" / "worse" is said when nothing changed.

    python bench/verdicts.py [--sims 2000] [--seed 1]

For every KPI, baseline and current are drawn from the *same* distribution, and the
Baseline page's comparison (``analytics.baseline.compare_kpi``) is run on them. Any
"improved" or "worse" is then a false verdict; at the stated 95% level it should
happen at most 5% of the time. Each KPI is simulated at the sample size where a
verdict is first allowed (``MIN_SAMPLE``: 30 recommendations or delivered lines, 3
periods or months) and at typical sizes (300 recommendations, 12 vs 13 months).

The distributions are shaped like the sample log's, skewed where real data is:
latencies log-normal (median ~15 h, long right tail), SLA met 74%, override rate 14%,
OTIF 88%; expedite rows with log-normal COGS (±30%) and rate (3% ± 40%); monthly
stockout totals negative binomial (mean 8, overdispersed).

Prints one line per KPI and sample size: the false-verdict rate and whether it is at
most 5%. For the three rates it is computed exactly (every pair of success counts,
weighted by its binomial probability); for the others it is simulated, with its Monte
Carlo standard error.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from scipy import stats

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from analytics.baseline.bootstrap import (  # noqa: E402
    ProportionSample,
    QuantileSample,
    RatioSample,
    Statistic,
)
from analytics.baseline.compare import IMPROVED, WORSE, compare_kpi  # noqa: E402
from analytics.baseline.kpis import KPI_BY_KEY  # noqa: E402

LEVEL = 0.05
Draw = Callable[[np.random.Generator, int], Statistic]


def _latency(q: float, median_h: float = 15.0, sigma: float = 1.0) -> Draw:
    def draw(rng: np.random.Generator, n: int) -> Statistic:
        return QuantileSample.of(median_h * rng.lognormal(0.0, sigma, n), q)

    return draw


RATES = {"sla_met_rate": 0.74, "override_rate": 0.14, "otif": 0.88}


def _proportion(p: float) -> Draw:
    def draw(rng: np.random.Generator, n: int) -> Statistic:
        return ProportionSample.of((rng.random(n) < p).astype("float64"))

    return draw


def exact_false_rate(key: str, n_base: int, n_cur: int) -> float:
    """For a rate, the false-verdict probability itself: the verdict of every pair of
    success counts, weighted by their binomial probabilities (pairs below 1e-12 skipped)."""
    p, kpi = RATES[key], KPI_BY_KEY[key]
    pm_base = stats.binom.pmf(np.arange(n_base + 1), n_base, p)
    pm_cur = stats.binom.pmf(np.arange(n_cur + 1), n_cur, p)
    total = 0.0
    for k_base in np.flatnonzero(pm_base > 1e-12):
        base = ProportionSample(int(k_base), n_base)
        for k_cur in np.flatnonzero(pm_cur > 1e-12):
            change = compare_kpi(kpi, base, ProportionSample(int(k_cur), n_cur))
            if change.verdict in (IMPROVED, WORSE):
                total += pm_base[k_base] * pm_cur[k_cur]
    return float(total)


def _expedite(rng: np.random.Generator, n: int) -> Statistic:
    cogs = 1e6 * rng.lognormal(0.0, 0.3, n)
    expedite = cogs * 0.03 * rng.lognormal(0.0, 0.4, n)
    return RatioSample(expedite, cogs, scale=100.0)


def _stockouts(rng: np.random.Generator, n: int) -> Statistic:
    # Negative binomial with mean 8 and variance 8 + 8²/4 = 24 (three times Poisson's).
    monthly = rng.negative_binomial(4, 4 / (4 + 8), n).astype("float64")
    return RatioSample(monthly, np.ones(n))


SCENARIOS: dict[str, tuple[Draw, tuple[tuple[int, int], ...]]] = {
    "decision_latency_median_h": (_latency(0.5), ((30, 30), (300, 300))),
    "decision_latency_p90_h": (_latency(0.9), ((30, 30), (300, 300))),
    "detection_latency_median_h": (_latency(0.5, 0.2, 1.5), ((30, 30), (300, 300))),
    "response_time_median_h": (_latency(0.5, 14.0, 1.1), ((30, 30), (300, 300))),
    "sla_met_rate": (_proportion(RATES["sla_met_rate"]), ((30, 30), (300, 300))),
    "override_rate": (_proportion(RATES["override_rate"]), ((30, 30), (300, 300))),
    "otif": (_proportion(RATES["otif"]), ((30, 30), (300, 300))),
    "expedite_pct_cogs": (_expedite, ((3, 3), (12, 13))),
    "stockouts_per_month": (_stockouts, ((3, 3), (12, 13))),
}


def false_rate(key: str, n_base: int, n_cur: int, *, sims: int, seed: int) -> float:
    draw = SCENARIOS[key][0]
    rng = np.random.default_rng([seed, n_base, n_cur, list(SCENARIOS).index(key)])
    kpi = KPI_BY_KEY[key]
    wrong = 0
    for i in range(sims):
        change = compare_kpi(kpi, draw(rng, n_base), draw(rng, n_cur), random_state=i)
        wrong += change.verdict in (IMPROVED, WORSE)
    return wrong / sims


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sims", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    print(f"False 'improved'/'worse' verdicts with no real change, {args.sims} simulations each")
    print(f"{'kpi':28s} {'n base':>7s} {'n cur':>6s} {'rate':>7s} {'± SE':>6s}  at most 5%")
    worst = 0.0
    started = time.perf_counter()
    for key, (_, sizes) in SCENARIOS.items():
        for n_base, n_cur in sizes:
            if key in RATES:  # exact: no simulation noise
                rate, se_text = exact_false_rate(key, n_base, n_cur), " exact"
            else:
                rate = false_rate(key, n_base, n_cur, sims=args.sims, seed=args.seed)
                se_text = f"{(rate * (1 - rate) / args.sims) ** 0.5:6.2%}"
            worst = max(worst, rate)
            ok = "yes" if rate <= LEVEL else "NO"
            print(f"{key:28s} {n_base:7d} {n_cur:6d} {rate:7.2%} {se_text:>6s}  {ok}")
    print(f"worst rate {worst:.2%}; {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
