"""The loader fuzz at length: many hostile bundles into one scratch SQLite store.

    python bench/fuzz_load.py --examples 5000

Prints how the bundles ended (a report with rows loaded, a report with none, a clean
``BundleError``) and any other exception with its bundle, which is a bug (exit 1).
The CI run of the same strategies is ``tests/test_load_fuzz.py`` (about a minute).
"""

from __future__ import annotations

import argparse
import collections
import sys
import tempfile
import time
import traceback
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hypothesis import HealthCheck, given, settings  # noqa: E402

from store.db import get_engine  # noqa: E402
from store.ingest.bundle import BundleError  # noqa: E402
from store.ingest.load import load_bundle  # noqa: E402
from store.reads import load_frames  # noqa: E402
from tests.store.fuzz_bundles import bundles  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=5000)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    engine = get_engine(f"sqlite:///{tempfile.mkdtemp(prefix='fuzz-')}/store.db")
    outcomes: collections.Counter[str] = collections.Counter()
    crashes: list[str] = []

    @settings(
        max_examples=args.examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(source=bundles())
    def run(source: dict[str, bytes]) -> None:
        for strict in (False, True):
            try:
                report = load_bundle(
                    source, engine=engine, role="admin", strict=strict, snapshot=False
                )
            except BundleError:
                outcomes["BundleError (clean)"] += 1
                return
            except Exception:  # noqa: BLE001 - the finding this bench exists for
                outcomes["other exception (bug)"] += 1
                crashes.append(f"{sorted(source)}\n{traceback.format_exc()}")
                return
            key = "rows loaded" if sum(report.loaded.values()) else "report, no rows loaded"
            outcomes[f"{key}{' (strict)' if strict else ''}"] += 1
        done = sum(outcomes.values())
        if done % 500 == 0:
            print(f"  … {done:,} loads, {len(crashes)} bugs", file=sys.stderr, flush=True)

    t0 = time.perf_counter()
    run()
    seconds = time.perf_counter() - t0
    load_frames(engine)  # the store is still readable after all of it
    print(f"{args.examples:,} bundles, each loaded and loaded --strict, in {seconds:,.0f} s")
    for name, n in outcomes.most_common():
        print(f"  {name:28s} {n:>7,}")
    for crash in crashes[:5]:
        print(crash)
    return 1 if crashes else 0


if __name__ == "__main__":
    sys.exit(main())
