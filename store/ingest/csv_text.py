"""One CSV file as a text table, with each row's line in the file and the rows that
could not be split into the header's columns.

Every cell is read as text exactly as written (no type inference: ``0012`` stays
``0012``). A row with too many or too few fields is set aside and reported with its
line; the rest of the file loads. Line numbers count the file's own lines, so they
stay right after blank lines and quoted values that span lines.
"""

from __future__ import annotations

import io
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from store.ingest.file_problems import FileRefused

_MAX_BLOCK = 1 << 30  # Arrow's block size is an int32; a row longer than this is refused
_SCAN_BLOCK = 64 * 1024**2


@dataclass
class CsvText:
    table: pa.Table  # every column text, "" for an empty cell
    lines: np.ndarray  # int64 file line of each row (the header is line 1 when first)
    skipped: list[tuple[int | None, str, str]] = field(default_factory=list)  # line, reason, text


def _bytes_view(data: bytes | Path) -> np.ndarray:
    if isinstance(data, Path):
        if data.stat().st_size == 0:
            return np.zeros(0, dtype=np.uint8)
        return np.memmap(data, dtype=np.uint8, mode="r")
    return np.frombuffer(data, dtype=np.uint8)


def _positions(buf: np.ndarray, byte: int) -> np.ndarray:
    """Offsets of ``byte`` in ``buf``, a block at a time (no file-sized temporary)."""
    parts = [
        np.flatnonzero(buf[s : s + _SCAN_BLOCK] == byte) + s
        for s in range(0, len(buf), _SCAN_BLOCK)
    ]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def records(buf: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(start, end, line) of every non-blank record: a record ends at a newline outside
    quotes; ``end`` excludes the newline and a ``\\r`` before it; ``line`` is 1-based."""
    newlines = _positions(buf, 0x0A)
    quotes = _positions(buf, 0x22)
    # A newline ends a record when an even number of quotes precede it ("" escapes add 2).
    ends_record = (np.searchsorted(quotes, newlines) % 2) == 0
    ends = newlines[ends_record]
    n = len(buf)
    if n and (not len(ends) or ends[-1] != n - 1):
        ends = np.append(ends, n)
    starts = np.concatenate([[0], ends[:-1] + 1]).astype(np.int64)
    stop = ends.copy()
    cr = (stop > starts) & (stop <= n) & (buf[np.minimum(np.maximum(stop - 1, 0), n - 1)] == 0x0D)
    stop[cr] -= 1
    line = np.searchsorted(newlines, starts) + 1
    keep = stop > starts
    return starts[keep], stop[keep], line[keep]


def _require_utf8(buf: np.ndarray) -> None:
    """Refuse a file that is not UTF-8 before parsing it (Arrow validates in C, no copy)."""
    data = pa.py_buffer(buf)
    offsets = pa.py_buffer(np.array([0, len(buf)], dtype=np.int64))
    try:
        pa.Array.from_buffers(pa.large_binary(), 1, [None, offsets, data]).cast(pa.large_string())
    except pa.ArrowInvalid:
        raise FileRefused(
            "not a readable UTF-8 CSV file: save it as CSV UTF-8 (comma delimited)"
        ) from None


def _refuse_odd_header(names: list[str], first_line: bytes) -> None:
    counts = Counter(names)
    dup = [n for n, c in counts.items() if c > 1]
    if dup:
        raise FileRefused(
            f"column {dup[0]!r} appears {counts[dup[0]]} times in the header; "
            "each column must be named once",
            column=dup[0],
        )
    for sep, word in ((b";", "semicolon"), (b"\t", "tab")):
        if len(names) <= 2 and first_line.count(sep) >= max(2, first_line.count(b",") + 1):
            raise FileRefused(
                f"this file looks {sep.decode()!r}-separated ({word}s between the columns); "
                "the contract's files are comma-separated: save it as CSV (comma delimited)"
            )


def read_csv_text(data: bytes | Path, source: str) -> CsvText:
    """Read one CSV file; raises ``FileRefused`` when the file as a whole cannot be used."""
    buf = _bytes_view(data)
    if not len(bytes(buf[:4096]).strip()):
        return CsvText(pa.table({}), np.zeros(0, dtype=np.int64))

    def stream() -> io.BytesIO | pa.NativeFile:
        return pa.memory_map(str(data)) if isinstance(data, Path) else io.BytesIO(data)

    skipped_rows: list[tuple[int, int, str]] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        skipped_rows.append((row.expected_columns, row.actual_columns, row.text))
        return "skip"

    _require_utf8(buf)
    starts, stops, lines = records(buf)
    first_line = bytes(buf[starts[0] : stops[0]]) if len(starts) else b""
    block = 1 << 20
    while True:
        skipped_rows.clear()
        try:
            # The header first, so every column can be declared a string.
            header = pacsv.read_csv(
                io.BytesIO(first_line + b"\n"),
                read_options=pacsv.ReadOptions(block_size=max(block, len(first_line) + 2)),
            ).column_names
            _refuse_odd_header(header, first_line)
            table = pacsv.read_csv(
                stream(),
                read_options=pacsv.ReadOptions(block_size=block),
                parse_options=pacsv.ParseOptions(
                    newlines_in_values=True, invalid_row_handler=on_invalid
                ),
                convert_options=pacsv.ConvertOptions(
                    column_types={name: pa.string() for name in header},
                    strings_can_be_null=False,
                    quoted_strings_can_be_null=False,
                ),
            )
            break
        except pa.ArrowInvalid as exc:
            if "straddl" in str(exc) and block < _MAX_BLOCK:
                block = min(_MAX_BLOCK, max(block * 16, len(buf) + 1))
                continue
            raise FileRefused(f"not a readable UTF-8 CSV file ({exc})") from exc
        except UnicodeDecodeError as exc:
            raise FileRefused(f"not a readable UTF-8 CSV file ({exc})") from exc
    return CsvText(table, *_row_lines(buf, starts, stops, lines, table.num_rows, skipped_rows))


def _row_lines(
    buf: np.ndarray,
    starts: np.ndarray,
    stops: np.ndarray,
    lines: np.ndarray,
    n_rows: int,
    skipped_rows: list[tuple[int, int, str]],
) -> tuple[np.ndarray, list[tuple[int | None, str, str]]]:
    """The line of each parsed row and of each set-aside row, matched by their text."""
    data_starts, data_stops, data_lines = starts[1:], stops[1:], lines[1:]
    lengths = data_stops - data_starts
    taken = np.zeros(len(data_starts), dtype=bool)
    skipped: list[tuple[int | None, str, str]] = []
    for expected, actual, text in skipped_rows:
        raw = text.encode("utf-8")
        line: int | None = None
        for i in np.flatnonzero((lengths == len(raw)) & ~taken):
            if bytes(buf[data_starts[i] : data_stops[i]]) == raw:
                taken[i] = True
                line = int(data_lines[i])
                break
        skipped.append((line, f"has {actual} fields, the header has {expected}", text))
    rows = data_lines[~taken]
    if len(rows) != n_rows or any(line is None for line, _, _ in skipped):
        # The text scan and the parser disagree (a stray quote): record numbers instead.
        rows = np.arange(2, n_rows + 2, dtype=np.int64)
    return rows.astype(np.int64), skipped
