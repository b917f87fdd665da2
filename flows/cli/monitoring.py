"""The model-health command: ``monitor`` (exit 0 with or without alerts; ``--fail-on-alert``
exits 1 on an unacknowledged one; 2 for a bad reference window)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable

from analytics.monitoring import text as monitoring_text
from flows import monitoring
from store.db import get_engine

Add = Callable[[str, Callable[[argparse.Namespace], int], str], argparse.ArgumentParser]


def cmd_monitor(args: argparse.Namespace) -> int:
    try:
        report, notes = monitoring.monitor_from_cli(
            get_engine(args.db), reference_from=args.reference_from, reference_to=args.reference_to
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    payload = monitoring.monitor_payload(report)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    if args.json:
        print(json.dumps(payload, indent=2, default=str, ensure_ascii=False))
    else:
        print("\n".join(monitoring_text.monitor_lines(payload)))
    open_alerts = [a for a in payload["alerts"] if not a["acknowledged"]]
    return 1 if args.fail_on_alert and open_alerts else 0


def register(add: Add) -> None:
    """Add ``monitor`` to the parser through ``cli``'s ``add``."""
    p = add("monitor", cmd_monitor, "Model health: drift, calibration and acceptance alerts.")
    p.add_argument("--reference-from", help="YYYY-MM-DD (default: saved, else go-live)")
    p.add_argument("--reference-to", help="YYYY-MM-DD, inclusive (default: saved, else +8 weeks)")
    p.add_argument("--fail-on-alert", action="store_true", help="exit 1 on an unacknowledged alert")
    p.add_argument("--json", action="store_true")
