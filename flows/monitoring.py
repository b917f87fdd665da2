"""Model health for a store: the monitor's inputs read from the store, the analysis run once.

Shared by the Model health page (through the cached wrappers), ``cli.py monitor`` and the
digest, so all three show the same alerts. The reference window is, in order: the one
given, the one an admin saved, the first 8 weeks from the go-live (saved or inferred).
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd
from sqlalchemy import Engine

from analytics.monitoring.alerts import (
    MonitorReport,
    MonitorSettings,
    run_monitor,
    with_acknowledged,
)
from analytics.monitoring.text import NO_REFERENCE
from analytics.monitoring.versions import versions_at_age as _versions_at_age
from analytics.monitoring.window import Reference, default_reference
from contract.frames import Frames
from store.learning.monitoring import (
    read_acknowledgements,
    saved_calibration_types,
    saved_reference,
)
from store.reads import load_frames
from store.settings import go_live

EMPTY_PAYLOAD: dict[str, Any] = {
    "reference": {"from": None, "to": None},
    "alerts": [],
    "calibration": {},
    "drift": {},
}


def reference_for_store(
    engine: Engine,
    *,
    reference_from: date | None = None,
    reference_to: date | None = None,
) -> tuple[Reference | None, str]:
    """(reference window, where it came from: "given", "saved" or "default"); None when the
    log has no go-live to count from and nothing was given or saved."""
    if reference_from is not None or reference_to is not None:
        if reference_from is None or reference_to is None:
            raise ValueError("give both --reference-from and --reference-to, or neither")
        return Reference(reference_from, reference_to), "given"
    saved = saved_reference(engine)
    if saved is not None:
        return Reference(*saved), "saved"
    day, _ = go_live(engine)
    return (None, "default") if day is None else (default_reference(day), "default")


def monitor_for_store(
    engine: Engine,
    *,
    frames: Frames | None = None,
    reference: Reference | None = None,
    settings: MonitorSettings | None = None,
    random_state: int = 0,
    apply_acknowledgements: bool = True,
) -> MonitorReport | None:
    """The whole monitor over the store's log, acknowledgements applied (unless told not to:
    a cache applies them apart); None when there is no reference window (no recommendation
    with a ``model_version`` and none saved)."""
    frames = frames if frames is not None else load_frames(engine)
    if reference is None:
        reference, _ = reference_for_store(engine)
    if reference is None:
        return None
    report = run_monitor(
        frames.recommendations,
        frames.decisions,
        frames.outcomes,
        reference=reference,
        calibration_types=saved_calibration_types(engine),
        settings=settings,
        random_state=random_state,
    )
    return acknowledged(engine, report) if apply_acknowledgements else report


def acknowledged(engine: Engine, report: MonitorReport) -> MonitorReport:
    """``report`` with the store's acknowledgements applied (cheap: the figures are kept)."""
    return with_acknowledged(report, set(read_acknowledgements(engine)["alert_key"]))


def monitor_from_cli(
    engine: Engine, *, reference_from: str | None = None, reference_to: str | None = None
) -> tuple[MonitorReport | None, list[str]]:
    """``cli.py monitor``: (the report or None, the notes to print). ISO dates; raises
    ``ValueError`` for a bad date or only one end of the window."""
    reference, _ = reference_for_store(
        engine,
        reference_from=None if reference_from is None else date.fromisoformat(reference_from),
        reference_to=None if reference_to is None else date.fromisoformat(reference_to),
    )
    if reference is None:
        return None, [NO_REFERENCE]
    report = monitor_for_store(engine, reference=reference)
    return report, [] if report is None else list(report.notes)


def monitor_payload(report: MonitorReport | None) -> dict[str, Any]:
    """The ``cli.py monitor --json`` payload (the empty shape when there is no report)."""
    return dict(EMPTY_PAYLOAD) if report is None else report.to_json()


def versions_at_age(frames: Frames, report: MonitorReport, *, weeks: int) -> pd.DataFrame:
    """Model versions side by side, each (and its judged recommendations) cut to its first
    ``weeks`` weeks, so a new version is compared with the old one at the same age."""
    return _versions_at_age(
        frames.recommendations, frames.decisions, frames.outcomes, report.judged, weeks=weeks
    )


def digest_alerts(engine: Engine, *, frames: Frames | None = None) -> list[dict[str, Any]] | None:
    """Unacknowledged model-health alerts for the digest (``key, kind, since, message``), or
    None when the monitor cannot run (no reference window)."""
    report = monitor_for_store(engine, frames=frames)
    if report is None:
        return None
    return [
        {"key": a["key"], "kind": a["kind"], "since": a["since"], "message": a["message"]}
        for a in report.unacknowledged
    ]
