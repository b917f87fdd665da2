"""The confirmed action beside a rule's status, and the audited, versioned policy export."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import Engine

from store.audit import read_events, verify_chain
from store.learning.policy import export_policy, last_export
from store.roles import PermissionDenied
from store.rule_status import (
    RuleStatusError,
    clear_rule_status,
    read_rule_statuses,
    set_rule_status,
)

RULE = {"supplier": "SUP-017", "quarter": "Q4", "rec_type": "stockout_risk"}


def _adopt(engine: Engine, key: str = "R1", **kw: object) -> dict:
    args = {
        "rule_key": key,
        "conditions": RULE,
        "direction": "increase",
        "status": "adopted",
        "owner": "m.garcia",
        "note": "Q4 uplift for SUP-017",
        "action": {"kind": "adjust_pct", "value": 25},
        "actor": "s.okafor",
        "role": "sop_lead",
    }
    args.update(kw)
    return set_rule_status(engine, **args)  # type: ignore[arg-type]


def test_empty_policy_is_a_valid_document(engine: Engine) -> None:
    out = export_policy(engine, actor="ops", role="admin")
    doc = json.loads(json.dumps(out["document"]))
    assert doc["version"] == 1 and doc["rules"] == [] and doc["exported_at"]
    assert out["changes"] == {"added": [], "removed": [], "changed": []}
    assert last_export(engine)["version"] == 1


def test_action_is_stored_audited_and_kept(engine: Engine) -> None:
    row = _adopt(engine)
    assert row["action"] == {"kind": "adjust_pct", "value": 25.0}
    stored = read_rule_statuses(engine).iloc[0]
    assert stored["action"] == {"kind": "adjust_pct", "value": 25.0}
    ev = read_events(engine).iloc[0]  # newest first
    assert json.loads(ev["after"])["action"] == {"kind": "adjust_pct", "value": 25.0}
    # Editing only the action is a change (audited); leaving it out keeps it.
    _adopt(engine, action={"kind": "adjust_pct", "value": 20})
    assert read_rule_statuses(engine).iloc[0]["action"]["value"] == 20.0
    n = len(read_events(engine))
    _adopt(engine, action=None)
    assert len(read_events(engine)) == n  # same status, owner, note and action: nothing recorded
    assert read_rule_statuses(engine).iloc[0]["action"]["value"] == 20.0
    assert clear_rule_status(engine, rule_key="R1", actor="s.okafor", role="sop_lead")
    assert read_rule_statuses(engine).empty
    assert verify_chain(engine).ok


@pytest.mark.parametrize(
    "action",
    [
        {"kind": "adjust_pct", "value": 600},
        {"kind": "adjust_pct", "value": -101},
        {"kind": "later"},
    ],
)
def test_bad_action_is_refused(sqlite_engine: Engine, action: dict) -> None:
    with pytest.raises(RuleStatusError):
        _adopt(sqlite_engine, action=action)
    assert read_rule_statuses(sqlite_engine).empty


def test_adopting_still_needs_owner_and_note(sqlite_engine: Engine) -> None:
    with pytest.raises(RuleStatusError):
        _adopt(sqlite_engine, owner=None)
    with pytest.raises(RuleStatusError):
        _adopt(sqlite_engine, note="  ")


def test_roles_on_every_write(sqlite_engine: Engine) -> None:
    for role in ("planner", "exec", None):
        with pytest.raises(PermissionDenied):
            _adopt(sqlite_engine, role=role)
        with pytest.raises(PermissionDenied):
            export_policy(sqlite_engine, actor="x", role=role)
    assert read_events(sqlite_engine).empty


def test_exports_are_versioned_and_say_what_changed(engine: Engine) -> None:
    _adopt(engine, "R1")
    _adopt(engine, "R2", conditions={"customer": "CUST-042"}, direction="decrease",
           action={"kind": "adjust_pct", "value": -20})  # fmt: skip
    first = export_policy(engine, actor="s.okafor", role="sop_lead")
    doc = first["document"]
    assert doc["version"] == 1 and [r["rule_id"] for r in doc["rules"]] == ["R1", "R2"]
    r1 = doc["rules"][0]
    assert list(r1) == [
        "rule_id",
        "conditions",
        "action",
        "owner",
        "note",
        "adopted_by",
        "adopted_at",
    ]
    assert r1["conditions"] == RULE and r1["action"] == {"kind": "adjust_pct", "value": 25.0}
    assert (r1["owner"], r1["adopted_by"]) == ("m.garcia", "s.okafor")
    assert first["changes"]["added"] == ["R1", "R2"]
    # R1's action edited, R2 dismissed, R3 adopted.
    _adopt(engine, "R1", action={"kind": "adjust_pct", "value": 24})
    _adopt(engine, "R2", status="dismissed", note="customer changed policy")
    _adopt(
        engine, "R3", conditions={"resource": "L07"}, direction="reject", action={"kind": "reject"}
    )
    second = export_policy(engine, actor="s.okafor", role="sop_lead")
    assert second["document"]["version"] == 2
    assert second["changes"] == {"added": ["R3"], "removed": ["R2"], "changed": ["R1"]}
    events = read_events(engine)
    exported = events[events["action"] == "policy_exported"]
    assert exported["entity_id"].tolist() == ["2", "1"]  # newest first
    assert json.loads(exported.iloc[0]["after"])["changes"]["removed"] == ["R2"]
    assert verify_chain(engine).ok
