"""Derived artefacts (fitted surrogates, themes, rules, aggregates) persisted beside the store.

The registry of what is built lives in ``flows/artefacts.py``; this module only keeps the
files: one per artefact and key, in ``<db file>.artefacts/<name>/`` for SQLite and
``data/artefacts/<url hash>/<name>/`` otherwise. A key is derived from the store's identity
(``store.db.store_identity``: a random number made with the store) and the data versions of
exactly the tables the artefact depends on, so a new version or a recreated database never
reads an old file.

Files are pickles the workbench wrote itself, and are unpickled only after their HMAC-SHA256
checks out (keyed by a secret derived from the store's session key, which is kept apart from
these files: ``store.auth.keyfile``), so a damaged, truncated, foreign or stale file is
detected, removed and rebuilt, never shown. Writes are
atomic (temp file + ``os.replace``); ``build_lock`` serialises two processes building the
same key, so they produce one valid file.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
import pickle
import struct
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from store.auth.keyfile import session_secret
from store.db import store_identity
from store.snapshots import beside_store

MAGIC = b"WBART1\n"
_HEADER = struct.Struct(">Q")  # length of the JSON meta that follows the magic
_DIGEST = 32  # bytes of HMAC-SHA256


@dataclass(frozen=True)
class Serializer:
    """How an artefact becomes bytes and back (``loads`` only ever sees verified bytes)."""

    dumps: Callable[[Any], bytes]
    loads: Callable[[bytes], Any]


PICKLE = Serializer(
    dumps=lambda obj: pickle.dumps(obj, protocol=5),
    loads=pickle.loads,
)


def _identity(engine: Engine) -> tuple[str, bytes]:
    """(store id, the key that signs this store's artefact files)."""
    store_id = f"{store_identity(engine):x}"
    secret = hmac.new(session_secret(engine), b"artefacts:" + store_id.encode(), "sha256")
    return store_id, secret.digest()


def artefact_dir(engine: Engine) -> Path:
    return beside_store(engine, "artefacts")


def artefact_key(engine: Engine, name: str, inputs: dict[str, int], *, fmt: int = 1) -> str:
    """The file key of artefact ``name`` built from table versions ``inputs`` (``fmt`` is the
    build's format number: bump it when a build's output changes shape)."""
    store_id, _ = _identity(engine)
    blob = json.dumps(
        {"store": store_id, "name": name, "format": fmt, "inputs": dict(sorted(inputs.items()))},
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def _path(engine: Engine, name: str, key: str) -> Path:
    return artefact_dir(engine) / name / f"{key}.art"


def _sign(secret: bytes, head: bytes, payload: bytes) -> bytes:
    mac = hmac.new(secret, head, hashlib.sha256)
    mac.update(payload)
    return mac.digest()


def write_artefact(
    engine: Engine,
    name: str,
    key: str,
    obj: Any,
    *,
    inputs: dict[str, int],
    serializer: Serializer = PICKLE,
    keep: int = 0,
) -> Path:
    """Persist ``obj`` as artefact ``name``/``key`` atomically, then drop older keys of ``name``
    but the ``keep`` newest (views keep a few: one file per setting a page was seen with)."""
    store_id, secret = _identity(engine)
    payload = serializer.dumps(obj)
    meta = json.dumps(
        {
            "name": name,
            "key": key,
            "store": store_id,
            "inputs": dict(sorted(inputs.items())),
            "size": len(payload),
            "written_at": datetime.now(UTC).isoformat(),
        },
        sort_keys=True,
    ).encode()
    head = MAGIC + _HEADER.pack(len(meta)) + meta
    path = _path(engine, name, key)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(head)
        fh.write(_sign(secret, head, payload))
        fh.write(payload)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    others = sorted((p for p in path.parent.glob("*.art") if p != path), key=_mtime, reverse=True)
    for old in others[keep:]:
        old.unlink(missing_ok=True)
        (old.parent / f".{old.stem}.lock").unlink(missing_ok=True)
    return path


def _verified_payload(engine: Engine, name: str, key: str) -> bytes | None:
    """The payload of a verified artefact file; None (and the file removed) otherwise."""
    path = _path(engine, name, key)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    store_id, secret = _identity(engine)
    ok = False
    try:
        if data.startswith(MAGIC):
            (n_meta,) = _HEADER.unpack_from(data, len(MAGIC))
            end = len(MAGIC) + _HEADER.size + n_meta
            head, mac, payload = data[:end], data[end : end + _DIGEST], data[end + _DIGEST :]
            meta = json.loads(head[len(MAGIC) + _HEADER.size :])
            ok = (
                hmac.compare_digest(mac, _sign(secret, head, payload))
                and meta.get("name") == name
                and meta.get("key") == key
                and meta.get("store") == store_id
                and meta.get("size") == len(payload)
            )
    except (struct.error, ValueError, AttributeError):
        ok = False
    if not ok:
        path.unlink(missing_ok=True)
        return None
    return payload


def read_artefact(
    engine: Engine, name: str, key: str, *, serializer: Serializer = PICKLE
) -> tuple[bool, Any]:
    """``(True, obj)`` for a verified artefact file, else ``(False, None)``.

    A file that is damaged, signed by another store or written for another key is removed,
    so the next build replaces it; only a verified payload is ever unpickled.
    """
    payload = _verified_payload(engine, name, key)
    if payload is None:
        return False, None
    return True, serializer.loads(payload)


def verify_artefact(engine: Engine, name: str, key: str) -> bool:
    """Whether a verified file of ``name``/``key`` exists (checked, not unpickled)."""
    return _verified_payload(engine, name, key) is not None


def latest_key(engine: Engine, name: str) -> str | None:
    """The key of the newest verified file of ``name`` whatever data version it was built for
    (None when there is none): what a page may show, saying so, while the current one builds."""
    folder = artefact_dir(engine) / name
    files = sorted(folder.glob("*.art"), key=_mtime, reverse=True) if folder.is_dir() else []
    return next((f.stem for f in files if verify_artefact(engine, name, f.stem)), None)


def newest_inputs(engine: Engine, name: str) -> tuple[str, dict[str, int]] | None:
    """(key, table versions) of the newest file of ``name``, from its header (not verified:
    the caller checks the key is the one those versions give, and ``read_artefact`` checks
    the file). None without a readable file."""
    folder = artefact_dir(engine) / name
    files = sorted(folder.glob("*.art"), key=_mtime, reverse=True) if folder.is_dir() else []
    for path in files:
        try:
            with open(path, "rb") as fh:
                head = fh.read(len(MAGIC) + _HEADER.size)
                if not head.startswith(MAGIC):
                    continue
                (n_meta,) = _HEADER.unpack_from(head, len(MAGIC))
                meta = json.loads(fh.read(n_meta))
        except (OSError, struct.error, ValueError):
            continue
        if meta.get("key") == path.stem and isinstance(meta.get("inputs"), dict):
            return path.stem, {str(t): int(v) for t, v in meta["inputs"].items()}
    return None


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:  # replaced meanwhile
        return 0.0


def has_artefact(engine: Engine, name: str, key: str) -> bool:
    """Whether a file for ``name``/``key`` exists (not verified: ``read_artefact`` does that)."""
    return _path(engine, name, key).exists()


@contextmanager
def build_lock(engine: Engine, name: str, key: str) -> Iterator[None]:
    """Hold the build lock of ``name``/``key`` (across processes and threads) while inside.

    A second builder of the same key waits here, then finds the first one's file.
    """
    path = artefact_dir(engine) / name / f".{key}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with _thread_lock(str(path)), open(path, "a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


_thread_locks: dict[str, threading.Lock] = {}
_thread_locks_guard = threading.Lock()


@contextmanager
def _thread_lock(name: str) -> Iterator[None]:
    # flock is per open file description: two threads of one process each opening the file
    # would both get it, so threads queue on a plain lock first.
    with _thread_locks_guard:
        lock = _thread_locks.setdefault(name, threading.Lock())
    with lock:
        yield
