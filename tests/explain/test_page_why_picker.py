"""The Why page's picker reaches every matching recommendation, a page at a time."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests.conftest import APP

PAGE = "pages/why.py"


def _page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180)
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    return at


def _page_box(at: AppTest):  # type: ignore[no-untyped-def]
    return next(s for s in at.selectbox if s.key.startswith("why_page_"))


def test_picker_pages_through_every_open_recommendation(sample_store: str) -> None:
    at = _page()
    caption = next(c.value for c in at.caption if "recommendations matching" in c.value)
    total = int(caption.split(" of ")[1].split(" ")[0].replace(",", ""))
    assert total > 500  # the sample has more open recommendations than one page holds
    assert caption.startswith("1–500 of ") and "turn the page" in caption
    first = at.selectbox(key="why_rec").options
    assert len(first) == 500
    _page_box(at).set_value(1)
    at.run()
    assert not at.exception, at.exception
    second = at.selectbox(key="why_rec").options
    assert len(second) == total - 500 and not set(second) & set(first)
    assert any(c.value.startswith(f"501–{total:,} of {total:,}") for c in at.caption)
    # A filter starts on its own first page, and a narrow one needs no pages at all.
    at.selectbox(key="why_type").set_value("expedite").run()
    assert not at.exception, at.exception
    caption = next(c.value for c in at.caption if "recommendations matching" in c.value)
    assert caption.startswith("1–")
    n = int(caption.split(" of ")[1].split(" ")[0].replace(",", ""))
    assert len(at.selectbox(key="why_rec").options) == min(n, 500)
