"""Rule actions and the backtest: hand-worked frames, and planted helpful and harmful rules."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from analytics.overrides.log import decided_log
from analytics.policy.action import median_adjustment, rule_action
from analytics.policy.backtest import HELPS, HURTS, NOISE, NOT_ENOUGH, backtest_rule
from contract.actions import ActionError, check_action, describe_action, proposed_qty


def _frames(recs: dict, dec: dict, out: dict) -> SimpleNamespace:
    def ts(values: list[str]) -> pd.Series:
        return pd.Series(pd.to_datetime(values, utc=True).astype("datetime64[us, UTC]"))

    recs = {**recs, "created_at": ts(recs["created_at"])}
    dec = {**dec, "decided_at": ts(dec["decided_at"])}
    out = {**out, "observed_at": ts(out["observed_at"])}
    r = pd.DataFrame(recs)
    for c in ("rec_type", "site", "supplier"):
        r[c] = r[c].astype("category")
    r["rec_id"] = r["rec_id"].astype("string")
    d = pd.DataFrame(dec)
    d["rec_id"] = d["rec_id"].astype("string")
    d["decided_by"] = d["decided_by"].astype("category")
    d["decision"] = d["decision"].astype("category")
    o = pd.DataFrame(out)
    o["rec_id"] = o["rec_id"].astype("string")
    return SimpleNamespace(recommendations=r, decisions=d, outcomes=o)


def _hand_log() -> pd.DataFrame:
    """Four SUP-9 recs and one other, worked out by hand for a +20% rule.

    A 2025-11-03 rec 100, planner 100 (accepted), actual 120 → model err 20, rule 120 err 0, people 20
    B 2025-12-01 rec 50,  planner 60 (modified),  actual 55  → model 5, rule 60 err 5, people 5
    C 2026-01-05 rec 200, planner 0 (rejected),   actual 200 → model 0, rule 240 err 40, people 200
    D 2026-01-06 rec 10,  planner 10, no outcome  → matched, not evaluated
    E other supplier: not matched
    Gains vs model: 20, 0, −40 (mean −20/3); vs people: 20, 0, 160 (mean 60).
    """
    ids = ["A", "B", "C", "D", "E"]
    when = ["2025-11-03", "2025-12-01", "2026-01-05", "2026-01-06", "2026-01-07"]
    return decided_log(
        _frames(
            {
                "rec_id": ids,
                "rec_type": ["stockout_risk"] * 5,
                "site": ["P1"] * 5,
                "supplier": ["SUP-9", "SUP-9", "SUP-9", "SUP-9", "SUP-1"],
                "created_at": when,
                "recommended_qty": [100.0, 50.0, 200.0, 10.0, 100.0],
            },
            {
                "rec_id": ids,
                "decided_at": when,
                "decided_by": ["ann"] * 5,
                "decision": ["accepted", "modified", "rejected", "accepted", "accepted"],
                "final_qty": [100.0, 60.0, 0.0, 10.0, 100.0],
            },
            {
                "rec_id": ["A", "B", "C", "E"],
                "observed_at": when[:3] + when[4:],
                "actual_qty": [120.0, 55.0, 200.0, 100.0],
            },
        )
    )


def test_actions_are_checked_and_applied() -> None:
    assert check_action({"kind": "adjust_pct", "value": "25"}) == {
        "kind": "adjust_pct",
        "value": 25.0,
    }
    assert check_action({"kind": "reject", "value": 3}) == {"kind": "reject"}
    assert proposed_qty({"kind": "adjust_pct", "value": 25}, 1000) == pytest.approx(1250.0)
    assert proposed_qty({"kind": "reject"}, 40.0) == 0.0
    np.testing.assert_allclose(
        proposed_qty({"kind": "adjust_pct", "value": -20}, [100.0, np.nan]), [80.0, np.nan]
    )
    for bad in (
        {"kind": "adjust_pct", "value": 501},
        {"kind": "adjust_pct", "value": -100.5},
        {"kind": "adjust_pct"},
        {"kind": "delay_days", "value": 2},
        "reject",
    ):
        with pytest.raises(ActionError):
            check_action(bad)
    assert describe_action({"kind": "adjust_pct", "value": 25.0}) == "+25%"
    assert describe_action({"kind": "reject"}) == "reject"


def test_rule_action_from_direction_and_median() -> None:
    assert rule_action("reject", float("nan")) == {"kind": "reject"}
    assert rule_action("increase", 24.64) == {"kind": "adjust_pct", "value": 24.6}
    assert rule_action("decrease", float("nan")) is None
    assert rule_action("increase", 900.0) == {"kind": "adjust_pct", "value": 500.0}
    log = _hand_log()
    # Only B is a SUP-9 increase: +20%.
    assert median_adjustment(log, {"supplier": "SUP-9"}, "increase") == pytest.approx(20.0)


def test_backtest_by_hand() -> None:
    bt = backtest_rule(
        _hand_log(),
        rule_id="R-x",
        conditions={"supplier": "SUP-9"},
        action={"kind": "adjust_pct", "value": 20},
    )
    assert (bt.n_matched, bt.n_evaluated) == (4, 3)
    assert bt.value_added == pytest.approx(-20 / 3)
    assert bt.vs_people["value_added"] == pytest.approx(60.0)
    assert bt.verdict == NOT_ENOUGH  # three evaluated recommendations decide nothing
    assert [(q["quarter"], q["n"]) for q in bt.by_quarter] == [("2025Q4", 2), ("2026Q1", 1)]
    assert bt.by_quarter[0]["value_added"] == pytest.approx(10.0)
    assert bt.by_quarter[1]["value_added"] == pytest.approx(-40.0)
    doc = bt.to_json()
    assert list(doc) == [
        "rule_id", "action", "n_matched", "n_evaluated", "value_added", "ci_low", "ci_high",
        "verdict", "vs_people", "by_quarter",
    ]  # fmt: skip
    assert list(doc["vs_people"]) == ["value_added", "ci_low", "ci_high"]
    # Shortfalls: model short on A and B (2/3), rule on none, people on A and C (2/3).
    assert bt.shortfall_share["rule"] == 0.0
    assert bt.shortfall_share["model"] == pytest.approx(2 / 3)


def test_backtest_of_a_rule_matching_nothing() -> None:
    bt = backtest_rule(
        _hand_log(), rule_id="R-y", conditions={"supplier": "SUP-404"}, action={"kind": "reject"}
    )
    assert (bt.n_matched, bt.n_evaluated, bt.verdict) == (0, 0, NOT_ENOUGH)
    assert bt.to_json()["value_added"] is None and bt.by_quarter == []


def _planted(n: int = 3000, seed: int = 7) -> pd.DataFrame:
    """A year of recommendations with two planted patterns of known value.

    SUP-A in Q4: actual demand is 30% above the recommendation (a +25% rule helps).
    Customer line ``C-B``: actual equals the recommendation, planners cut 30% (that cut hurts).
    Elsewhere actual is the recommendation ±10%.
    """
    rng = np.random.default_rng(seed)
    days = rng.integers(0, 365, n)
    created = (pd.Timestamp("2025-01-01", tz="UTC") + pd.to_timedelta(days, unit="D")).astype(
        "datetime64[us, UTC]"
    )
    supplier = rng.choice(["SUP-A", "SUP-B", "SUP-C"], n)
    site = rng.choice(["P1", "C-B", "P3"], n)
    rec = rng.uniform(50, 150, n).round()
    q4 = created.month >= 10
    helpful = (supplier == "SUP-A") & q4
    harmful = site == "C-B"
    actual = rec * rng.uniform(0.9, 1.1, n)
    actual[helpful] = rec[helpful] * rng.uniform(1.25, 1.35, helpful.sum())
    actual[harmful & ~helpful] = rec[harmful & ~helpful] * rng.uniform(
        0.97, 1.03, (harmful & ~helpful).sum()
    )
    final = rec.copy()
    decision = np.array(["accepted"] * n, dtype=object)
    final[harmful] = rec[harmful] * 0.7
    decision[harmful] = "modified"
    ids = [f"X{i:05d}" for i in range(n)]
    iso = [t.isoformat() for t in created]
    return decided_log(
        _frames(
            {
                "rec_id": ids,
                "rec_type": ["stockout_risk"] * n,
                "site": site,
                "supplier": supplier,
                "created_at": iso,
                "recommended_qty": rec,
            },
            {
                "rec_id": ids,
                "decided_at": iso,
                "decided_by": ["ann"] * n,
                "decision": decision,
                "final_qty": final,
            },
            {"rec_id": ids, "observed_at": iso, "actual_qty": actual},
        )
    )


def test_planted_helpful_rule_helps_and_harmful_rule_hurts() -> None:
    log = _planted()
    good = backtest_rule(
        log,
        rule_id="good",
        conditions={"supplier": "SUP-A", "quarter": "Q4"},
        action={"kind": "adjust_pct", "value": 25},
    )
    assert good.verdict == HELPS and good.ci_low > 0
    # Each evaluated rec: model error ≈ 30% of rec, rule error ≈ 5%: about +25% of ~100 units.
    assert 15 < good.value_added < 35
    bad = backtest_rule(
        log,
        rule_id="bad",
        conditions={"site": "C-B"},
        action={"kind": "adjust_pct", "value": median_adjustment(log, {"site": "C-B"}, "decrease")},
    )
    assert bad.action == {"kind": "adjust_pct", "value": pytest.approx(-30.0)}
    assert bad.verdict == HURTS and bad.ci_high < 0
    # People did exactly what the harmful rule encodes: against them it is no better or worse.
    assert bad.vs_people["value_added"] == pytest.approx(0.0, abs=1e-6)
    # A rule on rows where the model is already right is noise, not help.
    neutral = backtest_rule(
        log,
        rule_id="neutral",
        conditions={"supplier": "SUP-B", "site": "P1"},
        action={"kind": "adjust_pct", "value": 0.5},
    )
    assert neutral.verdict == NOISE


def test_backtest_is_seeded() -> None:
    log = _planted(n=400)
    args = {
        "rule_id": "g",
        "conditions": {"supplier": "SUP-A"},
        "action": {"kind": "adjust_pct", "value": 10},
    }
    a = backtest_rule(log, random_state=3, **args)
    b = backtest_rule(log, random_state=3, **args)
    assert (a.ci_low, a.ci_high) == (b.ci_low, b.ci_high)
