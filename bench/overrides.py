"""Override learning at scale: themes + rules + value added on a generated bundle.

Generates the bundle once into ``bench/out/`` (git-ignored), loads it once into
a SQLite store there, reads the frames as the app does, then times the whole
override analysis the page and ``cli.py rules`` run — decided log, reason
themes, rule mining with pruning, each rule's evidence and value added, and the
value-added breakdowns (direction × size band, planner, type, theme, stockouts)
— and prints the figures with the planted rules' ranks. Targets at 1,000,000
recommendations (~100k overrides): ≤ 30 s and ≤ 4 GB.

    python bench/overrides.py --rows 1000000
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pandas as pd  # noqa: E402
from sklearn.metrics import adjusted_rand_score  # noqa: E402

from analytics.overrides.analysis import analyse_overrides  # noqa: E402
from analytics.overrides.value_added import stockout_rates, value_added  # noqa: E402
from sample_data.generate import generate_bundle  # noqa: E402
from store.db import get_engine  # noqa: E402
from store.ingest.load import load_bundle  # noqa: E402
from store.reads import load_frames  # noqa: E402

OUT = ROOT / "bench" / "out"
TARGET_S = 30.0
TARGET_GB = 4.0


class PeakRss:
    """Samples this process' resident memory every 20 ms while active."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def now() -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * resource.getpagesize()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.now())
            time.sleep(0.02)

    def __enter__(self) -> PeakRss:
        self.peak = self.now()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.now())


def store_for(rows: int, seed: int) -> tuple[str, Path]:
    bundle = OUT / f"bundle_{rows}_s{seed}"
    if not (bundle / "truth" / "planted_rules.json").exists():
        print(f"generating {rows:,} recommendations into {bundle} …", flush=True)
        t0 = time.perf_counter()
        generate_bundle(bundle, rows=rows, seed=seed)
        print(f"  generated in {time.perf_counter() - t0:.1f} s", flush=True)
    db = OUT / f"store_{rows}_s{seed}.db"
    url = f"sqlite:///{db}"
    if not db.exists():
        print(f"loading it into {db} …", flush=True)
        t0 = time.perf_counter()
        report = load_bundle(bundle, engine=get_engine(url), actor="bench", role="admin")
        print(f"  loaded {report.loaded} in {time.perf_counter() - t0:.1f} s", flush=True)
    return url, bundle


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--seed", type=int, default=7)
    a = p.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    url, bundle = store_for(a.rows, a.seed)

    t0 = time.perf_counter()
    frames = load_frames(get_engine(url))
    read_s = time.perf_counter() - t0
    base_gb = PeakRss.now() / 1e9

    steps: dict[str, float] = {}
    last = [time.perf_counter()]

    def progress(step: str, _fraction: float) -> None:
        now = time.perf_counter()
        steps[step] = now - last[0]
        last[0] = now

    with PeakRss() as mem:
        t0 = time.perf_counter()
        last[0] = t0
        analysis = analyse_overrides(frames, progress=progress)
        t1 = time.perf_counter()
        log = analysis.log
        tables = {"overall": value_added(log)}
        for name, by in {
            "band": ["direction", "size_band"],
            "direction": "direction",
            "planner": "decided_by",
            "rec_type": "rec_type",
            "theme": "theme_id",
        }.items():
            tables[name] = value_added(log, by=by)
        tables["stockout"] = stockout_rates(log)
        t2 = time.perf_counter()
    total = t2 - t0

    n_over = int(log["is_override"].sum())
    print()
    print(f"recommendations       {len(frames.recommendations):>12,}")
    print(f"decided               {len(log):>12,}")
    print(f"overrides             {n_over:>12,}")
    print(f"distinct reasons      {int(analysis.themes['n_distinct'].sum()):>12,}")
    themes = analysis.themes
    n_est = int(themes["established"].sum())
    print(f"themes (established)  {n_est:>12}  (min size {analysis.theme_model.min_size})")
    print(f"candidate rules       {len(analysis.rules):>12,}  (min support {analysis.min_support})")
    if len(analysis.rules):
        print(f"candidates tested     {int(analysis.rules['n_tested'].iloc[0]):>12,}  (BH ≤ 0.05)")
        print(f"rules costing more    {int(analysis.rules['costs_more'].sum()):>12,}")
    truth = pd.read_csv(bundle / "truth" / "override_themes.csv", dtype=str).set_index("rec_id")
    ours = log.set_index("rec_id")["theme_id"].reindex(truth.index)
    planted = (truth["theme"] != "noise").to_numpy()
    ari = adjusted_rand_score(truth["theme"][planted], ours[planted])
    print(
        f"theme ARI, planted    {ari:>12.3f}  (all: {adjusted_rand_score(truth['theme'], ours):.3f})"
    )
    print(f"frames read (snapshot) {read_s:>11.2f} s   (not counted)")
    # progress() is called at the start of each step: shift names onto the time they took
    names = list(steps)
    for prev, cur in zip(names, names[1:], strict=False):
        print(f"  {prev:<46} {steps[cur]:6.2f} s")
    print(f"  {'value-added breakdowns and stockouts':<46} {t2 - t1:6.2f} s")
    print(f"themes + rules + value added  {total:6.2f} s   (target ≤ {TARGET_S:.0f} s)")
    print(
        f"peak memory (process RSS)     {mem.peak / 1e9:6.2f} GB  (target ≤ {TARGET_GB:.0f} GB; "
        f"{base_gb:.2f} GB before, with the frames)"
    )

    planted = json.loads((bundle / "truth" / "planted_rules.json").read_text())
    rules = analysis.rules.reset_index(drop=True)
    print("\nplanted rule  rank  direction  median adj %  (planted)  value added  verdict")
    for truth in planted:
        hit = rules.index[rules["conditions"] == truth["conditions"]]
        if not len(hit):
            print(f"  {truth['id']:<10}  not found")
            continue
        r = rules.loc[hit[0]]
        print(
            f"  {truth['id']:<10} {hit[0] + 1:>5}  {r['direction']:<9}  "
            f"{r['median_adjustment_pct']:>+12.1f}  ({truth['adjustment_pct']})  "
            f"{r['value_added']:>+11.1f}  {r['verdict']}"
        )
    ok = total <= TARGET_S and mem.peak / 1e9 <= TARGET_GB
    print("\nwithin targets" if ok else "\nOVER TARGET")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
