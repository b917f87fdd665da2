"""Problems with a bundle's file as a whole, as opposed to one of its rows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


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
