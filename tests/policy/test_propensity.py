"""Override propensity on generated data with planted patterns: temporal validation, scoring."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from analytics.policy.features import fit_encoder
from analytics.policy.propensity import (
    NotEnoughDecisions,
    calibration_table,
    driving_rules,
    fit_propensity,
    open_recommendations,
    propensity_payload,
    rank_by_propensity,
    score_open,
)


def _world(n: int = 6000, n_open: int = 40, seed: int = 11) -> SimpleNamespace:
    """Two years of recommendations; the last ``n_open`` are open.

    Planted: SUP-A in Q4 is modified +25% four times in five; line L7 reschedules are
    rejected 85% of the time; everything else is overridden 8% of the time at random.
    A planner's name (decided_by) follows the pattern too, but is never a feature.
    """
    rng = np.random.default_rng(seed)
    created = pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(
        np.sort(rng.uniform(0, 730, n)), unit="D"
    )
    created = pd.Series(created.astype("datetime64[us, UTC]"))
    supplier = rng.choice(["SUP-A", "SUP-B", "SUP-C", "SUP-D"], n)
    resource = rng.choice(["L1", "L2", "L7"], n)
    rec_type = np.where(resource == "L7", "production_reschedule", "stockout_risk")
    rec_type = np.where(rng.random(n) < 0.5, "stockout_risk", rec_type)
    qty = rng.uniform(50, 500, n).round()
    q4 = (created.dt.month >= 10).to_numpy()
    plant_up = (supplier == "SUP-A") & q4 & (rec_type == "stockout_risk")
    plant_rej = (resource == "L7") & (rec_type == "production_reschedule")
    u = rng.random(n)
    decision = np.where(u < 0.08, np.where(rng.random(n) < 0.5, "modified", "rejected"), "accepted")
    decision = np.where(plant_up & (u < 0.8), "modified", decision)
    decision = np.where(plant_rej & (u < 0.85), "rejected", decision)
    final = np.where(decision == "rejected", 0.0, qty)
    noise_mod = (decision == "modified") & ~plant_up
    final = np.where(noise_mod, qty * rng.uniform(0.8, 1.2, n), final)
    final = np.where((decision == "modified") & plant_up, qty * 1.25, final)
    ids = pd.array([f"Q{i:05d}" for i in range(n)], dtype="string")
    recs = pd.DataFrame(
        {
            "rec_id": ids,
            "rec_type": pd.Categorical(rec_type),
            "signal_at": created - pd.Timedelta(hours=2),
            "created_at": created,
            "site": pd.Categorical(["P1"] * n),
            "supplier": pd.Categorical(supplier),
            "resource": pd.Categorical(resource),
            "recommended_qty": qty,
            "f_noise": rng.normal(size=n),
        }
    )
    decided = np.arange(n) < n - n_open
    dec = pd.DataFrame(
        {
            "rec_id": ids[decided],
            "decided_at": created[decided] + pd.Timedelta(hours=5),
            "decided_by": pd.Categorical(np.where(plant_up, "ann", "bob")[decided]),
            "decision": pd.Categorical(decision[decided]),
            "final_qty": final[decided],
        }
    )
    return SimpleNamespace(recommendations=recs, decisions=dec, outcomes=pd.DataFrame())


@pytest.fixture(scope="module")
def world() -> SimpleNamespace:
    return _world()


@pytest.fixture(scope="module")
def model(world: SimpleNamespace):  # type: ignore[no-untyped-def]
    return fit_propensity(world)


def test_temporal_split_beats_the_base_rate_and_is_calibrated(model) -> None:  # type: ignore[no-untyped-def]
    ev = model.evaluation
    # The latest 20% of the 5,960 decided recommendations are scored, after the training period.
    assert ev["n"] == 1192
    assert pd.Timestamp(ev["from"]) > pd.Timestamp("2025-07-01", tz="UTC")
    assert ev["auc"] > 0.75
    assert ev["brier"] < ev["base_rate_brier"]
    assert abs(ev["mean_predicted"] - ev["observed"]) <= 0.03
    cal = model.calibration
    assert cal["n"].sum() == 1192 and len(cal) == 10
    assert cal["observed"].iloc[-1] > cal["observed"].iloc[0]


def test_open_recommendations_get_decision_adjustment_and_rules(world, model) -> None:  # type: ignore[no-untyped-def]
    recs = open_recommendations(world)
    assert len(recs) == 40
    rules = pd.DataFrame(
        {
            "id": ["R-up", "R-rej", "R-who"],
            "conditions": [
                {"supplier": "SUP-A", "quarter": "Q4", "rec_type": "stockout_risk"},
                {"resource": "L7", "rec_type": "production_reschedule"},
                {"decided_by": "ann"},
            ],
        }
    )
    scored = score_open(model, recs, rules=rules)
    assert scored["p_override"].is_monotonic_decreasing
    by_id = scored.set_index("rec_id")
    rej = recs[(recs["resource"] == "L7") & (recs["rec_type"] == "production_reschedule")]
    assert len(rej) > 0
    for rid in rej["rec_id"]:
        row = by_id.loc[rid]
        assert row["likely_decision"] == "rejected" and row["expected_adjustment_pct"] == -100.0
        assert row["rules"] == ["R-rej"]
    plain = recs[(recs["supplier"] != "SUP-A") & (recs["resource"] != "L7")]
    for rid in plain["rec_id"]:
        assert by_id.loc[rid, "likely_decision"] == "accepted"
        assert by_id.loc[rid, "expected_adjustment_pct"] == 0.0
        assert by_id.loc[rid, "rules"] == []
    doc = propensity_payload(model, scored)
    assert list(doc) == ["evaluation", "open"]
    assert list(doc["evaluation"]) == ["auc", "brier", "n", "from", "to"]
    assert list(doc["open"][0]) == [
        "rec_id",
        "p_override",
        "likely_decision",
        "expected_adjustment_pct",
        "rules",
    ]


def test_adjustment_learnt_for_a_planted_uplift(model) -> None:  # type: ignore[no-untyped-def]
    # A Q4 SUP-A stockout recommendation, never seen: the uplift planners apply is +25%.
    rec = _world(n=50, n_open=50, seed=3).recommendations.iloc[:1].copy()
    rec["created_at"] = pd.to_datetime(["2026-11-10T10:00"], utc=True).astype("datetime64[us, UTC]")
    rec["signal_at"] = rec["created_at"] - pd.Timedelta(hours=2)
    rec["supplier"] = pd.Categorical(["SUP-A"])
    rec["rec_type"] = pd.Categorical(["stockout_risk"])
    rec["resource"] = pd.Categorical(["L1"])
    row = score_open(model, rec).iloc[0]
    assert row["p_override"] > 0.5 and row["likely_decision"] == "modified"
    assert row["expected_adjustment_pct"] == pytest.approx(25.0, abs=5.0)


def test_decision_fields_are_never_features(world) -> None:  # type: ignore[no-untyped-def]
    enc = fit_encoder(world.recommendations)
    assert not {"decided_by", "decision", "final_qty", "decided_at"} & set(enc.names)


def test_unseen_category_and_no_rules(world, model) -> None:  # type: ignore[no-untyped-def]
    rec = open_recommendations(world).iloc[:2].copy()
    rec["supplier"] = pd.Categorical(["SUP-NEW", "SUP-NEW"])
    scored = score_open(model, rec)
    assert scored["p_override"].between(0, 1).all()
    assert driving_rules(rec, None) == [[], []]


def test_too_few_decisions() -> None:
    small = _world(n=40, n_open=0)
    with pytest.raises(NotEnoughDecisions):
        fit_propensity(small)
    empty = SimpleNamespace(
        recommendations=small.recommendations, decisions=small.decisions.iloc[:0], outcomes=None
    )
    with pytest.raises(NotEnoughDecisions):
        fit_propensity(empty)


def test_calibration_table_by_hand() -> None:
    p = np.array([0.1, 0.2, 0.3, 0.9])
    y = np.array([0, 0, 1, 1])
    table = calibration_table(y, p, n_bins=2)
    assert table["n"].tolist() == [2, 2]
    assert table["mean_predicted"].tolist() == pytest.approx([0.15, 0.6])
    assert table["observed"].tolist() == pytest.approx([0.0, 1.0])


def test_rank_by_propensity() -> None:
    table = pd.DataFrame({"rec_id": ["a", "b", "c", "d"], "est_impact_usd": [4, 3, 2, 1]})
    scores = pd.DataFrame({"rec_id": ["c", "a", "b"], "p_override": [0.9, 0.2, 0.5]})
    out = rank_by_propensity(table, scores)
    assert out["rec_id"].tolist() == ["c", "b", "a", "d"]
    assert out["p_override"].iloc[:3].tolist() == [0.9, 0.5, 0.2]
    assert rank_by_propensity(table, scores.iloc[:0])["rec_id"].tolist() == ["a", "b", "c", "d"]
