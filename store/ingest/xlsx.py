"""One ``.xlsx`` workbook as text tables, a sheet per contract table.

Cells become the text a person sees: whole numbers without ``.0`` (an id typed as
the number 1001 stays ``1001``, a zero-padded format keeps its zeros), dates as ISO
8601. A formula whose result Excel never saved and an error value such as ``#N/A``
are reported as problems of their row, not read as empty cells.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from store.ingest.archive import MAX_RATIO, RATIO_FREE_BYTES, max_unzipped_bytes, open_zip
from store.ingest.file_problems import (
    BundleError,
    FileProblem,
    FileRefused,
    table_of,
    unrecognised_sheet,
)


@dataclass
class SheetText:
    name: str  # contract table
    source: str  # workbook!sheet
    table: pa.Table
    lines: np.ndarray
    skipped: list[tuple[int | None, str, str]] = field(default_factory=list)
    cell_problems: list[tuple[int, str | None, str]] = field(default_factory=list)


def _has_formulas(zf: zipfile.ZipFile) -> bool:
    """Whether any worksheet holds a formula (``<f>``): only then is the second pass run."""
    for info in zf.infolist():
        if not info.filename.startswith("xl/worksheets/"):
            continue
        tail = b""
        with zf.open(info) as fh:
            while block := fh.read(1 << 20):
                if b"<f>" in tail + block or b"<f " in tail + block:
                    return True
                tail = block[-3:]
    return False


def cell_text(value: Any, number_format: str | None = None) -> str:
    """A cell's value as the text a reader of the sheet sees."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        text = str(value)
    elif isinstance(value, float):
        text = str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    elif isinstance(value, datetime):
        return value.isoformat()
    elif isinstance(value, (date, time)):
        return value.isoformat()
    else:
        return str(value)
    if number_format and re.fullmatch(r"0{2,}", number_format) and not text.startswith("-"):
        text = text.zfill(len(number_format))
    return text


def _header(cells: tuple[Any, ...]) -> list[str]:
    names = [cell_text(c.value).strip() if c is not None else "" for c in cells]
    while names and not names[-1]:
        names.pop()
    return [n or f"column_{i + 1}" for i, n in enumerate(names)]


def _read_sheet(
    ws: Any, formulas: set[tuple[int, int]] | None, name: str, source: str
) -> SheetText:
    rows = ws.iter_rows()
    header_cells: tuple[Any, ...] = ()
    header_row = 0
    for header_cells in rows:
        header_row += 1
        if any(c.value not in (None, "") for c in header_cells):
            break
    names = _header(header_cells)
    seen: set[str] = set()
    for n in names:
        if n in seen:
            raise FileRefused(
                f"column {n!r} appears more than once in the header; each column must be named once",
                column=n,
            )
        seen.add(n)
    width = len(names)
    columns: list[list[str]] = [[] for _ in names]
    lines: list[int] = []
    skipped: list[tuple[int | None, str, str]] = []
    problems: list[tuple[int, str | None, str]] = []
    for r, cells in enumerate(rows, start=header_row + 1):
        texts: list[str] = []
        row_problems: list[tuple[str | None, str]] = []
        for j, c in enumerate(cells):
            value = getattr(c, "value", None)
            if getattr(c, "data_type", None) == "e":
                texts.append("")
                row_problems.append((names[j] if j < width else None, f"Excel error {value}"))
                continue
            if value is None and formulas is not None and (r, j) in formulas:
                row_problems.append(
                    (
                        names[j] if j < width else None,
                        "formula without a saved result (open and save the workbook in Excel, "
                        "or paste values)",
                    )
                )
            texts.append(cell_text(value, getattr(c, "number_format", None)))
        if not row_problems and not any(t.strip() for t in texts):
            continue  # a blank row, as a CSV's blank line
        if any(t.strip() for t in texts[width:]):
            skipped.append((r, f"has values beyond the header's {width} columns", ",".join(texts)))
            continue
        texts = texts[:width] + [""] * (width - len(texts))
        problems.extend((len(lines), col, reason) for col, reason in row_problems)
        for j, t in enumerate(texts):
            columns[j].append(t)
        lines.append(r)
    table = pa.table(
        {n: pa.array(col, type=pa.string()) for n, col in zip(names, columns, strict=True)}
    )
    return SheetText(name, source, table, np.asarray(lines, dtype=np.int64), skipped, problems)


def _formula_cells(data: bytes, sheets: list[str]) -> dict[str, set[tuple[int, int]]]:
    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    try:
        out: dict[str, set[tuple[int, int]]] = {}
        for sheet in sheets:
            found: set[tuple[int, int]] = set()
            for r, cells in enumerate(wb[sheet].iter_rows(), start=1):
                for j, c in enumerate(cells):
                    if getattr(c, "data_type", None) == "f":
                        found.add((r, j))
            out[sheet] = found
        return out
    finally:
        wb.close()


def read_workbook(data: bytes | Path, source: str) -> tuple[list[SheetText], list[FileProblem]]:
    """The contract sheets of a workbook (sheet names any case) and file-level findings."""
    from openpyxl import load_workbook

    label = Path(source).name
    raw = data.read_bytes() if isinstance(data, Path) else data
    with open_zip(raw, label) as zf:
        # The caps of a zipped bundle hold for the workbook's own parts too.
        declared = sum(i.file_size for i in zf.infolist())
        packed = sum(i.compress_size for i in zf.infolist())
        if declared > max_unzipped_bytes() or (
            declared > RATIO_FREE_BYTES * 8 and declared > MAX_RATIO * max(packed, 1)
        ):
            raise BundleError(
                f"{label}: the workbook unpacks to {declared / 1024**2:,.0f} MB; refused"
            )
        for info in zf.infolist():
            if info.flag_bits & 0x1:
                raise BundleError(f"{label}: the workbook is encrypted; save it without a password")
        formulas_present = _has_formulas(zf)
    try:
        wb = load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged workbook
        raise BundleError(f"{label}: not a readable .xlsx workbook ({exc})") from exc
    problems: list[FileProblem] = []
    out: list[SheetText] = []
    try:
        names = {sheet: table_of(sheet) for sheet in wb.sheetnames}
        wanted = [s for s, t in names.items() if t is not None]
        formulas = _formula_cells(raw, wanted) if formulas_present and wanted else {}
        seen: dict[str, str] = {}
        for sheet, table in names.items():
            src = f"{label}!{sheet}"
            if table is None:
                problems.append(FileProblem(src, unrecognised_sheet(sheet)))
                continue
            if table in seen:
                raise BundleError(f"two sheets for table {table!r}: {seen[table]} and {src}")
            seen[table] = src
            try:
                out.append(_read_sheet(wb[sheet], formulas.get(sheet), table, src))
            except FileRefused as exc:
                problems.append(FileProblem(src, exc.reason, table, exc.column, refused=True))
    finally:
        wb.close()
    return out, problems
