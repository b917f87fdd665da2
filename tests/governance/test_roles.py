"""Every store write checks the acting role itself: calling it directly with the wrong role is
refused, and nothing is written or audited. Allowed roles follow ``store.roles.PERMISSIONS``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from store.decisions import record_decision
from store.ingest.load import load_bundle
from store.owner_matrix import delete_owner, make_entry, upsert_owner
from store.roles import PERMISSIONS, ROLES, PermissionDenied, can, require
from store.rule_status import set_rule_status
from store.settings import set_setting
from store.users import add_user, remove_user, set_role
from tests.conftest import write_bundle

RECS = """rec_id,rec_type,signal_at,created_at,site,recommended_qty
r1,stockout_risk,2025-01-01T00:00:00Z,2025-01-01T00:05:00Z,P1,10
"""
OWNERS = """rec_type,site,owner,escalation_to,sla_hours
stockout_risk,*,ana,boss,24
"""
ALL_ROLES = [*ROLES, None, "root"]  # None: nobody signed in; "root": not a role at all


def _seed(engine: Engine, tmp_path: Path) -> None:
    load_bundle(
        write_bundle(tmp_path / "seed", {"recommendations": RECS, "owners": OWNERS}),
        engine=engine,
        actor="seed",
        role="admin",
    )
    add_user(
        engine, "pat", role="planner", password="planner-pass", actor="seed", actor_role="admin"
    )


def _writes() -> dict[str, list[tuple[str, Callable[[Engine, str | None], object]]]]:
    writes: dict[str, list[tuple[str, Callable[[Engine, str | None], object]]]] = {
        "ownership": [
            ("upsert", lambda e, r: upsert_owner(e, make_entry("expedite", "*", "cy", "boss", 8), actor="x", role=r)),
            ("delete", lambda e, r: delete_owner(e, "stockout_risk", "*", actor="x", role=r)),
        ],
        "users": [
            ("add", lambda e, r: add_user(e, "neo", role="admin", password="long enough", actor="x", actor_role=r)),
            ("role", lambda e, r: set_role(e, "pat", "admin", actor="x", actor_role=r)),
            ("remove", lambda e, r: remove_user(e, "pat", actor="x", actor_role=r)),
        ],
    }  # fmt: skip
    writes["rule_status"] = [
        (
            "dismiss",
            lambda e, r: set_rule_status(
                e, rule_key="k1", conditions={"site": "P1"}, direction="reject",
                status="dismissed", note="seasonal noise", actor="x", role=r,
            ),
        )
    ]  # fmt: skip
    writes["decide"] = [
        ("accept", lambda e, r: record_decision(e, "r1", decision="accepted", actor="x", role=r))
    ]
    return writes


def _state(engine: Engine) -> tuple[int, ...]:
    with engine.connect() as conn:
        return tuple(
            int(conn.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar_one())
            for t in ("audit_event", "owners", "app_user", "decisions", "rule_status", "settings")
        )


CASES = [
    pytest.param(action, name, fn, id=f"{action}-{name}")
    for action, fns in _writes().items()
    for name, fn in fns
]


@pytest.mark.parametrize(("action", "name", "write"), CASES)
@pytest.mark.parametrize("role", ALL_ROLES, ids=lambda r: str(r))
def test_store_writes_check_the_role(
    sqlite_engine: Engine,
    tmp_path: Path,
    action: str,
    name: str,
    write,
    role: str | None,  # type: ignore[no-untyped-def]
) -> None:
    _seed(sqlite_engine, tmp_path)
    before = _state(sqlite_engine)
    if role in PERMISSIONS[action]:
        write(sqlite_engine, role)
        assert _state(sqlite_engine) != before
    else:
        with pytest.raises(PermissionDenied, match=action.replace("_", " ")):
            write(sqlite_engine, role)
        assert _state(sqlite_engine) == before


def test_permission_table() -> None:
    assert can("planner", "decide") and not can("planner", "rule_status")
    assert can("sop_lead", "rule_status") and not can("sop_lead", "ownership")
    assert not any(can("exec", a) for a in PERMISSIONS)
    assert all(can("admin", a) for a in PERMISSIONS)
    with pytest.raises(ValueError, match="unknown action"):
        require("admin", "format_disk")


@pytest.mark.parametrize("role", ALL_ROLES, ids=lambda r: str(r))
def test_settings_check_the_role(sqlite_engine: Engine, role: str | None) -> None:
    if role in PERMISSIONS["settings"]:
        set_setting(sqlite_engine, "go_live", "2025-01-01", actor="x", role=role)
    else:
        with pytest.raises(PermissionDenied):
            set_setting(sqlite_engine, "go_live", "2025-01-01", actor="x", role=role)
        assert _state(sqlite_engine)[-1] == 0


@pytest.mark.parametrize("role", ["planner", "exec", None])
def test_import_checks_the_role(sqlite_engine: Engine, tmp_path: Path, role: str | None) -> None:
    with pytest.raises(PermissionDenied):
        load_bundle(
            write_bundle(tmp_path / "b", {"recommendations": RECS}), engine=sqlite_engine, role=role
        )
