"""Model health in the store: alert acknowledgements and the monitor's saved settings.

An admin or S&OP lead acknowledges an alert with a note saying what was checked; the
acknowledgement is an audit event written in the same transaction, and the alert stays
listed, marked acknowledged, for as long as its condition lasts (alerts are keyed by kind,
type, site, version, feature and ``since``: see ``analytics.monitoring.alerts``).

The reference window (``monitor_reference``: ``{"from", "to"}`` ISO dates) and the types whose
score is a stockout probability (``monitor_calibration_types``: a list, or unset for the
default rule) are workbench settings: only an admin saves them, each change audited.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pandas as pd
from sqlalchemy import Engine

from store.audit import audited_write
from store.db import utcnow
from store.models import MonitorAck
from store.settings import get_setting, set_setting

REFERENCE = "monitor_reference"
CALIBRATION_TYPES = "monitor_calibration_types"
ACK_COLUMNS = ["alert_key", "kind", "message", "note", "acknowledged_by", "role", "acknowledged_at"]
_TABLE = MonitorAck.__table__  # type: ignore[attr-defined]


class AcknowledgeError(ValueError):
    """An acknowledgement that cannot be stored; the message says why."""


def acknowledge_alert(
    engine: Engine,
    *,
    alert: dict[str, Any],
    note: str,
    actor: str,
    role: str | None,
    at: datetime | None = None,
) -> dict[str, Any]:
    """Store that ``actor`` acknowledged ``alert`` (a dict with ``key``, ``kind``, ``message``).

    Raises ``store.roles.PermissionDenied`` unless ``role`` may acknowledge alerts (admin, S&OP
    lead) and ``AcknowledgeError`` without a note or when the alert is already acknowledged.
    """
    note = (note or "").strip()
    if not note:
        raise AcknowledgeError("acknowledging an alert needs a note saying what was checked")
    key = str(alert["key"])
    values = {
        "alert_key": key,
        "kind": str(alert["kind"]),
        "message": str(alert.get("message") or ""),
        "note": note,
        "acknowledged_by": actor,
        "role": str(role),
        "acknowledged_at": at or utcnow(),
    }
    with audited_write(
        engine, actor=actor, role=role, permission="monitor_ack", tables=["monitor_ack"]
    ) as write:
        stored = write.conn.execute(_TABLE.select().where(_TABLE.c.alert_key == key)).first()
        if stored is not None:
            raise AcknowledgeError(
                f"this alert was already acknowledged by {stored.acknowledged_by}"
            )
        write.conn.execute(_TABLE.insert().values(**values))
        write.event(
            action="alert_acknowledged",
            entity="monitor_alert",
            entity_id=key,
            after={k: v for k, v in values.items() if k != "acknowledged_at"},
            at=values["acknowledged_at"],
        )
    return values


def read_acknowledgements(engine: Engine) -> pd.DataFrame:
    """Every acknowledgement (``ACK_COLUMNS``), newest first."""
    with engine.connect() as conn:
        rows = conn.execute(_TABLE.select()).mappings().all()
    df = pd.DataFrame([dict(r) for r in rows], columns=ACK_COLUMNS)
    if df.empty:
        return df
    df["acknowledged_at"] = pd.to_datetime(df["acknowledged_at"], utc=True)
    return df.sort_values("acknowledged_at", ascending=False, ignore_index=True)


def saved_reference(engine: Engine) -> tuple[date, date] | None:
    """The saved reference window, or None (then the default: 8 weeks from go-live)."""
    value = get_setting(engine, REFERENCE)
    if not isinstance(value, dict) or not value.get("from") or not value.get("to"):
        return None
    return date.fromisoformat(value["from"]), date.fromisoformat(value["to"])


def save_reference(
    engine: Engine, start: date | None, end: date | None, *, actor: str, role: str | None
) -> None:
    """Save the reference window (admin); ``None`` for both returns to the default."""
    if (start is None) != (end is None):
        raise ValueError("give both ends of the reference window, or neither")
    if start is not None and end is not None and end < start:
        raise ValueError(f"the reference window ends ({end}) before it starts ({start})")
    value = None if start is None else {"from": start.isoformat(), "to": end.isoformat()}  # type: ignore[union-attr]
    set_setting(engine, REFERENCE, value, actor=actor, role=role)


def saved_calibration_types(engine: Engine) -> list[str] | None:
    """The saved calibration types, or None for the default rule."""
    value = get_setting(engine, CALIBRATION_TYPES)
    return None if value is None else [str(v) for v in value]


def save_calibration_types(
    engine: Engine, types: list[str] | None, *, actor: str, role: str | None
) -> None:
    """Save which types' score is a stockout probability (admin); None for the default rule."""
    value = None if types is None else sorted({str(t) for t in types})
    set_setting(engine, CALIBRATION_TYPES, value, actor=actor, role=role)
