"""Editing the decision ownership matrix (``owners``) from the workbench.

Only an ``admin`` may change it (checked here, whatever the UI shows). Every
changed row is one audit event with the row before and after, written in the
same transaction as the change; the ``owners`` data version is bumped so every
cache and snapshot refreshes.

Rows written here carry ``batch_id`` NULL (made in the workbench, not imported)
and the same ``row_hash`` the loader computes for the same values, so a later
import of an identical row counts as ``unchanged`` and a different one is
reported as a conflict with "the workbench" instead of overwriting it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine, and_
from sqlalchemy.engine import Connection

from contract.tables import OWNERS
from store.audit import audited_write
from store.ingest.validate import row_hashes
from store.models import OwnerRow

_TABLE = OwnerRow.__table__  # type: ignore[attr-defined]
_VALUE_COLUMNS = ("owner", "escalation_to", "sla_hours")


class OwnershipError(ValueError):
    """An ownership row that cannot be stored (missing owner, negative SLA…)."""


@dataclass(frozen=True)
class OwnerEntry:
    """One row of the matrix: ``site`` ``*`` means every site without its own row."""

    rec_type: str
    site: str
    owner: str
    escalation_to: str | None = None
    sla_hours: float | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.rec_type, self.site)

    def values(self) -> dict[str, Any]:
        return {
            "rec_type": self.rec_type,
            "site": self.site,
            "owner": self.owner,
            "escalation_to": self.escalation_to,
            "sla_hours": self.sla_hours,
        }


@dataclass
class OwnershipChanges:
    """What ``apply_owner_changes`` did, as ``rec_type|site`` keys."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)

    @property
    def n_changed(self) -> int:
        return len(self.added) + len(self.updated) + len(self.deleted)


def _text(value: Any) -> str | None:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    text = str(value).strip()
    return text or None


def make_entry(
    rec_type: Any, site: Any, owner: Any, escalation_to: Any = None, sla_hours: Any = None
) -> OwnerEntry:
    """A checked ``OwnerEntry`` from loose values (as typed in a table editor).

    Codes are trimmed like the loader trims them; an empty escalation or SLA is
    missing. Raises ``OwnershipError`` for a missing type, site or owner, or an
    SLA that is not a non-negative number.
    """
    rt, st, ow = _text(rec_type), _text(site), _text(owner)
    missing = [n for n, v in (("rec_type", rt), ("site", st), ("owner", ow)) if v is None]
    if missing:
        raise OwnershipError(f"{', '.join(missing)} required (row {rt or '?'}|{st or '?'})")
    sla: float | None
    raw_sla = _text(sla_hours)
    if raw_sla is None:
        sla = None
    else:
        try:
            sla = float(raw_sla)
        except ValueError as exc:
            raise OwnershipError(f"sla_hours must be a number, got {raw_sla!r}") from exc
        if not math.isfinite(sla) or sla < 0:
            raise OwnershipError(f"sla_hours must be a number >= 0, got {raw_sla!r}")
    return OwnerEntry(str(rt), str(st), str(ow), _text(escalation_to), sla)


def owner_row_hash(entry: OwnerEntry) -> int:
    """The loader's ``row_hash`` for this row: typed as ``store.ingest.validate`` types a file row
    (trimmed text, None when empty; ``sla_hours`` float64)."""
    text = {
        c: pd.Series([getattr(entry, c)], dtype=object)
        for c in ("rec_type", "site", "owner", "escalation_to")
    }
    sla = math.nan if entry.sla_hours is None else entry.sla_hours
    frame = pd.DataFrame({**text, "sla_hours": pd.Series([sla], dtype="float64")})
    return int(np.asarray(row_hashes(frame, OWNERS))[0])


def _stored(conn: Connection, key: tuple[str, str]) -> dict[str, Any] | None:
    row = (
        conn.execute(
            _TABLE.select().where(and_(_TABLE.c.rec_type == key[0], _TABLE.c.site == key[1]))
        )
        .mappings()
        .first()
    )
    if row is None:
        return None
    return {
        "rec_type": row["rec_type"],
        "site": row["site"],
        "owner": row["owner"],
        "escalation_to": row["escalation_to"],
        "sla_hours": None if row["sla_hours"] is None else float(row["sla_hours"]),
    }


def apply_owner_changes(
    engine: Engine,
    *,
    upserts: Iterable[OwnerEntry] = (),
    deletes: Iterable[tuple[str, str]] = (),
    actor: str,
    role: str | None,
) -> OwnershipChanges:
    """Add or change ``upserts`` and remove ``deletes`` (``(rec_type, site)`` keys) in one transaction.

    Raises ``store.roles.PermissionDenied`` unless ``role`` may edit ownership,
    ``OwnershipError`` for a key given twice or a delete of a row that does not
    exist. Rows whose values are already stored are left alone (no event).
    """
    upserts = list(upserts)
    deletes = [(str(k[0]), str(k[1])) for k in deletes]
    keys = [e.key for e in upserts] + deletes
    dup = {k for k in keys if keys.count(k) > 1}
    if dup:
        raise OwnershipError(
            "row given more than once: " + ", ".join(sorted("|".join(k) for k in dup))
        )
    result = OwnershipChanges()
    with audited_write(
        engine, actor=actor, role=role, permission="ownership", tables=["owners"]
    ) as write:
        conn = write.conn
        for entry in upserts:
            before = _stored(conn, entry.key)
            after = entry.values()
            if before == after:
                continue
            values = {c: after[c] for c in _VALUE_COLUMNS}
            values["row_hash"] = owner_row_hash(entry)
            values["batch_id"] = None
            where = and_(_TABLE.c.rec_type == entry.rec_type, _TABLE.c.site == entry.site)
            if before is None:
                conn.execute(
                    _TABLE.insert().values(rec_type=entry.rec_type, site=entry.site, **values)
                )
                result.added.append("|".join(entry.key))
            else:
                conn.execute(_TABLE.update().where(where).values(**values))
                result.updated.append("|".join(entry.key))
            write.event(
                action="ownership_add" if before is None else "ownership_edit",
                entity="owners",
                entity_id="|".join(entry.key),
                before=before,
                after=after,
            )
        for key in deletes:
            before = _stored(conn, key)
            if before is None:
                raise OwnershipError(f"no ownership row {key[0]}|{key[1]} to delete")
            conn.execute(
                _TABLE.delete().where(and_(_TABLE.c.rec_type == key[0], _TABLE.c.site == key[1]))
            )
            result.deleted.append("|".join(key))
            write.event(
                action="ownership_delete",
                entity="owners",
                entity_id="|".join(key),
                before=before,
            )
    return result


def upsert_owner(engine: Engine, entry: OwnerEntry, *, actor: str, role: str | None) -> bool:
    """Add or change one row; returns whether anything changed."""
    return apply_owner_changes(engine, upserts=[entry], actor=actor, role=role).n_changed > 0


def delete_owner(engine: Engine, rec_type: str, site: str, *, actor: str, role: str | None) -> None:
    """Remove one row (``OwnershipError`` if it does not exist)."""
    apply_owner_changes(engine, deletes=[(rec_type, site)], actor=actor, role=role)


def diff_matrix(
    current: pd.DataFrame, edited: pd.DataFrame
) -> tuple[list[OwnerEntry], list[tuple[str, str]]]:
    """The upserts and deletes that turn ``current`` into ``edited`` (both with the owners columns).

    Rows left fully empty in ``edited`` (a blank line added in a table editor)
    are ignored. A row whose key was edited is a delete of the old key plus an
    upsert of the new one. Raises ``OwnershipError`` for an incomplete row or a
    key that appears twice.
    """
    entries: dict[tuple[str, str], OwnerEntry] = {}
    for rec in edited.to_dict("records"):
        if all(_text(rec.get(c)) is None for c in ("rec_type", "site", "owner", *_VALUE_COLUMNS)):
            continue
        entry = make_entry(
            rec.get("rec_type"),
            rec.get("site"),
            rec.get("owner"),
            rec.get("escalation_to"),
            rec.get("sla_hours"),
        )
        if entry.key in entries:
            raise OwnershipError(f"row {entry.rec_type}|{entry.site} appears twice")
        entries[entry.key] = entry
    old: dict[tuple[str, str], Mapping[str, Any]] = {}
    for rec in current.to_dict("records"):
        e = make_entry(
            rec["rec_type"],
            rec["site"],
            rec["owner"],
            rec.get("escalation_to"),
            rec.get("sla_hours"),
        )
        old[e.key] = e.values()
    upserts = [e for k, e in entries.items() if old.get(k) != e.values()]
    deletes = [k for k in old if k not in entries]
    return upserts, sorted(deletes)
