"""Value added by overrides (the contract's FVA), win rate, stockouts, flags and monitoring."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from analytics.overrides.analysis import analyse_overrides
from analytics.overrides.log import decided_log
from analytics.overrides.monitor import rule_by_quarter
from analytics.overrides.value_added import (
    VERDICT_COST,
    VERDICT_GAIN,
    VERDICT_UNCLEAR,
    coaching_flags,
    mean_ci,
    stockout_rates,
    value_added,
    verdict,
)
from store.db import dispose_engine, get_engine
from store.ingest.load import load_bundle
from store.reads import clear_memo, load_frames

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data" / "bundle"


def _frames() -> SimpleNamespace:
    """Five decided recs worked out by hand.

    R1 modified 100→120, actual 125: model error 25, override error 5 (gain 20, win)
    R2 modified 100→80,  actual 100: 0 vs 20 (gain −20)
    R3 rejected  50→0,   actual 5:  45 vs 5 (gain 40, win)
    R4 modified 200→210, no outcome: not scored
    R5 accepted 100,     actual 90, no stockout
    """
    ids = ["R1", "R2", "R3", "R4", "R5"]
    ts = pd.to_datetime(
        ["2026-01-05", "2026-01-06", "2026-04-07", "2026-04-08", "2026-04-09"], utc=True
    ).astype("datetime64[us, UTC]")
    recs = pd.DataFrame(
        {
            "rec_id": pd.array(ids, dtype="string"),
            "rec_type": pd.Categorical(["stockout_risk"] * 5),
            "site": pd.Categorical(["P1"] * 5),
            "created_at": ts,
            "recommended_qty": [100.0, 100.0, 50.0, 200.0, 100.0],
        }
    )
    dec = pd.DataFrame(
        {
            "rec_id": pd.array(ids, dtype="string"),
            "decided_at": ts,
            "decided_by": pd.Categorical(["ann", "bob", "ann", "bob", "ann"]),
            "decision": pd.Categorical(
                ["modified", "modified", "rejected", "modified", "accepted"]
            ),
            "final_qty": [120.0, 80.0, 0.0, 210.0, 100.0],
            "reason": pd.array(["sup late", "trim", "line 7 behind", None, None], dtype="string"),
        }
    )
    out = pd.DataFrame(
        {
            "rec_id": pd.array(["R1", "R2", "R3", "R5"], dtype="string"),
            "observed_at": ts[[0, 1, 2, 4]],
            "actual_qty": [125.0, 100.0, 5.0, 90.0],
            "stockout": pd.array([False, True, False, False], dtype="boolean"),
        }
    )
    return SimpleNamespace(recommendations=recs, decisions=dec, outcomes=out)


def test_value_added_overall_by_hand() -> None:
    row = value_added(decided_log(_frames())).iloc[0]
    assert (row["n_overrides"], row["n_scored"]) == (4, 3)
    assert row["model_error"] == pytest.approx(70 / 3)
    assert row["override_error"] == pytest.approx(10.0)
    assert row["value_added"] == pytest.approx(70 / 3 - 10)
    assert row["value_added_pct"] == pytest.approx((70 / 3 - 10) / (70 / 3) * 100)
    assert row["net_units"] == pytest.approx(40.0)
    assert row["win_rate"] == pytest.approx(2 / 3)
    assert row["ci_low"] <= row["value_added"] <= row["ci_high"]


def test_value_added_by_direction_band_and_planner() -> None:
    log = decided_log(_frames())
    bands_of = log.set_index("rec_id")["size_band"]
    assert {k: (None if pd.isna(v) else v) for k, v in bands_of.items()} == {
        "R1": "10–25%",
        "R2": "10–25%",
        "R3": "≥50%",
        "R4": "<10%",
        "R5": None,
    }
    by_dir = value_added(log, by="direction").set_index("direction")
    assert by_dir.at["increase", "value_added"] == pytest.approx(20.0)  # R4 has no outcome
    assert by_dir.at["increase", "n_overrides"] == 2 and by_dir.at["increase", "n_scored"] == 1
    assert by_dir.at["decrease", "value_added"] == pytest.approx(-20.0)
    assert by_dir.at["reject", "value_added"] == pytest.approx(40.0)
    assert by_dir.at["reject", "win_rate"] == 1.0
    by_planner = value_added(log, by="decided_by").set_index("decided_by")
    assert by_planner.at["ann", "value_added"] == pytest.approx(30.0)  # (20 + 40) / 2
    assert by_planner.at["bob", "value_added"] == pytest.approx(-20.0)
    bands = value_added(log, by=["direction", "size_band"])
    assert len(bands) == 4  # increase <10% (unscored) and 10–25%, decrease 10–25%, reject ≥50%


def test_stockout_rates_after_acceptances_vs_overrides() -> None:
    rates = stockout_rates(decided_log(_frames())).set_index("group")
    assert (rates.at["accepted", "n"], rates.at["accepted", "stockouts"]) == (1, 0)
    assert (rates.at["overridden", "n"], rates.at["overridden", "stockouts"]) == (3, 1)
    assert rates.at["overridden", "stockout_rate"] == pytest.approx(1 / 3)
    assert rates.at["overridden", "vs_accepted"] == pytest.approx(100 / 3)
    assert rates.at["decrease", "stockout_rate"] == 1.0


def test_bootstrap_interval_is_seeded_and_sensible() -> None:
    x = np.arange(100, dtype=float)
    a = mean_ci(x, rng=np.random.default_rng(0))
    b = mean_ci(x, rng=np.random.default_rng(0))
    assert a == b
    assert a[0] < 49.5 < a[1]
    big = np.random.default_rng(1).normal(10, 5, 20_000)  # the normal branch
    lo, hi = mean_ci(big, rng=np.random.default_rng(0))
    assert lo < 10 < hi and hi - lo == pytest.approx(2 * 1.6449 * 5 / np.sqrt(20_000), rel=0.05)
    assert np.isnan(mean_ci(np.array([1.0]), rng=np.random.default_rng(0))[0])


def test_verdicts_and_coaching_flags() -> None:
    assert verdict(1.0, 3.0) == VERDICT_GAIN
    assert verdict(-3.0, -1.0) == VERDICT_COST
    assert verdict(-1.0, 1.0) == VERDICT_UNCLEAR
    table = pd.DataFrame(
        {
            "decided_by": ["ann", "bob", "cy"],
            "n_scored": [50, 10, 80],
            "value_added": [-5.0, -9.0, 2.0],
            "value_added_pct": [-20.0, -50.0, 5.0],
            "ci_low": [-8.0, -15.0, 1.0],
            "ci_high": [-2.0, -3.0, 3.0],
            "net_units": [-250.0, -90.0, 160.0],
            "win_rate": [0.3, 0.2, 0.6],
            "verdict": [VERDICT_COST, VERDICT_COST, VERDICT_GAIN],
        }
    )
    flags = coaching_flags(table, name_column="decided_by", min_scored=20)
    assert flags["decided_by"].tolist() == ["ann"]  # bob has too few overrides with an outcome
    assert flags.at[0, "effect"].startswith("5.0 units further from actual per override")


def test_rule_by_quarter_shows_each_quarter() -> None:
    log = decided_log(_frames())
    per_q = rule_by_quarter(log, {"decided_by": "ann"}, "increase").set_index("quarter")
    assert per_q.index.tolist() == ["2026Q1", "2026Q2"]
    assert (per_q.at["2026Q1", "coverage"], per_q.at["2026Q1", "support"]) == (1, 1)
    assert per_q.at["2026Q1", "value_added"] == pytest.approx(20.0)
    assert (per_q.at["2026Q2", "coverage"], per_q.at["2026Q2", "support"]) == (2, 0)


@pytest.fixture(scope="module")
def sample_frames(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    url = f"sqlite:///{tmp_path_factory.mktemp('va') / 'sample.db'}"
    engine = get_engine(url)
    load_bundle(SAMPLE, engine=engine, role="admin")
    yield load_frames(engine)
    dispose_engine(url)
    clear_memo()


def test_value_added_signs_match_the_planted_truth(sample_frames: object) -> None:
    rules = analyse_overrides(sample_frames).rules
    planted = json.loads((SAMPLE / "truth" / "planted_rules.json").read_text())
    for truth in planted:
        rule = rules[rules["conditions"] == truth["conditions"]].iloc[0]
        expected = VERDICT_GAIN if truth["right"] else VERDICT_COST
        assert rule["verdict"] == expected, truth["id"]
        assert (rule["value_added"] > 0) == truth["right"], truth["id"]
        assert (rule["win_rate"] > 0.5) == truth["right"], truth["id"]
