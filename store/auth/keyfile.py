"""The server-side secret that signs session tokens, kept outside the database.

In order: the ``WORKBENCH_SESSION_KEY`` environment variable (at least 32
characters), else a key file beside the store — ``<db file>.session-key`` next to
a SQLite file, ``data/session.key`` beside the code for another database —
generated on first use with owner-only permissions (0600). A key file that
others can read is refused rather than trusted. Someone who can read the
database but not the key cannot make a token; deleting the key signs everyone out.
"""

from __future__ import annotations

import os
import secrets
import stat
import threading
from pathlib import Path

from sqlalchemy import Engine

from store.db import DEFAULT_DB_PATH, sqlite_path

ENV_VAR = "WORKBENCH_SESSION_KEY"
MIN_ENV_KEY_LENGTH = 32
_lock = threading.Lock()


class KeyFileError(RuntimeError):
    """The session key cannot be used (unsafe permissions, unreadable, too short)."""


def key_path(engine: Engine) -> Path:
    """Where the session key file of this store lives (whether or not it exists yet)."""
    db_file = sqlite_path(engine.url.render_as_string(hide_password=False))
    if db_file is not None:
        return db_file.with_name(db_file.name + ".session-key")
    return DEFAULT_DB_PATH.parent / "session.key"


def _read(path: Path) -> bytes:
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyFileError(
            f"the session key {path} can be read by others (mode {stat.S_IMODE(mode):o}); "
            f"make it owner-only with: chmod 600 {path}"
        )
    key = path.read_bytes().strip()
    if len(key) < MIN_ENV_KEY_LENGTH:
        raise KeyFileError(f"the session key {path} is too short; delete it to make a new one")
    return key


def _create(path: Path) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32).encode("ascii")
    # Written whole under a private name, then linked into place: the link fails if the
    # file exists, so a second process never reads a key file that is still empty.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(key + b"\n")
            f.flush()
            os.fsync(f.fileno())
        os.link(tmp, path)
    except FileExistsError:  # another process made it first: use theirs
        return _read(path)
    finally:
        tmp.unlink(missing_ok=True)
    return key


def session_secret(engine: Engine) -> bytes:
    """The secret that signs this store's session tokens (see module doc)."""
    env = os.environ.get(ENV_VAR)
    if env:
        if len(env) < MIN_ENV_KEY_LENGTH:
            raise KeyFileError(f"{ENV_VAR} needs at least {MIN_ENV_KEY_LENGTH} characters")
        return env.encode("utf-8")
    path = key_path(engine)
    with _lock:  # read on every check: a deleted or replaced key takes effect at once
        return _read(path) if path.exists() else _create(path)
