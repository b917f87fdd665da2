"""People's words on every page render as text, labels included (issue 17).

Streamlit renders Markdown in far more than ``st.markdown``: captions and alerts, widget
labels and tooltips, expander and tab labels, metric labels and values, radio, pills and
segmented-control options (1.67; selectbox and multiselect options are plain text). A
bundle whose reasons, planner and owner names, SKUs, supplier ids and site codes carry
image and link markup is loaded, each page is opened as an admin, and every such surface
is rendered with a GFM parser: none may turn that text into an image, a link or bold.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import markdown_it
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from store.db import dispose_engine, get_engine
from store.ingest.load import load_bundle
from store.rule_status import read_rule_statuses
from tests.conftest import APP, SAMPLE, open_tab, prepare_store, private_store
from ui.tiles import Tile, read_tile, tile_markdown

HOSTILE = "![x](https://evil.example/p.png) [click](https://phish.example) **bold**"
PAGES = [
    "pages/data.py",
    "pages/baseline.py",
    "pages/overrides.py",
    "pages/why.py",
    "pages/ownership.py",
    "pages/audit.py",
    "pages/health.py",
]
# Pages whose tabs draw only when open (st.tabs(on_change="rerun")): the tabs' state key.
LAZY_TABS = {
    "pages/overrides.py": "overrides_tab",
    "pages/ownership.py": "ownership_tab",
    "pages/baseline.py": "baseline_tab",
    "pages/health.py": "health_tab",
}
_MD = markdown_it.MarkdownIt("gfm-like", {"linkify": False}).enable(["table", "strikethrough"])
_INJECTED = re.compile(
    r"<img[^>]*evil\.example|<a [^>]*(evil|phish)\.example|<strong>bold</strong>"
)


def hostile_bundle(folder: Path) -> Path:
    """The sample bundle with markup in reasons, names, SKUs, suppliers and a site."""
    folder.mkdir(parents=True, exist_ok=True)
    for path in SAMPLE.glob("*.csv"):
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
        if path.stem == "decisions":
            about_sup017 = df["reason"].str.contains("SUP-017|sup017", case=False)
            df.loc[about_sup017, "reason"] += " " + HOSTILE
            df.loc[df["decided_by"] == "t.ito", "decided_by"] = f"t.ito {HOSTILE}"
        if path.stem == "owners":
            df.loc[df["owner"] == "t.ito", "owner"] = f"t.ito {HOSTILE}"
        if path.stem == "recommendations":
            df.loc[df["supplier"] == "SUP-017", "supplier"] = f"SUP-017 {HOSTILE}"
            df.loc[df["sku"] == "SKU-10666", "sku"] = f"SKU-10666 {HOSTILE}"
        if "site" in df:
            df.loc[df["site"] == "W400", "site"] = f"W400 {HOSTILE}"
        df.to_csv(folder / path.name, index=False)
    return folder


@pytest.fixture(scope="module")
def hostile_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("hostile")
    path = root / "store.db"
    url = f"sqlite:///{path}"
    load_bundle(hostile_bundle(root / "bundle"), engine=get_engine(url), role="admin")
    prepare_store(url)  # as `cli.py load` does: pages read the artefacts, never fit
    dispose_engine(url)
    return path


@pytest.fixture
def hostile_store(
    hostile_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    yield from private_store(hostile_db, tmp_path, monkeypatch)


def _texts(node: Any) -> Iterator[tuple[str, str]]:
    """``(where, text)`` for every Markdown-rendered string under ``node``."""
    kind = getattr(node, "type", "")
    proto = getattr(node, "proto", None)
    if proto is not None:
        for field in ("body", "label", "help", "delta", "caption", "placeholder"):
            value = getattr(proto, field, None)
            if isinstance(value, str) and value and not (kind == "code" and field == "body"):
                yield f"{kind}.{field}", value
        if kind == "radio":
            yield from ((f"{kind}.option", str(o)) for o in proto.options)
        if kind == "button_group":
            yield from ((f"{kind}.option", o.content) for o in proto.options)
    if kind == "table":  # st.table renders its text cells and headers as Markdown
        frame = node.value
        yield from ((f"{kind}.header", str(c)) for c in frame.columns)
        yield from ((f"{kind}.cell", v) for v in frame.to_numpy().ravel() if isinstance(v, str))
    for child in getattr(node, "children", {}).values():
        yield from _texts(child)


def injected(at: AppTest) -> list[tuple[str, str]]:
    """Surfaces whose text renders the hostile markup as markup."""
    return [(where, text) for where, text in _texts(at._tree) if _INJECTED.search(_MD.render(text))]


def shown(at: AppTest) -> int:
    """How many surfaces carry the hostile words at all (escaped or not)."""
    return sum("evil" in text and "phish" in text for _, text in _texts(at._tree))


def test_the_collector_sees_unescaped_markup() -> None:
    at = AppTest.from_string(
        "import streamlit as st\n"
        f"st.selectbox('pick', ['a'], format_func=lambda o: {HOSTILE!r})\n"
        f"with st.expander({HOSTILE!r}):\n    st.radio('r', [{HOSTILE!r}])\n"
        f"st.tabs([{HOSTILE!r}])\nst.metric({HOSTILE!r}, 1)\n"
        f"st.table({{{HOSTILE!r}: [{HOSTILE!r}]}})\n"
    ).run()
    where = {w for w, _ in injected(at)}
    assert {"expander.label", "radio.option", "tab.label", "metric.label"} <= where
    assert {"table.header", "table.cell"} <= where


@pytest.mark.parametrize("page", PAGES)
def test_page_labels_show_peoples_markup_as_text(hostile_store: str, page: str) -> None:
    at = AppTest.from_file(APP, default_timeout=180)
    at.run()
    at.switch_page(page)
    at.run()
    assert not at.exception, at.exception
    assert injected(at) == []
    if page in LAZY_TABS:  # only the open tab is drawn: every tab, opened in turn
        labels = [t.label for t in at.tabs]
        for label in labels:
            open_tab(at, LAZY_TABS[page], label)
            assert injected(at) == [], label
        open_tab(at, LAZY_TABS[page], labels[0])  # back to the first, where the pick is
    # Then the item whose own words carry the markup, where the page offers a pick.
    picks = {"pages/overrides.py": "overrides_theme_pick", "pages/why.py": "why_rec"}
    if page in picks:
        box = at.selectbox(key=picks[page])
        label = next(o for o in box.options if "evil" in o)
        if page == "pages/why.py":  # labels are "REC-… · type · site · SKU · $": pick by id
            box.set_value(label.split(" · ")[0])
        else:
            box.select(label)
        at.run()
        assert not at.exception, at.exception
        assert injected(at) == []
        assert shown(at) > 0  # the words are there, as text


@pytest.mark.parametrize(
    ("page", "param"), [("pages/why.py", "rec"), ("pages/overrides.py", "rule")]
)
def test_a_link_with_markup_in_its_id_says_so_as_text(
    hostile_store: str, page: str, param: str
) -> None:
    at = AppTest.from_file(APP, default_timeout=180)
    at.query_params[param] = HOSTILE
    at.run()
    at.switch_page(page)
    at.run()
    assert not at.exception, at.exception
    assert injected(at) == []
    assert any("evil" in w.value for w in at.warning)


def test_a_decision_by_a_planner_with_markup_in_name_and_reason_shows_as_text(
    hostile_store: str,
) -> None:
    at = AppTest.from_file(APP, default_timeout=180)
    at.query_params["rec"] = "REC-0000898"  # decided by "t.ito …" with a reason about SUP-017
    at.run()
    at.switch_page("pages/why.py")
    at.run()
    assert not at.exception, at.exception
    assert any("Already decided" in i.value and "evil" in i.value for i in at.info)
    assert injected(at) == []


def test_an_adopted_rules_owner_and_note_show_as_text(hostile_store: str) -> None:
    """A rule adopted with markup in its owner and note (typed on the page): the status
    line, the adopted-rules tab and the audit trail keep it text."""
    at = AppTest.from_file(APP, default_timeout=180)
    at.run()
    at.switch_page("pages/overrides.py")
    at.run()
    open_tab(at, "overrides_tab", "Candidate rules")
    at.radio(key="overrides_new_status").set_value("adopted")
    at.text_input(key="overrides_owner").set_value(f"bob {HOSTILE}")
    at.text_area(key="overrides_note").set_value(HOSTILE)
    next(b for b in at.button if b.label == "Save").click()
    at.run()
    assert not at.exception, at.exception
    assert len(read_rule_statuses(get_engine(hostile_store))) == 1
    assert injected(at) == []
    assert shown(at) > 0
    open_tab(at, "overrides_tab", "Adopted rules")
    assert injected(at) == []
    assert shown(at) > 0
    at.switch_page("pages/audit.py")
    at.run()
    assert not at.exception, at.exception
    assert injected(at) == []


def test_a_figure_tile_shows_peoples_markup_as_text_and_reads_back() -> None:
    label, value = f"Typical {HOSTILE}", f"$1,200 {HOSTILE}"
    body = tile_markdown(label, value, f"+3 {HOSTILE}", "normal")
    assert not _INJECTED.search(_MD.render(body))
    assert read_tile(body, help="h") == Tile(label, value, f"+3 {HOSTILE}", "good", "h")


@pytest.mark.parametrize(
    ("delta", "colour", "badge"),
    [
        ("+2.0 pp", "normal", ":green-badge[↑ +2.0 pp]"),
        ("-2.0 pp", "normal", ":red-badge[↓ -2.0 pp]"),
        ("−2 h", "inverse", ":green-badge[↓ −2 h]"),
        ("+2 h", "inverse", ":red-badge[↑ +2 h]"),
        ("+0.21 vs typical", "off", ":gray-badge[↑ +0.21 vs typical]"),
        ("target ≤ 10%", "off", ":gray-badge[target ≤ 10%]"),
    ],
)
def test_a_tiles_delta_gets_st_metrics_arrow_and_colour(
    delta: str, colour: str, badge: str
) -> None:
    body = tile_markdown("OTIF", "91%", delta, colour)  # type: ignore[arg-type]
    assert body.endswith("\n\n" + badge)
    assert tile_markdown("OTIF", "91%") == "OTIF\n\n## 91%"
