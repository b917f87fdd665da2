"""Closing the loop at scale: one backtest, the propensity fit, scoring every open recommendation.

Reuses ``bench/overrides.py``'s generated bundle and SQLite store in ``bench/out/``
(generated and loaded on first use), reads the frames and the decided log as the
app does (not counted), then times, at 1,000,000 recommendations:

* one backtest of each planted rule found among the candidates (target ≤ 2 s each),
* the propensity fit, temporal validation plus refit (target ≤ 30 s),
* scoring every open recommendation with its driving rules (target ≤ 2 s),

and prints the figures with each planted rule's backtest verdict. Each time is wall clock and,
in brackets, this process's CPU time: on a shared server the two part when other processes
hold the cores, and the CPU time is what the work itself costs.

    python bench/policy.py --rows 1000000
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analytics.overrides.log import decided_log  # noqa: E402
from analytics.overrides.rules import mine_rules  # noqa: E402
from analytics.policy.action import median_adjustment, rule_action  # noqa: E402
from analytics.policy.backtest import backtest_rule  # noqa: E402
from analytics.policy.propensity import fit_propensity, open_recommendations  # noqa: E402
from bench.overrides import OUT, store_for  # noqa: E402
from flows.policy import propensity_scores  # noqa: E402
from store.db import get_engine  # noqa: E402
from store.reads import load_frames  # noqa: E402

TARGET_BACKTEST_S = 2.0
TARGET_FIT_S = 30.0
TARGET_SCORE_S = 2.0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--seed", type=int, default=7)
    a = p.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    url, bundle = store_for(a.rows, a.seed)
    t0 = time.perf_counter()
    frames = load_frames(get_engine(url))
    log = decided_log(frames)
    rules = mine_rules(log)
    prep_s = time.perf_counter() - t0

    planted = json.loads((bundle / "truth" / "planted_rules.json").read_text())
    print(f"recommendations       {len(frames.recommendations):>12,}")
    print(f"decided               {len(log):>12,}")
    print(f"open                  {len(open_recommendations(frames)):>12,}")
    print(f"candidate rules       {len(rules):>12,}")
    print(f"frames, log and rules {prep_s:>11.2f} s   (not counted)")
    print(
        "\nplanted  right  action         matched  evaluated  value added [95% CI]   vs people  verdict   time"
    )
    worst_bt = worst_cpu = 0.0
    for truth in planted:
        hit = rules[rules["conditions"] == truth["conditions"]]
        if hit.empty:
            print(f"  {truth['id']:<6} not found among the candidates")
            continue
        r = hit.iloc[0]
        t0, c0 = time.perf_counter(), time.process_time()
        action = rule_action(
            r["direction"], median_adjustment(log, r["conditions"], r["direction"])
        )
        bt = backtest_rule(log, rule_id=r["id"], conditions=r["conditions"], action=action)
        dt, cpu = time.perf_counter() - t0, time.process_time() - c0
        worst_bt = max(worst_bt, dt)
        worst_cpu = max(worst_cpu, cpu)
        act = "reject" if action["kind"] == "reject" else f"{action['value']:+.1f}%"
        print(
            f"  {truth['id']:<6} {str(truth['right']):<6} {act:<13} {bt.n_matched:>8,} {bt.n_evaluated:>10,}  "
            f"{bt.value_added:>+8.1f} [{bt.ci_low:+.1f}, {bt.ci_high:+.1f}]  {bt.vs_people['value_added']:>+8.1f}  "
            f"{bt.verdict:<8} {dt:5.2f} s"
        )
    t0, c0 = time.perf_counter(), time.process_time()
    model = fit_propensity(frames)
    fit_s, fit_cpu = time.perf_counter() - t0, time.process_time() - c0
    t0, c0 = time.perf_counter(), time.process_time()
    scored = propensity_scores(frames, model, rules)
    score_s, score_cpu = time.perf_counter() - t0, time.process_time() - c0
    ev = model.evaluation
    print(
        f"\npropensity: AUC {ev['auc']:.3f}, Brier {ev['brier']:.4f} (base rate {ev['base_rate_brier']:.4f}), "
        f"mean predicted {ev['mean_predicted']:.3f} vs observed {ev['observed']:.3f} on {ev['n']:,} "
        f"recommendations {ev['from'][:10]} … {ev['to'][:10]}"
    )
    print(f"likely decisions of the open: {scored['likely_decision'].value_counts().to_dict()}")
    print(f"\nload average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(
        f"slowest backtest               {worst_bt:6.2f} s  [cpu {worst_cpu:6.2f} s]  "
        f"(target ≤ {TARGET_BACKTEST_S:.0f} s)"
    )
    print(
        f"propensity fit (split + refit) {fit_s:6.2f} s  [cpu {fit_cpu:6.2f} s]  "
        f"(target ≤ {TARGET_FIT_S:.0f} s)"
    )
    print(
        f"scoring {len(scored):>7,} open           {score_s:6.2f} s  [cpu {score_cpu:6.2f} s]  "
        f"(target ≤ {TARGET_SCORE_S:.0f} s)"
    )
    ok = worst_bt <= TARGET_BACKTEST_S and fit_s <= TARGET_FIT_S and score_s <= TARGET_SCORE_S
    print("\nwithin targets" if ok else "\nOVER TARGET")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
