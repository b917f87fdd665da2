"""Page benchmark in a real browser: every page's first visit after a server start, warm, and
in a new browser session, with the load that came before, at one or more sizes.

    python bench/pages.py --rows 100000 1000000
    python bench/pages.py --store /tmp/store.db      # time the pages of a store already loaded

For each size: generates the full six-table bundle (cached under bench/out/, as
bench/load.py does), loads it with ``cli.py load`` into a fresh SQLite store (which also
builds the derived artefacts: the load and the build are timed apart), then for each page
starts ``streamlit run app.py`` on 127.0.0.1, opens the page by URL in headless Chromium
(Playwright, /usr/bin/chromium) and times until its real content is drawn (checked on every
animation frame: Playwright's own waits poll every 500 ms once they have lasted a quarter
of a second, which made every figure up to half a second late):

* ``cold``   — first visit right after the server start (a fresh server per page);
* ``warm``   — the same page opened again in the same browser session;
* ``new session`` — the page in a new browser context (a new Streamlit session, nothing in
  the browser's cache);
* ``decision`` — on a copy of the store, a planner's decisions in a row on the Why page: from
  the click on *Record decision* until it shows recorded and the next recommendation's form.

Each page is timed ``--repeat`` times (3), each on a freshly started server, and each visit
starts once the one before it has finished drawing (untimed): the median of each figure is
printed with the range. Wall times on this machine swing by a second from run to run. Each
figure is printed with the server's CPU seconds over the same visit (from /proc): on a
machine shared with other work the wall time swings with their load, the CPU much less.
Note that ``warm`` reloads the page, which Streamlit serves as a new session too; the
difference from ``new session`` is the browser's cache.

Targets at 1M on a 2-core machine: cold ≤ 3 s, warm ≤ 1 s, new session ≤ 1.5 s, a decision
and the next render ≤ 1 s. The
growth table prints, per page, the cold visit at each size, so the cost per 10× rows shows.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from load import ensure_bundle  # noqa: E402

from tests.test_browser import CHROMIUM, _serve  # noqa: E402

# (url path, what only shows once the page's real content rendered)
PAGES = [
    ("", "Data health"),
    ("baseline", "Decision latency (median)"),
    ("overrides", "Capture gap"),
    ("why", "Fidelity (held-out R²)"),
    ("ownership", "Open past SLA"),
    ("audit", "Chain intact"),
    ("health", "Open alerts"),
]


def load_store(bundle: Path, db: Path) -> tuple[float, str]:
    """``cli.py load`` of the whole bundle into ``db``; (wall seconds, its stderr tail)."""
    env = {**os.environ, "WORKBENCH_DB": f"sqlite:///{db}"}
    t0 = time.perf_counter()
    out = subprocess.run(
        [sys.executable, str(REPO / "cli.py"), "load", str(bundle), "--by", "bench"],
        env=env,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - t0
    if out.returncode not in (0, 1):
        raise RuntimeError(out.stderr[-2000:])
    return seconds, out.stderr


def _server_cpu() -> float:
    """CPU seconds used so far by the ``streamlit run`` child of this process (Linux /proc):
    on a shared machine the wall time swings with the others' load, the server's CPU less."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == os.getpid() and b"streamlit" in cmdline:
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


# True once a visible element's own text holds one of ``a.texts`` and is not ``a.other_than`` (every text node of the page, walked once
# per animation frame). Playwright's own waits poll every 500 ms once a wait has lasted about a
# quarter of a second (its retry intervals are 0, 20, 50, 100, 100, 500 ms), so a figure timed
# with them is late by up to half a second; this one is late by a frame at most.
_SHOWN = """a => {
  const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walk.nextNode(); n; n = walk.nextNode()) {
    const e = n.parentElement;
    const t = n.textContent;
    if (a.texts.some(x => t.includes(x)) && t.trim() !== a.other_than && e && e.checkVisibility())
      return true;
  }
  return false;
}"""


def _shown(page, text: str | list[str], other_than: str = "") -> None:  # type: ignore[no-untyped-def]
    """Until ``text`` (or one of them) is drawn on ``page``, in a text other than
    ``other_than``: checked on every animation frame, not polled."""
    texts = [text] if isinstance(text, str) else text
    page.wait_for_function(_SHOWN, arg={"texts": texts, "other_than": other_than}, polling="raf")


def _launch(p):  # type: ignore[no-untyped-def]
    """Headless Chromium from the machine's package manager (Playwright's ``p``)."""
    return p.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox", "--disable-gpu"]
    )


def _opened(browser, server: str, path: str):  # type: ignore[no-untyped-def]
    """A new browser session on page ``path`` of ``server``, once its marker is drawn."""
    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    page.set_default_timeout(300_000)
    page.goto(f"{server}/{path}")
    _shown(page, dict(PAGES)[path])
    return page


def _visit(page, url: str, marker: str) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """(wall seconds until ``marker`` shows, server CPU seconds meanwhile), then waits, untimed,
    until the page has finished drawing the rest: the browser shares the machine's two cores
    with the server, and the next visit should not pay for this one's charts."""
    c0, t0 = _server_cpu(), time.perf_counter()
    page.goto(url)
    _shown(page, marker)
    timed = time.perf_counter() - t0, _server_cpu() - c0
    _settle(page)
    return timed


def _settle(page) -> None:  # type: ignore[no-untyped-def]
    """Until the script run is over (Streamlit's status widget gone) and a second has passed."""
    page.locator('[data-testid="stStatusWidget"]').wait_for(state="hidden", timeout=60_000)
    page.wait_for_timeout(1000)


def _builders(db: Path) -> list[int]:
    """The pids of the ``cli.py prepare`` processes building artefacts of ``db`` (Linux /proc):
    the server starts one after a decision, and it outlives the server."""
    pids = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (proc / "cmdline").read_bytes()
            environ = (proc / "environ").read_bytes()
        except OSError:
            continue
        if b"prepare" in cmdline and str(db).encode() in environ:
            pids.append(int(proc.name))
    return pids


def _median(visits: list[tuple[float, float]]) -> tuple[float, float]:
    """The visit with the median wall time (of an odd number of visits)."""
    return sorted(visits)[len(visits) // 2]


def time_decisions(db: Path, n: int) -> list[tuple[float, float]]:
    """A planner's decisions in a row on the Why page, in one browser session, on a copy of
    ``db`` (a decision writes): for each, from the click on *Record decision* until the
    page shows it recorded, then until the next recommendation's form is drawn; (wall seconds,
    server CPU seconds) of each."""
    import sqlite3

    from playwright.sync_api import sync_playwright

    from tests.conftest import copy_store

    with sqlite3.connect(db) as conn:  # the copy must hold what the WAL holds
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    out: list[tuple[float, float]] = []
    with tempfile.TemporaryDirectory(prefix="wb-decide-") as tmp:
        copy = Path(tmp) / "store.db"
        copy_store(db, copy)
        with sync_playwright() as p, _serve(copy) as server:
            browser = _launch(p)
            page = _opened(browser, server, "why")
            time.sleep(2)  # the planner reads the page first: nothing of it is still running
            for _ in range(n):
                button = page.get_by_role("button", name="Record decision on")
                label = button.first.inner_text()
                rec_id = label.rsplit(" ", 1)[-1]
                c0, t0 = _server_cpu(), time.perf_counter()
                button.first.click()
                _shown(page, f"Recorded: {rec_id} accepted")
                # The next open recommendation's form, ready for the next decision.
                _shown(page, "Record decision on", other_than=label.strip())
                out.append((time.perf_counter() - t0, _server_cpu() - c0))
                print(
                    f"  decision on {rec_id}: {out[-1][0]:.2f} s (server CPU {out[-1][1]:.2f} s)",
                    flush=True,
                )
            browser.close()
            # The artefacts of the new decisions, built in the background: until they are done
            # (the copy is removed next), and how long that took after the last decision.
            t0 = time.perf_counter()
            while _builders(copy):
                time.sleep(0.5)
            print(f"  background rebuild after the last decision: {time.perf_counter() - t0:.1f} s")
    return out


# Ownership's tabs, each drawn only once opened (a rerun): (tab, what only it shows, last:
# the SLA trend and the fatigue chart are timed until their Plotly chart is drawn).
OWNERSHIP_TABS = [
    ("SLA met", ["of created_at (8 largest)", "No recommendation with an owner and an SLA"]),
    ("Unowned", ["Types × sites with no owner", "Every recommendation type has an owner"]),
    ("Fatigue", ["Weekly load against median response", "No owned recommendations to measure"]),
    ("Ownership matrix", ["Download the ownership matrix"]),
    ("Digest routing", ["digest to their webhook below"]),
    ("Readiness gates", ["Go-live readiness", "The readiness gates"]),
    ("Breach queue", ["largest estimated impact first", "No open recommendation is past"]),
]


def time_tabs(db: Path, rounds: int = 2) -> dict[str, list[float]]:
    """Ownership's tab switches in one warm browser session: from the click on a tab until
    its content is drawn, each tab ``rounds`` times; wall seconds of each."""
    from playwright.sync_api import sync_playwright

    out: dict[str, list[float]] = {tab: [] for tab, _ in OWNERSHIP_TABS}
    with sync_playwright() as p, _serve(db) as server:
        browser = _launch(p)
        page = _opened(browser, server, "ownership")
        _settle(page)
        for _ in range(rounds):
            for tab, markers in OWNERSHIP_TABS:
                t0 = time.perf_counter()
                page.get_by_role("tab", name=tab).click()
                _shown(page, markers)
                out[tab].append(time.perf_counter() - t0)
                _settle(page)
        browser.close()
    print(
        "  ownership tab switches (s): "
        + ", ".join(f"{tab} {max(ts):.2f}" for tab, ts in out.items())
        + " (the slower of "
        + f"{rounds})",
        flush=True,
    )
    return out


def time_pages(
    db: Path, only: list[str] | None = None, repeat: int = 3
) -> dict[str, dict[str, tuple[float, float]]]:
    """Each page ``repeat`` times, each time on a freshly started server: cold, warm, then a new
    browser session; the median of each (by wall time) is kept and printed with the spread."""
    from playwright.sync_api import sync_playwright

    results: dict[str, dict[str, tuple[float, float]]] = {}
    with sync_playwright() as p:
        browser = _launch(p)
        for path, marker in PAGES:
            if only and (path or "data") not in only:
                continue
            runs: dict[str, list[tuple[float, float]]] = {"cold": [], "warm": [], "new session": []}
            for _ in range(repeat):
                with _serve(db) as server:
                    url = f"{server}/{path}"
                    for kind, visits in (("cold", 2), ("new session", 1)):
                        context = browser.new_context(viewport={"width": 1400, "height": 1000})
                        page = context.new_page()
                        page.set_default_timeout(300_000)
                        runs[kind].append(_visit(page, url, marker))
                        if visits == 2:  # the same page again, in the same browser session
                            runs["warm"].append(_visit(page, url, marker))
                        context.close()
            medians = {kind: _median(visits) for kind, visits in runs.items()}
            results[path or "data"] = {
                "cold": medians["cold"],
                "warm": medians["warm"],
                "new_session": medians["new session"],
            }
            print(
                f"  {path or 'data':10s} "
                + "   ".join(
                    f"{kind} {w:5.2f} s ({min(runs[kind])[0]:.2f}–{max(runs[kind])[0]:.2f}; "
                    f"server CPU {c:4.2f} s)"
                    for kind, (w, c) in medians.items()
                ),
                flush=True,
            )
        browser.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--store", type=Path, nargs="+", help="SQLite stores already loaded and prepared (no load)"
    )
    parser.add_argument(
        "--pages", nargs="+", help="only these pages (data, baseline, overrides, why, …)"
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="server starts per page (the median is printed)"
    )
    parser.add_argument(
        "--decide",
        type=int,
        default=3,
        help="decisions in a row on the Why page, timed to the next form (0: none)",
    )
    args = parser.parse_args()
    if not CHROMIUM.exists():
        sys.exit(f"needs headless Chromium at {CHROMIUM}")
    if args.store:
        for db in args.store:
            print(f"{db}:")
            time_pages(db, args.pages, args.repeat)
            if not args.pages or "ownership" in args.pages:
                time_tabs(db)
            if args.decide:
                time_decisions(db, args.decide)
        return
    growth: dict[int, dict[str, dict[str, tuple[float, float]]]] = {}
    loads: dict[int, float] = {}
    for rows in args.rows:
        bundle = ensure_bundle(rows, args.seed)
        with tempfile.TemporaryDirectory(prefix="wb-pages-") as tmp:
            db = Path(tmp) / "store.db"
            seconds, log = load_store(bundle, db)
            loads[rows] = seconds
            print(
                f"{rows:,} recommendations: cli.py load (with snapshots and artefacts) {seconds:.1f} s"
            )
            for line in log.splitlines():
                if "ready in" in line or line.strip().startswith("artefact"):
                    print("   " + line.strip())
            growth[rows] = time_pages(db, args.pages, args.repeat)
            if not args.pages or "ownership" in args.pages:
                time_tabs(db)
            if args.decide:
                time_decisions(db, args.decide)
    if len(args.rows) > 1:
        print("\ncold first visit by size (s), and the ratio per 10x rows:")
        sizes = sorted(growth)
        print("  page       " + "".join(f"{n:>12,}" for n in sizes) + "   ratio")
        for page in growth[sizes[0]]:
            cells = [growth[n][page]["cold"][0] for n in sizes]
            print(
                f"  {page:10s} "
                + "".join(f"{c:12.2f}" for c in cells)
                + f"   {cells[-1] / cells[0]:.1f}x"
            )
        cells = [loads[n] for n in sizes]
        print(
            f"  {'load':10s} "
            + "".join(f"{c:12.1f}" for c in cells)
            + f"   {cells[-1] / cells[0]:.1f}x"
        )


if __name__ == "__main__":
    main()
