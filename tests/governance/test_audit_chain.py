"""The audit trail is hash-chained: edits and deletions made outside the app are detected.

Runs on SQLite and, with ``WORKBENCH_TEST_PG_URL``, on PostgreSQL (a fresh database per test).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, select, text, update

from flows.governance import audit_verify
from store.audit import read_events, record_event, verify_chain
from store.models import AuditEvent


def _three_events(engine: Engine) -> None:
    for i, action in enumerate(["import", "setting", "ownership_edit"], start=1):
        with engine.begin() as conn:
            record_event(
                conn,
                actor=f"user{i}",
                action=action,
                entity="thing",
                entity_id=str(i),
                before={"v": i - 1} if i > 1 else None,
                after={"v": i, "note": "ünïcode ✓"},
            )


def _ids(engine: Engine) -> list[int]:
    with engine.connect() as conn:
        return [r[0] for r in conn.execute(text("SELECT id FROM audit_event ORDER BY id"))]


def test_intact_chain_verifies(engine: Engine) -> None:
    _three_events(engine)
    report = verify_chain(engine)
    assert report.ok and report.n_events == 3 and report.first_broken_id is None
    assert report.head_hash is not None and len(report.head_hash) == 64
    payload = audit_verify(engine)
    assert payload["ok"] is True and payload["event"] is None
    assert list(read_events(engine)["action"]) == ["ownership_edit", "setting", "import"]


def test_empty_chain_is_ok(engine: Engine) -> None:
    assert verify_chain(engine).ok


def _shift_time(conn, event_id: int) -> None:  # type: ignore[no-untyped-def]
    # Through the column's own type, so the edit is stored the way the dialect keeps times.
    table = AuditEvent.__table__  # type: ignore[attr-defined]
    at = conn.execute(select(table.c.at).where(table.c.id == event_id)).scalar_one()
    conn.execute(update(table).where(table.c.id == event_id).values(at=at + timedelta(hours=1)))


@pytest.mark.parametrize(
    "edit",
    [
        "UPDATE audit_event SET actor = 'mallory' WHERE id = :id",
        "UPDATE audit_event SET after = '{\"v\": 99}' WHERE id = :id",
        "UPDATE audit_event SET entity_id = NULL WHERE id = :id",
        _shift_time,
    ],
    ids=["actor", "after", "entity_id", "time"],
)
def test_edited_event_is_named(engine: Engine, edit) -> None:  # type: ignore[no-untyped-def]
    _three_events(engine)
    second = _ids(engine)[1]
    with engine.begin() as conn:
        if callable(edit):
            edit(conn, second)
        else:
            conn.execute(text(edit), {"id": second})
    report = verify_chain(engine)
    assert not report.ok
    assert report.first_broken_id == second
    assert "edited" in report.problem
    payload = audit_verify(engine)
    assert payload["ok"] is False and payload["first_broken_id"] == second
    assert payload["event"]["id"] == second and payload["event"]["action"] == "setting"


def test_deleted_event_breaks_the_next_link(engine: Engine) -> None:
    _three_events(engine)
    ids = _ids(engine)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_event WHERE id = :id"), {"id": ids[1]})
    report = verify_chain(engine)
    assert not report.ok
    assert report.first_broken_id == ids[2]
    assert "deleted" in report.problem


def test_deleted_newest_event_is_detected(engine: Engine) -> None:
    _three_events(engine)
    ids = _ids(engine)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_event WHERE id = :id"), {"id": ids[2]})
    report = verify_chain(engine)
    assert not report.ok
    assert report.first_broken_id == ids[1] + 1
    assert "1 newest event(s) deleted" in report.problem
    # ...and stays detected after the app writes again.
    with engine.begin() as conn:
        record_event(conn, actor="app", action="setting", entity="settings", entity_id="k")
    assert not verify_chain(engine).ok


def test_every_event_deleted_is_detected(engine: Engine) -> None:
    _three_events(engine)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_event"))
    report = verify_chain(engine)
    assert not report.ok and "3 newest event(s) deleted" in report.problem


def test_rewritten_link_is_still_caught_by_content_hash(engine: Engine) -> None:
    """Fixing up prev_hash after deleting an event does not hide it: the hash covers prev_hash."""
    _three_events(engine)
    ids = _ids(engine)
    with engine.begin() as conn:
        first_hash = conn.execute(
            text("SELECT hash FROM audit_event WHERE id = :id"), {"id": ids[0]}
        ).scalar_one()
        conn.execute(text("DELETE FROM audit_event WHERE id = :id"), {"id": ids[1]})
        conn.execute(
            text("UPDATE audit_event SET prev_hash = :h WHERE id = :id"),
            {"h": first_hash, "id": ids[2]},
        )
    report = verify_chain(engine)
    assert not report.ok and report.first_broken_id == ids[2]
    assert "edited" in report.problem
