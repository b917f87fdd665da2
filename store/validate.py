"""Checking one raw table against the contract, column by column, vectorised.

``parse_table`` turns a text table into typed columns and a list of problems.
A value that cannot be read is a problem, never a silent NaN. Checks that need
another table (references, time order against the recommendation, conflicts
with the store) live in ``store/load.py``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from store.schema import Column, TableSpec

_OFFSET_RE = r"(?:[Zz]|[+-]\d{2}:?\d{2})$"
_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}
TS_DTYPE = "datetime64[us, UTC]"


@dataclass
class Parsed:
    """A table after column checks.

    ``frame`` has the spec's columns typed (see ``store/schema.py``) plus
    ``features`` / ``extra`` JSON text columns, and ``_line`` (the row's line in
    the file: the header is line 1). ``problems`` has one row per problem:
    ``_idx`` (index into frame), ``column``, ``reason``.
    """

    frame: pd.DataFrame
    problems: pd.DataFrame
    naive_timestamps: dict[str, int] = field(default_factory=dict)
    feature_kinds: dict[str, str] = field(default_factory=dict)


class _Problems:
    def __init__(self) -> None:
        self.parts: list[pd.DataFrame] = []

    def add(self, mask: pd.Series, column: str | None, reason: str | pd.Series) -> None:
        mask = mask.fillna(False).astype(bool)
        if not mask.any():
            return
        idx = mask.index[mask.to_numpy()]
        reasons = reason.loc[idx].to_numpy() if isinstance(reason, pd.Series) else reason
        self.parts.append(pd.DataFrame({"_idx": idx, "column": column, "reason": reasons}))

    def frame(self) -> pd.DataFrame:
        if not self.parts:
            return pd.DataFrame({"_idx": pd.Series(dtype="int64"), "column": [], "reason": []})
        return pd.concat(self.parts, ignore_index=True)


def _quoted(values: pd.Series) -> pd.Series:
    return "'" + values.str.slice(0, 60) + "'"


def parse_timestamps(text: pd.Series, tz: str) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Parse ISO 8601 text; values without an offset are read in ``tz``.

    Returns (UTC timestamps, unreadable mask, no-offset mask). Empty text is NaT
    and in neither mask.
    """
    s = text.str.strip()
    empty = s == ""
    has_offset = s.str.contains(_OFFSET_RE, regex=True)
    out = pd.Series(pd.NaT, index=s.index, dtype=TS_DTYPE)
    aware = ~empty & has_offset
    if aware.any():
        out[aware] = pd.to_datetime(s[aware], utc=True, format="ISO8601", errors="coerce").astype(
            TS_DTYPE
        )
    naive = ~empty & ~has_offset
    if naive.any():
        local = pd.to_datetime(s[naive], format="ISO8601", errors="coerce")
        localized = local.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT").dt.tz_convert(
            "UTC"
        )
        out[naive] = localized.astype(TS_DTYPE)
    bad = ~empty & out.isna()
    return out, bad, naive & ~bad


def parse_numbers(text: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Parse decimal numbers; returns (float64 values, unreadable mask). Empty is NaN."""
    s = text.str.strip()
    empty = s == ""
    values = pd.to_numeric(s.where(~empty, None), errors="coerce").astype("float64")
    bad = ~empty & ~np.isfinite(values.fillna(0.0))
    bad |= ~empty & values.isna()
    return values.where(~bad), bad


def _check_column(
    col: Column, text: pd.Series, tz: str, probs: _Problems, naive: dict[str, int], table: str
) -> pd.Series:
    stripped = text.str.strip()
    empty = stripped == ""
    if col.required:
        probs.add(empty, col.name, "required value missing")
    if col.kind in ("timestamp", "date"):
        values, bad, no_offset = parse_timestamps(text, tz)
        probs.add(bad, col.name, "not an ISO 8601 timestamp: " + _quoted(stripped))
        if col.kind == "timestamp" and no_offset.any():
            naive[f"{table}.{col.name}"] = int(no_offset.sum())
        if col.kind == "date":
            values = values.dt.floor("D")
        return values
    if col.kind in ("float", "int"):
        values, bad = parse_numbers(text)
        probs.add(bad, col.name, "not a number: " + _quoted(stripped))
        if col.kind == "int":
            frac = values.notna() & (values != np.floor(values.fillna(0)))
            probs.add(frac, col.name, "not a whole number: " + _quoted(stripped))
        if col.min_value is not None:
            probs.add(
                values < col.min_value,
                col.name,
                f"must be >= {col.min_value:g}, got " + _quoted(stripped),
            )
        if col.max_value is not None:
            probs.add(
                values > col.max_value,
                col.name,
                f"must be <= {col.max_value:g}, got " + _quoted(stripped),
            )
        if col.kind == "int":
            return values.round().astype("Int64")
        return values
    if col.kind == "bool":
        low = stripped.str.lower()
        bad = ~empty & ~low.isin(_TRUE | _FALSE)
        probs.add(bad, col.name, "not a boolean (true/false/1/0/yes/no): " + _quoted(stripped))
        out = pd.Series(pd.NA, index=text.index, dtype="boolean")
        out[low.isin(_TRUE)] = True
        out[low.isin(_FALSE)] = False
        return out
    if col.kind == "enum":
        bad = ~empty & ~stripped.isin(col.enum)
        probs.add(bad, col.name, f"not one of {'|'.join(col.enum)}: " + _quoted(stripped))
        return stripped.where(~empty & ~bad).astype("string")
    if col.kind == "category":
        # Codes are trimmed of surrounding spaces: "P100 " and "P100" are one site.
        return stripped.where(~empty).astype("string")
    # Free text (reasons, actions) is kept exactly as typed.
    return text.where(~empty).astype("string")


def _json_column(frame: pd.DataFrame) -> pd.Series:
    """One JSON object per row (missing values left out), built by pandas in C."""
    if frame.shape[1] == 0 or frame.empty:
        return pd.Series(None, index=frame.index, dtype="object")
    lines = frame.to_json(orient="records", lines=True, date_format="iso").splitlines()
    return pd.Series(lines, index=frame.index, dtype="object")


def _feature_frame(raw: pd.DataFrame, names: list[str]) -> tuple[pd.DataFrame, dict[str, str]]:
    out: dict[str, pd.Series] = {}
    kinds: dict[str, str] = {}
    for name in names:
        text = raw[name]
        values, bad = parse_numbers(text)
        if not bad.any():
            out[name] = values
            kinds[name] = "number"
        else:
            stripped = text.str.strip()
            out[name] = stripped.where(stripped != "").astype(object)
            kinds[name] = "string"
    return pd.DataFrame(out, index=raw.index), kinds


def parse_table(raw: pd.DataFrame, spec: TableSpec, *, tz: str = "UTC") -> Parsed:
    """Check ``raw`` (all text) against ``spec`` and return typed columns and problems.

    A required column missing from the file makes every row a problem. Columns
    the contract does not name are kept (as JSON in ``extra``) and not checked.
    """
    probs = _Problems()
    naive: dict[str, int] = {}
    raw = raw.reset_index(drop=True)
    typed: dict[str, pd.Series] = {}
    present = set(raw.columns)
    for col in spec.columns:
        if col.name in present:
            typed[col.name] = _check_column(
                col, raw[col.name].astype(str), tz, probs, naive, spec.name
            )
        else:
            if col.required:
                probs.add(
                    pd.Series(True, index=raw.index),
                    col.name,
                    f"required column {col.name!r} missing from the file",
                )
            typed[col.name] = _check_column(
                col, pd.Series("", index=raw.index, dtype=str), tz, _Problems(), {}, spec.name
            )
    frame = pd.DataFrame(typed, index=raw.index)
    known = set(spec.column_names)
    feature_names = sorted(
        c for c in raw.columns if spec.feature_prefix and c.startswith(spec.feature_prefix)
    )
    extra_names = [c for c in raw.columns if c not in known and c not in feature_names]
    kinds: dict[str, str] = {}
    if spec.feature_prefix is not None:
        features, kinds = _feature_frame(raw, feature_names)
        frame["features"] = _json_column(features) if feature_names else None
    frame["extra"] = _json_column(raw[extra_names]) if extra_names else None
    frame["_line"] = np.arange(2, len(raw) + 2, dtype="int64")
    return Parsed(frame=frame, problems=probs.frame(), naive_timestamps=naive, feature_kinds=kinds)


def key_text(frame: pd.DataFrame, key: tuple[str, ...]) -> pd.Series:
    """The row key as one readable string (``a|b`` for composite keys)."""
    parts = []
    for name in key:
        col = frame[name]
        if str(col.dtype).startswith("datetime64"):
            text = col.dt.strftime("%Y-%m-%d").astype("string")
        else:
            text = col.astype("string")
        parts.append(text.fillna(""))
    out = parts[0]
    for part in parts[1:]:
        out = out + "|" + part
    return out.astype(object)


def row_hashes(frame: pd.DataFrame, spec: TableSpec) -> pd.Series:
    """A 64-bit hash of each row's contract values (and feature snapshot), as int64.

    Two rows hash alike exactly when they say the same thing, however the text
    was spelled (``1`` vs ``1.0``, another offset for the same instant).
    Extra columns are not part of it: the contract ignores them.
    """
    cols: dict[str, pd.Series] = {}
    for col in spec.columns:
        s = frame[col.name]
        if col.kind in ("timestamp", "date"):
            naive = s.astype(TS_DTYPE).dt.tz_localize(None)
            cols[col.name] = pd.Series(
                np.asarray(naive, dtype="datetime64[us]").view("int64"), index=frame.index
            )
        elif col.kind in ("float", "int", "bool"):
            cols[col.name] = s.astype("float64").fillna(-1.2345e300)
        else:
            cols[col.name] = s.astype(object).where(s.notna(), "\x00").astype(str)
    if "features" in frame.columns:
        f = frame["features"]
        cols["features"] = f.where(f.notna(), "").astype(str)
    hashed = pd.util.hash_pandas_object(pd.DataFrame(cols, index=frame.index), index=False)
    return pd.Series(hashed.to_numpy(dtype="uint64").view("int64"), index=frame.index)


def json_dumps_row(values: dict) -> str:
    return json.dumps(values, default=str, ensure_ascii=False, sort_keys=True)
