"""What each model-health alert says, in words a planner or an S&OP lead can check."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from analytics.monitoring.acceptance import AcceptanceShift
from analytics.monitoring.drift import DriftRun

NOT_ENOUGH = "not enough data"
NO_REFERENCE = (
    f"{NOT_ENOUGH}: no go-live to count a reference window from (no recommendation has a "
    "model_version); give --reference-from and --reference-to"
)


def day_text(day: date) -> str:
    return f"{day.day} {day:%b %Y}"


def where_text(sites: Sequence[str], all_sites: bool) -> str:
    if all_sites and len(sites) > 1:
        return "at every site"
    if not sites:
        return "overall (no single site has enough data to say where)"
    if len(sites) <= 3:
        return "at " + ", ".join(sites)
    return f"at {len(sites)} sites ({', '.join(sites[:3])}…)"


def drift_message(run: DriftRun) -> str:
    """E.g. "f_lead_time_days rose 40% from 3 Aug 2025 at every site: a unit or definition
    change upstream?" — the median for a numeric feature, the share of the value that moved
    most for a categorical one, and the share arriving empty when that is what changed."""
    where = where_text(run.sites, run.all_sites)
    since = day_text(run.since)
    if run.run_missing - run.ref_missing >= 0.10:
        return (
            f"{run.feature} arrives empty {run.run_missing:.0%} of the time (was "
            f"{run.ref_missing:.0%}) from {since} {where}: a broken feed or a renamed field?"
        )
    if run.kind == "numeric" and run.ref_median and run.run_median is not None:
        change = run.run_median / run.ref_median - 1
        if abs(change) >= 0.05:
            verb = "rose" if change > 0 else "fell"
            return (
                f"{run.feature} {verb} {abs(change):.0%} from {since} {where} (median "
                f"{run.ref_median:,.4g} → {run.run_median:,.4g}): a unit or definition change "
                "upstream?"
            )
    moved = (
        run.top_value is not None
        and run.ref_share is not None
        and run.run_share is not None
        and abs(run.run_share - run.ref_share) >= 0.05
    )
    if run.kind == "categorical" and moved:
        if run.top_value == "new":
            return (
                f"{run.feature}: values never seen in the reference window make up "
                f"{run.run_share:.0%} from {since} {where}: new or renamed codes upstream?"
            )
        if run.top_value == "other":
            return (
                f"{run.feature}: values rare in the reference window make up {run.run_share:.0%} "
                f"(was {run.ref_share:.0%}) from {since} {where}: a change in how it is coded?"
            )
        return (
            f"{run.feature}: '{run.top_value}' makes up {run.run_share:.0%} (was "
            f"{run.ref_share:.0%}) from {since} {where}: a recoded field upstream?"
        )
    return (
        f"{run.feature}'s distribution changed (PSI {run.psi_last:.2f}) from {since} {where}: "
        "check how it is measured upstream."
    )


def calibration_message(
    version: str, ece: float, low: float, high: float, n: int, since: date, threshold: float,
    over_confident: bool,
) -> str:  # fmt: skip
    how = (
        "over-confident: its scores are more extreme than the stockouts that followed"
        if over_confident
        else "under-confident: stockouts follow its scores more surely than they say"
    )
    return (
        f"Model {version} is {how} — calibration error {ece:.2f} (95% {low:.2f}–{high:.2f}) "
        f"on {n:,} judged recommendations since {day_text(since)}, over the {threshold:.2f} "
        "threshold. Check what changed in its training data and recalibrate before its risk "
        "scores are trusted."
    )


def false_positive_message(
    version: str, rate: float, n_flagged: int, reference_rate: float, since: date
) -> str:
    return (
        f"Model {version}: {rate:.0%} of its alarms (score ≥ 0.5, {n_flagged:,} judged) since "
        f"{day_text(since)} were not followed by a stockout, against {reference_rate:.0%} in the "
        "reference window — planners will learn to ignore it. Check its threshold and features."
    )


def acceptance_message(shift: AcceptanceShift) -> str:
    since = day_text(shift.since)
    rates = (
        f"{shift.current_rate:.0%} of {shift.n_since:,} decisions against "
        f"{shift.reference_rate:.0%} in the reference window"
    )
    if shift.direction == "up":
        return (
            f"Planners override {shift.rec_type} at {shift.site} much more since {since}: "
            f"{rates}. Have they stopped trusting it? Ask them why, and read their reasons."
        )
    return (
        f"Planners override {shift.rec_type} at {shift.site} much less since {since}: {rates}. "
        "Did the model improve, or are recommendations being waved through unread?"
    )


def monitor_lines(payload: dict[str, Any]) -> list[str]:
    """``cli.py monitor`` without ``--json``: the window, then one line per alert."""
    ref = payload["reference"]
    lines = [f"reference window {ref['from']} .. {ref['to']}"]
    for a in payload["alerts"]:
        mark = "ack" if a["acknowledged"] else "OPEN"
        lines.append(f"[{mark:>4}] {a['kind']:16s} since {a['since']}  {a['message']}")
    return lines if payload["alerts"] else [*lines, "no model-health alert"]
