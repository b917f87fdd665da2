"""Checking one raw table against the contract, column by column, vectorised.

``parse_table`` turns a text table (every cell a string, as written in the file)
into typed columns and a list of problems. A value that cannot be read is a
problem, never a silent NaN. The work is done with Arrow compute kernels on the
text and numpy on the results, so a million rows take seconds. Checks that need
another table or the store live in ``store/ingest/load.py`` and ``references.py``.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pandas.core.util.hashing import combine_hash_arrays, hash_array

from contract.tables import Column, TableSpec
from contract.vocabulary import TS_DTYPE
from store.ingest.json_rows import json_objects
from store.ingest.values import (
    MAX_WHOLE,
    out_of_range_numbers,
    outside_window,
    parse_dates,
    parse_numbers,
    parse_timestamps,
)

_TRUE = ["true", "1", "yes"]
_FALSE = ["false", "0", "no"]


@dataclass
class Parsed:
    """A table after its column checks.

    ``frame`` holds the spec's columns typed — text as object arrays (None when
    empty), numbers float64, ``int`` as Int64, ``bool`` as boolean, timestamps
    ``datetime64[us, UTC]`` — plus ``features`` / ``extra`` (JSON text or None)
    and ``_line``, the row's line in the file (the header is line 1).
    ``problems`` has one row per problem: ``_idx`` (position), ``column``, ``reason``.
    """

    frame: pd.DataFrame
    problems: pd.DataFrame
    # Per "table.column": which rows gave a timestamp without an offset (bool per row), so a
    # load can count the rows it stores rather than every row the file repeats.
    naive_rows: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def naive_timestamps(self) -> dict[str, int]:
        """Values without an offset per ``"table.column"``, over every row of the file."""
        return {col: int(mask.sum()) for col, mask in self.naive_rows.items()}


def printable(text: str) -> str:
    """``text`` with NUL bytes shown as ``\\0``: PostgreSQL cannot store them in text."""
    return text.replace("\x00", "\\0") if "\x00" in text else text


class Problems:
    """Collects (row positions, column, reason) triples without per-row Python for clean rows."""

    def __init__(self) -> None:
        self.parts: list[pd.DataFrame] = []

    def add(
        self,
        mask: np.ndarray | pd.Series,
        column: str | None,
        reason: str,
        values: np.ndarray | pa.Array | None = None,
        *,
        quote: bool = True,
        suffix: str = "",
    ) -> None:
        """Record ``reason`` for every row in ``mask``; with ``values``, append each row's
        value (quoted and cut to 60 characters unless ``quote`` is false), then ``suffix``."""
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            return
        idx = np.flatnonzero(mask)
        if values is not None:
            q = "'" if quote else ""
            # Arrow values are turned into Python objects for the bad rows only.
            shown = (
                values.take(pa.array(idx)).to_pylist()
                if isinstance(values, (pa.Array, pa.ChunkedArray))
                else np.asarray(values, dtype=object)[idx]
            )
            reasons = [f"{reason}{q}{printable(str(v)[:60])}{q}{suffix}" for v in shown]
        else:
            reasons = [reason + suffix] * len(idx)
        self.parts.append(pd.DataFrame({"_idx": idx, "column": column, "reason": reasons}))

    def frame(self) -> pd.DataFrame:
        if not self.parts:
            return pd.DataFrame(
                {
                    "_idx": pd.Series(dtype="int64"),
                    "column": pd.Series(dtype=object),
                    "reason": pd.Series(dtype=object),
                }
            )
        return pd.concat(self.parts, ignore_index=True)


def _bool(arr: pa.Array) -> np.ndarray:
    return np.asarray(arr.fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)


def _text_series(text: pa.Array, missing: np.ndarray) -> pd.Series:
    """Text kept in Arrow (a million Python str objects would cost a gigabyte), null where missing."""
    arr = pc.if_else(pa.array(missing), pa.scalar(None, pa.string()), text)
    return pd.Series(pd.arrays.ArrowStringArray(arr))


def _check_column(
    col: Column,
    text: pa.Array,
    tz: str,
    probs: Problems,
    naive: dict[str, np.ndarray],
    table: str,
    *,
    key: bool = False,
) -> pd.Series | np.ndarray:
    trimmed = pc.utf8_trim_whitespace(text)
    empty = _bool(pc.equal(trimmed, ""))
    if col.required:
        probs.add(empty, col.name, "required value missing")
    if col.kind == "date":
        days, bad = parse_dates(trimmed)
        probs.add(bad, col.name, "not an ISO 8601 date: ", trimmed)
        far = outside_window(days)
        probs.add(far, col.name, "outside the years 1900-2199: ", trimmed)
        return days.where(~far)
    if col.kind == "timestamp":
        values, bad, no_offset, dst = parse_timestamps(trimmed, tz, with_dst=True)
        probs.add(
            dst,
            col.name,
            f"local time skipped or repeated by a clock change in {tz}; give its UTC offset: ",
            trimmed,
        )
        probs.add(bad & ~dst, col.name, "not an ISO 8601 timestamp: ", trimmed)
        far = outside_window(values)
        probs.add(far, col.name, "outside the years 1900-2199 (UTC): ", trimmed)
        if no_offset.any():
            naive[f"{table}.{col.name}"] = np.asarray(no_offset, dtype=bool)
        return values.where(~far)
    if col.kind in ("float", "int"):
        values, bad = parse_numbers(trimmed)
        shown = trimmed
        probs.add(bad, col.name, "not a number: ", shown)
        overflow, underflow = out_of_range_numbers(trimmed, values)
        if overflow.any() or underflow.any():
            probs.add(overflow, col.name, "too large to store: ", shown)
            probs.add(underflow, col.name, "too small to store (reads as 0): ", shown)
            values = np.where(overflow | underflow, np.nan, values)
        with np.errstate(invalid="ignore"):
            if col.kind == "int":
                huge = np.abs(values) > MAX_WHOLE
                probs.add(huge, col.name, f"whole number beyond ±{MAX_WHOLE:.0f}: ", shown)
                values = np.where(huge, np.nan, values)
            if col.kind == "int":
                probs.add(
                    ~np.isnan(values) & (values != np.floor(values)),
                    col.name,
                    "not a whole number: ",
                    shown,
                )
            if col.min_value is not None:
                probs.add(
                    values < col.min_value, col.name, f"must be >= {col.min_value:g}, got ", shown
                )
            if col.max_value is not None:
                probs.add(
                    values > col.max_value, col.name, f"must be <= {col.max_value:g}, got ", shown
                )
        if col.kind == "int":
            ints = pd.array(np.round(np.nan_to_num(values)).astype("int64"), dtype="Int64")
            ints[np.isnan(values)] = pd.NA
            return ints
        return values
    if col.kind == "bool":
        low = pc.utf8_lower(trimmed)
        is_true = _bool(pc.is_in(low, pa.array(_TRUE)))
        is_false = _bool(pc.is_in(low, pa.array(_FALSE)))
        probs.add(
            ~empty & ~is_true & ~is_false,
            col.name,
            "not a boolean (true/false/1/0/yes/no): ",
            trimmed,
        )
        out = pd.array(is_true, dtype="boolean")
        out[~is_true & ~is_false] = pd.NA
        return out
    if col.kind == "enum":
        ok = _bool(pc.is_in(trimmed, pa.array(list(col.enum))))
        probs.add(~empty & ~ok, col.name, f"not one of {'|'.join(col.enum)}: ", trimmed)
        return _text_series(trimmed, empty | ~ok)
    # Codes and keys are trimmed of surrounding spaces ("P100 " and "P100" are one site,
    # "R1 " and "R1" one recommendation); free text (reasons, actions) is kept as typed.
    return _text_series(trimmed if col.kind == "category" or key else text, empty)


def parse_table(
    raw: pa.Table,
    spec: TableSpec,
    *,
    tz: str = "UTC",
    hash_rows: bool = False,
    lines: np.ndarray | None = None,
    cell_problems: list[tuple[int, str | None, str]] | tuple = (),
) -> Parsed:
    """Check ``raw`` (all text) against ``spec`` and return typed columns and problems.

    A required column missing from the file makes every row a problem. ``f_*``
    features are kept as JSON text (typed when read back); columns the contract
    does not name are kept as JSON in ``extra`` and not checked. With ``hash_rows``
    the frame also gets ``row_hash`` (see ``row_hashes``), made while the JSON is built.
    ``lines`` gives each row's line in the file (default: record numbers from 2);
    ``cell_problems`` adds (row position, column, reason) found while reading the file.
    A NUL byte in any cell makes its row bad (PostgreSQL cannot store one).
    """
    probs = Problems()
    _nul_bytes(raw, probs)
    for pos, column, reason in cell_problems:
        mask = np.zeros(raw.num_rows, dtype=bool)
        mask[pos] = True
        probs.add(mask, column, reason)
    naive: dict[str, np.ndarray] = {}
    n = raw.num_rows
    known = set(spec.column_names)
    features = sorted(
        c for c in raw.column_names if spec.feature_prefix and c.startswith(spec.feature_prefix)
    )
    extra = [c for c in raw.column_names if c not in known and c not in features]
    # The JSON columns are Arrow and numpy work that runs without the GIL: build them on
    # the other core while the contract columns are checked here.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="workbench-json") as pool:
        json_futures = {
            "features": pool.submit(json_objects, raw, features)
            if spec.feature_prefix is not None
            else None,
            "extra": pool.submit(json_objects, raw, extra),
        }
        typed = _check_columns(raw, spec, tz, probs, naive)
        frame = pd.DataFrame(
            {
                k: (
                    v
                    if not isinstance(v, np.ndarray) or v.dtype != object
                    else pd.Series(v, dtype=object)
                )
                for k, v in typed.items()
            }
        )
        contract = column_hashes(frame, spec) if hash_rows else None
        json_columns = {k: f.result() for k, f in json_futures.items() if f is not None}
    for name, values in json_columns.items():
        frame[name] = values
    if contract is not None:
        frame["row_hash"] = row_hashes(frame, spec, contract=contract)
    frame["_line"] = (
        np.asarray(lines, dtype="int64")
        if lines is not None and len(lines) == n
        else np.arange(2, n + 2, dtype="int64")
    )
    return Parsed(frame=frame, problems=probs.frame(), naive_rows=naive)


def _nul_bytes(raw: pa.Table, probs: Problems) -> None:
    for name in raw.column_names:
        col = raw.column(name)
        if col.null_count == len(col) or not _may_hold_nul(col):
            continue
        has_nul = _bool(pc.match_substring(col.combine_chunks(), "\x00"))
        probs.add(
            has_nul, printable(name), "contains a NUL byte (\\0), which the store cannot keep"
        )


def _may_hold_nul(col: pa.ChunkedArray) -> bool:
    """Whether a value byte may be NUL (one pass over the data buffers; clean columns skip)."""
    for chunk in col.chunks:
        buffers = chunk.buffers()
        if not pa.types.is_string(chunk.type) and not pa.types.is_large_string(chunk.type):
            return True  # not plain text: let the per-row search decide
        data = buffers[2] if len(buffers) > 2 else None
        if data is not None and not np.frombuffer(data, dtype=np.uint8).all():
            return True
    return False


def _check_columns(
    raw: pa.Table, spec: TableSpec, tz: str, probs: Problems, naive: dict[str, np.ndarray]
) -> dict[str, object]:
    n = raw.num_rows
    present = set(raw.column_names)
    typed: dict[str, object] = {}
    blank = pa.array([""] * n, type=pa.string())
    for col in spec.columns:
        if col.name in present:
            typed[col.name] = _check_column(
                col,
                raw.column(col.name).combine_chunks(),
                tz,
                probs,
                naive,
                spec.name,
                key=col.name in spec.key,
            )
        else:
            if col.required:
                probs.add(
                    np.ones(n, dtype=bool),
                    col.name,
                    f"required column {col.name!r} missing from the file",
                )
            typed[col.name] = _check_column(col, blank, tz, Problems(), {}, spec.name)
    return typed


def key_text(frame: pd.DataFrame, key: tuple[str, ...]) -> np.ndarray:
    """The row key as one readable string per row (``a|b`` for composite keys), object array."""
    parts = []
    for name in key:
        col = frame[name]
        if str(col.dtype).startswith("datetime64"):
            text = col.dt.strftime("%Y-%m-%d").astype(object)
        else:
            text = col.astype(object)
        parts.append(np.asarray(text.where(text.notna(), ""), dtype=object))
    out = parts[0]
    for part in parts[1:]:
        out = out + "|" + part
    return np.asarray(out, dtype=object)


def row_hashes(
    frame: pd.DataFrame,
    spec: TableSpec,
    *,
    chunk_rows: int = 100_000,
    contract: list[np.ndarray] | None = None,
) -> np.ndarray:
    """A 64-bit hash of each row's contract values and feature snapshot, as int64.

    Two rows hash alike exactly when they say the same thing, however the text
    was spelled (``1`` vs ``1.0``, another offset for the same instant). Extra
    columns are not part of it: the contract ignores them. ``contract`` takes the
    contract columns' hashes when already made (``column_hashes``).
    """
    # Same value as ``pd.util.hash_pandas_object(DataFrame(columns), index=False)``, which
    # stored row hashes were made with: per-column ``hash_array``, then pandas' combination.
    cols = list(contract) if contract is not None else column_hashes(frame, spec, chunk_rows)
    if "features" in frame.columns:
        cols.append(_chunked(frame["features"], "text", chunk_rows))
    if not cols or len(frame) == 0:
        return np.zeros(len(frame), dtype="int64")
    return combine_hash_arrays(iter(cols), len(cols)).view("int64")


def column_hashes(frame: pd.DataFrame, spec: TableSpec, chunk_rows: int = 100_000) -> list:
    """``hash_array`` of each contract column (timestamps as UTC microseconds, numbers as
    float64 with missing as -1.2345e300, text with missing as ""), a chunk at a time so
    the temporary Python strings never exceed one chunk."""
    return [_chunked(frame[col.name], col.kind, chunk_rows) for col in spec.columns]


def _chunked(values: pd.Series, kind: str, chunk_rows: int) -> np.ndarray:
    values = pd.Series(values)
    if len(values) <= chunk_rows:
        return _column_hash(values, kind)
    return np.concatenate(
        [
            _column_hash(values.iloc[start : start + chunk_rows], kind)
            for start in range(0, len(values), chunk_rows)
        ]
    )


def _column_hash(s: pd.Series, kind: str) -> np.ndarray:
    if kind in ("timestamp", "date"):
        stamps = s.astype(TS_DTYPE).dt.tz_localize(None).to_numpy(dtype="datetime64[us]")
        return hash_array(stamps.view("int64"))
    if kind in ("float", "int", "bool"):
        return hash_array(s.astype("float64").fillna(-1.2345e300).to_numpy())
    # A missing code hashes as "" (what the stored hashes were made with; empty
    # text is always read as missing, so the two never need telling apart).
    return _text_hashes(s, "")


def _mostly_distinct(arr: pa.Array, sample: int = 10_000) -> bool:
    """Whether most of the first ``sample`` values differ (only the speed depends on it)."""
    head = arr.slice(0, sample)
    return len(head) >= 1_000 and pc.count_distinct(head).as_py() > 0.5 * len(head)


def _text_hashes(values: pd.Series, missing: str) -> np.ndarray:
    """``pandas.util.hash_array`` of the values as Python strings (``missing`` for NA),
    computed once per distinct value through Arrow's dictionary encoding: the same
    numbers, without building a million Python strings per column."""
    arr = pa.array(values)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if not pa.types.is_dictionary(arr.type) and _mostly_distinct(arr):  # ids, feature snapshots
        whole = np.asarray(pc.fill_null(arr, missing).to_numpy(zero_copy_only=False), dtype=object)
        return hash_array(whole, categorize=False)
    if not pa.types.is_dictionary(arr.type):
        arr = pc.dictionary_encode(arr)
    uniq = np.array([*arr.dictionary.to_pylist(), missing], dtype=object)
    codes = pc.fill_null(arr.indices, len(uniq) - 1).to_numpy(zero_copy_only=False)
    return hash_array(uniq, categorize=False)[codes]
