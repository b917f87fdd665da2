"""Ownership, gates, digest and audit-chain benchmark at scale.

    python bench/ownership.py --rows 1000000 [--seed 1] [--events 100000]

Reads the log of ``bench/out/bundle-N-sS`` from a loaded store (``bench/out/kpis-N-sS.db``
when ``bench/kpis.py`` already built it, else its own ``bench/out/ownership-N-sS.db``),
then times, warm (frames in memory, as in the app):

* ``decision_status`` — one row per recommendation with owner, SLA state, overdue hours;
* ``ownership_overview`` — everything the Ownership page shows;
* ``gates_report`` — the five gates (candidate rules left out: ``bench/`` of the override
  analysis times that);
* ``build_digest`` — the digest content and its Teams card;
* every person's digest (``flows.digests.build_person_digests(all_owners=True)``: one per
  owner with anything open and per escalation contact with a breach, deep links and Teams
  cards included) — target ≤ 5 s at a million recommendations (issue 16);
* the Baseline page's money (``kpi_tables``, then the cost of late decisions tile, its
  type × owner table and money at risk);
* ``verify_chain`` over ``--events`` audit events in a scratch SQLite store (the red
  banner re-runs it at most once a minute).

Prints each figure and the peak RSS. Timings depend on the machine (shared, 2 cores here).
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _store(rows: int, seed: int) -> Path:
    out = REPO / "bench" / "out"
    shared = out / f"kpis-{rows}-s{seed}.db"
    if shared.exists() and (out / f"kpis-{rows}-s{seed}.db.snapshots").exists():
        return shared
    bundle = out / f"bundle-{rows}-s{seed}"
    db = out / f"ownership-{rows}-s{seed}.db"
    if not (bundle / "truth" / "meta.json").exists():
        from sample_data.generate import generate_bundle

        t0 = time.perf_counter()
        generate_bundle(bundle, rows=rows, seed=seed)
        print(f"generated {rows:,}-recommendation bundle in {time.perf_counter() - t0:.1f} s")
    if not db.exists():
        from store.db import get_engine
        from store.ingest.load import load_bundle

        t0 = time.perf_counter()
        load_bundle(bundle, engine=get_engine(f"sqlite:///{db}"), actor="bench", role="admin")
        print(f"loaded it into {db.name} in {time.perf_counter() - t0:.1f} s")
    return db


def _timed(label: str, fn):  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    result = fn()
    print(f"{label:<28s} {time.perf_counter() - t0:7.2f} s   peak RSS {_peak_mb():,.0f} MB")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--events", type=int, default=100_000)
    args = parser.parse_args()

    import pandas as pd

    from analytics.governance.digest import build_digest, digest_payload
    from analytics.governance.gates import gates_report
    from analytics.governance.ownership import decision_status
    from analytics.governance.ownership_overview import ownership_overview
    from store.db import get_engine
    from store.reads import import_batches, load_frames
    from store.settings import go_live

    db = _store(args.rows, args.seed)
    engine = get_engine(f"sqlite:///{db}")
    frames = _timed("read frames (snapshots)", lambda: load_frames(engine))
    recs = frames.recommendations
    now = recs["created_at"].max()
    print(f"{len(recs):,} recommendations, {len(frames.decisions):,} decisions, judged at {now}")

    status = _timed(
        "decision_status",
        lambda: decision_status(recs, frames.decisions, frames.owners, now=now),
    )
    print(f"  {status['sla_state'].value_counts().to_dict()}")
    ov = _timed(
        "ownership_overview",
        lambda: ownership_overview(recs, frames.decisions, frames.owners, now=now),
    )
    print(
        f"  {ov.n_breaches:,} open breaches, SLA met {ov.sla_overall['sla_met_rate'].iloc[0]:.1%}"
    )
    day, _ = go_live(engine)
    batches = import_batches(engine)
    report = _timed(
        "gates_report (no rules)",
        lambda: gates_report(
            frames,
            batches=batches,
            now=now,
            go_live=day,
            kpi_targets=None,
            rule_status=pd.DataFrame(columns=["rule_key", "status"]),
            rule_candidates=None,
        ),
    )
    print("  " + ", ".join(f"{g['name']}: {g['status']}" for g in report["gates"]))
    digest = _timed(
        "build_digest + Teams card",
        lambda: digest_payload(
            build_digest(recs, frames.decisions, frames.owners, now=now), fmt="teams"
        ),
    )
    print(f"  card of {len(str(digest)):,} characters")

    from flows.baseline import money_view
    from flows.digests import build_person_digests

    people = _timed(
        "all owners' digests + cards",
        lambda: build_person_digests(
            engine, all_owners=True, fmt="teams", now=now, frames=frames,
            app_url="https://wb.example",
        ),
    )  # fmt: skip
    kinds = pd.Series([d["kind"] for d in people]).value_counts().to_dict()
    print(f"  {kinds}; target ≤ 5 s for all of them")

    from analytics.baseline.kpis import kpi_tables

    tables = _timed("kpi_tables", lambda: kpi_tables(frames))
    priced = _timed(
        "late-decision cost + money at risk",
        lambda: money_view(tables, go_live=day, site=None, rec_type=None, expedite_target=3.0),
    )
    late = priced["late"]
    print(
        f"  late decisions now ${late['usd'] or 0:,.0f} ({late['n']:,} of {late['n_rated']:,}); "
        + ", ".join(f"{r['cause']} ${r['usd_per_year'] or 0:,.0f}/yr" for r in priced["at_risk"])
    )

    from store.audit import record_event, verify_chain

    with tempfile.TemporaryDirectory() as tmp:
        scratch = get_engine(f"sqlite:///{tmp}/audit.db")
        t0 = time.perf_counter()
        with scratch.begin() as conn:
            for i in range(args.events):
                record_event(
                    conn,
                    actor="bench",
                    action="decision",
                    entity="decisions",
                    entity_id=f"REC-{i:07d}",
                    after={"decision": "accepted", "final_qty": i},
                )
        print(f"wrote {args.events:,} audit events in {time.perf_counter() - t0:.1f} s")
        chain = _timed(f"verify_chain ({args.events:,} events)", lambda: verify_chain(scratch))
        print(f"  ok={chain.ok}")


if __name__ == "__main__":
    main()
