"""The daily digest: its content and ids, and posting it to a webhook on a local HTTP server."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine, text

from analytics.governance.digest import build_digest, digest_payload, digest_text
from flows.governance import run_digest
from store.audit import read_events, verify_chain
from store.ingest.load import load_bundle
from store.outbox import (
    DigestError,
    DigestInProgress,
    WebhookRefused,
    WebhookUnavailable,
    post_digest,
    sent_digests,
    target_of,
)
from tests.conftest import write_bundle
from tests.governance.test_ownership import NOW, T, tiny


class Hook:
    """A scripted incoming webhook: answers with the next status of ``script`` (then 200)."""

    def __init__(self) -> None:
        # A step is a status, (status, headers) or (status, headers, body).
        self.script: list[int | tuple] = []
        self.bodies: list[dict] = []
        self.delay = 0.0
        self.lock = threading.Lock()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                length = int(self.headers["Content-Length"])
                body = json.loads(self.rfile.read(length))
                time.sleep(hook.delay)
                with hook.lock:
                    step = hook.script.pop(0) if hook.script else 200
                    hook.bodies.append(body)
                step = step if isinstance(step, tuple) else (step,)
                status, headers = step[0], step[1] if len(step) > 1 else {}
                default = "ok" if status < 300 else "Invalid webhook token"
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write((step[2] if len(step) > 2 else default).encode())

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/SECRET-TOKEN"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook() -> Iterator[Hook]:
    h = Hook()
    yield h
    h.close()


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


PAYLOAD = {"text": "hello"}


def _post(engine: Engine, hook: Hook, *, digest_id: str = "2025-01-10-abc", **kw):  # type: ignore[no-untyped-def]
    kw.setdefault("sleep", Sleeps())
    kw.setdefault("role", "admin")
    return post_digest(
        engine,
        digest_id=digest_id,
        payload=PAYLOAD,
        webhook=hook.url,
        fmt="slack",
        actor="scheduler",
        base_delay=0.5,
        jitter=0.0,
        timeout=5,
        **kw,
    )


# --- posting ------------------------------------------------------------------------------
def test_success_posts_once_and_never_twice(sqlite_engine: Engine, hook: Hook) -> None:
    result = _post(sqlite_engine, hook)
    assert result.posted and result.attempts == 1 and result.status_code == 200
    assert hook.bodies == [PAYLOAD]
    again = _post(sqlite_engine, hook)
    assert not again.posted and again.to_json()["already_sent"] is True
    assert len(hook.bodies) == 1
    # Another digest id, or the same one to another webhook, is a new message.
    _post(sqlite_engine, hook, digest_id="2025-01-11-def")
    assert len(hook.bodies) == 2
    row = sent_digests(sqlite_engine)[-1]
    assert (
        row["state"] == "sent"
        and row["target_label"] == f"http://127.0.0.1:{hook.server.server_port}/…"
    )
    # The secret part of the URL is stored nowhere.
    events = read_events(sqlite_engine)
    assert list(events["action"]) == ["digest_post", "digest_post"]
    assert not events["after"].str.contains("SECRET").any()
    assert verify_chain(sqlite_engine).ok


def test_500_then_success_backs_off(sqlite_engine: Engine, hook: Hook) -> None:
    hook.script = [500, 503, 200]
    sleeps = Sleeps()
    result = _post(sqlite_engine, hook, sleep=sleeps)
    assert result.posted and result.attempts == 3
    assert sleeps == [0.5, 1.0]  # base × 2**(attempt − 1)
    assert len(hook.bodies) == 3


def test_retry_after_is_honoured(sqlite_engine: Engine, hook: Hook) -> None:
    hook.script = [(429, {"Retry-After": "3"}), 200]
    sleeps = Sleeps()
    assert _post(sqlite_engine, hook, sleep=sleeps).posted
    assert sleeps == [3.0]


def test_refusal_is_clear_immediate_and_not_recorded_as_sent(
    sqlite_engine: Engine, hook: Hook
) -> None:
    hook.script = [403]
    sleeps = Sleeps()
    with pytest.raises(WebhookRefused) as err:
        _post(sqlite_engine, hook, sleep=sleeps)
    assert err.value.status == 403 and sleeps == [] and len(hook.bodies) == 1
    message = str(err.value)
    assert "refused the digest: HTTP 403 — Invalid webhook token" in message
    assert "Nothing was posted" in message and "SECRET" not in message
    assert sent_digests(sqlite_engine)[0]["state"] == "failed"
    # Once the webhook is fixed, the same digest goes out.
    assert _post(sqlite_engine, hook).posted
    assert len(hook.bodies) == 2


def test_gives_up_after_max_attempts(sqlite_engine: Engine, hook: Hook) -> None:
    hook.script = [500] * 10
    sleeps = Sleeps()
    with pytest.raises(WebhookUnavailable, match="after 3 attempts .*HTTP 500"):
        _post(sqlite_engine, hook, sleep=sleeps, max_attempts=3)
    assert sleeps == [0.5, 1.0] and len(hook.bodies) == 3
    assert sent_digests(sqlite_engine)[0]["state"] == "failed"


def test_unreachable_endpoint_is_retried_then_reported(sqlite_engine: Engine) -> None:
    dead = Hook()
    dead.close()  # nothing listens on that port any more
    sleeps = Sleeps()
    with pytest.raises(WebhookUnavailable, match="did not accept the digest after 2 attempts"):
        _post(sqlite_engine, dead, sleep=sleeps, max_attempts=2)
    assert sleeps == [0.5]


def test_concurrent_runs_post_once(sqlite_engine: Engine, hook: Hook) -> None:
    hook.delay = 0.5
    outcomes: list[object] = []

    def run() -> None:
        try:
            outcomes.append(_post(sqlite_engine, hook).posted)
        except DigestInProgress as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    assert len(hook.bodies) == 1
    assert outcomes.count(True) == 1
    assert all(o is True or isinstance(o, DigestInProgress) or o is False for o in outcomes)


def test_unfinished_attempt_is_not_resent_without_force(sqlite_engine: Engine, hook: Hook) -> None:
    key, label = target_of(hook.url)
    _post(sqlite_engine, hook)
    with sqlite_engine.begin() as conn:  # as if the process died mid-post
        conn.execute(text("UPDATE digest_outbox SET state = 'sending'"))
    with pytest.raises(DigestInProgress, match="may have been delivered"):
        _post(sqlite_engine, hook)
    assert len(hook.bodies) == 1
    assert _post(sqlite_engine, hook, force=True).posted
    assert len(hook.bodies) == 2


def test_only_http_urls(sqlite_engine: Engine) -> None:
    with pytest.raises(DigestError, match="http"):
        post_digest(
            sqlite_engine,
            digest_id="x",
            payload=PAYLOAD,
            webhook="file:///etc/passwd",
            fmt="json",
            actor="a",
            role="admin",
        )


# --- content -----------------------------------------------------------------------------
def test_digest_content_by_hand() -> None:
    recs, dec, own = tiny()
    d = build_digest(recs, dec, own, now=NOW, rule_candidates=None)
    assert d["date"] == "2025-01-10" and d["digest_id"].startswith("2025-01-10-")
    assert (d["n_open"], d["n_breaches"], d["breach_impact_usd"]) == (3, 2, 150.0)
    assert d["breaches_by_owner"] == [
        {
            "owner": "ana",
            "escalation_to": "boss",
            "n_breaches": 1,
            "impact_usd": 100.0,
            "max_hours_overdue": 24.0,
        },
        {
            "owner": "bea",
            "escalation_to": "boss2",
            "n_breaches": 1,
            "impact_usd": 50.0,
            "max_hours_overdue": 116.0,
        },
    ]
    assert [r["rec_id"] for r in d["top_open"]] == ["r4", "r7", "r3"]  # by impact
    assert d["top_open"][2]["hours_overdue"] is None and d["top_open"][2]["hours_open"] == 12.0
    assert d["rule_candidates"] is None
    assert any("Rule candidates left out" in n for n in d["notes"])
    text_out = digest_text(d)
    assert "ana: 1 past SLA ($100, up to 24 h overdue), escalates to boss" in text_out


def test_digest_id_is_stable_within_a_day_and_changes_with_new_breaches() -> None:
    recs, dec, own = tiny()
    morning = build_digest(recs, dec, own, now=NOW + pd.Timedelta(hours=1))
    noon = build_digest(recs, dec, own, now=NOW + pd.Timedelta(hours=11))
    assert morning["digest_id"] == noon["digest_id"]  # hours overdue changed, the items did not
    evening = build_digest(recs, dec, own, now=NOW + pd.Timedelta(hours=13))  # r3 now breached
    assert evening["digest_id"] != noon["digest_id"]
    assert build_digest(recs, dec, own, now=T("2025-01-11 01:00"))["digest_id"].startswith(
        "2025-01-11-"
    )


def test_payload_formats() -> None:
    recs, dec, own = tiny()
    rules = [{"id": "k1", "conditions": {"supplier": "SUP-017", "quarter": "Q4"}, "direction": "increase",
              "support": 12, "confidence": 0.9, "median_adjustment_pct": 25.0}]  # fmt: skip
    d = build_digest(recs, dec, own, now=NOW, rule_candidates=rules)
    teams = digest_payload(d, fmt="teams", app_url="https://wb.example")
    card = teams["attachments"][0]
    assert teams["type"] == "message"
    assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
    body_text = json.dumps(card["content"]["body"])
    assert "SLA breaches by owner" in body_text and "supplier=SUP-017 & quarter=Q4" in body_text
    assert card["content"]["actions"][0]["url"] == "https://wb.example"
    slack = digest_payload(d, fmt="slack")
    assert slack["text"].startswith("Decision digest 2025-01-10")
    assert slack["blocks"][0]["type"] == "header"
    assert any("New rule candidates" in b.get("text", {}).get("text", "") for b in slack["blocks"])
    assert digest_payload(d, fmt="json") == {"digest": d}
    with pytest.raises(ValueError, match="teams, slack, json"):
        digest_payload(d, fmt="email")


def test_run_digest_from_the_store(sqlite_engine: Engine, hook: Hook, tmp_path: Path) -> None:
    from tests.governance.test_page_ownership import DECS, OWNERS, RECS

    bundle = write_bundle(
        tmp_path / "b", {"recommendations": RECS, "decisions": DECS, "owners": OWNERS}
    )
    load_bundle(bundle, engine=sqlite_engine, actor="t", role="admin")
    printed = run_digest(sqlite_engine, fmt="json", now=NOW, role="admin")
    assert printed["post"] is None and printed["payload"]["digest"]["n_breaches"] == 2
    first = run_digest(
        sqlite_engine, webhook=hook.url, fmt="teams", now=NOW, base_delay=0.01, role="admin"
    )
    assert first["post"]["posted"] is True and first["digest_id"] == printed["digest_id"]
    second = run_digest(
        sqlite_engine, webhook=hook.url, fmt="teams", now=NOW + pd.Timedelta(hours=2), role="admin"
    )
    assert second["post"]["already_sent"] is True
    assert len(hook.bodies) == 1 and hook.bodies[0]["type"] == "message"


def test_a_rule_that_costs_more_than_it_saves_is_marked_in_the_digest() -> None:
    recs, dec, own = tiny()
    rules = [
        {"id": "k1", "conditions": {"supplier": "SUP-017"}, "direction": "increase",
         "support": 12, "confidence": 0.9, "median_adjustment_pct": 25.0},
        {"id": "k2", "conditions": {"decided_by": "j.nguyen"}, "direction": "decrease",
         "support": 40, "confidence": 0.4, "median_adjustment_pct": -30.0, "costs_more": True},
    ]  # fmt: skip
    d = build_digest(recs, dec, own, now=NOW, rule_candidates=rules)
    assert "costs_more" not in d["rule_candidates"][0]
    assert d["rule_candidates"][1]["costs_more"] is True
    text = json.dumps(digest_payload(d, fmt="slack"), ensure_ascii=False)
    assert "decided_by=j.nguyen → decrease" in text
    assert text.count("⚠ costs more than it saves") == 1  # k2 only
    assert "supplier=SUP-017 → increase, median +25%, 12 overrides, confidence 90%" in text
