"""Cost of late decisions and money at risk, against values worked out by hand."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from analytics.baseline.compare import kpi_report
from analytics.baseline.kpis import kpi_tables, split
from analytics.baseline.late_cost import SumSample, late_by_group, late_tile, rec_windows
from analytics.baseline.money_at_risk import money_at_risk
from analytics.baseline.targets import resolve_targets
from contract.frames import Frames
from tests.baseline.test_kpis import typed

GO = date(2025, 3, 1)
S, E, M = "stockout_risk", "expedite", "maintenance"


def _rec(rec_id: str, rec_type: str, site: str, created: str, impact: float | None) -> dict:
    at = pd.Timestamp(created, tz="UTC")
    return {"rec_id": rec_id, "rec_type": rec_type, "site": site, "signal_at": at,
            "created_at": at, "est_impact_usd": impact}  # fmt: skip


def _dec(rec_id: str, created: str, hours: float, decision: str) -> dict:
    at = pd.Timestamp(created, tz="UTC") + pd.Timedelta(hours=hours)
    return {"rec_id": rec_id, "decided_at": at, "decided_by": "p", "decision": decision}


# Owners: stockout at every site 12 h (own1), at site B 48 h (own2); expedite only at A
# (own3, 24 h); maintenance has no owner at all.
OWNERS = [
    {"rec_type": S, "site": "*", "owner": "own1", "escalation_to": "boss", "sla_hours": 12},
    {"rec_type": S, "site": "B", "owner": "own2", "escalation_to": "boss", "sla_hours": 48},
    {"rec_type": E, "site": "A", "owner": "own3", "escalation_to": None, "sla_hours": 24},
]
RECS = [
    _rec("L1", S, "A", "2025-02-01", 100),  # decided after 10 h of 12: met
    _rec("L2", S, "B", "2025-02-02", 200),  # 30 h: met by B's 48 h (the '*' row's 12 h would not)
    _rec("L3", S, "A", "2025-02-03", 300),  # 13 h of 12: late
    _rec("L4", E, "A", "2025-02-04", 400),  # expired: late
    _rec("L5", E, "A", "2025-02-05", 500),  # open: not counted until decided
    _rec("L6", M, "A", "2025-02-06", 600),  # no owner: answered after 30 h (unowned waiting)
    _rec("L7", S, "A", "2025-02-07", None),  # late, impact unknown: counted, $0
    _rec("C1", S, "A", "2025-03-02", 1000),  # 24 h of 12: late
    _rec("C2", S, "B", "2025-03-03", 50),  # 47 h of 48: met
    _rec("C3", E, "A", "2025-03-04", 5000),  # open
    _rec("C4", M, "A", "2025-03-05", 80),  # no owner, open 100 h at the log's end
    _rec("C5", E, "B", "2025-03-05", 70),  # expedite at B: no owner row; expired
]
DECS = [
    _dec("L1", "2025-02-01", 10, "accepted"),
    _dec("L2", "2025-02-02", 30, "modified"),
    _dec("L3", "2025-02-03", 13, "rejected"),
    _dec("L4", "2025-02-04", 30, "expired"),
    _dec("L6", "2025-02-06", 30, "rejected"),
    _dec("L7", "2025-02-07", 20, "accepted"),
    _dec("C1", "2025-03-02", 24, "accepted"),
    _dec("C2", "2025-03-03", 47, "accepted"),
    _dec("C5", "2025-03-05", 100, "expired"),  # the log's last timestamp: 03-09 04:00
]


def _period(start: str, cogs: float, expedite: float, revenue: float | None) -> dict:
    return {"period_start": pd.Timestamp(start, tz="UTC"), "site": "A", "cogs_usd": cogs,
            "expedite_usd": expedite, "stockout_events": None, "revenue_usd": revenue}  # fmt: skip


# Baseline 2% of COGS, current 4% (target 3%); current revenue 200,000 over 14 days.
PERIODS = [
    _period("2025-02-03", 10_000, 200, None),
    _period("2025-02-10", 10_000, 200, None),
    _period("2025-03-03", 10_000, 500, 100_000),
    _period("2025-03-10", 10_000, 300, 100_000),
]


def frames(periods: list[dict] = PERIODS) -> Frames:
    return Frames(
        recommendations=typed("recommendations", RECS),
        decisions=typed("decisions", DECS),
        outcomes=typed("outcomes", []),
        orders=typed("orders", []),
        kpi_periods=typed("kpi_periods", periods),
        owners=typed("owners", OWNERS),
        version="t",
    )


@pytest.fixture(scope="module")
def report() -> dict:
    return kpi_report(frames(), go_live=GO)


def test_cost_of_late_decisions_by_hand(report: dict) -> None:
    b, c = report["baseline"], report["current"]
    # Baseline: L3 $300 + L4 $400 (expired) + L7 (no impact); L5 open and L6 unowned are out.
    assert (b["late_decision_usd"], b["late_decision_n"]) == (700.0, 3)
    assert (c["late_decision_usd"], c["late_decision_n"]) == (1000.0, 1)  # C1 only
    # Windows: 02-01 → go-live is 28 days; go-live → last signal 03-05 is 4 days.
    assert b["late_decision_usd_per_year"] == pytest.approx(700 * 365.25 / 28, abs=0.01)
    assert c["late_decision_usd_per_year"] == pytest.approx(1000 * 365.25 / 4, abs=0.01)
    change = report["change"]["late_decision_usd"]
    assert change["delta"] == 300.0
    assert change["verdict"] == "not enough data"  # 5 and 2 rated recommendations


def test_late_cost_per_type_and_a_type_with_no_owner(report: dict) -> None:
    by = report["by_type"]
    assert by[S]["baseline"]["late_decision_usd"] == 300.0
    assert by[S]["baseline"]["late_decision_n"] == 2  # L3, L7
    assert by[E]["baseline"]["late_decision_usd"] == 400.0
    assert by[S]["current"]["late_decision_usd"] == 1000.0
    # Expedite now: C3 open, C5 at a site with no owner row: nothing rated.
    assert by[E]["current"]["late_decision_usd"] is None
    assert by[M]["baseline"]["late_decision_usd"] is None  # no owner, no SLA, no cost
    assert by[M]["current"]["late_decision_n"] is None


def test_late_cost_by_type_and_owner_and_tile() -> None:
    tables = kpi_tables(frames())
    _, cur = split(tables, GO)
    assert rec_windows(tables, GO) == (28.0, 4.0)
    by = late_by_group(cur.recs, ["rec_type", "owner"], days=4.0, revenue_a_year=1e6)
    assert by[["rec_type", "owner", "late_decision_usd", "late_decision_n", "n_rated"]].to_dict(
        "records"
    ) == [
        {"rec_type": S, "owner": "own1", "late_decision_usd": 1000.0, "late_decision_n": 1, "n_rated": 1},
        {"rec_type": S, "owner": "own2", "late_decision_usd": 0.0, "late_decision_n": 0, "n_rated": 1},
    ]  # fmt: skip
    assert by["bps_of_revenue"].iloc[0] == pytest.approx(1000 * 365.25 / 4 / 1e6 * 1e4)
    tile = late_tile(tables, cur, go_live=GO)
    assert tile["usd"] == 1000.0 and tile["n"] == 1 and tile["n_rated"] == 2
    # Revenue a year: 200,000 over 14 days; the late cost a year is 175 bps of it.
    assert tile["revenue_per_year"] == pytest.approx(200_000 * 365.25 / 14)
    assert tile["bps_of_revenue"] == pytest.approx(175.0)
    # Resampling two rows ($1000, $0): the sum is 0, 1000 or 2000.
    assert tile["ci_low"] == 0.0 and tile["ci_high"] == 2000.0


def test_money_at_risk_ranked_by_dollars_a_year(report: dict) -> None:
    rows = report["money_at_risk"]
    assert [r["cause"] for r in rows] == [
        "late_decisions", "unowned_waiting", "expedite_above_baseline", "expedite_above_target",
    ]  # fmt: skip
    by = {r["cause"]: r for r in rows}
    assert by["late_decisions"]["usd_per_year"] == pytest.approx(91_312.5)
    assert by["late_decisions"]["bps_of_revenue"] == pytest.approx(175.0)
    # No owner: C4 open 100 h ($80) + C5 expired ($70); a year over the 4 current days.
    assert by["unowned_waiting"]["usd"] == 150.0
    assert by["unowned_waiting"]["usd_per_year"] == pytest.approx(150 * 365.25 / 4)
    # (4% − 2%) × 20,000 COGS = 400 over 14 days; (4% − 3%) × 20,000 = 200.
    assert by["expedite_above_baseline"]["usd"] == pytest.approx(400.0)
    assert by["expedite_above_baseline"]["bps_of_revenue"] == pytest.approx(20.0)
    assert by["expedite_above_target"]["usd"] == pytest.approx(200.0)
    assert by["expedite_above_target"]["usd_per_year"] == pytest.approx(200 * 365.25 / 14)
    assert by["expedite_above_target"]["bps_of_revenue"] == pytest.approx(10.0)
    assert [r["page"] for r in rows] == ["ownership", "ownership", "overrides", "why"]
    for r in rows:
        assert r["ci_low"] <= r["usd_per_year"] <= r["ci_high"]


def test_money_at_risk_below_target_is_zero_and_without_revenue_has_no_bps() -> None:
    cheap = [dict(p, expedite_usd=100, revenue_usd=None) for p in PERIODS]  # 1% everywhere
    tables = kpi_tables(frames(cheap))
    rows = {r["cause"]: r for r in money_at_risk(tables, go_live=GO, targets=resolve_targets())}
    assert rows["expedite_above_target"]["usd"] == 0.0
    assert rows["expedite_above_baseline"]["usd"] == 0.0
    assert all(r["bps_of_revenue"] is None for r in rows.values())
    none = money_at_risk(tables, go_live=GO, targets=resolve_targets({"expedite_pct_cogs": None}))
    target_row = next(r for r in none if r["cause"] == "expedite_above_target")
    assert target_row["usd"] is None and target_row["note"] == "no expedite target set"
    assert none[-1] is target_row  # unknown dollars rank last


def test_sum_sample_bootstrap_is_the_resampled_sum() -> None:
    rng = np.random.default_rng(1)
    small = SumSample.of(np.array([0.0, 0.0, 10.0, np.nan]))
    assert (small.n, small.estimate()) == (3, 10.0)
    draws = small.resample(20_000, rng)
    assert set(np.unique(draws)) <= {0.0, 10.0, 20.0, 30.0}
    assert draws.mean() == pytest.approx(10.0, abs=0.3)
    # P(sum = 0) = (2/3)^3
    assert (draws == 0).mean() == pytest.approx((2 / 3) ** 3, abs=0.02)
    big = SumSample.of(np.r_[np.zeros(50_000), np.full(50_000, 2.0)], scale=0.5)
    boots = big.resample(2000, rng)  # K ~ 50,000: the normal limit
    assert big.estimate() == 50_000.0
    assert boots.mean() == pytest.approx(50_000.0, rel=0.002)
    # sd of the resampled sum: sqrt(n · var) = sqrt(100,000 · 1), times the scale 0.5
    assert boots.std() == pytest.approx(np.sqrt(100_000 * 1.0) * 0.5, rel=0.1)
    assert np.isnan(SumSample.of(np.array([])).resample(3, rng)).all()


def test_without_an_ownership_matrix_nothing_is_priced_as_late() -> None:
    bare = frames()
    bare = Frames(**{**bare.__dict__, "owners": typed("owners", [])})
    report = kpi_report(bare, go_live=GO)
    assert report["baseline"]["late_decision_usd"] is None
    assert report["current"]["late_decision_n"] is None
    assert report["change"]["late_decision_usd"] == {
        "delta": None, "ci_low": None, "ci_high": None, "verdict": "not enough data",
    }  # fmt: skip
    # With no owner row anywhere, every recommendation that waited counts as unowned.
    unowned = next(r for r in report["money_at_risk"] if r["cause"] == "unowned_waiting")
    # C1 answered after exactly 24 h: not past 24 h. C2 after 47 h ($50), C3 and C4 open
    # for over 24 h at the log's end ($5000, $80), C5 expired ($70).
    assert unowned["usd"] == 50 + 5000 + 80 + 70
