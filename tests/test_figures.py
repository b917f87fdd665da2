"""One number per figure: SLA met and the latencies agree wherever they are shown.

The tiny log is ``tests/test_kpis.py``'s (its docstring lists every row and the hours
worked out by hand). Since go-live (03-01) the owned recommendations with an SLA are
R6 (met: 4 h ≤ 12 h), R8 (met: 6 h ≤ 48 h), R10 (open, due 03-02 23:00, past it at the
log's end 03-03 01:00: a breach) and R9 (open, due 03-03 13:00: still inside, left out).
So SLA met since go-live is 2 of 3, on every path.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics.baseline.compare import kpi_report
from analytics.governance.ownership import decision_status, sla_rates
from analytics.shared.figures import (
    NAT,
    US_PER_HOUR,
    fmt_hours,
    latency,
    log_end,
    sla_met,
    sla_outcome,
    to_us,
)
from tests.baseline.test_kpis import GO_LIVE, make_frames

LOG_END = pd.Timestamp("2025-03-03 01:00", tz="UTC")


def test_sla_outcome_by_hand() -> None:
    h = US_PER_HOUR
    created = np.array([0, 0, 0, 0, 0, 0], dtype="int64")
    decided = np.array([5 * h, 9 * h, NAT, NAT, NAT, 2 * h], dtype="int64")
    sla = np.array([8.0, 8.0, 8.0, 8.0, 8.0, np.nan])
    answered = np.array([True, True, False, False, False, True])
    expired = np.array([False, False, True, False, False, False])
    # as of 10 h: the 4th (open, due at 8 h) is past its SLA; the 5th is judged at 8 h below.
    out = sla_outcome(created, decided, sla, answered=answered, expired=expired, as_of_us=10 * h)
    np.testing.assert_array_equal(out, [1.0, 0.0, 0.0, 0.0, 0.0, np.nan])
    # Exactly at the due moment an open one is not past its SLA yet: left out.
    out = sla_outcome(created, decided, sla, answered=answered, expired=expired, as_of_us=8 * h)
    np.testing.assert_array_equal(out, [1.0, 0.0, 0.0, np.nan, np.nan, np.nan])
    counts = sla_met(out, pending=np.isnan(out) & ~answered & ~expired)
    assert (counts.met, counts.breached, counts.pending, counts.rated) == (1, 2, 2, 3)
    assert counts.rate == pytest.approx(1 / 3)


def test_log_end_and_latency_by_hand() -> None:
    created = np.array([3, NAT, 1], dtype="int64")
    decided = np.array([NAT, 7, NAT], dtype="int64")
    assert log_end(created, decided) == 7
    lat = latency(np.array([1.0, 2.0, 3.0, 4.0, np.nan]))
    # numpy's linear quantile of 1..4: median 2.5, p90 at position 2.7 → 3.7.
    assert (lat.median_h, lat.p90_h, lat.n) == (pytest.approx(2.5), pytest.approx(3.7), 4)
    assert fmt_hours(0.41) == "25 min" and fmt_hours(12.13) == "12.1 h"


def test_sla_met_is_one_number_on_the_baseline_page_the_cli_and_the_ownership_page() -> None:
    frames = make_frames()
    cli = kpi_report(frames, go_live=GO_LIVE)["current"]["sla_met_rate"]
    recs = frames.recommendations
    since = recs[recs["signal_at"] >= pd.Timestamp(GO_LIVE, tz="UTC")]
    status = decision_status(since, frames.decisions, frames.owners, now=LOG_END)
    own = sla_rates(status).iloc[0]
    assert cli == pytest.approx(2 / 3)
    assert own["sla_met_rate"] == pytest.approx(2 / 3)
    assert (int(own["n_met"]), int(own["n_rated"]), int(own["n_pending"])) == (2, 3, 1)


def test_to_us_reads_naive_as_utc() -> None:
    aware = pd.Series(pd.to_datetime(["1970-01-01 01:00"], utc=True))
    naive = pd.Series(pd.to_datetime(["1970-01-01 01:00"]))
    assert to_us(aware)[0] == to_us(naive)[0] == US_PER_HOUR


def _pipeline_log() -> tuple[pd.DataFrame, pd.DataFrame]:
    """21 AI recommendations detected in 10 min but one expired one detected in 10 h, and
    5 pre-AI exceptions (no model_version) detected in 6 h."""
    t0 = pd.Timestamp("2025-06-02", tz="UTC")
    signal = [t0 + pd.Timedelta(hours=i) for i in range(27)]
    detect_min = [10.0] * 21 + [600.0] + [360.0] * 5
    recs = pd.DataFrame(
        {
            "rec_id": pd.array([f"R{i}" for i in range(27)], dtype="string"),
            "signal_at": pd.Series(signal).astype("datetime64[us, UTC]"),
            "created_at": pd.Series(
                [s + pd.Timedelta(minutes=m) for s, m in zip(signal, detect_min, strict=True)]
            ).astype("datetime64[us, UTC]"),
            "model_version": pd.array(["m1"] * 22 + [None] * 5, dtype="string"),
        }
    )
    decisions = pd.DataFrame(
        {"rec_id": pd.array(["R21"], dtype="string"), "decision": pd.array(["expired"])}
    )
    return recs, decisions


def test_detection_latency_is_one_figure_on_the_data_page_and_the_gate() -> None:
    from analytics.governance.gates import _detection_check
    from analytics.governance.health import detection_latency

    recs, decisions = _pipeline_log()
    finding = detection_latency(recs, decisions)
    gate = _detection_check(recs, decisions)
    # 21 values of 10 min: the expired one and the pre-AI ones are outside the figure.
    assert finding["p90_h"] == pytest.approx(10 / 60, abs=1e-3)
    assert finding["n"] == 21
    assert gate["value"] == pytest.approx(10.0) and gate["n"] == 21
    assert "p90 10 min over 21" in finding["detail"] and "p90 10 min over 21" in gate["detail"]
