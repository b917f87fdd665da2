"""Columns of text into one JSON object per row, built on Arrow buffers with numpy.

A recommendation's feature snapshot (``f_*`` columns) and any columns the contract
does not name are stored as JSON text, keys sorted, empty cells left out. At a
million rows per-row Python is far too slow, and chains of Arrow string kernels
(join, slice, compare, choose) cost seconds. Here each key's ``,"key":"`` / ``{"key":"``
prefix, closing quote and final brace are laid out as numpy byte arrays, and one
``binary_join_element_wise`` glues them to the values; a row with no value is null.

The text produced is pinned byte for byte by tests: row hashes include it, so a
store loaded earlier re-loads the same bundle as unchanged.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


def string_buffers(text: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(int64 offsets of ``len + 1`` from 0, UTF-8 bytes) of a string array without nulls."""
    offsets_type = np.int64 if pa.types.is_large_string(text.type) else np.int32
    _, offsets_buf, data_buf = text.buffers()
    offsets = np.frombuffer(offsets_buf, dtype=offsets_type)[
        text.offset : text.offset + len(text) + 1
    ]
    data = (
        np.frombuffer(data_buf, dtype=np.uint8)[offsets[0] : offsets[-1]]
        if data_buf is not None
        else np.zeros(0, dtype=np.uint8)
    )
    return offsets.astype(np.int64) - offsets[0], data


def _has_json_specials(data: np.ndarray) -> bool:
    """Whether the bytes hold a quote, a backslash or a control character (most columns
    — numbers, codes — hold none, and then the escaping kernels are skipped)."""
    return bool(((data < 0x20) | (data == 0x22) | (data == 0x5C)).any())


def _needs_trim(data: np.ndarray) -> bool:
    """Whether any byte could be (part of) whitespace: ASCII space or control, or non-ASCII."""
    return bool(((data <= 0x20) | (data >= 0x80)).any())


def _clean(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    """Trimmed, escaped values as a large string array, "" where the cell is empty."""
    text = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    text = text.cast(pa.large_string())
    if text.null_count:
        text = pc.fill_null(text, "")
    _, data = string_buffers(text)
    if _needs_trim(data):
        text = pc.utf8_trim_whitespace(text)
        _, data = string_buffers(text)
    if _has_json_specials(data):
        text = pc.replace_substring(pc.replace_substring(text, "\\", "\\\\"), '"', '\\"')
        text = pc.replace_substring_regex(text, r"[\x00-\x1f]", " ")
    return text


def _repeated(token: bytes, where: np.ndarray, *, brace_at: np.ndarray | None = None) -> pa.Array:
    """``token`` in the rows of ``where``, "" elsewhere; with ``brace_at``, those rows
    start with ``{`` instead of the token's first byte."""
    lengths = where.astype(np.int64) * len(token)
    offsets = np.zeros(len(where) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    data = np.tile(np.frombuffer(token, dtype=np.uint8), int(where.sum()))
    if brace_at is not None:
        data[offsets[:-1][brace_at & where]] = ord("{")
    return pa.LargeStringArray.from_buffers(
        len(where), pa.py_buffer(offsets), pa.py_buffer(data), null_count=0
    )


def json_objects(table: pa.Table, names: list[str]) -> pd.Series:
    """One JSON object of the non-empty text cells of ``names`` per row, keys sorted,
    values trimmed and kept as strings (``{"a":"1","b":"x"}``); null when all are empty."""
    n = table.num_rows
    if not names or n == 0:
        return pd.Series(pd.arrays.ArrowStringArray(pa.nulls(n, pa.large_string())))
    names = sorted(names)
    values = [_clean(table.column(name)) for name in names]
    filled = np.vstack([np.diff(string_buffers(v)[0]) > 0 for v in values])  # (keys, rows)
    any_value = filled.any(axis=0)
    first = filled.argmax(axis=0)  # the key that opens each row's object
    parts: list[pa.Array] = []
    for i, (name, value) in enumerate(zip(names, values, strict=True)):
        key = name.replace("\\", "\\\\").replace('"', '\\"')
        parts.append(_repeated(f',"{key}":"'.encode(), filled[i], brace_at=first == i))
        parts.append(value)
        parts.append(_repeated(b'"', filled[i]))
    parts.append(_repeated(b"}", any_value))
    joined = pc.binary_join_element_wise(*parts, pa.scalar("", pa.large_string()))
    if joined.offset:  # kernels return fresh arrays; the bitmap below starts at bit 0
        joined = pa.concat_arrays([joined])
    validity = pa.array(any_value).buffers()[1]
    out = pa.LargeStringArray.from_buffers(
        n, joined.buffers()[1], joined.buffers()[2], validity, null_count=int(n - any_value.sum())
    )
    if len(out) != n:  # the guarantee the rest of the load relies on
        raise RuntimeError(f"JSON of {len(out)} rows for {n} rows")
    return pd.Series(pd.arrays.ArrowStringArray(out))
