"""Per-person digests from the store: routing, once per digest id, failure isolation, audit."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine

from flows.digests import UnknownPerson, build_person_digests, post_person_digests
from store.audit import read_events, verify_chain
from store.ingest.load import load_bundle
from store.outbox import DigestError
from store.roles import PermissionDenied
from store.settings import set_setting
from store.webhooks import APP_URL, get_routes, set_routes
from tests.conftest import write_bundle
from tests.governance.test_digest import Hook, Sleeps
from tests.governance.test_ownership import NOW
from tests.governance.test_page_ownership import DECS, OWNERS, RECS


@pytest.fixture
def hooks() -> Iterator[dict[str, Hook]]:
    made = {name: Hook() for name in ("ana", "bea", "default")}
    yield made
    for h in made.values():
        h.close()


@pytest.fixture
def loaded(engine: Engine, tmp_path: Path) -> Engine:
    bundle = write_bundle(
        tmp_path / "b", {"recommendations": RECS, "decisions": DECS, "owners": OWNERS}
    )
    load_bundle(bundle, engine=engine, actor="t", role="admin")
    return engine


def _post(engine: Engine, built: list[dict], **kw):  # type: ignore[no-untyped-def]
    kw.setdefault("role", "sop_lead")
    return post_person_digests(
        engine, built, actor="scheduler", base_delay=0.01, jitter=0.0, sleep=Sleeps(), **kw
    )


def test_owner_digest_from_the_store_with_saved_app_url(loaded: Engine) -> None:
    set_setting(loaded, APP_URL, "https://wb.example", actor="admin", role="admin")
    (one,) = build_person_digests(loaded, owner=["ana"], now=NOW)
    d = one["digest"]
    assert (one["kind"], one["recipient"]) == ("owner", "ana")
    assert [i["rec_id"] for i in d["top_open"]] == ["r4", "r3"]
    assert [i["url"] for i in d["breaches"]] == ["https://wb.example/why?rec=r4"]
    # An explicit --app-url wins over the saved one.
    (other,) = build_person_digests(loaded, owner=["ana"], now=NOW, app_url="http://h:8501")
    assert other["digest"]["top_open"][0]["url"] == "http://h:8501/why?rec=r4"
    with pytest.raises(UnknownPerson, match="zed.*owners: ana, bea, cy"):
        build_person_digests(loaded, owner=["zed"], now=NOW)


def test_all_owners_post_to_each_webhook_once_and_a_failure_does_not_stop_the_rest(
    loaded: Engine, hooks: dict[str, Hook]
) -> None:
    set_routes(
        loaded,
        {
            "people": {"ana": hooks["ana"].url, "bea": hooks["bea"].url},
            "default": hooks["default"].url,
        },
        actor="admin",
        role="admin",
    )
    hooks["ana"].script = [403]  # ana's channel refuses the first message
    built = build_person_digests(loaded, all_owners=True, fmt="slack", now=NOW)
    assert [(b["kind"], b["recipient"]) for b in built] == [
        ("owner", "ana"), ("owner", "bea"), ("escalation", "boss"), ("escalation", "boss2"),
    ]  # fmt: skip
    first = _post(loaded, built)
    by = {r["recipient"]: r for r in first["results"]}
    assert "HTTP 403" in by["ana"]["error"] and not by["ana"]["posted"]
    assert by["bea"]["posted"] and by["boss"]["posted"] and by["boss2"]["posted"]
    assert (first["n_posted"], first["n_failed"]) == (3, 1)
    assert len(hooks["ana"].bodies) == 1 and len(hooks["bea"].bodies) == 1
    assert len(hooks["default"].bodies) == 2  # boss and boss2 have no webhook of their own
    assert "for bea" in hooks["bea"].bodies[0]["text"]
    assert "SECRET" not in str(first)
    # The next run: ana's refused digest goes out now; nothing else is sent twice.
    again = _post(loaded, build_person_digests(loaded, all_owners=True, fmt="slack", now=NOW))
    assert (again["n_posted"], again["n_already_sent"], again["n_failed"]) == (1, 3, 0)
    assert [len(h.bodies) for h in hooks.values()] == [2, 1, 2]
    assert verify_chain(loaded).ok


def test_a_person_without_a_webhook_is_reported_not_skipped_silently(
    loaded: Engine, hooks: dict[str, Hook]
) -> None:
    built = build_person_digests(loaded, owner=["ana", "bea"], now=NOW)
    out = _post(loaded, built, routes=get_routes(loaded))
    assert out["n_failed"] == 2 and "no webhook for ana" in out["results"][0]["error"]
    # The run's --webhook serves everyone without one of their own.
    out = _post(loaded, built, webhook=hooks["default"].url)
    assert out["n_posted"] == 2 and len(hooks["default"].bodies) == 2


def test_routes_are_admin_only_validated_and_audited_without_secrets(
    loaded: Engine, hooks: dict[str, Hook]
) -> None:
    with pytest.raises(PermissionDenied):
        set_routes(loaded, {"people": {"ana": hooks["ana"].url}}, actor="p", role="planner")
    with pytest.raises(DigestError, match="http"):
        set_routes(loaded, {"people": {"ana": "file:///x"}}, actor="a", role="admin")
    set_routes(loaded, {"people": {"ana": hooks["ana"].url, " ": "x"}}, actor="a", role="admin")
    routes = get_routes(loaded)
    assert routes.people == {"ana": hooks["ana"].url} and routes.default is None
    assert routes.webhook_for("bea") is None and routes.webhook_for("ana") == hooks["ana"].url
    events = read_events(loaded)
    change = events[events["entity_id"] == "digest_webhooks"]
    assert len(change) == 1 and "SECRET" not in str(change["after"].iloc[0])
    assert "127.0.0.1" in str(change["after"].iloc[0])
    # Saving the same routing again records nothing.
    set_routes(loaded, routes, actor="a", role="admin")
    assert len(read_events(loaded)) == len(events)


def test_a_role_that_may_not_post_digests_sends_nothing(
    loaded: Engine, hooks: dict[str, Hook]
) -> None:
    built = build_person_digests(loaded, owner=["ana"], now=NOW)
    with pytest.raises(PermissionDenied):
        _post(loaded, built, webhook=hooks["default"].url, role="planner")
    assert hooks["default"].bodies == []


def test_escalations_only(loaded: Engine) -> None:
    built = build_person_digests(loaded, escalations=True, now=NOW + pd.Timedelta(hours=13))
    assert [b["recipient"] for b in built] == ["boss", "boss2"]
    assert [i["rec_id"] for i in built[0]["digest"]["breaches"]] == ["r4", "r3"]
