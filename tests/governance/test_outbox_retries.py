"""Delivery retries: throttling hidden in a 200 body (Teams), Retry-After forms, jitter."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from sqlalchemy import Engine

from store.outbox import (
    WebhookRefused,
    embedded_status,
    parse_retry_after,
    send_with_retries,
    sent_digests,
)
from tests.governance.test_digest import Hook, Sleeps, _post


@pytest.fixture
def hook() -> Iterator[Hook]:
    h = Hook()
    yield h
    h.close()


TEAMS_THROTTLED = (
    "Webhook message delivery failed with error: Microsoft Teams endpoint returned "
    "HTTP error 429 with ContextId tcid=0,server=msgapi-production-eus-azsc2-4-170,cv=deadbeef"
)


def test_teams_throttling_in_a_200_body_is_retried_not_recorded_as_sent(
    sqlite_engine: Engine, hook: Hook
) -> None:
    hook.script = [(200, {}, TEAMS_THROTTLED), (200, {}, "1")]
    sleeps = Sleeps()
    result = _post(sqlite_engine, hook, sleep=sleeps)
    assert result.posted and result.attempts == 2 and sleeps == [0.5]
    assert len(hook.bodies) == 2
    assert sent_digests(sqlite_engine)[0]["state"] == "sent"


def test_teams_throttling_every_time_is_a_failure_not_a_delivery(
    sqlite_engine: Engine, hook: Hook
) -> None:
    hook.script = [(200, {}, TEAMS_THROTTLED)] * 3
    with pytest.raises(Exception, match="after 3 attempts .*HTTP error 429"):
        _post(sqlite_engine, hook, max_attempts=3)
    assert sent_digests(sqlite_engine)[0]["state"] == "failed"


def test_a_refusal_inside_a_200_body_is_not_retried(sqlite_engine: Engine, hook: Hook) -> None:
    hook.script = [(200, {}, "Microsoft Teams endpoint returned HTTP error 400: bad payload")]
    sleeps = Sleeps()
    with pytest.raises(WebhookRefused) as err:
        _post(sqlite_engine, hook, sleep=sleeps)
    assert err.value.status == 400 and sleeps == [] and len(hook.bodies) == 1


@pytest.mark.parametrize("header", ["nan", "NaN", "inf", "-5", "soon", ""])
def test_unusable_retry_after_falls_back_to_back_off(
    sqlite_engine: Engine, hook: Hook, header: str
) -> None:
    hook.script = [(429, {"Retry-After": header}), 200]
    sleeps = Sleeps()
    assert _post(sqlite_engine, hook, sleep=sleeps).posted
    assert sleeps == [0.5]


def test_retry_after_as_an_http_date(sqlite_engine: Engine, hook: Hook) -> None:
    past = format_datetime(datetime.now(UTC) - timedelta(minutes=5), usegmt=True)
    hook.script = [(503, {"Retry-After": past}), 200]
    sleeps = Sleeps()
    assert _post(sqlite_engine, hook, sleep=sleeps).posted
    assert sleeps == [0.0]  # a date already gone: retry at once


def test_retry_after_is_capped(sqlite_engine: Engine, hook: Hook) -> None:
    hook.script = [(429, {"Retry-After": "3600"}), 200]
    sleeps = Sleeps()
    result = send_with_retries(hook.url, {"t": 1}, base_delay=0.5, max_delay=7.0, sleep=sleeps)
    assert result == (200, 2) and sleeps == [7.0]


def test_jitter_is_added_to_the_back_off(hook: Hook) -> None:
    class Fixed(random.Random):
        def uniform(self, a: float, b: float) -> float:
            return a + 0.75 * (b - a)

    hook.script = [500, 500, 200]
    sleeps = Sleeps()
    send_with_retries(hook.url, {"t": 1}, base_delay=0.5, jitter=0.4, sleep=sleeps, rng=Fixed())
    assert sleeps == pytest.approx([0.5 + 0.3, 1.0 + 0.3])


def test_parse_retry_after_by_hand() -> None:
    now = datetime(2015, 10, 21, 7, 27, 30, tzinfo=UTC)
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=now) == 30.0
    assert parse_retry_after(" 120 ", now=now) == 120.0
    assert parse_retry_after("1.5") == 1.5
    for bad in (None, "nan", "Infinity", "-1", "tomorrow", "Wed, 99 Foo 2015"):
        assert parse_retry_after(bad, now=now) is None


def test_embedded_status() -> None:
    assert embedded_status(TEAMS_THROTTLED) == 429
    assert embedded_status("1") is None and embedded_status("") is None
    assert embedded_status("ok, returned http error 503 upstream") == 503
