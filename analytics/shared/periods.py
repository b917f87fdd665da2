"""Calendar periods, one time-zone rule: every bucket is taken of the instant in UTC.

Weeks start on Monday (ISO), months and quarters on their first day, all at UTC
midnight. Every journey's week, month and quarter bucketing goes through here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

FREQS = ("week", "month", "quarter")
_US_PER_DAY = 86_400_000_000


def _naive_utc(times: pd.Series | pd.DatetimeIndex) -> pd.DatetimeIndex:
    t = pd.DatetimeIndex(times)
    return t.tz_convert("UTC").tz_localize(None) if t.tz is not None else t


def period_start(times: pd.Series, freq: str) -> pd.Series:
    """Start (UTC midnight, tz-aware) of the ISO week (``"week"``, Monday), month or
    quarter of each time, indexed like ``times``."""
    naive = pd.Series(_naive_utc(times), index=times.index)
    if freq == "week":
        # Integer days since 1970-01-01 (a Thursday): fast at a million rows.
        us = naive.to_numpy(dtype="datetime64[us]").view("int64")
        days = us // _US_PER_DAY
        monday = (days - (days + 3) % 7) * _US_PER_DAY
        start = pd.Series(monday.astype("datetime64[us]"), index=times.index)
        start[naive.isna().to_numpy()] = pd.NaT
    elif freq == "month":
        start = naive.dt.to_period("M").dt.start_time
    elif freq == "quarter":
        start = naive.dt.to_period("Q").dt.start_time
    else:
        raise ValueError(f"freq must be one of {', '.join(FREQS)}, got {freq!r}")
    return start.dt.tz_localize("UTC")


def month_start_naive(times: pd.Series) -> pd.Series:
    """First day of each time's calendar month (UTC), tz-naive for charts."""
    return pd.Series(_naive_utc(times).to_period("M").to_timestamp(), index=times.index)


def quarter_labels(times: pd.Series) -> tuple[np.ndarray, pd.DatetimeIndex]:
    """(``"2025Q1"``-style label, tz-naive quarter start) of each time's UTC quarter."""
    period = _naive_utc(times).to_period("Q")
    return period.astype(str).to_numpy(dtype=object), period.to_timestamp()
