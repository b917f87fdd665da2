"""User text rendered as text and exported as data (issue 17): Markdown and CSV
formula injection, on wordings our generator never writes."""

from __future__ import annotations

import io

import markdown_it
import pandas as pd
import pytest

from analytics.shared.safe_text import (
    escape_markdown,
    escape_slack,
    markdown_table,
    neutralise_cell,
    safe_csv,
)


def _html(text: str) -> str:
    return (
        markdown_it.MarkdownIt("gfm-like", {"linkify": False})
        .enable(["table", "strikethrough"])
        .render(text)
    )


@pytest.mark.parametrize(
    "hostile",
    [
        "![track](https://attacker.example/pixel.png?u=ann)",
        "[Reset your password](https://phish.example/login)",
        "<img src=x onerror=alert(1)> rabais fournisseur",
        "**URGENT** _appelez_ le `support`",
        "Lieferant zu spät | ~~storniert~~ # Achtung",
        "visit https://phish.example now",
        "visit www.phish.example now",
        "zwei\nZeilen\n\n- Liste",
    ],
)
def test_escaped_user_text_renders_as_plain_text(hostile: str) -> None:
    html = _html(f"> {escape_markdown(hostile)}")
    for tag in ("<img", "<a ", "<strong", "<em", "<code", "<del", "<table", "<h1", "<li"):
        assert tag not in html, (hostile, html)


def test_escaping_keeps_the_characters_a_reader_sees() -> None:
    text = "SUP-017 & Q4: +12% (per Ann) = ok?"
    assert escape_markdown(text) == text  # nothing markup-active in it: unchanged
    shown = _html(escape_markdown("a *b* [c](d)"))
    assert "a *b* [c](d)" in shown


@pytest.mark.parametrize(
    ("cell", "safe"),
    [
        ('=HYPERLINK("http://x","klick")', '\'=HYPERLINK("http://x","klick")'),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("@SUM(1,1)", "'@SUM(1,1)"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("plain reason", "plain reason"),
        ("", ""),
    ],
)
def test_formula_like_cells_are_neutralised(cell: str, safe: str) -> None:
    assert neutralise_cell(cell) == safe


def test_safe_csv_neutralises_text_but_keeps_numbers() -> None:
    frame = pd.DataFrame(
        {
            "reason": ["=1+1", "ok", None],
            "qty": [-3.0, 2.0, 1.0],
            "site": pd.Series(["@P1", "P2", "P3"], dtype="category"),
            "=bad header": [1, 2, 3],
        }
    )
    back = pd.read_csv(io.StringIO(safe_csv(frame)), keep_default_na=False)
    assert back.columns.tolist() == ["reason", "qty", "site", "'=bad header"]
    assert back["reason"].tolist() == ["'=1+1", "ok", ""]
    assert back["qty"].tolist() == [-3.0, 2.0, 1.0]
    assert back["site"].tolist() == ["'@P1", "P2", "P3"]


def test_bare_urls_are_broken_so_no_renderer_links_them() -> None:
    out = escape_markdown("siehe https://phish.example und www.phish.example")
    assert "://" not in out and "www." not in out


def test_override_texts_escape_what_people_typed() -> None:
    from analytics.overrides.text import status_text

    row = {
        "updated_by": "eve](https://phish.example)",
        "updated_at": pd.Timestamp("2026-01-05T10:00:00Z"),
        "owner": "![x](https://attacker.example/p.png)",
        "note": "<script>alert(1)</script>",
    }
    html = _html(status_text("adopted", row))
    assert "<strong>adopted</strong>" in html  # our own emphasis survives
    for tag in ("<img", "<a ", "<script"):
        assert tag not in html


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("<!channel> ruf an", "&lt;!channel&gt; ruf an"),
        ("<@U024BE7LH> fragen", "&lt;@U024BE7LH&gt; fragen"),
        ("<https://phish.example|Passwort>", "&lt;https://phish.example|Passwort&gt;"),
        ("*dringend* _bitte_ ~alt~ `cmd`", "∗dringend∗ ˍbitteˍ ∼alt∼ ˋcmdˋ"),
        ("R&D > Einkauf", "R&amp;D &gt; Einkauf"),
        ("decided_by = k_weber", "decided_by = k_weber"),  # inside a word: cannot format
        ("zwei\nZeilen", "zwei Zeilen"),
    ],
)
def test_slack_escape_leaves_no_mention_link_or_mark(text: str, shown: str) -> None:
    assert escape_slack(text) == shown


def test_markdown_table_escapes_text_cells_and_headers_and_keeps_numbers() -> None:
    frame = pd.DataFrame(
        {
            "reason [link](https://evil.example)": ["![x](https://evil.example/p.png)", None],
            "n": [3, 4],
            "who": pd.Series(["**bold**", "a_b"], dtype="string"),
        }
    )
    out = markdown_table(frame)
    assert list(out["n"]) == [3, 4]
    assert out.iloc[0, 0] == r"\!\[x\](https:\/\/evil.example/p.png)"
    assert pd.isna(out.iloc[1, 0])
    assert list(out["who"]) == [r"\*\*bold\*\*", r"a\_b"]
    assert out.columns[0] == r"reason \[link\](https:\/\/evil.example)"
    assert frame.iloc[0, 0] == "![x](https://evil.example/p.png)"  # the input is left as it was
