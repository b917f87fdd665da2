"""What the audit chain trusts that the database cannot change: its key and its anchor.

* **Key.** Event hashes are HMAC-SHA256 under a secret kept outside the database, so
  someone who can write the database but not read the key cannot recompute a chain
  after an edit, or forge an event. The key is ``WORKBENCH_AUDIT_KEY`` when set (any
  text, at least 32 characters), else the file ``<store>.audit-key`` beside the store,
  created on first use with owner-only permissions (0600).
* **Anchor.** After writes, the chain's head — event count and newest hash — is
  appended to ``<store>.audit-anchor.jsonl`` beside the store (and carried in every
  digest). ``audit verify`` checks that every anchored head is still in the chain, so
  deleting the newest events, or the whole trail with its counter, is detected too.

App decisions are checked against their audit events here too (``check_app_decisions``):
each row names its ``decide`` event (id and hash), and the two must say the same thing.

"Beside the store" is the SQLite file's folder; for PostgreSQL it is ``data/`` beside
the code, named after the database. ``WORKBENCH_AUDIT_DIR`` overrides the folder.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import literal_column, select
from sqlalchemy.engine import URL, Connection, make_url

from store.models import Decision

REPO_ROOT = Path(__file__).resolve().parents[2]
KEY_ENV = "WORKBENCH_AUDIT_KEY"
DIR_ENV = "WORKBENCH_AUDIT_DIR"
_lock = threading.Lock()
log = logging.getLogger(__name__)


def _url(url: str | URL) -> URL:
    return url if isinstance(url, URL) else make_url(url)


def trust_paths(url: str | URL) -> tuple[Path, Path]:
    """(key file, anchor file) of the store at ``url``."""
    u = _url(url)
    env_dir = os.environ.get(DIR_ENV, "").strip()
    if u.get_backend_name() == "sqlite" and u.database and u.database != ":memory:":
        db = Path(u.database)
        folder = Path(env_dir) if env_dir else db.resolve().parent
        stem = db.name
    else:
        folder = Path(env_dir) if env_dir else REPO_ROOT / "data"
        where = u.render_as_string(hide_password=True)
        stem = f"{u.get_backend_name()}-{u.database or 'memory'}-{hashlib.sha256(where.encode()).hexdigest()[:8]}"
    return folder / f"{stem}.audit-key", folder / f"{stem}.audit-anchor.jsonl"


def audit_key(url: str | URL) -> bytes:
    """The chain's HMAC key for the store at ``url``, created on first use."""
    env = os.environ.get(KEY_ENV)
    if env:
        if len(env) < 32:
            raise ValueError(f"{KEY_ENV} must be at least 32 characters")
        return env.encode("utf-8")
    path, _ = trust_paths(url)
    with _lock:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass  # another process made it a moment ago
            else:
                with os.fdopen(fd, "w") as fh:
                    fh.write(secrets.token_hex(32) + "\n")
        key = path.read_text(encoding="utf-8").strip()
    if len(key) < 32:
        raise ValueError(f"audit key file {path} is damaged (too short)")
    return key.encode("utf-8")


def append_anchor(url: str | URL, *, count: int, head: str) -> dict[str, Any]:
    """Append the head (``count`` events, newest hash ``head``) to the anchor file."""
    _, path = trust_paths(url)
    entry = {"at": datetime.now(UTC).isoformat(timespec="seconds"), "count": count, "head": head}
    with _lock:
        path.parent.mkdir(parents=True, exist_ok=True)
        last = read_anchors(url)[-1:] if path.exists() else []
        if last and last[0]["count"] == count and last[0]["head"] == head:
            return last[0]
        with path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry, separators=(",", ":")) + "\n")
    return entry


def read_anchors(url: str | URL) -> list[dict[str, Any]]:
    """Every anchored head, oldest first (unreadable lines are skipped and logged)."""
    _, path = trust_paths(url)
    if not path.exists():
        return []
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            out.append(
                {"count": int(entry["count"]), "head": str(entry["head"]), "at": entry.get("at")}
            )
        except (ValueError, KeyError, TypeError):
            log.warning("audit anchor %s line %d unreadable", path, n)
    return out


def _instant(value: Any) -> datetime | None:
    if value is None:
        return None
    at = datetime.fromisoformat(value) if isinstance(value, str) else value
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _same_qty(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return abs(float(a) - float(b)) <= 1e-9 * max(1.0, abs(float(a)))


def _mismatch(row: Any, ev: Any) -> str | None:
    """The first field in which the decision row and its event differ, else None."""
    try:
        after = json.loads(ev.after or "{}")
    except ValueError:
        return "event payload"
    if ev.entity_id != row.rec_id:
        return "rec_id"
    if ev.actor != row.decided_by:
        return "decided_by"
    if after.get("decision") != row.decision:
        return "decision"
    if not _same_qty(after.get("final_qty"), row.final_qty):
        return "final_qty"
    if (after.get("reason") or None) != (row.reason or None):
        return "reason"
    if _instant(after.get("decided_at")) != _instant(row.decided_at):
        return "decided_at"
    return None


def check_app_decisions(
    conn: Connection, decide_events: dict[int, Any], keyed_since: datetime | None
) -> tuple[tuple[int | None, str] | None, int]:
    """``((event id, problem) or None, decisions checked)`` for the rows the app wrote.

    Rows decided before the chain was keyed (``keyed_since``) may predate the link and
    are not required to carry one.
    """
    t = Decision.__table__  # type: ignore[attr-defined]
    rows = conn.execute(
        select(
            t.c.rec_id,
            t.c.decided_at,
            t.c.decided_by,
            t.c.decision,
            t.c.final_qty,
            t.c.reason,
            t.c.audit_event_id,
            t.c.audit_hash,
        )
        .where(t.c.source == literal_column("'app'"))  # a literal: the partial index's term
        .order_by(t.c.decided_at)
    ).all()
    linked: set[int] = set()
    since = _instant(keyed_since)
    for row in rows:
        if row.audit_event_id is None:
            if since is not None and _instant(row.decided_at) >= since:
                return (None, f"app decision on {row.rec_id} has no audit event"), len(rows)
            continue
        ev = decide_events.get(int(row.audit_event_id))
        if ev is None or ev.hash != row.audit_hash:
            return (
                int(row.audit_event_id),
                f"app decision on {row.rec_id} names audit event #{row.audit_event_id}, "
                "which is not its decide event",
            ), len(rows)
        field = _mismatch(row, ev)
        if field is not None:
            return (
                int(ev.id),
                f"app decision on {row.rec_id} does not match its audit event ({field} differs): "
                "the decision row was edited",
            ), len(rows)
        linked.add(int(ev.id))
    for event_id, ev in decide_events.items():
        after = json.loads(ev.after or "{}") if ev.after else {}
        if after.get("source") == "app" and event_id not in linked and since is not None:
            if _instant(ev.at) >= since:
                return (
                    event_id,
                    f"decision on {ev.entity_id} recorded by event #{event_id} is missing "
                    "from the decisions table",
                ), len(rows)
    return None, len(rows)
