"""The exported policy: adopted rules as a versioned document a planning system can load.

``export_policy`` writes ``{"version", "exported_at", "rules": [{"rule_id",
"conditions", "action", "owner", "note", "adopted_by", "adopted_at"}]}``. Each
export is one audit event (``policy_exported``) carrying the exported rules and
what changed since the previous export (rules added, removed, and rules whose
conditions, action, owner or note changed); the version is one more than the
previous export's. A store with nothing adopted exports an empty, valid policy.
The workbench never writes to the planning system itself.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select

from store.audit import audited_write
from store.db import utcnow
from store.models import AuditEvent
from store.roles import require
from store.rule_status import read_rule_statuses

POLICY_ENTITY = "policy"
EXPORTED = "policy_exported"
_COMPARED = ("conditions", "action", "owner", "note")


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def policy_rules(engine: Engine) -> list[dict[str, Any]]:
    """The adopted rules as policy entries, ordered by rule id."""
    statuses = read_rule_statuses(engine)
    if statuses.empty:
        return []
    adopted = statuses[statuses["status"] == "adopted"].sort_values("rule_key", kind="stable")
    return [
        {
            "rule_id": str(r.rule_key),
            "conditions": {str(k): str(v) for k, v in sorted(r.conditions.items())},
            "action": r.action,
            "owner": r.owner,
            "note": r.note,
            "adopted_by": r.updated_by,
            "adopted_at": _iso(r.updated_at),
        }
        for r in adopted.itertuples(index=False)
    ]


def last_export(engine: Engine) -> dict[str, Any] | None:
    """The previous export's audit record (``version``, ``exported_at``, ``rules``, ``changes``)."""
    stmt = (
        select(AuditEvent.after)
        .where(AuditEvent.entity == POLICY_ENTITY, AuditEvent.action == EXPORTED)
        .order_by(AuditEvent.id.desc())  # type: ignore[union-attr]
        .limit(1)
    )
    with engine.connect() as conn:
        raw = conn.execute(stmt).scalar_one_or_none()
    return json.loads(raw) if raw else None


def policy_changes(
    previous: list[dict[str, Any]], current: list[dict[str, Any]]
) -> dict[str, list[str]]:
    """Rule ids ``added``, ``removed`` and ``changed`` (conditions, action, owner or note)."""
    before = {r["rule_id"]: r for r in previous}
    after = {r["rule_id"]: r for r in current}
    changed = [
        rid
        for rid in sorted(set(before) & set(after))
        if any(before[rid].get(k) != after[rid].get(k) for k in _COMPARED)
    ]
    return {
        "added": sorted(set(after) - set(before)),
        "removed": sorted(set(before) - set(after)),
        "changed": changed,
    }


def export_policy(
    engine: Engine, *, actor: str, role: str | None, at: datetime | None = None
) -> dict[str, Any]:
    """Build the next policy version and audit it; returns ``{"document", "changes"}``.

    ``document`` is what a planning system loads (write it as JSON);
    ``changes`` compares it with the previous export (everything is ``added``
    on the first). Raises ``store.roles.PermissionDenied`` unless ``role`` may
    export the policy.
    """
    require(role, "policy_export")  # before reading anything
    at = at or utcnow()
    rules = policy_rules(engine)
    previous = last_export(engine)
    version = int(previous["version"]) + 1 if previous else 1
    changes = policy_changes(previous["rules"] if previous else [], rules)
    document = {"version": version, "exported_at": _iso(at), "rules": rules}
    with audited_write(
        engine, actor=actor, role=role, permission="policy_export", tables=[]
    ) as write:
        write.event(
            action=EXPORTED,
            entity=POLICY_ENTITY,
            entity_id=str(version),
            before=None,
            after={**document, "changes": changes},
            at=at,
        )
    return {"document": document, "changes": changes}
