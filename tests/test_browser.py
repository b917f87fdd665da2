"""The real thing: `streamlit run app.py` on a free port, opened in headless Chromium.

Needs Debian's chromium at /usr/bin/chromium (``.ci/run`` installs it); skipped otherwise.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.browser


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def _serve(db: Path) -> Iterator[str]:
    """``streamlit run app.py`` on a free port over the store ``db``; yields its URL."""
    port = _free_port()
    env = {**os.environ, "WORKBENCH_DB": f"sqlite:///{db}"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(REPO / "app.py"),
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--server.headless",
            "true",
            "--browser.gatherUsageStats",
            "false",
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                time.sleep(0.5)
        else:
            raise RuntimeError("streamlit did not become healthy within 90 s")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def store_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not CHROMIUM.exists():
        pytest.skip(
            "headless Chromium not installed at /usr/bin/chromium (apt-get install chromium)"
        )
    pytest.importorskip("playwright.sync_api")
    return tmp_path_factory.mktemp("browser") / "store.db"


@pytest.fixture(scope="module")
def server(store_db: Path) -> Iterator[str]:
    with _serve(store_db) as url:
        yield url


@pytest.fixture(scope="module")
def page(server: str) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        pg = browser.new_page(viewport={"width": 1400, "height": 1000})
        pg.set_default_timeout(120_000)
        try:
            yield pg
        finally:
            browser.close()


def _metric_value(pg, label: str) -> str:  # type: ignore[no-untyped-def]
    # A figure tile (ui.tiles): one Markdown element, its label a paragraph, its value a heading.
    tile = pg.locator('[data-testid="stMarkdown"]', has=pg.get_by_text(label, exact=True)).first
    tile.wait_for()
    return tile.locator("h2").inner_text().strip()


def test_data_page_renders_real_counts(page, server: str) -> None:  # type: ignore[no-untyped-def]
    from store.ingest.sample import SAMPLE_BUNDLE

    page.goto(server)
    page.get_by_text("Data health").wait_for()
    recs = _metric_value(page, "Recommendations")
    expected = sum(1 for _ in open(SAMPLE_BUNDLE / "recommendations.csv", encoding="utf-8")) - 1
    assert int(re.sub(r"[^\d]", "", recs)) == expected
    assert page.get_by_text("sample data").first.is_visible()
    assert page.locator('[data-testid="stException"]').count() == 0


PAGE_CHECKS = [
    # (url path, heading, a piece of real content that only renders once the analysis ran)
    ("baseline", "Baseline vs go-live", "Decision latency (median)"),
    ("overrides", "Override patterns", "Capture gap"),
    ("why", "Why this fired", "Fidelity (held-out R²)"),
    ("ownership", "Ownership & SLA", "Readiness gates"),
    ("audit", "Audit trail", "Chain intact"),
    ("health", "Model health", "Judged for calibration"),
]


@pytest.mark.parametrize(
    ("path", "heading", "content"), PAGE_CHECKS, ids=[p[0] for p in PAGE_CHECKS]
)
def test_each_page_opens_by_url_and_renders(
    page, server: str, path: str, heading: str, content: str
) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{server}/{path}")
    page.get_by_role("heading", name=heading).first.wait_for()
    page.get_by_text(content).first.wait_for()
    nav = page.locator('[data-testid="stSidebarNavLink"]')
    # Only the seven pages are navigable: helper modules never show up as pages.
    assert nav.count() == 7
    assert page.locator('[data-testid="stException"]').count() == 0


def test_a_page_url_on_a_freshly_started_server_still_gets_the_app(page, store_db: Path) -> None:  # type: ignore[no-untyped-def]
    """A bookmark opened right after a restart: Streamlit's folder discovery of pages/ must not
    run the page bare (no sign-in, no sidebar, helper modules listed as pages)."""
    with _serve(store_db) as fresh:
        page.goto(f"{fresh}/why")
        page.get_by_role("heading", name="Why this fired").first.wait_for()
        page.get_by_text("Signed in as").first.wait_for()
        nav = page.locator('[data-testid="stSidebarNavLink"]')
        assert nav.count() == 7
        assert "cache" not in nav.all_inner_texts()
        assert page.locator('[data-testid="stException"]').count() == 0


def test_sign_in_survives_a_reload_and_a_new_tab_on_the_asked_for_page(
    page, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """A bookmarked deep link asks for sign-in, lands on that page with its query string, and
    F5 or a new tab keeps the session (a signed cookie, not the password, in the browser)."""
    from store.db import dispose_engine, get_engine
    from store.users import add_user

    db = tmp_path / "signin.db"
    url_db = f"sqlite:///{db}"
    add_user(
        get_engine(url_db), "ana", role="planner", password="a long passphrase",
        actor="test", actor_role="admin",
    )  # fmt: skip
    dispose_engine(url_db)
    context = page.context.browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(120_000)
    tab = context.new_page()
    try:
        with _serve(db) as server:
            tab.goto(f"{server}/audit?actor=ana")
            tab.get_by_role("heading", name="Sign in").first.wait_for()
            assert tab.locator('[data-testid="stSidebarNavLink"]').count() == 0
            tab.get_by_label("User name").fill("ana")
            tab.get_by_label("Password", exact=True).fill("a long passphrase")
            tab.get_by_role("button", name="Sign in").click()
            tab.get_by_role("heading", name="Audit trail").first.wait_for()
            assert "/audit?actor=ana" in tab.url
            tab.get_by_text("Signed in as").first.wait_for()
            # The cookie is written by the page's script after the render that shows the
            # name: on a busy machine it lands a moment later (wait for it, up to 30 s).
            cookies: dict[str, str] = {}
            for _ in range(300):
                cookies = {c["name"]: c["value"] for c in context.cookies()}
                if "wb_session" in cookies:
                    break
                tab.wait_for_timeout(100)
            assert "wb_session" in cookies and "passphrase" not in cookies["wb_session"]

            tab.reload()  # F5
            tab.get_by_role("heading", name="Audit trail").first.wait_for()
            tab.get_by_text("Signed in as").first.wait_for()
            assert tab.get_by_role("heading", name="Sign in").count() == 0
            assert "/audit" in tab.url
            assert tab.locator('[data-testid="stSidebarNavLink"]').count() == 7

            other = context.new_page()  # a new tab on another page
            other.goto(f"{server}/why")
            other.get_by_role("heading", name="Why this fired").first.wait_for()
            other.get_by_text("Signed in as").first.wait_for()
            assert other.get_by_role("heading", name="Sign in").count() == 0

            other.get_by_role("button", name="Sign out").click()  # revokes the token
            other.get_by_role("heading", name="Sign in").first.wait_for()
            tab.reload()
            tab.get_by_role("heading", name="Sign in").first.wait_for()
            assert tab.locator('[data-testid="stException"]').count() == 0
    finally:
        context.close()


def _click_tab(page, name: str, shows) -> None:  # type: ignore[no-untyped-def]
    """Click tab ``name`` until ``shows`` (a locator of its content) is drawn: a click that
    lands while the page is rerunning (the analyses finishing in the background) is lost."""
    for _ in range(5):
        page.get_by_role("tab", name=name).click()
        try:
            shows.first.wait_for(timeout=10_000)
            return
        except Exception:  # noqa: BLE001 - click again
            continue
    raise AssertionError(f"tab {name} did not open")


def _option_text(page, pick, index: int) -> str:  # type: ignore[no-untyped-def]
    """The text of option ``index`` of the selectbox ``pick`` (a react-aria combo box), its
    list opened and closed again; opened again if a rerun closed it first."""
    options = page.get_by_role("option")
    for _ in range(5):
        pick.get_by_role("button", name="Open").click()
        try:
            options.nth(index).wait_for(timeout=5_000)
            text = options.nth(index).inner_text().strip()
        except Exception:  # noqa: BLE001 - closed by a rerun: open it again
            continue
        page.keyboard.press("Escape")
        return text
    raise AssertionError("the selectbox's list did not open")


def test_a_rule_picked_on_override_patterns_outlives_another_tab(page, server: str) -> None:  # type: ignore[no-untyped-def]
    """Only the open tab is drawn, so a served Streamlit forgets the closed tab's widgets: the
    rule picked under Candidate rules must still be the one shown after a look elsewhere."""
    idle = page.locator('[data-testid="stStatusWidget"]')
    page.goto(f"{server}/overrides")
    page.get_by_text("Capture gap").first.wait_for()
    idle.wait_for(state="hidden")
    pick = page.locator('[data-testid="stSelectbox"]', has_text="Evidence for rule")
    _click_tab(page, "Candidate rules", pick)
    idle.wait_for(state="hidden")
    second = _option_text(page, pick, 1)
    box = pick.get_by_role("combobox")
    assert box.input_value() != second
    options = page.get_by_role("option")
    box.fill(second)  # typed, as a planner narrows a long list, and taken with Enter
    options.first.wait_for()
    page.keyboard.press("Enter")
    page.get_by_text("What if this rule had been policy?").wait_for()
    page.wait_for_function("([el, want]) => el.value === want", arg=[box.element_handle(), second])
    _click_tab(page, "Did it pay off?", page.get_by_text("Costing more than they saved"))
    _click_tab(page, "Reason themes", page.get_by_text("Drill into a theme"))
    _click_tab(page, "Candidate rules", pick)
    page.get_by_text("What if this rule had been policy?").wait_for()
    assert pick.get_by_role("combobox").input_value() == second
    assert page.locator('[data-testid="stException"]').count() == 0


def test_the_go_live_picked_in_the_sidebar_holds_across_pages(page, server: str) -> None:  # type: ignore[no-untyped-def]
    """The go-live picker sits in a popover (drawn only when opened): a date picked there is the
    one the label shows and the next page keeps, and a second pick replaces the first."""
    idle = page.locator('[data-testid="stStatusWidget"]')
    page.goto(f"{server}/baseline")
    page.get_by_text("Decision latency (median)").first.wait_for()
    idle.wait_for(state="hidden")
    sidebar = page.locator('[data-testid="stSidebar"]')
    assert sidebar.locator('[data-testid="stDateInput"]').count() == 0  # not drawn until opened
    sidebar.get_by_role("button", name="Go-live:").click()
    for day in ("15", "20"):
        page.get_by_role("spinbutton", name="day, Go-live date").click()
        page.keyboard.type(day)
        page.keyboard.press("Tab")  # the typed date is taken when the field is left
        page.keyboard.press("Tab")
        sidebar.get_by_role("button", name=re.compile(rf"^\W*Go-live: {day} ")).wait_for()
        idle.wait_for(state="hidden")
    page.keyboard.press("Escape")
    page.get_by_text(re.compile(r"Go-live \d{4}-\d\d-20")).first.wait_for()  # the page uses it
    sidebar.get_by_role("link", name="Why this fired").click()
    page.get_by_text("Fidelity (held-out R²)").first.wait_for()
    sidebar.get_by_role("button", name=re.compile(r"^\W*Go-live: 20 ")).wait_for()
    assert sidebar.get_by_role("button", name="Save go-live for everyone").is_enabled()
    assert page.locator('[data-testid="stException"]').count() == 0
