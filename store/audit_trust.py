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

from sqlalchemy.engine import URL, make_url

REPO_ROOT = Path(__file__).resolve().parent.parent
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
