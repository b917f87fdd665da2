"""Text and file output of the generator, vectorised with Arrow kernels.

ISO 8601 timestamps in site offsets, zero-padded codes, Arrow columns, and the
CSV and JSON writers that make a bundle byte-identical for a given seed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from sample_data.gen_world import SITE_OFFSET_MIN


def _to_epoch_s(day: str | np.datetime64) -> int:
    """Seconds since the Unix epoch of midnight UTC of ``day``."""
    return int(np.datetime64(day, "D").astype("datetime64[s]").astype(np.int64))


def _offset_str(minutes: int) -> str:
    sign = "+" if minutes >= 0 else "-"
    m = abs(int(minutes))
    return f"{sign}{m // 60:02d}:{m % 60:02d}"


def _iso_naive(stamps: pa.Array) -> pa.Array:
    """ISO 8601 without offset; Arrow's cast is ~5x faster than its strftime."""
    return pc.replace_substring(pc.cast(stamps, pa.string()), " ", "T")


def _iso_local(utc_s: np.ndarray, site_idx: np.ndarray) -> pa.Array:
    """Format UTC epoch seconds as ISO 8601 in each row's site offset."""
    local = pa.array((utc_s + SITE_OFFSET_MIN[site_idx] * 60).astype("datetime64[s]"))
    text = _iso_naive(local)
    suffix = pa.array([_offset_str(m) for m in SITE_OFFSET_MIN]).take(pa.array(site_idx))
    return pc.binary_join_element_wise(text, suffix, "")


def _codes(prefix: str, numbers: np.ndarray, width: int) -> np.ndarray:
    """Vectorised ``f"{prefix}{n:0{width}d}"`` (formats each distinct value once)."""
    numbers = np.asarray(numbers, dtype=np.int64)
    table = np.array([f"{prefix}{i:0{width}d}" for i in range(int(numbers.max()) + 1)], object)
    return table[numbers]


def _frame(columns: dict[str, Any]) -> dict[str, pa.Array]:
    """A table as Arrow columns, ready for :func:`_write_csv`.

    Skipping pandas here matters: its object -> string conversion was a third of
    the run time at 1M rows.
    """
    return {name: _to_arrow(values) for name, values in columns.items()}


def _to_arrow(values: Any) -> pa.Array:
    """One column as an Arrow array (NaN/None become null)."""
    if isinstance(values, pa.ChunkedArray):
        return values.combine_chunks()
    if isinstance(values, pa.Array):
        return values
    if isinstance(values, pd.Series):
        values = values.array if values.dtype == "Int64" else values.to_numpy()
    if isinstance(values, np.ndarray):
        if values.dtype.kind == "f":
            values = values + 0.0  # turn -0.0 into 0.0
        elif values.dtype.kind in "OU":
            return pa.array(values, type=pa.string(), from_pandas=True)
    return pa.array(values, from_pandas=True)


def _csv_cells(values: pa.Array) -> pa.Array:
    """One column as CSV cell text: empty for missing, quoted only where needed."""
    text = pc.fill_null(pc.cast(values, pa.string()), "")
    if not pa.types.is_string(values.type):
        return text
    needs = pc.match_substring_regex(text, '[,"\\n\\r]')
    quoted = pc.binary_join_element_wise('"', pc.replace_substring(text, '"', '""'), '"', "")
    return pc.if_else(needs, quoted, text)


def _write_csv(path: Path, table: pd.DataFrame | dict[str, Any], chunk: int = 200_000) -> int:
    """Write a table as UTF-8 CSV with Arrow kernels; return its row count.

    Strings are quoted only when they hold a comma, quote or newline; missing
    values are empty cells; floats use their shortest round-trip form. pandas'
    ``to_csv`` took two thirds of the run time at 1M rows.
    """
    cols = [_to_arrow(table[c]) for c in table]
    n = len(cols[0])
    with path.open("wb") as fh:
        fh.write((",".join(table) + "\n").encode("utf-8"))
        for lo in range(0, n, chunk):
            cells = [_csv_cells(c.slice(lo, chunk)) for c in cols]
            lines = pc.binary_join_element_wise(*cells, ",")
            lines = pc.binary_join_element_wise(lines, "", "\n")
            offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32)
            offsets = offsets[lines.offset : lines.offset + len(lines) + 1]
            fh.write(memoryview(lines.buffers()[2])[int(offsets[0]) : int(offsets[-1])])
    return n


def _write_json(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
