"""User-supplied text made safe to show and to export.

Reasons, names, SKUs and notes come from people and files, not from us. Rendered as
Markdown, ``![x](https://evil/pixel)`` fetches an attacker's image in every viewer's
browser and ``[Reset your password](https://evil)`` is a phishing link; in a CSV
opened by a spreadsheet, ``=HYPERLINK(...)`` or ``+cmd|...`` is a formula. Every page,
digest and export passes such text through one of these functions.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pandas as pd

# The punctuation that makes markup mid-line: emphasis, code, links and images, HTML,
# tables, strikethrough, headings ($ for Streamlit's LaTeX). Text never starts a line
# here (newlines become spaces), so list markers (- + 1.) need no escape.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>!|~#$])")
# OWASP "CSV injection": a cell a spreadsheet would read as a formula or command.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")


def escape_markdown(text: object) -> str:
    """``text`` with every Markdown-active character escaped, so it renders as written
    (``![x](u)`` shows those characters and fetches nothing); newlines become spaces."""
    s = "" if text is None else str(text)
    s = s.replace("\r\n", " ").replace("\n", " ").replace("\r", " ")
    # A bare URL is linked by GitHub-flavoured Markdown: break the scheme's slashes.
    return _MD_SPECIAL.sub(r"\\\1", s).replace("://", ":\\/\\/").replace("www.", "www\\.")


# Slack mrkdwn has no escape for its formatting marks: the marks people type are swapped
# for look-alikes Slack does not parse (jsx-slack does the same). An underscore inside a
# word (decided_by, stockout_risk) cannot open or close italics, so it stays as typed.
_SLACK_MARKS = {"*": "\u2217", "~": "\u223c", "`": "\u02cb", "_": "\u02cd"}
_SLACK_ACTIVE = re.compile(r"[*~`]|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")


def escape_slack(text: object) -> str:
    """``text`` safe inside Slack mrkdwn: ``& < >`` as the entities Slack asks for (so no
    ``<!channel>``, ``<@U…>`` or ``<url|label>`` can be written), and ``* _ ~ ` `` as
    look-alikes that format nothing; newlines become spaces (no ``>`` quote can start)."""
    s = "" if text is None else str(text)
    s = s.replace("\r\n", " ").replace("\n", " ").replace("\r", " ")
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _SLACK_ACTIVE.sub(lambda m: _SLACK_MARKS[m.group(0)], s)


def neutralise_cell(value: object) -> object:
    """A text cell that a spreadsheet would run as a formula, prefixed with ``'``; any
    other value unchanged (numbers stay numbers: ``-3`` as a number is not text)."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _map_text(
    frame: pd.DataFrame, cell: Callable[[object], object], header: Callable[[str], object]
) -> pd.DataFrame:
    """A copy of ``frame`` with ``cell`` applied to every cell of its text columns and
    ``header`` to every column name."""
    out = frame.copy()
    for col in out.columns:
        s = out[col]
        if (
            s.dtype == object
            or pd.api.types.is_string_dtype(s)
            or isinstance(s.dtype, pd.CategoricalDtype)
        ):
            out[col] = s.astype(object).map(cell)
    out.columns = [header(str(c)) for c in out.columns]
    return out


def safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` with every text cell (and column name) neutralised."""
    return _map_text(frame, neutralise_cell, neutralise_cell)


def markdown_table(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` for ``st.table``, which renders its text cells and headers as
    Markdown: each text cell and column name escaped (``escape_markdown``), other values as
    they are. For the small tables a page shows whole."""
    return _map_text(
        frame, lambda v: escape_markdown(v) if isinstance(v, str) else v, escape_markdown
    )


def safe_csv(frame: pd.DataFrame, **to_csv: object) -> str:
    """``frame.to_csv(index=False)`` with formula-like text cells neutralised: the one
    way every CSV export of the workbench is written."""
    kwargs = {"index": False, **to_csv}
    return safe_frame(frame).to_csv(**kwargs)  # type: ignore[arg-type]
