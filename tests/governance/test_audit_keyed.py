"""The keyed, anchored audit chain (issue 17): someone who can write the database but
holds neither the key nor the anchor file cannot truncate, recompute or forge the
trail, nor edit an app decision, without ``verify_chain`` saying so. SQLite and PostgreSQL."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from store.audit import GENESIS, anchor_head, event_hash, record_event, verify_chain
from store.auth.audit_trust import audit_key, read_anchors, trust_paths
from store.decisions import record_decision
from store.ingest.load import load_bundle
from tests.conftest import write_bundle

RECS = """
rec_id,rec_type,signal_at,created_at,site,recommended_qty
R1,stockout_risk,2026-01-05T08:00:00Z,2026-01-05T09:00:00Z,P100,120
R2,stockout_risk,2026-01-05T08:00:00Z,2026-01-05T09:30:00Z,P100,50
"""


@pytest.fixture(autouse=True)
def _trust_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WORKBENCH_AUDIT_KEY", raising=False)
    monkeypatch.setenv("WORKBENCH_AUDIT_DIR", str(tmp_path / "trust"))


def _events(engine: Engine, n: int = 3) -> None:
    for i in range(1, n + 1):
        with engine.begin() as conn:
            record_event(conn, actor=f"u{i}", action="setting", entity="thing", entity_id=str(i))
    anchor_head(engine)


def _rows(engine: Engine) -> list:
    with engine.connect() as conn:
        return conn.execute(text("SELECT * FROM audit_event ORDER BY id")).mappings().all()


def _rehash(engine: Engine, *, key: bytes | None, from_index: int, edit: dict) -> None:
    """What an attacker with database access does: edit, then recompute every later hash."""
    rows = [dict(r) for r in _rows(engine)]
    rows[from_index].update(edit)
    prev = rows[from_index - 1]["hash"] if from_index else GENESIS
    from sqlalchemy import select

    from store.models import AuditEvent

    with engine.begin() as conn:
        table = AuditEvent.__table__  # type: ignore[attr-defined]
        ats = dict(conn.execute(select(table.c.id, table.c.at)).all())
        for row in rows[from_index:]:
            h = event_hash(
                key=key,
                prev_hash=prev,
                at=ats[row["id"]],
                actor=row["actor"],
                action=row["action"],
                entity=row["entity"],
                entity_id=row["entity_id"],
                before=row["before"],
                after=row["after"],
            )
            conn.execute(
                text("UPDATE audit_event SET actor = :a, prev_hash = :p, hash = :h WHERE id = :i"),
                {"a": row["actor"], "p": prev, "h": h, "i": row["id"]},
            )
            prev = h


def test_key_file_is_made_beside_the_store_owner_only(engine: Engine, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    _events(engine, 1)
    key_path, anchor_path = trust_paths(engine.url)
    assert key_path.exists() and anchor_path.exists()
    assert stat.S_IMODE(os.stat(key_path).st_mode) == 0o600
    assert verify_chain(engine).ok
    # Under another key the same chain is not accepted: the key is what signs it.
    monkeypatch.setenv("WORKBENCH_AUDIT_KEY", "k" * 40)
    assert audit_key(engine.url) == b"k" * 40
    report = verify_chain(engine)
    assert not report.ok and "without the audit key" in report.problem


def test_sqlite_key_sits_beside_the_database_file(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("WORKBENCH_AUDIT_DIR")
    key, anchor = trust_paths(f"sqlite:///{tmp_path / 'x' / 'store.db'}")
    assert key == tmp_path / "x" / "store.db.audit-key"
    assert anchor == tmp_path / "x" / "store.db.audit-anchor.jsonl"


@pytest.mark.parametrize("key", [None, b"not-the-key-" * 4], ids=["sha256", "wrong-key"])
def test_edit_with_every_later_hash_recomputed_is_detected(engine: Engine, key) -> None:  # type: ignore[no-untyped-def]
    _events(engine)
    _rehash(engine, key=key, from_index=1, edit={"actor": "mallory"})
    report = verify_chain(engine)
    assert not report.ok and report.first_broken_id == _rows(engine)[1]["id"]


def test_forged_appended_event_is_detected(engine: Engine) -> None:
    _events(engine)
    last = _rows(engine)[-1]
    from datetime import UTC, datetime

    at = datetime(2026, 1, 1, tzinfo=UTC)
    forged = event_hash(
        key=None, prev_hash=last["hash"], at=at, actor="mallory", action="decide",
        entity="thing", entity_id="9", before=None, after=None,
    )  # fmt: skip
    with engine.begin() as conn:
        record = dict(actor="mallory", action="decide", entity="thing", entity_id="9")
        from store.models import AuditEvent

        conn.execute(
            AuditEvent.__table__.insert().values(  # type: ignore[attr-defined]
                at=at, prev_hash=last["hash"], hash=forged, before=None, after=None, **record
            )
        )
    report = verify_chain(engine)
    assert not report.ok and "without the audit key" in report.problem


def test_truncation_with_the_counter_lowered_is_caught_by_the_anchor(engine: Engine) -> None:
    _events(engine)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_event WHERE id = (SELECT MAX(id) FROM audit_event)"))
        conn.execute(text("UPDATE data_version SET version = 2 WHERE table_name = 'audit_event'"))
    report = verify_chain(engine)
    assert not report.ok
    assert report.problem.startswith("1 newest event(s) deleted: the anchor outside the database")


def test_everything_deleted_including_the_counter_is_caught(engine: Engine) -> None:
    _events(engine)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_event"))
        conn.execute(text("DELETE FROM data_version WHERE table_name = 'audit_event'"))
    report = verify_chain(engine)
    assert not report.ok and "3 newest event(s) deleted" in report.problem


def test_rewritten_chain_of_the_same_length_fails_its_anchor(engine: Engine) -> None:
    _events(engine)
    # Even with the key (an insider), a rewrite of an anchored event shows.
    _rehash(engine, key=audit_key(engine.url), from_index=1, edit={"actor": "mallory"})
    report = verify_chain(engine)
    assert not report.ok and "not the head anchored outside the database" in report.problem


def test_expected_head(engine: Engine) -> None:
    _events(engine)
    head = verify_chain(engine).head_hash
    assert verify_chain(engine, expect=head).ok
    assert verify_chain(engine, expect=f"3:{head}").ok
    assert not verify_chain(engine, expect=f"2:{head}").ok
    assert not verify_chain(engine, expect="ab" * 32).ok
    # The anchor file gone too: the head the operator kept still catches a truncation.
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_event WHERE id = (SELECT MAX(id) FROM audit_event)"))
        conn.execute(text("UPDATE data_version SET version = 2 WHERE table_name = 'audit_event'"))
    trust_paths(engine.url)[1].unlink()
    report = verify_chain(engine, expect=head)
    assert not report.ok and "expected head is not in the chain" in report.problem


def test_unkeyed_events_verify_only_before_the_first_keyed_one(engine: Engine) -> None:
    _events(engine, 3)
    rows = _rows(engine)
    # The first event as an older release wrote it (plain SHA-256) is accepted ...
    _rehash(engine, key=None, from_index=0, edit={})
    _rehash(engine, key=audit_key(engine.url), from_index=1, edit={})
    trust_paths(engine.url)[1].unlink()  # (the rewrite changed the anchored hashes)
    report = verify_chain(engine)
    assert report.ok and report.n_unkeyed == 1
    # ... but not after a keyed one.
    _rehash(engine, key=None, from_index=2, edit={})
    report = verify_chain(engine)
    assert not report.ok and report.first_broken_id == rows[2]["id"]


def test_whole_chain_rewritten_unkeyed_fails_the_anchor(engine: Engine) -> None:
    _events(engine, 3)
    _rehash(engine, key=None, from_index=0, edit={"actor": "mallory"})
    report = verify_chain(engine)
    assert not report.ok and "not the head anchored" in report.problem


@pytest.fixture
def decided(engine: Engine, tmp_path: Path) -> Engine:
    load_bundle(
        write_bundle(tmp_path / "b", {"recommendations": RECS}), engine=engine, role="admin"
    )
    record_decision(
        engine, "R1", decision="modified", final_qty=90, reason="late", actor="ana", role="planner"
    )
    record_decision(engine, "R2", decision="accepted", actor="bob", role="planner")
    return engine


def test_app_decisions_carry_their_event(decided: Engine) -> None:
    with decided.connect() as conn:
        rows = conn.execute(
            text("SELECT d.rec_id, d.audit_hash = e.hash AS same FROM decisions d "
                 "JOIN audit_event e ON e.id = d.audit_event_id ORDER BY d.rec_id")
        ).all()  # fmt: skip
    assert [(r[0], bool(r[1])) for r in rows] == [("R1", True), ("R2", True)]
    report = verify_chain(decided)
    assert report.ok and report.decisions_checked == 2
    assert read_anchors(decided.url)[-1]["count"] == report.n_events


@pytest.mark.parametrize(
    ("sql", "words"),
    [
        ("UPDATE decisions SET final_qty = 999 WHERE rec_id = 'R1'", "final_qty differs"),
        ("UPDATE decisions SET decided_by = 'eve' WHERE rec_id = 'R2'", "decided_by differs"),
        ("UPDATE decisions SET audit_hash = 'x' WHERE rec_id = 'R2'", "not its decide event"),
        ("DELETE FROM decisions WHERE rec_id = 'R1'", "missing from the decisions table"),
        ("UPDATE decisions SET audit_event_id = NULL WHERE rec_id = 'R1'", "has no audit event"),
    ],
    ids=["qty", "who", "hash", "deleted", "unlinked"],
)
def test_edited_app_decision_is_detected(decided: Engine, sql: str, words: str) -> None:
    with decided.begin() as conn:
        conn.execute(text(sql))
    report = verify_chain(decided)
    assert not report.ok and words in report.problem
