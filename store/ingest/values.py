"""Reading numbers, instants and calendar dates from text, vectorised, never coercing.

Each parser returns the values and masks of what could not be read, with the reason
kept apart, so the validator can say *why*: not a number, not finite, too small to
store, outside the sane years, a local time that a clock change made ambiguous.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

NUMBER_RE = r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$"
# A digit other than 0 before the exponent: the text is not zero, whatever it parses to.
NONZERO_RE = r"^[^eE]*[1-9]"
# An offset after a time of day: Z, +08:00, +0800 or +08 (a date alone ends in "-01" too).
OFFSET_RE = r"(?:[T ]\d{2}(?::?\d{2}){0,2}(?:[.,]\d+)?)\s*(?:[Zz]|[+-]\d{2}(?::?\d{2})?)$"
# Naive text pandas reads without a zone; used when a naive batch turns out to hold
# something pandas reads as zoned after all (then the rest is reported unreadable).
NAIVE_RE = r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$"
DATE_PREFIX_RE = r"^\d{4}-\d{2}-\d{2}"
# The common spelling — date, time to at most microseconds, explicit offset — which
# Arrow's own ISO 8601 cast reads exactly as pandas does, ten times faster. Anything
# else (no offset, other layouts, impossible dates) takes the pandas path.
PLAIN_TS_RE = (
    r"^\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])[T ](?:[01]\d|2[0-3]):[0-5]\d"
    r"(?::[0-5]\d(?:\.\d{1,6})?)?(?:Z|[+-](?:[01]\d|2[0-3]):?[0-5]\d)$"
)
# Instants a decision log can hold. Outside it a value is a typo or a sentinel, and
# years beyond 9999 (9999-12-31T23:00-05:00 in UTC) break every reader of the store.
SANE_FROM = np.datetime64("1900-01-01T00:00:00", "us")
SANE_UNTIL = np.datetime64("2200-01-01T00:00:00", "us")
# Whole numbers beyond 2**53 lose digits as float64 and overflow int64 soon after.
MAX_WHOLE = float(2**53)


def _bool(arr: pa.Array) -> np.ndarray:
    return np.asarray(arr.fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)


def parse_numbers(text: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Parse trimmed decimal text; returns (float64 values, unreadable mask). Empty is NaN."""
    empty = _bool(pc.equal(text, ""))
    ok = pc.match_substring_regex(text, NUMBER_RE)
    values = pc.cast(pc.if_else(ok, text, pa.scalar(None, pa.string())), pa.float64())
    out = values.to_numpy(zero_copy_only=False).astype("float64")
    bad = ~empty & ~_bool(ok)
    return out, bad


def out_of_range_numbers(text: pa.Array, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(overflow, underflow) masks of readable numbers float64 cannot hold: ``1e309``
    reads as infinity, ``1e-400`` as 0."""
    overflow = ~np.isfinite(values) & ~np.isnan(values)
    zero = values == 0
    underflow = zero & _bool(pc.match_substring_regex(text, NONZERO_RE)) if zero.any() else zero
    return overflow, underflow


def _arrow_instants(text: pa.Array) -> np.ndarray | None:
    """UTC instants of offset-carrying ISO 8601 text via Arrow, or None if any is refused."""
    try:
        stamps = pc.cast(text, pa.timestamp("us", tz="UTC"))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    return np.asarray(stamps.cast(pa.int64()).to_numpy(zero_copy_only=False)).view("datetime64[us]")


def _local_instants(text: pa.Array, tz: str) -> tuple[np.ndarray, np.ndarray]:
    """UTC instants of zone-less ISO 8601 text read as wall-clock time in ``tz``, and the
    mask of times a clock change makes ambiguous or skips."""
    local = pd.to_datetime(
        pd.Series(pd.arrays.ArrowStringArray(text)), format="ISO8601", errors="coerce"
    )
    utc = local.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT").dt.tz_convert("UTC")
    out = utc.dt.tz_localize(None).to_numpy(dtype="datetime64[us]")
    return out, (local.notna() & utc.isna()).to_numpy()


def parse_timestamps(
    text: pa.Array, tz: str, *, with_dst: bool = False
) -> (
    tuple[pd.Series, np.ndarray, np.ndarray] | tuple[pd.Series, np.ndarray, np.ndarray, np.ndarray]
):
    """Parse trimmed ISO 8601 text; values without an offset are read in ``tz``.

    Returns (UTC timestamps, unreadable mask, no-offset mask), and with ``with_dst`` the
    mask of local times a clock change makes ambiguous or non-existent (also unreadable).
    Empty is NaT, in no mask.
    """
    n = len(text)
    empty = _bool(pc.equal(text, ""))
    out = np.full(n, np.datetime64("NaT"), dtype="datetime64[us]")
    dst = np.zeros(n, dtype=bool)
    plain = _bool(pc.match_substring_regex(text, PLAIN_TS_RE))
    if plain.any():
        fast = _arrow_instants(pc.filter(text, pa.array(plain)))
        if fast is None:
            plain[:] = False
        else:
            out[plain] = fast
    rest = ~empty & ~plain
    has_offset = (
        _bool(pc.match_substring_regex(text, OFFSET_RE)) if rest.any() else np.zeros(n, bool)
    )
    aware = rest & has_offset
    if aware.any():
        sub = pd.Series(pd.arrays.ArrowStringArray(pc.filter(text, pa.array(aware))))
        parsed = pd.to_datetime(sub, utc=True, format="ISO8601", errors="coerce")
        out[aware] = parsed.dt.tz_localize(None).to_numpy(dtype="datetime64[us]")
    naive = rest & ~has_offset
    if naive.any():
        try:
            out[naive], dst[naive] = _local_instants(pc.filter(text, pa.array(naive)), tz)
        except (ValueError, TypeError, OverflowError):  # some value carries a zone after all
            naive &= _bool(pc.match_substring_regex(text, NAIVE_RE))
            if naive.any():
                out[naive], dst[naive] = _local_instants(pc.filter(text, pa.array(naive)), tz)
    bad = ~empty & np.isnat(out)
    series = pd.Series(out).dt.tz_localize("UTC")
    if with_dst:
        return series, bad, naive & ~bad, dst
    return series, bad, naive & ~bad


def outside_window(values: pd.Series) -> np.ndarray:
    """Instants before 1900 or from 2200 on (NaT is in neither)."""
    naive = values.dt.tz_localize(None).to_numpy(dtype="datetime64[us]")
    return ~np.isnat(naive) & ((naive < SANE_FROM) | (naive >= SANE_UNTIL))


def parse_dates(text: pa.Array) -> tuple[pd.Series, np.ndarray]:
    """Calendar dates as midnight UTC of the date written, never moved by a zone.

    ``2024-02-01`` and ``2024-02-01T00:00:00+01:00`` are both 1 February. Returns
    (values, unreadable mask); empty is NaT.
    """
    _, bad, _ = parse_timestamps(text, "UTC")
    has_date = _bool(pc.match_substring_regex(text, DATE_PREFIX_RE))
    prefix = pc.utf8_slice_codeunits(text, 0, 10)
    days, bad_day, _ = parse_timestamps(
        pc.if_else(pa.array(has_date & ~bad), prefix, pa.scalar("", pa.string())), "UTC"
    )
    empty = _bool(pc.equal(text, ""))
    bad = bad | (has_date & bad_day) | (~has_date & ~empty)
    return days.where(~bad), bad
