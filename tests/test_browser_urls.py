"""Every page at the URL its name suggests, in a real browser (fixtures of test_browser.py)."""

from __future__ import annotations

import pytest

from tests.test_browser import page, server, store_db  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser


def test_data_page_answers_at_data_and_the_root_opens_it(page, server: str) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    page.goto(f"{server}/data")
    page.get_by_role("heading", name="Data").first.wait_for()
    page.get_by_text("Data health").first.wait_for()
    assert page.get_by_text("Page not found").count() == 0
    page.goto(server)
    page.get_by_text("Data health").first.wait_for()
    page.wait_for_url("**/data")
    nav = page.locator('[data-testid="stSidebarNavLink"]')
    assert nav.count() == 7  # the seven pages; the root's redirect is not listed as a page
    assert page.locator('[data-testid="stException"]').count() == 0
