"""Workbench settings kept in the store (go-live date, KPI targets…), each change audited."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from typing import Any

import pandas as pd
from sqlalchemy import Engine, select

from contract.vocabulary import GO_LIVE  # noqa: F401  (re-exported)
from store.audit import audited_write
from store.models import Recommendation, Setting


def get_setting(engine: Engine, key: str, default: Any = None) -> Any:
    with engine.connect() as conn:
        value = conn.execute(select(Setting.value).where(Setting.key == key)).scalar_one_or_none()
    return default if value is None else json.loads(value)


def set_setting(engine: Engine, key: str, value: Any, *, actor: str, role: str | None) -> None:
    """Store ``value`` (JSON-able) under ``key`` with an audit event holding before and after.

    ``role`` is the acting user's role, checked here (only ``admin`` may change settings).
    """
    table = Setting.__table__  # type: ignore[attr-defined]
    with audited_write(
        engine, actor=actor, role=role, permission="settings", tables=["settings"]
    ) as write:
        conn = write.conn
        before_raw = conn.execute(
            select(Setting.value).where(Setting.key == key)
        ).scalar_one_or_none()
        before = None if before_raw is None else json.loads(before_raw)
        if before == value:
            return
        payload = json.dumps(value, sort_keys=True, default=str)
        if before_raw is None:
            conn.execute(table.insert().values(key=key, value=payload))
        else:
            conn.execute(table.update().where(table.c.key == key).values(value=payload))
        write.event(
            action="setting",
            entity="settings",
            entity_id=key,
            before=before,
            after=value,
        )


def inferred_go_live(engine: Engine) -> date | None:
    """The contract's default go-live: the earliest ``created_at`` of a recommendation that
    has a ``model_version`` (before it, exceptions came from the pre-AI process).

    One query, no frame read; but SQLite scans the table for it (about 0.3 s at a million
    rows), so the pages take the same figure from the log's facts built on write.
    """
    query = (
        select(Recommendation.created_at)
        .where(Recommendation.model_version.is_not(None), Recommendation.model_version != "")
        .order_by(Recommendation.created_at)
        .limit(1)
    )
    with engine.connect() as conn:
        first = conn.execute(query).scalar_one_or_none()
    return None if first is None else pd.Timestamp(first).tz_convert("UTC").date()


def go_live(
    engine: Engine, *, inferred: Callable[[], date | None] | None = None
) -> tuple[date | None, bool]:
    """(go-live date, whether it was set by a user). Unset, it is inferred from the store, or
    by ``inferred`` (the same figure kept by a reader that has it, such as the log's facts
    built on write: ``inferred_go_live`` scans the log)."""
    saved = get_setting(engine, GO_LIVE)
    if saved:
        return date.fromisoformat(saved), True
    return (inferred() if inferred is not None else inferred_go_live(engine)), False
