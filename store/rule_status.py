"""The lifecycle of candidate rules: adopted, dismissed or watch.

An S&OP lead turns a candidate rule into knowledge: **adopted** (a documented
rule, with an owner and a note on how to encode it in the system), **dismissed**
(with why) or **watch** (look again later). Only roles allowed ``rule_status``
may change it (checked here, whatever the UI shows). Every change is an audit
event with who and when, written in the same transaction as the change, and the
``rule_status`` data version is bumped so caches refresh.

Rules are keyed by their stable id (``analytics.overrides.rules.rule_id``), so a status
stays attached to the same conditions and direction across runs; the conditions
and direction are stored with it so an adopted rule can be monitored even when
it no longer comes out as a candidate.

An adopted rule also carries its machine-readable **action**
(``contract.actions``: ``adjust_pct`` with a value, or ``reject``) as the lead
confirmed it — what the exported policy tells a planning system to do. It lives
in the ``rule_action`` table, written in the same transaction and audited with
the status.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import Engine, select
from sqlalchemy.engine import Connection

from contract.actions import ActionError, check_action
from contract.vocabulary import CANDIDATE, DIRECTIONS, RULE_ATTRIBUTES, RULE_STATUSES
from store.audit import audited_write
from store.db import utcnow
from store.models import AuditEvent, RuleAction, RuleStatus

STATUSES = RULE_STATUSES
STATUS_COLUMNS = [
    "rule_key",
    "conditions",
    "direction",
    "status",
    "owner",
    "note",
    "action",
    "updated_by",
    "updated_at",
]

_TABLE = RuleStatus.__table__  # type: ignore[attr-defined]
_ACTIONS = RuleAction.__table__  # type: ignore[attr-defined]


class RuleStatusError(ValueError):
    """A lifecycle change that cannot be stored; the message says what is missing."""


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _check(
    status: str, conditions: dict[str, str], direction: str, owner: str | None, note: str | None
) -> None:
    if status not in STATUSES:
        raise RuleStatusError(f"status must be one of {', '.join(STATUSES)}, got {status!r}")
    if not conditions:
        raise RuleStatusError("a rule needs at least one condition")
    unknown = sorted(set(conditions) - set(RULE_ATTRIBUTES))
    if unknown:
        raise RuleStatusError(f"unknown rule attribute(s): {', '.join(unknown)}")
    if direction not in DIRECTIONS:
        raise RuleStatusError(f"direction must be one of {', '.join(DIRECTIONS)}")
    if status == "adopted" and (owner is None or note is None):
        raise RuleStatusError(
            "adopting a rule needs an owner and a note on how to encode it in the system"
        )
    if status == "dismissed" and note is None:
        raise RuleStatusError("dismissing a rule needs a note saying why")


def _stored_action(conn: Connection, rule_key: str) -> dict[str, Any] | None:
    raw = conn.execute(
        select(_ACTIONS.c.action).where(_ACTIONS.c.rule_key == rule_key)
    ).scalar_one_or_none()
    return json.loads(raw) if raw else None


def _stored(conn: Connection, rule_key: str) -> dict[str, Any] | None:
    row = conn.execute(_TABLE.select().where(_TABLE.c.rule_key == rule_key)).mappings().first()
    if row is None:
        return None
    return {
        "rule_key": row["rule_key"],
        "conditions": json.loads(row["conditions"]),
        "direction": row["direction"],
        "status": row["status"],
        "owner": row["owner"],
        "note": row["note"],
        "action": _stored_action(conn, rule_key),
        "updated_by": row["updated_by"],
        "updated_at": row["updated_at"],
    }


def set_rule_status(
    engine: Engine,
    *,
    rule_key: str,
    conditions: dict[str, str],
    direction: str,
    status: str,
    actor: str,
    role: str | None,
    owner: str | None = None,
    note: str | None = None,
    action: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> dict[str, Any]:
    """Mark a rule adopted, dismissed or watch; returns the stored row.

    ``action`` (``contract.actions``) is the rule's confirmed action; None keeps
    the one stored before, if any.

    Raises ``store.roles.PermissionDenied`` unless ``role`` may change rule status,
    ``RuleStatusError`` for an unknown status or attribute, an invalid action
    (kind, or an adjustment outside −100..+500%), an adoption without an owner
    and note, or a dismissal without a note. Storing the same status, owner,
    note and action again changes nothing and records no event.
    """

    owner, note = _text(owner), _text(note)
    conditions = {str(k): str(v) for k, v in conditions.items()}
    _check(status, conditions, direction, owner, note)
    if action is not None:
        try:
            action = check_action(action)
        except ActionError as exc:
            raise RuleStatusError(str(exc)) from None
    at = at or utcnow()
    with audited_write(
        engine, actor=actor, role=role, permission="rule_status", tables=["rule_status"]
    ) as write:
        conn = write.conn
        before = _stored(conn, rule_key)
        if action is None and before is not None:
            action = before["action"]
        same = before is not None and (
            before["status"],
            before["owner"],
            before["note"],
            before["action"],
        ) == (status, owner, note, action)
        if same:
            return before  # type: ignore[return-value]
        values = {
            "conditions": json.dumps(conditions, sort_keys=True),
            "direction": direction,
            "status": status,
            "owner": owner,
            "note": note,
            "updated_by": actor,
            "updated_at": at,
        }
        if before is None:
            conn.execute(_TABLE.insert().values(rule_key=rule_key, **values))
        else:
            conn.execute(_TABLE.update().where(_TABLE.c.rule_key == rule_key).values(**values))
        conn.execute(_ACTIONS.delete().where(_ACTIONS.c.rule_key == rule_key))
        if action is not None:
            conn.execute(
                _ACTIONS.insert().values(
                    rule_key=rule_key, action=json.dumps(action, sort_keys=True)
                )
            )
        after = {"rule_key": rule_key, **values, "conditions": conditions, "action": action}
        write.event(
            action=f"rule_{status}",
            entity="rule_status",
            entity_id=rule_key,
            before=_audit_view(before),
            after=_audit_view(after),
            at=at,
        )
    return after


def clear_rule_status(engine: Engine, *, rule_key: str, actor: str, role: str | None) -> bool:
    """Return a rule to ``candidate`` (removes its lifecycle row); whether one existed."""

    with audited_write(
        engine, actor=actor, role=role, permission="rule_status", tables=["rule_status"]
    ) as write:
        before = _stored(write.conn, rule_key)
        if before is None:
            return False
        write.conn.execute(_TABLE.delete().where(_TABLE.c.rule_key == rule_key))
        write.conn.execute(_ACTIONS.delete().where(_ACTIONS.c.rule_key == rule_key))
        write.event(
            action="rule_reopened",
            entity="rule_status",
            entity_id=rule_key,
            before=_audit_view(before),
            after={"rule_key": rule_key, "status": CANDIDATE},
        )
    return True


def _audit_view(row: dict[str, Any] | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {k: row[k] for k in STATUS_COLUMNS if k not in ("updated_by", "updated_at")}


def read_rule_statuses(engine: Engine) -> pd.DataFrame:
    """Every lifecycle row: ``STATUS_COLUMNS`` (``conditions`` and ``action`` as dicts, action
    None when none was confirmed), newest change first."""
    with engine.connect() as conn:
        rows = conn.execute(_TABLE.select()).mappings().all()
        actions = dict(conn.execute(select(_ACTIONS.c.rule_key, _ACTIONS.c.action)).all())
    df = pd.DataFrame([dict(r) for r in rows], columns=STATUS_COLUMNS)
    if df.empty:
        return df
    df["conditions"] = df["conditions"].map(json.loads)
    df["action"] = [json.loads(actions[k]) if k in actions else None for k in df["rule_key"]]
    df["updated_at"] = pd.to_datetime(df["updated_at"], utc=True)
    return df.sort_values(["updated_at", "rule_key"], ascending=[False, True]).reset_index(
        drop=True
    )


def rule_history(engine: Engine, rule_key: str) -> pd.DataFrame:
    """The audit events of one rule's lifecycle, oldest first: ``at``, ``actor``, ``action``,
    ``before`` and ``after`` (dicts)."""
    stmt = (
        select(
            AuditEvent.at, AuditEvent.actor, AuditEvent.action, AuditEvent.before, AuditEvent.after
        )
        .where(AuditEvent.entity == "rule_status", AuditEvent.entity_id == rule_key)
        .order_by(AuditEvent.id)  # type: ignore[arg-type]
    )
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
    df = pd.DataFrame(rows, columns=["at", "actor", "action", "before", "after"])
    if not df.empty:
        df["at"] = pd.to_datetime(df["at"], utc=True)
        for col in ("before", "after"):
            df[col] = df[col].map(lambda s: json.loads(s) if isinstance(s, str) and s else None)
    return df
