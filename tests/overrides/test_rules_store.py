"""Rule lifecycle writes: role check, required owner/note, audit in the same transaction, versions."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from store.audit import read_events, verify_chain
from store.db import data_versions
from store.roles import PermissionDenied
from store.rule_status import (
    RuleStatusError,
    clear_rule_status,
    read_rule_statuses,
    rule_history,
    set_rule_status,
)

RULE = {"supplier": "SUP-017", "quarter": "Q4", "rec_type": "stockout_risk"}
KEY = "Rabc1234567"


def _adopt(engine: Engine, **kw: object) -> dict:
    args = {
        "rule_key": KEY,
        "conditions": RULE,
        "direction": "increase",
        "status": "adopted",
        "owner": "m.garcia",
        "note": "Add a Q4 safety-stock uplift of 25% for SUP-017 in the planning system",
        "actor": "s.okafor",
        "role": "sop_lead",
    }
    args.update(kw)
    return set_rule_status(engine, **args)  # type: ignore[arg-type]


def test_adopt_is_stored_audited_and_bumps_the_version(sqlite_engine: Engine) -> None:
    before = data_versions(sqlite_engine).get("rule_status", 0)
    row = _adopt(sqlite_engine)
    assert row["status"] == "adopted" and row["updated_by"] == "s.okafor"
    stored = read_rule_statuses(sqlite_engine)
    assert stored["rule_key"].tolist() == [KEY]
    first = stored.iloc[0]
    assert first["conditions"] == RULE and first["direction"] == "increase"
    assert (first["owner"], first["updated_by"]) == ("m.garcia", "s.okafor")
    assert data_versions(sqlite_engine)["rule_status"] == before + 1
    event = read_events(sqlite_engine).iloc[0]
    assert (event["actor"], event["action"], event["entity"], event["entity_id"]) == (
        "s.okafor",
        "rule_adopted",
        "rule_status",
        KEY,
    )
    assert event["before"] is None and '"owner": "m.garcia"' in event["after"]
    assert verify_chain(sqlite_engine).ok


def test_roles_without_rule_status_are_refused_and_nothing_is_written(
    sqlite_engine: Engine,
) -> None:
    for role in ("planner", "exec", None):
        with pytest.raises(PermissionDenied):
            _adopt(sqlite_engine, role=role)
    assert read_rule_statuses(sqlite_engine).empty
    assert read_events(sqlite_engine).empty
    _adopt(sqlite_engine, role="admin")  # admins may
    assert len(read_rule_statuses(sqlite_engine)) == 1


@pytest.mark.parametrize(
    ("status", "owner", "note", "message"),
    [
        ("adopted", None, "encode it", "owner and a note"),
        ("adopted", "m.garcia", "  ", "owner and a note"),
        ("dismissed", None, None, "saying why"),
        ("promoted", None, None, "status must be one of"),
    ],
)
def test_incomplete_changes_are_refused(
    sqlite_engine: Engine, status: str, owner: str | None, note: str | None, message: str
) -> None:
    with pytest.raises(RuleStatusError, match=message):
        _adopt(sqlite_engine, status=status, owner=owner, note=note)
    assert read_rule_statuses(sqlite_engine).empty


def test_unknown_attribute_or_direction_is_refused(sqlite_engine: Engine) -> None:
    with pytest.raises(RuleStatusError, match="unknown rule attribute"):
        _adopt(sqlite_engine, conditions={"colour": "red"})
    with pytest.raises(RuleStatusError, match="direction"):
        _adopt(sqlite_engine, direction="sideways")


def test_history_of_changes_and_reopening(sqlite_engine: Engine) -> None:
    set_rule_status(
        sqlite_engine,
        rule_key=KEY,
        conditions=RULE,
        direction="increase",
        status="watch",
        actor="s.okafor",
        role="sop_lead",
    )
    _adopt(sqlite_engine)
    _adopt(sqlite_engine)  # the same again: no new event
    set_rule_status(
        sqlite_engine,
        rule_key=KEY,
        conditions=RULE,
        direction="increase",
        status="dismissed",
        note="supplier fixed its Q4 capacity",
        actor="b.fischer",
        role="admin",
    )
    assert read_rule_statuses(sqlite_engine).iloc[0]["status"] == "dismissed"
    assert clear_rule_status(sqlite_engine, rule_key=KEY, actor="b.fischer", role="admin")
    assert not clear_rule_status(sqlite_engine, rule_key=KEY, actor="b.fischer", role="admin")
    history = rule_history(sqlite_engine, KEY)
    assert history["action"].tolist() == [
        "rule_watch",
        "rule_adopted",
        "rule_dismissed",
        "rule_reopened",
    ]
    assert history["actor"].tolist() == ["s.okafor", "s.okafor", "b.fischer", "b.fischer"]
    assert history.iloc[2]["before"]["status"] == "adopted"
    assert history.iloc[2]["after"]["note"] == "supplier fixed its Q4 capacity"
    assert read_rule_statuses(sqlite_engine).empty
    with pytest.raises(PermissionDenied):
        clear_rule_status(sqlite_engine, rule_key=KEY, actor="p", role="planner")
    assert verify_chain(sqlite_engine).ok
