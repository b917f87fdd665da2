"""Explanation benchmark: surrogate fit on a large log, and one warm explanation.

    python bench/explain.py --rows 1000000

Generates (once, cached under bench/out/) a bundle of N recommendations, loads it
(once) into bench/out/explain-N-sS.db, then times in this process:

* ``read``    — ``store.reads.load_frames`` (snapshot reads);
* ``fit``     — ``analytics.explain.surrogates.fit_surrogates``: stratified sample, both
  strategies (per type and pooled), held-out fidelity, global SHAP;
* ``index``   — ``analytics.explain.precedent.build_precedent_index`` over every recommendation;
* ``lookup``  — ``analytics.explain.precedent.decision_lookup``: decisions and outcomes by rec id
  (the only precedent work redone after a planner records a decision);
* ``explain`` — ``analytics.explain.explanation.explain_report`` for random recommendations,
  warm (model and index built): SHAP, typical values among the same type and site,
  the sentence and five precedents.

Targets: fit ≤ 30 s, one explanation ≤ 100 ms warm. Prints the figures.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

FIT_TARGET_S = 30.0
EXPLAIN_TARGET_MS = 100.0


def ensure_bundle(rows: int, seed: int) -> Path:
    out = REPO / "bench" / "out" / f"bundle-{rows}-s{seed}"
    if (out / "recommendations.csv").exists():
        return out
    from sample_data.generate import generate_bundle

    t0 = time.perf_counter()
    generate_bundle(out, rows=rows, seed=seed)
    print(f"generated {rows:,}-recommendation bundle in {time.perf_counter() - t0:.1f} s -> {out}")
    return out


def ensure_store(bundle: Path, rows: int, seed: int):  # noqa: ANN201 - an Engine
    from store.db import get_engine
    from store.ingest.load import load_bundle
    from store.reads import table_counts

    db = REPO / "bench" / "out" / f"explain-{rows}-s{seed}.db"
    engine = get_engine(f"sqlite:///{db}")
    if table_counts(engine)["recommendations"] == 0:
        t0 = time.perf_counter()
        load_bundle(bundle, engine=engine, actor="bench", role="admin")
        print(f"loaded the bundle into {db.name} in {time.perf_counter() - t0:.1f} s")
    return engine


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--explanations", type=int, default=30)
    a = p.parse_args(argv)

    from analytics.explain.explanation import explain_report
    from analytics.explain.precedent import build_precedent_index, decision_lookup
    from analytics.explain.surrogates import fit_surrogates
    from store.reads import load_frames

    engine = ensure_store(ensure_bundle(a.rows, a.seed), a.rows, a.seed)

    t0 = time.perf_counter()
    frames = load_frames(engine)
    t_read = time.perf_counter() - t0

    t0 = time.perf_counter()
    model = fit_surrogates(frames, random_state=0)
    t_fit = time.perf_counter() - t0

    t0 = time.perf_counter()
    index = build_precedent_index(frames, model)
    t_index = time.perf_counter() - t0

    t0 = time.perf_counter()
    lookup = decision_lookup(frames)
    t_lookup = time.perf_counter() - t0

    rng = np.random.default_rng(a.seed)
    ids = frames.recommendations["rec_id"].to_numpy(dtype=object)
    sample = ids[rng.choice(len(ids), size=a.explanations + 1, replace=False)]
    explain_report(
        model, frames, sample[0], index=index, lookup=lookup
    )  # warm-up: first-call imports
    times = []
    for rec_id in sample[1:]:
        t0 = time.perf_counter()
        explain_report(model, frames, rec_id, index=index, lookup=lookup)
        times.append((time.perf_counter() - t0) * 1000)
    ms = np.array(times)

    print(f"\nexplain bench: {len(frames.recommendations):,} recommendations")
    print(f"  read frames           {t_read:7.1f} s")
    print(
        f"  fit surrogates        {t_fit:7.1f} s   (target <= {FIT_TARGET_S:.0f} s; "
        f"{model.n_sampled:,} sampled recs, {len(model.types)} types)"
        + ("" if t_fit <= FIT_TARGET_S else "   OVER TARGET")
    )
    print(f"  precedent index       {t_index:7.1f} s   (once per recommendations version)")
    print(f"  decision lookup       {t_lookup:7.1f} s   (again after each recorded decision)")
    print(
        f"  one explanation, warm median {np.median(ms):6.1f} ms  p95 {np.percentile(ms, 95):6.1f} ms"
        f"  max {ms.max():6.1f} ms  over {len(ms)} recs (target <= {EXPLAIN_TARGET_MS:.0f} ms)"
        + ("" if np.median(ms) <= EXPLAIN_TARGET_MS else "   OVER TARGET")
    )
    print(f"  peak RSS              {_peak_mb():7.0f} MB")
    print(f"  fidelity (held-out R², weighted mean over types) {model.fidelity_r2:.4f}")
    print(model.fidelity_table().to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
