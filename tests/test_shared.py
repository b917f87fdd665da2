"""The shared contract rules (analytics/shared/) against values worked out by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics.shared.forecast_value import unit_gain
from analytics.shared.intervals import wilson_interval
from analytics.shared.lookups import id_positions
from analytics.shared.owners import resolve_owners
from analytics.shared.periods import period_start, quarter_labels


def _ts(*values: str) -> pd.Series:
    return pd.Series(pd.to_datetime(list(values), utc=True, format="ISO8601")).astype(
        "datetime64[us, UTC]"
    )


def test_weeks_start_on_monday_utc_whatever_the_offset() -> None:
    # 2024-03-04 is a Monday; 01:00+02:00 on Monday is still Sunday in UTC.
    got = period_start(_ts("2024-03-04T01:00:00+02:00", "2024-03-10T23:59:00Z"), "week")
    assert got.tolist() == [
        pd.Timestamp("2024-02-26", tz="UTC"),
        pd.Timestamp("2024-03-04", tz="UTC"),
    ]


def test_months_and_quarters_in_utc() -> None:
    t = _ts("2024-04-01T00:30:00+01:00", "2024-12-31T12:00:00Z")
    assert period_start(t, "month").tolist() == [
        pd.Timestamp("2024-03-01", tz="UTC"),
        pd.Timestamp("2024-12-01", tz="UTC"),
    ]
    labels, starts = quarter_labels(t)
    assert list(labels) == ["2024Q1", "2024Q4"]
    assert list(starts) == [pd.Timestamp("2024-01-01"), pd.Timestamp("2024-10-01")]
    with pytest.raises(ValueError, match="freq"):
        period_start(t, "fortnight")


def test_wilson_interval_matches_the_textbook_value() -> None:
    # 8 of 10 at 95%: Wilson gives (0.4902, 0.9433).
    lo, hi = wilson_interval([8, 0], [10, 0])
    assert lo[0] == pytest.approx(0.4902, abs=1e-4)
    assert hi[0] == pytest.approx(0.9433, abs=1e-4)
    assert np.isnan(lo[1]) and np.isnan(hi[1])


def test_unit_gain_is_the_contract_value_added() -> None:
    got = unit_gain([100, 100, 50], [80, 120, 0], [85, 85, np.nan])
    assert got[:2].tolist() == [10.0, -20.0]  # |100-85|-|80-85|, |100-85|-|120-85|
    assert np.isnan(got[2])


def test_most_specific_owner_row_wins() -> None:
    recs = pd.DataFrame({"rec_type": ["a", "a", "b"], "site": ["P1", "P2", "P1"]})
    owners = pd.DataFrame(
        {
            "rec_type": ["a", "a"],
            "site": ["*", "P1"],
            "owner": ["anyone", "pat"],
            "escalation_to": ["boss", "boss"],
            "sla_hours": [24.0, 8.0],
        }
    )
    got = resolve_owners(recs, owners)
    assert got["owner"].tolist()[:2] == ["pat", "anyone"]
    assert pd.isna(got["owner"].iloc[2])
    assert got["sla_hours"].tolist()[:2] == [8.0, 24.0]
    assert got["owner_scope"].tolist()[:2] == ["site", "*"]


@pytest.mark.parametrize("ids", [["R1", "R2", "R3"], ["R-1", "R-22", "R-333"]])
def test_id_positions_on_fixed_and_mixed_widths(ids: list[str]) -> None:
    hay = pd.Series(ids, dtype="string")
    needles = pd.Series([ids[2], "nope", ids[0]], dtype="string")
    assert id_positions(hay, needles).tolist() == [2, -1, 0]


@pytest.mark.parametrize(
    "ids",
    [
        ["R1", "R10", "R2", "REC-0000001"],  # mixed widths
        ["Ü-7", "A-1", "zz", "ä"],  # beyond ASCII: sorted bytewise, as the store sorts text
        ["X" * 100, "short"],  # too long for byte keys: kept as text
    ],
)
def test_id_keys_find_every_id_and_nothing_else(ids: list[str]) -> None:
    from analytics.shared.lookups import id_keys, key_positions, key_text

    keys = np.sort(id_keys(np.array(ids, dtype=object)))
    assert sorted(key_text(keys)) == sorted(ids)
    queries = np.array([*ids, "R", "R1 ", "nope" * 30, ""], dtype=object)
    pos = key_positions(keys, queries)
    assert [key_text(keys)[p] for p in pos[: len(ids)]] == ids
    assert (pos[len(ids) :] == -1).all()
    # keys of another width (another artefact's) are looked up by their text
    other = id_keys(np.array([ids[0], "a-much-longer-id"], dtype=object))
    assert key_positions(keys, other)[0] >= 0 and key_positions(keys, other)[1] == -1
