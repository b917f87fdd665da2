"""The Ownership page's Digest routing tab as an admin and a reader meet it (AppTest)."""

from __future__ import annotations

from sqlalchemy import Engine
from streamlit.testing.v1 import AppTest

from store.audit import read_events
from store.settings import get_setting
from store.users import add_user
from store.webhooks import APP_URL, get_routes
from tests.governance.test_page_ownership import (  # noqa: F401
    APP,
    PAGE,
    _df,
    _open_page,
    _open_tab,
    store,
)

HOOK_A = "https://hooks.example.com/services/T000/B000/SECRET-A"
HOOK_B = "https://outlook.example.com/webhookb2/SECRET-B"


def _save(at: AppTest, label: str) -> AppTest:
    next(b for b in at.button if b.label == label).click()
    at.run()
    assert not at.exception, at.exception
    return at


def test_admin_routes_two_people_and_sets_the_app_url(store: Engine) -> None:  # noqa: F811
    at = _open_tab(_open_page(), "Digest routing")
    table = _df(at, "person", "as", "webhook")
    assert list(table["person"]) == ["ana", "bea", "boss", "boss2", "cy"]
    assert set(table["webhook"]) == {"none"}
    at.selectbox(key="ownership_route_person").set_value("ana")
    at.text_input(key="ownership_route_url").input(HOOK_A)
    _save(at, "Save route")
    assert any("ana's digest now goes to their own webhook" in s.value for s in at.success)
    # The form starts clean for the next person (no secret left in the field).
    assert at.text_input(key="ownership_route_url").value == ""
    at.selectbox(key="ownership_route_person").set_value("boss")
    at.text_input(key="ownership_route_url").input(HOOK_B)
    _save(at, "Save route")
    routes = get_routes(store)
    assert routes.people == {"ana": HOOK_A, "boss": HOOK_B}
    at.text_input(key="ownership_default").input("https://chat.example.com/hooks/SECRET-D")
    at.text_input(key="ownership_app_url").input("https://wb.example.com/")
    _save(at, "Save default and app URL")
    assert get_setting(store, APP_URL) == "https://wb.example.com"
    table = _df(at, "person", "as", "webhook").set_index("person")
    assert table.loc["ana", "webhook"].startswith("https://hooks.example.com/… #")
    assert table.loc["bea", "webhook"].startswith("default: https://chat.example.com/… #")
    assert table.loc["boss", "as"] == "escalation contact"
    shown = " ".join(map(str, table["webhook"]))
    assert "SECRET" not in shown
    events = read_events(store)
    routed = events[events["entity_id"] == "digest_webhooks"]
    assert len(routed) == 3 and not routed["after"].astype(str).str.contains("SECRET").any()
    # Clearing a person's URL sends them back to the default.
    at.selectbox(key="ownership_route_person").set_value("ana")
    _save(at, "Save route")
    assert "ana" not in get_routes(store).people


def test_a_bad_url_is_refused_with_a_reason(store: Engine) -> None:  # noqa: F811
    at = _open_tab(_open_page(), "Digest routing")
    at.selectbox(key="ownership_route_person").set_value("bea")
    at.text_input(key="ownership_route_url").input("ftp://files.example.com/x")
    _save(at, "Save route")
    assert any("http(s)" in e.value for e in at.error)
    assert get_routes(store).people == {}


def test_a_reader_sees_the_routing_but_cannot_change_it(store: Engine) -> None:  # noqa: F811
    add_user(store, "root", role="admin", password="admin-pass", actor="t", actor_role="admin")
    add_user(store, "eve", role="exec", password="exec-pass", actor="t", actor_role="admin")
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.text_input(key="auth_name").input("eve")
    at.text_input(key="auth_password").input("exec-pass")
    next(b for b in at.button if b.label == "Sign in").click()
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    _open_tab(at, "Digest routing")
    assert any("Only an admin can change the routing" in c.value for c in at.caption)
    assert not [b for b in at.button if b.label == "Save route"]
    assert len(_df(at, "person", "as", "webhook")) == 5
