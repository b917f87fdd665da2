"""Problems with a bundle's files as a whole (as opposed to one of their rows), and which
contract table a file, sheet or header is.

File and sheet names match case-insensitively (``Decisions.csv``, ``decisions.CSV``,
a sheet ``Decisions``). Anything else is named back to the user, with the nearest
contract name when one is close, so a typo never drops a table or a column silently.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from contract.tables import TABLE_ORDER, TableSpec


class BundleError(ValueError):
    """The bundle as a whole cannot be read (no recommendations, unreadable file…)."""


@dataclass(frozen=True)
class FileProblem:
    """One file-level finding.

    ``refused`` problems kept the whole file (or table) out of the load: a duplicated
    header, a ``;``-separated file. The others are warnings — a file or column the
    contract does not know — that load nothing wrong but may hide data; ``--strict``
    refuses a bundle with either kind.
    """

    file: str
    reason: str
    table: str | None = None
    column: str | None = None
    refused: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "table": self.table,
            "column": self.column,
            "reason": self.reason,
            "level": "refused" if self.refused else "warning",
        }


class FileRefused(Exception):
    """Raised inside a reader: this one file cannot be loaded (see ``FileProblem``)."""

    def __init__(self, reason: str, column: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.column = column


def table_of(stem: str) -> str | None:
    """The contract table named by a file stem or sheet name, any case; else None."""
    low = stem.strip().lower()
    return low if low in TABLE_ORDER else None


def nearest(word: str, choices: list[str] | tuple[str, ...]) -> str | None:
    """The choice ``word`` most likely meant (another case, stray spaces, a small typo)."""
    low = word.strip().lower()
    for choice in choices:
        if low == choice.lower():
            return choice
    found = difflib.get_close_matches(low, list(choices), n=1, cutoff=0.75)
    if found:
        return found[0]
    # A longer spelling of a name (recommended_quantity for recommended_qty).
    for choice in choices:
        if len(choice) >= 5 and (low.startswith(choice[:-1]) or choice.startswith(low)):
            if len(low) >= 5:
                return choice
    return None


def unrecognised_file(path: str) -> str:
    """Why a file is not read, with the table it may have meant."""
    name = PurePosixPath(path).name
    stem = name.rsplit(".", 1)[0] if "." in name else name
    guess = nearest(stem, TABLE_ORDER)
    if name.lower().endswith(".zip"):
        return "a zip inside the bundle is not read: unzip it and load its files"
    if guess and name.lower().endswith((".csv", ".tsv", ".txt")):
        return f"not a contract table, not read (did you mean {guess}.csv?)"
    if guess:
        return f"not read: contract tables are .csv files (did you mean {guess}.csv?)"
    return "not a contract table, not read"


def unrecognised_sheet(sheet: str) -> str:
    """Why a workbook sheet is not read, with the table it may have meant."""
    guess = nearest(sheet, TABLE_ORDER)
    hint = f" (did you mean {guess}?)" if guess else ""
    return f"sheet not a contract table, not read{hint}"


def near_miss_headers(columns: list[str], spec: TableSpec) -> list[tuple[str, str]]:
    """``(header, contract column)`` for each header the contract does not name but
    that looks like one of its columns; such values would otherwise end up in ``extra``."""
    known = set(spec.column_names)
    present = set(columns)
    out = []
    for col in columns:
        if col in known or (spec.feature_prefix and col.startswith(spec.feature_prefix)):
            continue
        guess = nearest(col, spec.column_names)
        if guess is not None and guess not in present:
            out.append((col, guess))
        elif guess is not None and col.strip() == guess:
            out.append((col, guess))
    return out
