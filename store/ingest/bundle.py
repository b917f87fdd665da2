"""Reading a bundle's files as raw text tables, whatever form the bundle came in.

A bundle is a folder of CSV files, a ``.zip`` of them, one ``.xlsx`` workbook
with a sheet per table, or (from the upload widget) a mapping of file names to
bytes. Every cell is read as text, exactly as written, so that validation sees
what the file said and nothing is coerced on the way in.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from contract.tables import TABLE_ORDER


class BundleError(ValueError):
    """The bundle as a whole cannot be read (no recommendations, unreadable file…)."""


@dataclass
class RawTable:
    name: str
    source: str  # file name (or workbook!sheet) for reports
    table: pa.Table  # every column text, "" for an empty cell

    @property
    def num_rows(self) -> int:
        return self.table.num_rows


def _from_frame(frame: pd.DataFrame) -> pa.Table:
    frame = frame.fillna("").astype(str)
    return pa.table({str(c): pa.array(frame[c].tolist(), type=pa.string()) for c in frame.columns})


def _csv_bytes_to_frame(data: bytes | Path, source: str) -> pa.Table:
    def stream() -> io.BytesIO | pa.NativeFile:
        return pa.memory_map(str(data)) if isinstance(data, Path) else io.BytesIO(data)

    size = data.stat().st_size if isinstance(data, Path) else len(data.strip())
    if size == 0:
        return pa.table({})
    try:
        # Read the header first so every column can be declared a string: no type
        # inference means "0012" stays "0012" and "abc" in a number column is seen.
        # (Arrow skips a UTF-8 byte-order mark.)
        header = pacsv.open_csv(stream()).schema.names
        table = pacsv.read_csv(
            stream(),
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.string() for name in header},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        raise BundleError(f"{source}: not a readable UTF-8 CSV file ({exc})") from exc
    return table


def _table_name(filename: str) -> str | None:
    stem = PurePosixPath(filename).name
    if not stem.lower().endswith(".csv"):
        return None
    stem = stem[:-4]
    return stem if stem in TABLE_ORDER else None


def _from_files(files: dict[str, bytes | Path]) -> dict[str, RawTable]:
    tables: dict[str, RawTable] = {}
    for filename, data in sorted(files.items()):
        name = _table_name(filename)
        if name is None:
            continue
        if name in tables:
            raise BundleError(f"two files for table {name!r}: {tables[name].source} and {filename}")
        tables[name] = RawTable(
            name, PurePosixPath(filename).name, _csv_bytes_to_frame(data, filename)
        )
    return tables


def _from_xlsx(data: bytes, source: str) -> dict[str, RawTable]:
    try:
        sheets = pd.read_excel(
            io.BytesIO(data), sheet_name=None, dtype=str, keep_default_na=False, engine="openpyxl"
        )
    except Exception as exc:  # openpyxl raises many kinds for a damaged workbook
        raise BundleError(f"{source}: not a readable .xlsx workbook ({exc})") from exc
    tables: dict[str, RawTable] = {}
    for sheet, frame in sheets.items():
        if sheet in TABLE_ORDER:
            tables[sheet] = RawTable(sheet, f"{Path(source).name}!{sheet}", _from_frame(frame))
    return tables


def _from_zip(data: bytes, source: str) -> dict[str, RawTable]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            files = {
                info.filename: zf.read(info)
                for info in zf.infolist()
                if not info.is_dir()
                and not PurePosixPath(info.filename).name.startswith(".")
                and "__MACOSX" not in info.filename
            }
    except zipfile.BadZipFile as exc:
        raise BundleError(f"{source}: not a readable zip archive") from exc
    xlsx = [name for name in files if name.lower().endswith(".xlsx")]
    if xlsx and not any(_table_name(n) for n in files):
        return _from_xlsx(files[xlsx[0]], xlsx[0])
    return _from_files(files)


def read_bundle(source: str | Path | dict[str, bytes]) -> dict[str, RawTable]:
    """Read every contract table the bundle has, as text.

    Parameters
    ----------
    source
        A folder of ``<table>.csv`` files, a ``.zip`` of them, an ``.xlsx`` workbook
        with one sheet per table, or ``{file name: bytes}`` from an upload (which may
        itself hold a single zip or workbook).

    Returns
    -------
    ``{table: RawTable}`` for the tables present; files that are not contract
    tables are ignored.

    Raises
    ------
    BundleError
        If the source cannot be read or has no ``recommendations`` table.
    """
    if isinstance(source, dict):
        if len(source) == 1:
            ((name, data),) = source.items()
            if name.lower().endswith(".zip"):
                tables = _from_zip(data, name)
            elif name.lower().endswith(".xlsx"):
                tables = _from_xlsx(data, name)
            else:
                tables = _from_files(source)
        else:
            tables = _from_files(source)
        label = "upload"
    else:
        path = Path(source)
        label = str(path)
        if path.is_dir():
            tables = _from_files({p.name: p for p in sorted(path.glob("*.csv"))})
        elif path.suffix.lower() == ".zip" and path.is_file():
            tables = _from_zip(path.read_bytes(), path.name)
        elif path.suffix.lower() == ".xlsx" and path.is_file():
            tables = _from_xlsx(path.read_bytes(), path.name)
        elif not path.exists():
            raise BundleError(f"{path}: no such folder or file")
        else:
            raise BundleError(f"{path}: a bundle is a folder of CSV files, a .zip or an .xlsx")
    if "recommendations" not in tables:
        raise BundleError(f"{label}: no recommendations table (recommendations.csv is required)")
    return {name: tables[name] for name in TABLE_ORDER if name in tables}
