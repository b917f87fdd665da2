"""Governance figures in words: the data overview and readiness gates as terminal lines."""

from __future__ import annotations

from typing import Any


def info_lines(payload: dict[str, Any]) -> list[str]:
    """``cli.py info``: row counts and date ranges per table, then the data-health findings."""
    lines = [f"Store: {payload['db']}  ({payload['imports']} imports)"]
    for name, r in payload["ranges"].items():
        span = f"{r['first'][:10]} .. {r['last'][:10]}" if r["first"] else ""
        lines.append(f"  {name:16s} {r['rows']:>10,}  {span}")
    lines.append("Data health:")
    for f in payload["findings"]:
        lines.append(f"  [{f['status']:>4}] {f['finding']}: {f['detail']}")
    return lines


def gates_lines(report: dict[str, Any]) -> list[str]:
    """``cli.py gates``: each gate's status, hardness and evidence, then the verdict."""
    lines = []
    for g in report["gates"]:
        ev = g["evidence"]
        summary = ev.get("summary") if isinstance(ev, dict) else ev
        lines.append(
            f"[{g['status']:>15}] {'hard' if g['hard'] else 'soft'}  {g['name']}: {summary}"
        )
    lines.append(
        "Ready for go-live." if report.get("ready") else "Not ready: a hard gate is not passed."
    )
    return lines
