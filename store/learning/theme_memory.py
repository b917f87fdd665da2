"""The last reason-theme assignment, so the next data version keeps its theme ids.

``analytics.overrides.themes`` maps a new version's themes onto the previous ones by
overlap; what it needs is small — one row per distinct ``(normalised reason, context)``
unit with its theme id (``ThemeModel.memory``), a few thousand rows at a million
recommendations — so it is kept here and replaced whole after each fit. It is derived
data (refitting from the log rebuilds it), so writing it is neither audited nor a data
version: a reader with an older memory only gets ids that match the one before.

The table lives in its own ``MetaData`` and is created on first use, so stores made
before it existed need no migration.
"""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Column, Engine, Integer, MetaData, String, Table, Text, select

_META = MetaData()
THEME_MEMORY = Table(
    "theme_memory",
    _META,
    Column("reason", Text, primary_key=True),
    Column("context", String(64), primary_key=True),
    Column("theme_id", Integer, nullable=False),
)
MEMORY_COLUMNS = ["reason", "context", "theme_id"]


def read_theme_memory(engine: Engine) -> pd.DataFrame | None:
    """The stored memory (``reason``, ``context``, ``theme_id``), or None before the first fit."""
    _META.create_all(engine, tables=[THEME_MEMORY], checkfirst=True)
    with engine.connect() as conn:
        rows = conn.execute(select(*THEME_MEMORY.c)).all()
    if not rows:
        return None
    out = pd.DataFrame(rows, columns=MEMORY_COLUMNS)
    out["theme_id"] = out["theme_id"].astype("int64")
    return out.sort_values(["reason", "context"], kind="stable").reset_index(drop=True)


def save_theme_memory(engine: Engine, memory: pd.DataFrame) -> None:
    """Replace the stored memory with ``memory`` (``ThemeModel.memory``) in one transaction."""
    _META.create_all(engine, tables=[THEME_MEMORY], checkfirst=True)
    records = [
        {"reason": str(r), "context": str(c), "theme_id": int(t)}
        for r, c, t in zip(memory["reason"], memory["context"], memory["theme_id"], strict=True)
    ]
    with engine.begin() as conn:
        conn.execute(THEME_MEMORY.delete())
        if records:
            conn.execute(THEME_MEMORY.insert(), records)
