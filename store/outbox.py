"""Posting the daily digest to a chat incoming webhook, at most once per digest id.

``post_digest`` claims the (digest id, webhook) pair in the store before it posts,
so two schedulers running at once, or one running twice, post once. A post that
definitely failed (the endpoint refused it, or every retry failed) releases the
claim so a later run may try again; one that was cut off mid-way (process killed)
keeps it, because the message may have gone out — ``force=True`` re-sends then.

Transient failures (connection errors, timeouts, HTTP 408/429/5xx) are retried with
exponential back-off; any other 4xx is a refusal, reported at once with the
endpoint's answer. Webhook URLs carry their secret in the path, so only the
scheme and host (and a hash to tell targets apart) are stored or audited.

The module imports only SQLModel at load time (store helpers inside functions), so
``store/db.py`` can import it to register the table without an import cycle.
"""

from __future__ import annotations

import hashlib
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, and_
from sqlalchemy.exc import IntegrityError

from store.audit import audited_write
from store.db import utcnow
from store.models import DigestPost
from store.roles import require

_TABLE = DigestPost.__table__  # type: ignore[attr-defined]
RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


class DigestError(RuntimeError):
    """The digest could not be posted."""


class WebhookRefused(DigestError):
    """The endpoint answered with a 4xx that retrying will not fix (bad URL, revoked token…)."""

    def __init__(self, status: int, body: str, label: str, attempts: int = 1) -> None:
        self.status = status
        self.body = body
        self.attempts = attempts
        super().__init__(
            f"the webhook at {label} refused the digest: HTTP {status}"
            + (f" — {body}" if body else "")
            + ". Nothing was posted; check the webhook URL (it may have been removed or its "
            "token rotated) and the --format for that chat tool."
        )


class WebhookUnavailable(DigestError):
    """Every attempt failed with a transient error."""


class DigestInProgress(DigestError):
    """An earlier post of this digest did not finish; it may or may not have been delivered."""


@dataclass(frozen=True)
class PostResult:
    digest_id: str
    target_label: str
    posted: bool  # False when it had already been sent
    attempts: int
    status_code: int | None

    def to_json(self) -> dict[str, Any]:
        return {
            "digest_id": self.digest_id,
            "target": self.target_label,
            "posted": self.posted,
            "already_sent": not self.posted,
            "attempts": self.attempts,
            "status_code": self.status_code,
        }


def ensure_table(engine: Engine) -> None:
    """Create the outbox table if the store predates it (``create_all`` makes it otherwise)."""
    _TABLE.create(engine, checkfirst=True)


def target_of(url: str) -> tuple[str, str]:
    """(hash key, readable label) of a webhook URL; raises DigestError for a non-HTTP URL."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise DigestError(f"the webhook must be an http(s) URL, got {url[:40]!r}")
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    label = f"{parts.scheme}://{host}{port}/…"
    return hashlib.sha256(url.encode("utf-8")).hexdigest()[:16], label


def _post_once(url: str, body: bytes, timeout: float) -> tuple[int, str, str | None]:
    """(HTTP status, short body, Retry-After) of one POST; network errors raise OSError."""
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "workbench-digest",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (scheme checked)
            return response.status, response.read(500).decode("utf-8", "replace"), None
    except urllib.error.HTTPError as exc:
        text = exc.read(500).decode("utf-8", "replace") if exc.fp is not None else ""
        return exc.code, text.strip(), exc.headers.get("Retry-After") if exc.headers else None


def _retry_after(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def send_with_retries(
    url: str,
    payload: Mapping[str, Any],
    *,
    max_attempts: int = 4,
    base_delay: float = 1.0,
    max_delay: float = 30.0,
    timeout: float = 10.0,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[int, int]:
    """POST ``payload`` as JSON; returns (HTTP status, attempts used).

    Waits ``base_delay × 2**(attempt-1)`` (capped at ``max_delay``, or the server's
    ``Retry-After`` when it is shorter than the cap) between attempts. Raises
    ``WebhookRefused`` on a non-retryable 4xx, ``WebhookUnavailable`` when every
    attempt failed.
    """
    _, label = target_of(url)
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    last = ""
    for attempt in range(1, max_attempts + 1):
        retry_after = None
        try:
            status, text, retry_after_raw = _post_once(url, body, timeout)
        except OSError as exc:  # URLError, timeouts, refused connections
            last = f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"
        else:
            if 200 <= status < 300:
                return status, attempt
            if status not in RETRY_STATUS:
                raise WebhookRefused(status, text[:200], label, attempt)
            last = f"HTTP {status}" + (f" — {text[:200]}" if text else "")
            retry_after = _retry_after(retry_after_raw)
        if attempt < max_attempts:
            delay = min(base_delay * 2 ** (attempt - 1), max_delay)
            if retry_after is not None:
                delay = min(max(retry_after, 0.0), max_delay)
            sleep(delay)
    raise WebhookUnavailable(
        f"the webhook at {label} did not accept the digest after {max_attempts} attempts "
        f"(last: {last}); nothing was recorded as sent, so the next run will try again"
    )


def _claim(
    engine: Engine, digest_id: str, key: str, label: str, fmt: str, actor: str, force: bool
) -> dict[str, Any] | None:
    """Take the (digest, target) claim; returns the sent row instead when it was already sent."""

    where = and_(_TABLE.c.digest_id == digest_id, _TABLE.c.target == key)
    now = utcnow()
    try:
        with engine.begin() as conn:
            row = conn.execute(_TABLE.select().where(where)).mappings().first()
            if row is not None and row["state"] == "sent" and not force:
                return dict(row)
            if row is not None and row["state"] == "sending" and not force:
                raise DigestInProgress(
                    f"digest {digest_id} to {label}: an attempt started at "
                    f"{row['claimed_at']:%Y-%m-%d %H:%M} UTC did not finish, so it may have been "
                    "delivered. Check the channel; to send it anyway, re-run with force."
                )
            values = {
                "target_label": label,
                "fmt": fmt,
                "state": "sending",
                "attempts": 0,
                "status_code": None,
                "error": None,
                "actor": actor,
                "claimed_at": now,
                "sent_at": None,
            }
            if row is None:
                conn.execute(_TABLE.insert().values(digest_id=digest_id, target=key, **values))
            else:
                conn.execute(_TABLE.update().where(where).values(**values))
    except IntegrityError as exc:  # another process inserted the claim first
        raise DigestInProgress(
            f"digest {digest_id} to {label} is being posted by another run"
        ) from exc
    return None


def _finish(
    engine: Engine,
    digest_id: str,
    key: str,
    label: str,
    fmt: str,
    actor: str,
    *,
    role: str | None,
    state: str,
    attempts: int,
    status_code: int | None,
    error: str | None,
) -> None:

    where = and_(_TABLE.c.digest_id == digest_id, _TABLE.c.target == key)
    with audited_write(
        engine, actor=actor, role=role, permission="digest", tables=["digest_outbox"]
    ) as write:
        write.conn.execute(
            _TABLE.update()
            .where(where)
            .values(
                state=state,
                attempts=attempts,
                status_code=status_code,
                error=error,
                sent_at=utcnow() if state == "sent" else None,
            )
        )
        write.event(
            action="digest_post",
            entity="digest_outbox",
            entity_id=digest_id,
            after={
                "target": label,
                "format": fmt,
                "state": state,
                "attempts": attempts,
                "status_code": status_code,
                "error": error,
            },
        )


def post_digest(
    engine: Engine,
    *,
    digest_id: str,
    payload: Mapping[str, Any],
    webhook: str,
    fmt: str,
    actor: str,
    role: str | None,
    force: bool = False,
    max_attempts: int = 4,
    base_delay: float = 1.0,
    timeout: float = 10.0,
    sleep: Callable[[float], None] = time.sleep,
) -> PostResult:
    """Post ``payload`` to ``webhook`` unless digest ``digest_id`` already went there.

    Returns a ``PostResult`` (``posted`` False when it had already been sent). Raises
    ``WebhookRefused`` (4xx), ``WebhookUnavailable`` (retries exhausted),
    ``DigestInProgress`` (an unfinished earlier attempt) or ``DigestError`` (bad URL).
    Each finished attempt (sent or failed) is an audit event; ``role`` must be allowed
    to post digests (``store.roles``), checked before anything is claimed.
    """
    require(role, "digest")
    key, label = target_of(webhook)
    json.dumps(payload)  # a payload that cannot be sent fails before anything is claimed
    ensure_table(engine)
    done = _claim(engine, digest_id, key, label, fmt, actor, force)
    if done is not None:
        return PostResult(digest_id, label, False, int(done["attempts"]), done["status_code"])
    # Any other exception (interrupted mid-post) leaves the claim: the outcome is unknown,
    # and an unknown outcome must not be sent again without someone deciding to.
    try:
        status, attempts = send_with_retries(
            webhook,
            payload,
            max_attempts=max_attempts,
            base_delay=base_delay,
            timeout=timeout,
            sleep=sleep,
        )
    except WebhookRefused as exc:
        _finish(
            engine, digest_id, key, label, fmt, actor, role=role,
            state="failed", attempts=exc.attempts, status_code=exc.status, error=str(exc),
        )  # fmt: skip
        raise
    except WebhookUnavailable as exc:
        _finish(
            engine, digest_id, key, label, fmt, actor, role=role,
            state="failed", attempts=max_attempts, status_code=None, error=str(exc),
        )  # fmt: skip
        raise
    _finish(
        engine, digest_id, key, label, fmt, actor, role=role,
        state="sent", attempts=attempts, status_code=status, error=None,
    )  # fmt: skip
    return PostResult(digest_id, label, True, attempts, status)


def sent_digests(engine: Engine) -> list[dict[str, Any]]:
    """Every outbox row, newest claim first (for the CLI and tests)."""
    ensure_table(engine)
    with engine.connect() as conn:
        rows = conn.execute(_TABLE.select().order_by(_TABLE.c.claimed_at.desc())).mappings().all()
    return [dict(r) for r in rows]
