"""The figure tiles every page opens with, drawn as one Markdown element each, not ``st.metric``.

Measured in a new browser session at 1M (headless Chromium, the Why page served twice side by
side, six alternating visits each, medians): the page's metric row showed at 1.68 s with
``st.metric`` and at 1.22 s with the same four figures as plain Markdown; Markdown with raw
HTML (``unsafe_allow_html``) was slower than ``st.metric``. Each is a front-end chunk of its
own that the page waits for; plain Markdown's is the one every page has already loaded. The
tile keeps what the pages used of ``st.metric``: a label, a large value, a delta with an
arrow and a colour, and a help tooltip.

Labels, values and deltas can hold site names, owners or types from the data: each passes
through ``escape_markdown``, so nothing in a tile is markup but ours.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, Protocol

from analytics.shared.safe_text import escape_markdown

DeltaColour = Literal["normal", "inverse", "off"]
_BADGE = {"good": "green", "bad": "red", "off": "gray"}


def _tone(delta: str, colour: DeltaColour) -> tuple[str, str]:
    """(arrow, tone) of a delta, as ``st.metric`` picks them: a leading minus is a fall, and
    under ``normal`` a rise is good, under ``inverse`` a fall is. A delta that is not a signed
    change ("target ≤ 10%") gets no arrow."""
    d = delta.lstrip()
    falls = d.startswith(("-", "−"))
    signed = falls or d[:1] == "+" or d[:1].isdigit()
    arrow = ("↓ " if falls else "↑ ") if signed else ""
    if colour == "off":
        return arrow, "off"
    return arrow, "good" if falls == (colour == "inverse") else "bad"


def tile_markdown(
    label: str, value: object, delta: str | None = None, delta_color: DeltaColour = "normal"
) -> str:
    """The tile as Markdown: ``label``, ``value`` as a heading, ``delta`` as a coloured badge."""
    body = f"{escape_markdown(label)}\n\n## {escape_markdown(value)}"
    if delta:
        arrow, tone = _tone(delta, delta_color)
        body += f"\n\n:{_BADGE[tone]}-badge[{arrow}{escape_markdown(delta)}]"
    return body


class _Box(Protocol):
    """Where a tile goes: ``st`` itself, a column or a container."""

    def markdown(self, body: str, *, help: str | None = None) -> object: ...  # noqa: A002, D102


def tile(
    box: _Box,
    label: str,
    value: object,
    delta: str | None = None,
    *,
    delta_color: DeltaColour = "normal",
    delta_description: str | None = None,
    help: str | None = None,  # noqa: A002 - st.metric's name for it
) -> None:
    """A figure tile in ``box`` (``st``, a column, a container), with ``st.metric``'s
    arguments after it. ``help`` is Markdown, as it is for ``st.metric``; the description
    follows the delta in its badge."""
    if delta and delta_description:
        delta = f"{delta} {delta_description}"
    box.markdown(tile_markdown(label, value, delta, delta_color), help=help)


@dataclass(frozen=True)
class Tile:
    """A tile read back from its Markdown (what a test sees of it)."""

    label: str
    value: str
    delta: str | None
    tone: str | None
    help: str | None = None


_SHAPE = re.compile(
    r"(?P<label>[^\n]*)\n\n## (?P<value>[^\n]*)"
    r"(?:\n\n:(?P<badge>green|red|gray)-badge\[(?:[↑↓] )?(?P<delta>[^\n]*)\])?"
)


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def read_tile(markdown: str, help: str | None = None) -> Tile | None:  # noqa: A002
    """The tile whose Markdown is ``markdown`` (and tooltip ``help``), or None if it is not
    a tile's."""
    m = _SHAPE.fullmatch(markdown)
    if m is None:
        return None
    tone = {v: k for k, v in _BADGE.items()}.get(m["badge"] or "")
    delta = m["delta"]
    return Tile(
        label=_unescape(m["label"]),
        value=_unescape(m["value"]),
        delta=None if delta is None else _unescape(delta),
        tone=tone,
        help=help,
    )
