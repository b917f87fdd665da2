"""The prepare command, and the build that ``cli.py load`` runs after a load.

``cli.py prepare`` builds (or finds already built) every derived artefact of the store's
current data version (``flows.artefacts``): the fitted explanation surrogates, themes and
rules, value added, propensity, monitoring and the ownership and KPI aggregates, so no page
view fits a model. Exit 0 all built, 1 an artefact's build failed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine

from flows import artefacts, views
from store.db import get_engine

Add = Callable[[str, Callable[[argparse.Namespace], int], str], argparse.ArgumentParser]


def _progress(message: str, fraction: float) -> None:
    print(f"progress {fraction:.3f} {message}", file=sys.stderr, flush=True)


def text_lines(report: dict[str, dict[str, Any]]) -> list[str]:
    """``build_all``'s report for a terminal: one line per artefact, then the total."""
    lines = []
    for name, r in report.items():
        detail = r.get("error") or f"{r['seconds']:.1f} s"
        lines.append(f"  artefact {name:18s} {r['outcome']:8s} {detail}")
    total = sum(r.get("seconds", 0.0) for r in report.values())
    return [*lines, f"artefacts ready in {total:.1f} s"]


def prepare(
    engine: Engine, *, quiet: bool = False, progress: bool = False
) -> dict[str, dict[str, Any]]:
    """Build every artefact of the store's current version; its lines go to stderr (with
    ``progress``, a ``progress <fraction> <message>`` line before each artefact too)."""
    report = artefacts.build_all(engine, progress=_progress if progress else None)
    t0 = time.perf_counter()
    try:  # the views pages open with, derived from the artefacts just built (flows/views.py)
        kept = views.warm_defaults(engine)
    except Exception as exc:  # an artefact is reported failed above; the views say so too
        report["views"] = {"outcome": "failed", "error": f"{type(exc).__name__}: {exc}"}
    else:
        if kept:
            built = "built" in kept.values()
            report["views"] = {
                "outcome": "built" if built else "present",
                "seconds": round(time.perf_counter() - t0, 3),
            }
    if not quiet:
        print("\n".join(text_lines(report)), file=sys.stderr)
    return report


def cmd_prepare(args: argparse.Namespace) -> int:
    report = prepare(get_engine(args.db), quiet=args.json, progress=args.progress)
    if args.json:
        print(json.dumps(report, indent=2, default=str))
    return 1 if any(r["outcome"] == "failed" for r in report.values()) else 0


def register(add: Add) -> None:
    """Add ``prepare`` to the parser through ``cli``'s ``add``."""
    p = add(
        "prepare",
        cmd_prepare,
        "Build the derived artefacts (fitted models, themes, rules, aggregates) of the current "
        "data now; `load` does it after every load. Exit 0 all built, 1 a build failed.",
    )
    p.add_argument("--json", action="store_true", help="print {name: {outcome, seconds}}")
    p.add_argument(
        "--progress", action="store_true", help="a `progress FRACTION MESSAGE` line per artefact"
    )
