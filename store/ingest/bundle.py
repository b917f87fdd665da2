"""Reading a bundle's files as raw text tables, whatever form the bundle came in.

A bundle is a folder of CSV files, a ``.zip`` of them, one ``.xlsx`` workbook
with a sheet per table, or (from the upload widget) a mapping of file names to
bytes. Every cell is read as text, exactly as written, so that validation sees
what the file said and nothing is coerced on the way in. Table names match in any
case; every file, sheet or zip entry that is not read is named in the findings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np
import pyarrow as pa

from contract.tables import TABLE_ORDER
from store.ingest.archive import is_hidden, member_name, open_zip, read_members
from store.ingest.csv_text import read_csv_text
from store.ingest.file_problems import (
    BundleError,
    FileProblem,
    FileRefused,
    table_of,
    unrecognised_file,
)
from store.ingest.xlsx import read_workbook

__all__ = ["BundleError", "FileProblem", "RawTable", "read_bundle", "read_bundle_checked"]


@dataclass
class RawTable:
    name: str
    source: str  # file name (or workbook!sheet) for reports
    table: pa.Table  # every column text, "" for an empty cell
    # The file line (sheet row) of each row; None reads as record numbers from line 2.
    lines: np.ndarray | None = None
    # Rows set aside before validation: (line, reason, raw text).
    skipped: list[tuple[int | None, str, str]] = field(default_factory=list)
    # Cell problems found while reading (xlsx errors): (row position, column, reason).
    cell_problems: list[tuple[int, str | None, str]] = field(default_factory=list)

    @property
    def num_rows(self) -> int:
        return self.table.num_rows


def _csv_table_name(path: str) -> str | None:
    name = PurePosixPath(path).name
    if not name.lower().endswith(".csv"):
        return None
    return table_of(name[:-4])


def _from_files(files: dict[str, bytes | Path], problems: list[FileProblem]) -> dict[str, RawTable]:
    tables: dict[str, RawTable] = {}
    for filename, data in sorted(files.items()):
        name = _csv_table_name(filename)
        label = PurePosixPath(filename).name
        if name is None:
            problems.append(FileProblem(filename, unrecognised_file(filename)))
            continue
        if name in tables:
            raise BundleError(f"two files for table {name!r}: {tables[name].source} and {filename}")
        try:
            text = read_csv_text(data, filename)
        except FileRefused as exc:
            problems.append(FileProblem(label, exc.reason, name, exc.column, refused=True))
            continue
        tables[name] = RawTable(name, label, text.table, text.lines, text.skipped)
    return tables


def _from_xlsx(data: bytes | Path, source: str, problems: list[FileProblem]) -> dict[str, RawTable]:
    sheets, found = read_workbook(data, source)
    problems.extend(found)
    return {
        s.name: RawTable(s.name, s.source, s.table, s.lines, s.skipped, s.cell_problems)
        for s in sheets
    }


def _from_zip(data: bytes | Path, source: str, problems: list[FileProblem]) -> dict[str, RawTable]:
    with open_zip(data, source) as zf:
        names = [
            member_name(i)
            for i in zf.infolist()
            if not i.is_dir() and not is_hidden(member_name(i))
        ]
        tables = {n for n in names if _csv_table_name(n)}
        xlsx = [n for n in names if n.lower().endswith(".xlsx")]
        wanted = tables or set(xlsx[:1])
        for n in names:
            if n not in wanted:
                problems.append(FileProblem(f"{source}:{n}", unrecognised_file(n)))
        files = read_members(zf, source, lambda n: n in wanted)
    if not tables and xlsx:
        return _from_xlsx(files[xlsx[0]], xlsx[0], problems)
    return _from_files(dict(files), problems)


def _from_folder(path: Path, problems: list[FileProblem]) -> dict[str, RawTable]:
    files: dict[str, bytes | Path] = {}
    for p in sorted(path.iterdir()):
        if p.name.startswith("."):
            continue
        # Sub-folders (the sample's truth/) are not part of a folder bundle: never read.
        if p.is_file():
            files[p.name] = p
    return _from_files(files, problems)


def read_bundle_checked(
    source: str | Path | dict[str, bytes],
) -> tuple[dict[str, RawTable], list[FileProblem]]:
    """Read every contract table the bundle has, as text, and the file-level findings.

    Parameters
    ----------
    source
        A folder of ``<table>.csv`` files, a ``.zip`` of them, an ``.xlsx`` workbook
        with one sheet per table, or ``{file name: bytes}`` from an upload (which may
        itself hold a single zip or workbook).

    Returns
    -------
    ``({table: RawTable}, [FileProblem])``: the tables present, and every file not read
    (a warning) or refused as a whole (a duplicated header, a ``;``-separated file).

    Raises
    ------
    BundleError
        If the source cannot be read or has no usable ``recommendations`` table.
    """
    problems: list[FileProblem] = []
    if isinstance(source, dict):
        if len(source) == 1:
            ((name, data),) = source.items()
            if name.lower().endswith(".zip"):
                tables = _from_zip(data, name, problems)
            elif name.lower().endswith(".xlsx"):
                tables = _from_xlsx(data, name, problems)
            else:
                tables = _from_files(dict(source), problems)
        else:
            tables = _from_files(dict(source), problems)
        label = "upload"
    else:
        path = Path(source)
        label = str(path)
        if path.is_dir():
            tables = _from_folder(path, problems)
        elif path.suffix.lower() == ".zip" and path.is_file():
            tables = _from_zip(path, path.name, problems)
        elif path.suffix.lower() == ".xlsx" and path.is_file():
            tables = _from_xlsx(path, path.name, problems)
        elif not path.exists():
            raise BundleError(f"{path}: no such folder or file")
        else:
            raise BundleError(f"{path}: a bundle is a folder of CSV files, a .zip or an .xlsx")
    if "recommendations" not in tables:
        refused = [p for p in problems if p.refused and p.table == "recommendations"]
        if refused:
            raise BundleError(f"{refused[0].file}: {refused[0].reason}")
        raise BundleError(f"{label}: no recommendations table (recommendations.csv is required)")
    return {name: tables[name] for name in TABLE_ORDER if name in tables}, problems


def read_bundle(source: str | Path | dict[str, bytes]) -> dict[str, RawTable]:
    """The tables of ``read_bundle_checked`` alone."""
    return read_bundle_checked(source)[0]
