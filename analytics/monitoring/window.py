"""The reference window every model-health figure compares against, and weekly buckets.

Weeks start on Monday (UTC) and are keyed by the day number of that Monday since
1970-01-01, so grouping a million timestamps is integer arithmetic. Every figure of the
wing buckets a recommendation by ``created_at``: when the model scored it and saw its
feature snapshot.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

from analytics.shared.periods import period_start

DEFAULT_WEEKS = 8
_EPOCH = date(1970, 1, 1)


@dataclass(frozen=True)
class Reference:
    """The reference window, ``start`` to ``end`` inclusive (calendar days, UTC)."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"reference window ends ({self.end}) before it starts ({self.start})")

    def to_json(self) -> dict[str, str]:
        return {"from": self.start.isoformat(), "to": self.end.isoformat()}

    def contains(self, day: np.ndarray) -> np.ndarray:
        """Which day numbers (see ``day_numbers``) fall inside the window."""
        return (day >= day_number(self.start)) & (day <= day_number(self.end))

    @property
    def last_week(self) -> int:
        """The week (Monday day number) holding the window's last day."""
        return week_of_day(day_number(self.end))


def default_reference(go_live: date, *, weeks: int = DEFAULT_WEEKS) -> Reference:
    """The first ``weeks`` weeks from go-live."""
    return Reference(go_live, go_live + timedelta(days=7 * weeks - 1))


def reference_from_setting(value: object, go_live: date | None) -> Reference | None:
    """A saved ``{"from": ISO, "to": ISO}`` setting, else the default after ``go_live``."""
    if isinstance(value, dict) and value.get("from") and value.get("to"):
        return Reference(
            date.fromisoformat(str(value["from"])), date.fromisoformat(str(value["to"]))
        )
    return None if go_live is None else default_reference(go_live)


def day_number(day: date) -> int:
    return (day - _EPOCH).days


def day_numbers(ts: pd.Series) -> np.ndarray:
    """Whole UTC days since 1970-01-01 of a timestamp column (naive values are read as UTC)."""
    values = pd.to_datetime(ts, utc=True).dt.tz_localize(None).to_numpy()
    return values.astype("datetime64[D]").astype("int64")


def week_of_day(day: np.ndarray | int) -> np.ndarray | int:
    """The week (its Monday's day number) of each day number, by the one week rule of
    ``analytics.shared.periods`` (ISO weeks, UTC)."""
    scalar = np.ndim(day) == 0
    days = np.atleast_1d(np.asarray(day, dtype="int64"))
    ts = pd.Series(days.astype("datetime64[D]").astype("datetime64[us]")).dt.tz_localize("UTC")
    weeks = day_numbers(period_start(ts, "week"))
    return int(weeks[0]) if scalar else weeks


def week_date(week: int) -> date:
    return _EPOCH + timedelta(days=int(week))


def week_timestamps(weeks: np.ndarray) -> pd.DatetimeIndex:
    return pd.to_datetime(np.asarray(weeks, dtype="int64"), unit="D", utc=True)
