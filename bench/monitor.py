"""Model health at scale: the whole monitor cold, and the Model health page warm.

Generates the shipped generator's bundle once into ``bench/out/`` (git-ignored) and loads it
into a SQLite store there (shared with the other benches' naming), then

- **cold**: runs ``python cli.py monitor --db URL --json`` in a fresh process (interpreter,
  imports, reading the frames from their snapshots, every statistic and alert) and times it
  from outside, and again inside a fresh process split into read and compute;
- **page warm**: opens the Model health page through ``app.py`` with AppTest, then times a
  second run of it (what a user waits for when clicking around the page).

Targets at 1,000,000 recommendations: monitor ≤ 10 s cold, page ≤ 2 s warm.

    python bench/monitor.py --rows 1000000
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

OUT = ROOT / "bench" / "out"
TARGET_COLD_S = 10.0
TARGET_WARM_S = 2.0


def store_for(rows: int, seed: int) -> str:
    from sample_data.generate import generate_bundle
    from store.db import get_engine
    from store.ingest.load import load_bundle
    from store.reads import load_frames

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
        load_frames(get_engine(url))  # the snapshots a nightly load leaves behind
    return url


def child(url: str) -> int:
    """Inside a fresh process: read the frames, run the monitor, print the timings as JSON."""
    t0, c0 = time.perf_counter(), time.process_time()
    from flows.monitoring import monitor_for_store
    from store.db import get_engine
    from store.reads import load_frames

    engine = get_engine(url)
    t1, c1 = time.perf_counter(), time.process_time()
    frames = load_frames(engine)
    t2, c2 = time.perf_counter(), time.process_time()
    report = monitor_for_store(engine, frames=frames)
    t3, c3 = time.perf_counter(), time.process_time()
    print(
        json.dumps(
            {
                "imports": [t1 - t0, c1 - c0],
                "read": [t2 - t1, c2 - c1],
                "monitor": [t3 - t2, c3 - c2],
                "rows": len(frames.recommendations),
                "alerts": [] if report is None else [a["kind"] for a in report.alerts],
                "judged": 0 if report is None else len(report.judged),
            }
        )
    )
    return 0


def page_times(url: str) -> tuple[float, float, float]:
    """(first run, second run, second run's CPU) of the Model health page in seconds."""
    from streamlit.testing.v1 import AppTest

    os.environ["WORKBENCH_DB"] = url
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600)
    at.run()
    at.switch_page("pages/health.py")
    t0 = time.perf_counter()
    at.run()
    first = time.perf_counter() - t0
    if at.exception:
        raise SystemExit(f"the page failed: {at.exception}")
    t0, c0 = time.perf_counter(), time.process_time()
    at.run()
    warm, warm_cpu = time.perf_counter() - t0, time.process_time() - c0
    if at.exception:
        raise SystemExit(f"the page failed: {at.exception}")
    return first, warm, warm_cpu


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--child", metavar="URL", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.child:
        return child(a.child)
    OUT.mkdir(parents=True, exist_ok=True)
    url = store_for(a.rows, a.seed)

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    cli = subprocess.run(
        [sys.executable, str(ROOT / "cli.py"), "monitor", "--db", url, "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    cli_s = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cli_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if cli.returncode != 0:
        print(cli.stderr)
        raise SystemExit(f"cli.py monitor exited {cli.returncode}")
    payload = json.loads(cli.stdout)
    inner = json.loads(
        subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--child", url],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    first, warm, warm_cpu = page_times(url)
    load = os.getloadavg()[0]

    rows = [
        ("cli.py monitor --json, cold", cli_s, cli_cpu, f"target ≤ {TARGET_COLD_S:.0f} s"),
        ("  imports", *inner["imports"], ""),
        ("  frames read (snapshots)", *inner["read"], ""),
        ("  monitor (all statistics)", *inner["monitor"], ""),
        ("Model health page, first", first, float("nan"), "computes and caches"),
        ("Model health page, warm", warm, warm_cpu, f"target ≤ {TARGET_WARM_S:.0f} s"),
    ]
    print()
    print(f"recommendations              {inner['rows']:>10,}")
    print(f"judged for calibration       {inner['judged']:>10,}")
    print(
        f"alerts                       {len(payload['alerts']):>10}  {sorted(set(inner['alerts']))}"
    )
    print(f"load average (2 cores)       {load:>10.1f}  (wall time includes waiting for a core)")
    print(f"{'':29s}{'wall s':>10s} {'CPU s':>8s}")
    for name, wall, cpu, note in rows:
        print(f"{name:29s}{wall:>10.2f} {cpu:>8.2f}  {note}")
    ok = cli_s <= TARGET_COLD_S and warm <= TARGET_WARM_S
    print("\nwithin targets" if ok else "\nOVER TARGET (wall time)")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
