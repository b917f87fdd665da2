"""Posting the daily digest to a chat incoming webhook, at most once per digest id.

``post_digest`` claims the (digest id, webhook) pair in the store before it posts,
so two schedulers running at once, or one running twice, post once. A post that
definitely failed (the endpoint refused it, or every retry failed) releases the
claim so a later run may try again; one that was cut off mid-way (process killed)
keeps it, because the message may have gone out — ``force=True`` re-sends then.

Transient failures (connection errors, timeouts, HTTP 408/429/5xx, and a 200 whose
body reports throttling, as the Teams legacy connector does) are retried by
``tenacity`` with exponential back-off and jitter, honouring ``Retry-After``; any
other 4xx is a refusal, reported at once with the endpoint's answer. Webhook URLs carry their secret in the path, so only the
scheme and host (and a hash to tell targets apart) are stored or audited.

The module imports only SQLModel at load time (store helpers inside functions), so
``store/db.py`` can import it to register the table without an import cycle.
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import math
import random
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import tenacity
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
            text = response.read(500).decode("utf-8", "replace").strip()
            return response.status, text, response.headers.get("Retry-After")
    except urllib.error.HTTPError as exc:
        text = exc.read(500).decode("utf-8", "replace") if exc.fp is not None else ""
        return exc.code, text.strip(), exc.headers.get("Retry-After") if exc.headers else None


# The Teams legacy connector answers HTTP 200 and reports the real outcome in the body,
# e.g. "Webhook message delivery failed with error: Microsoft Teams endpoint returned
# HTTP error 429 with ContextId …": a 200 is a delivery only when the body says nothing else.
_EMBEDDED_STATUS = re.compile(r"returned\s+HTTP\s+error\s+(\d{3})", re.IGNORECASE)


def embedded_status(text: str) -> int | None:
    """The HTTP error an endpoint reports inside a 200 body (Teams connectors), else None."""
    match = _EMBEDDED_STATUS.search(text or "")
    return int(match.group(1)) if match else None


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date.

    Anything else — empty, ``nan``, ``inf``, negative, garbage — is None, so the caller
    falls back to its own back-off instead of sleeping forever or failing.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        seconds = None
    if seconds is not None:
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # an HTTP date is GMT by definition
        when = when.replace(tzinfo=UTC)
    moment = now if now is not None else datetime.now(UTC)
    return max(0.0, (when - moment).total_seconds())


class _Transient(Exception):
    """One attempt failed in a way a later attempt may not (throttling, 5xx, network)."""

    def __init__(self, detail: str, retry_after: float | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.retry_after = retry_after


@dataclass(frozen=True)
class _Wait:
    """Tenacity wait: the server's ``Retry-After`` when it gave one, else exponential
    back-off ``base × 2**(attempt−1)`` plus uniform jitter in ``[0, jitter)``; capped."""

    base: float
    cap: float
    jitter: float
    rng: random.Random

    def __call__(self, state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome is not None else None
        hinted = getattr(exc, "retry_after", None)
        if hinted is not None:
            return min(float(hinted), self.cap)
        delay = self.base * 2 ** (state.attempt_number - 1)
        if self.jitter > 0:
            delay += self.rng.uniform(0.0, self.jitter)
        return min(delay, self.cap)


def _attempt(url: str, body: bytes, timeout: float, label: str) -> int:
    """One POST: its 2xx status, or ``_Transient`` / ``WebhookRefused``."""
    try:
        status, text, retry_after = _post_once(url, body, timeout)
    except OSError as exc:  # URLError, timeouts, refused connections
        raise _Transient(f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}") from exc
    inner = embedded_status(text) if 200 <= status < 300 else None
    if 200 <= status < 300 and inner is None:
        return status
    code = inner if inner is not None else status
    if code in RETRY_STATUS:
        shown = f"HTTP {status}" + (f" — {text[:200]}" if text else "")
        raise _Transient(shown, parse_retry_after(retry_after))
    raise WebhookRefused(code, text[:200], label)


def send_with_retries(
    url: str,
    payload: Mapping[str, Any],
    *,
    max_attempts: int = 4,
    base_delay: float = 1.0,
    max_delay: float = 30.0,
    jitter: float = 1.0,
    timeout: float = 10.0,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
) -> tuple[int, int]:
    """POST ``payload`` as JSON; returns (HTTP status, attempts used).

    Retried (by ``tenacity``) on connection errors, timeouts, HTTP 408/425/429/5xx and
    on a 200 whose body reports one of those (the Teams legacy connector's throttling).
    Between attempts it waits the server's ``Retry-After`` (seconds or an HTTP date;
    unparseable values such as ``nan`` are ignored) or ``base_delay × 2**(attempt−1)``
    plus up to ``jitter`` seconds, never more than ``max_delay``. Raises
    ``WebhookRefused`` on any other 4xx (also inside a 200 body), ``WebhookUnavailable``
    when every attempt failed.
    """
    _, label = target_of(url)
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    retrying = tenacity.Retrying(
        stop=tenacity.stop_after_attempt(max_attempts),
        wait=_Wait(base_delay, max_delay, jitter, rng or random.Random()),
        retry=tenacity.retry_if_exception_type(_Transient),
        sleep=sleep,
    )
    try:
        status = retrying(_attempt, url, body, timeout, label)
    except WebhookRefused as exc:
        exc.attempts = int(retrying.statistics.get("attempt_number", 1))
        raise
    except tenacity.RetryError as exc:
        last = exc.last_attempt.exception()
        detail = last.detail if isinstance(last, _Transient) else str(last)
        raise WebhookUnavailable(
            f"the webhook at {label} did not accept the digest after {max_attempts} attempts "
            f"(last: {detail}); nothing was recorded as sent, so the next run will try again"
        ) from None
    return status, int(retrying.statistics.get("attempt_number", 1))


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
    jitter: float = 1.0,
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
            jitter=jitter,
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
