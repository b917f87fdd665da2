"""Candidate rules: counts by hand, one clean rule per planted pattern, stable ids, the CLI payload."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from analytics.overrides.analysis import REPORT_KEYS, analyse_overrides, rules_report
from analytics.overrides.log import decided_log, match_mask
from analytics.overrides.rules import mine_rules, rule_id, rule_stats
from analytics.overrides.significance import benjamini_hochberg
from store.db import dispose_engine, get_engine
from store.ingest.load import load_bundle
from store.reads import clear_memo, load_frames
from tests.overrides.paraphrase_set import paraphrase_log

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data" / "bundle"


def _frames(rows: pd.DataFrame) -> SimpleNamespace:
    """Contract frames from one row per decided recommendation (rec_id … reason, actual)."""
    n = len(rows)
    recs = pd.DataFrame(
        {
            "rec_id": pd.array(rows["rec_id"], dtype="string"),
            "rec_type": pd.Categorical(rows["rec_type"]),
            "site": pd.Categorical(rows["site"]),
            "supplier": pd.Categorical(rows["supplier"]),
            "created_at": pd.to_datetime(rows["created_at"], utc=True).astype(
                "datetime64[us, UTC]"
            ),
            "recommended_qty": rows["recommended_qty"].astype(float),
        }
    )
    dec = pd.DataFrame(
        {
            "rec_id": pd.array(rows["rec_id"], dtype="string"),
            "decided_at": recs["created_at"],
            "decided_by": pd.Categorical(rows["decided_by"]),
            "decision": pd.Categorical(rows["decision"]),
            "final_qty": rows["final_qty"].astype(float),
            "reason": pd.array(rows.get("reason", [None] * n), dtype="string"),
        }
    )
    out = pd.DataFrame(
        {
            "rec_id": pd.array(rows["rec_id"], dtype="string"),
            "observed_at": recs["created_at"],
            "actual_qty": rows.get("actual_qty", pd.Series(np.nan, index=rows.index)).astype(float),
        }
    )
    return SimpleNamespace(recommendations=recs, decisions=dec, outcomes=out)


def _tiny() -> SimpleNamespace:
    """40 recs: supplier S1 (10) has 8 overrides up 20%; S2 (30) has one up 10%."""
    n = 40
    supplier = ["S1"] * 10 + ["S2"] * 30
    decision = ["modified"] * 8 + ["accepted"] * 2 + ["modified"] + ["accepted"] * 29
    final = [120.0] * 8 + [100.0] * 2 + [110.0] + [100.0] * 29
    return _frames(
        pd.DataFrame(
            {
                "rec_id": [f"R{i:02d}" for i in range(n)],
                "rec_type": ["stockout_risk"] * n,
                "site": ["P1"] * n,
                "supplier": supplier,
                "created_at": ["2026-03-02T10:00:00Z"] * n,
                "recommended_qty": [100.0] * n,
                "decided_by": ["ann", "bob"] * (n // 2),
                "decision": decision,
                "final_qty": final,
            }
        )
    )


def test_tiny_log_gives_one_rule_with_hand_counted_figures() -> None:
    log = decided_log(_tiny())
    rules = mine_rules(log, min_support=5)
    assert len(rules) == 1, rules[["conditions", "direction"]]
    rule = rules.iloc[0]
    assert rule["conditions"] == {"supplier": "S1"}
    assert rule["direction"] == "increase"
    assert (rule["support"], rule["coverage"]) == (8, 10)
    assert rule["confidence"] == pytest.approx(0.8)
    assert rule["base_rate"] == pytest.approx(9 / 40)
    assert rule["lift"] == pytest.approx(0.8 / (9 / 40))
    assert rule["z"] == pytest.approx((8 - 10 * 0.225) / np.sqrt(10 * 0.225 * 0.775))
    # the same figures from the one-rule helper
    stats = rule_stats(log, {"supplier": "S1"}, "increase")
    assert stats == {
        "support": 8,
        "coverage": 10,
        "confidence": 0.8,
        "lift": pytest.approx(3.5556, abs=1e-4),
    }


def test_min_support_filters() -> None:
    assert mine_rules(decided_log(_tiny()), min_support=9).empty


def test_rule_id_is_stable_and_order_free() -> None:
    a = rule_id({"supplier": "SUP-017", "quarter": "Q4"}, "increase")
    b = rule_id({"quarter": "Q4", "supplier": "SUP-017"}, "increase")
    assert a == b == rule_id({"quarter": "Q4", "supplier": "SUP-017"}, "increase")
    assert a != rule_id({"quarter": "Q4", "supplier": "SUP-017"}, "decrease")
    assert a.startswith("R") and len(a) == 11


def _planted(seed: int = 0, n: int = 6000) -> SimpleNamespace:
    """A random log with one planted 3-condition rule and 8% background overrides."""
    rng = np.random.default_rng(seed)
    days = pd.Timestamp("2025-01-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 730, n), unit="D")
    rows = pd.DataFrame(
        {
            "rec_id": [f"R{i:05d}" for i in range(n)],
            "rec_type": rng.choice(
                ["stockout_risk", "expedite", "demand_revision", "supplier_delay"], n
            ),
            "site": rng.choice(["P1", "P2", "P3"], n),
            "supplier": rng.choice([f"SUP-{i}" for i in range(8)], n),
            "created_at": days + pd.Timedelta(hours=10),
            "recommended_qty": rng.integers(50, 500, n).astype(float),
            "decided_by": rng.choice(["ann", "bob", "cy", "di", "ed", "fo"], n),
        }
    )
    quarter = rows["created_at"].dt.quarter
    planted = (rows["supplier"] == "SUP-3") & (quarter == 4) & (rows["rec_type"] == "stockout_risk")
    u = rng.random(n)
    follow = planted & (u < 0.9)
    noise = ~planted & (u < 0.08)
    sign = np.where(rng.random(n) < 0.5, 1.0, -1.0)
    adj = np.where(
        follow, 0.25 + rng.normal(0, 0.01, n), np.where(noise, sign * rng.uniform(0.05, 0.4, n), 0)
    )
    reject = noise & (rng.random(n) < 0.2)
    rows["decision"] = np.where(
        reject, "rejected", np.where(follow | noise, "modified", "accepted")
    )
    rows["final_qty"] = np.where(reject, 0.0, np.round(rows["recommended_qty"] * (1 + adj)))
    return _frames(rows)


def test_planted_three_condition_rule_comes_out_as_one_clean_rule() -> None:
    log = decided_log(_planted())
    rules = mine_rules(log)
    planted = {"rec_type": "stockout_risk", "supplier": "SUP-3", "quarter": "Q4"}
    top = rules.iloc[0]
    assert top["conditions"] == planted and top["direction"] == "increase"
    assert top["confidence"] > 0.8
    # no fragment of it survives as a separate rule: no other increase rule whose
    # supporting overrides overlap the planted ones
    is_up = (log["direction"] == "increase").to_numpy()
    mine = match_mask(log, planted) & is_up
    for cond in rules.loc[rules["direction"] == "increase", "conditions"].iloc[1:]:
        other = match_mask(log, cond) & is_up
        assert (other & mine).sum() < 0.5 * other.sum(), cond
    assert not any("month" in c and c.get("supplier") == "SUP-3" for c in rules["conditions"]), (
        "a month-level fragment of a quarter rule survived"
    )


def test_same_input_same_rules_twice() -> None:
    log = decided_log(_planted(seed=4))
    pd.testing.assert_frame_equal(mine_rules(log), mine_rules(log))


def test_rules_report_shape_status_and_top() -> None:
    frames = _planted(seed=2)
    best = analyse_overrides(frames).rules.iloc[0]
    report = rules_report(frames, top=3, statuses={best["id"]: "adopted"})
    assert list(report) == ["rules"]
    assert 1 <= len(report["rules"]) <= 3
    first = report["rules"][0]
    assert tuple(first) == REPORT_KEYS
    assert first["id"] == best["id"] and first["status"] == "adopted"
    assert all(r["status"] == "candidate" for r in report["rules"][1:])
    assert first["conditions"] == {
        "rec_type": "stockout_risk",
        "supplier": "SUP-3",
        "quarter": "Q4",
    }
    assert first["median_adjustment_pct"] == pytest.approx(25.0, abs=1.0)
    json.dumps(report)  # plain JSON throughout
    statuses = pd.DataFrame({"rule_key": [best["id"]], "status": ["dismissed"]})
    assert rules_report(frames, top=1, statuses=statuses)["rules"][0]["status"] == "dismissed"


@pytest.fixture(scope="module")
def sample_frames(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    url = f"sqlite:///{tmp_path_factory.mktemp('rules') / 'sample.db'}"
    engine = get_engine(url)
    load_bundle(SAMPLE, engine=engine, role="admin")
    yield load_frames(engine)
    dispose_engine(url)
    clear_memo()


def test_every_planted_rule_is_in_the_top_ten(sample_frames: object) -> None:
    report = rules_report(sample_frames, top=10)["rules"]
    planted = json.loads((SAMPLE / "truth" / "planted_rules.json").read_text())
    for truth in planted:
        hits = [r for r in report if r["conditions"] == truth["conditions"]]
        assert len(hits) == 1, f"{truth['id']} not found once in the top 10"
        rule = hits[0]
        assert rule["direction"] == truth["direction"], truth["id"]
        if truth["adjustment_pct"] is not None:
            assert abs(rule["median_adjustment_pct"] - truth["adjustment_pct"]) <= 5, truth["id"]
        # no fragment: no other top-10 rule in the same direction names a subset of it
        own = set(truth["conditions"].items())
        for other in report:
            if other is not rule and other["direction"] == truth["direction"]:
                assert not set(other["conditions"].items()) < own, (truth["id"], other)


def test_sample_report_is_deterministic(sample_frames: object) -> None:
    assert rules_report(sample_frames, top=10) == rules_report(sample_frames, top=10)


# --- Honest rules: own-type base rate, one rule across types, multiple testing ------------


def _two_types() -> SimpleNamespace:
    """Type A: 20 recs, 10 up (base 0.5). Type B: 80 recs, 8 up (base 0.1), 6 of them on S1 (10)."""
    rec_type = ["A"] * 20 + ["B"] * 80
    supplier = ["S9"] * 20 + ["S1"] * 10 + ["S2"] * 70
    up = [True] * 10 + [False] * 10 + [True] * 6 + [False] * 4 + [True] * 2 + [False] * 68
    n = len(rec_type)
    return _frames(
        pd.DataFrame(
            {
                "rec_id": [f"R{i:03d}" for i in range(n)],
                "rec_type": rec_type,
                "site": ["P1"] * n,
                "supplier": supplier,
                "created_at": ["2026-03-02T10:00:00Z"] * n,
                "recommended_qty": [100.0] * n,
                "decided_by": ["ann", "bob", "cy", "di"] * (n // 4),
                "decision": ["modified" if u else "accepted" for u in up],
                "final_qty": [120.0 if u else 100.0 for u in up],
            }
        )
    )


def test_lift_is_over_the_rules_own_type_base_rate() -> None:
    log = decided_log(_two_types())
    stats = rule_stats(log, {"supplier": "S1"}, "increase")
    # S1 is all type B: 6/10 against B's 8/80, not against the overall 18/100
    assert stats["confidence"] == pytest.approx(0.6)
    assert stats["lift"] == pytest.approx(6.0)
    rules = mine_rules(log, min_support=5)
    by_cond = {
        tuple(sorted(c.items())): r
        for c, r in zip(rules["conditions"], rules.to_dict("records"), strict=True)
    }
    s1 = [r for c, r in by_cond.items() if ("supplier", "S1") in c]
    assert len(s1) == 1 and s1[0]["lift"] == pytest.approx(6.0)
    assert s1[0]["base_rate"] == pytest.approx(0.1)
    # type A overrides half its recommendations: against its own rate that is no rule
    # (against the overall 18% it would have been 2.8x)
    assert not any(c == {"rec_type": "A"} for c in rules["conditions"])
    assert not any(c.get("supplier") == "S9" for c in rules["conditions"])


def test_a_pattern_across_types_is_one_rule_with_a_per_type_breakdown() -> None:
    frames, _ = paraphrase_log(seed=0)
    analysis = analyse_overrides(frames)
    rules = analysis.rules
    sup = [i for i, c in enumerate(rules["conditions"]) if c.get("supplier") == "SUP-017"]
    assert len(sup) == 1, rules.loc[sup, "conditions"].tolist()
    rule = rules.iloc[sup[0]]
    assert rule["conditions"] == {"supplier": "SUP-017", "quarter": "Q4"}
    assert rule["direction"] == "increase"
    by_type = rule["by_type"]
    assert len(by_type) >= 3  # the practice is followed on every type it meets
    assert sum(t["support"] for t in by_type) == rule["support"]
    assert sum(t["coverage"] for t in by_type) == rule["coverage"]
    # its base rate is the mix of its types' own rates, weighted by coverage
    mix = sum(t["coverage"] * t["base_rate"] for t in by_type) / rule["coverage"]
    assert rule["base_rate"] == pytest.approx(mix)


def test_benjamini_hochberg_by_hand() -> None:
    q = benjamini_hochberg(np.array([0.01, 0.04, 0.03, 0.005]))
    # sorted 0.005, 0.01, 0.03, 0.04 -> x4/rank = 0.02, 0.02, 0.04, 0.04
    np.testing.assert_allclose(q, [0.02, 0.04, 0.04, 0.02])
    assert benjamini_hochberg(np.array([0.01]), n_tests=10)[0] == pytest.approx(0.1)


def _random_log(seed: int = 3, n: int = 4000) -> SimpleNamespace:
    """No pattern at all: 10% of recommendations overridden at random."""
    rng = np.random.default_rng(seed)
    rows = pd.DataFrame(
        {
            "rec_id": [f"R{i:05d}" for i in range(n)],
            "rec_type": rng.choice(["stockout_risk", "expedite", "supplier_delay"], n),
            "site": rng.choice(["P1", "P2", "P3", "P4"], n),
            "supplier": rng.choice([f"SUP-{i}" for i in range(40)], n),
            "created_at": pd.Timestamp("2025-01-01", tz="UTC")
            + pd.to_timedelta(rng.integers(0, 730, n), unit="D"),
            "recommended_qty": np.full(n, 100.0),
            "decided_by": rng.choice([f"p{i}" for i in range(12)], n),
        }
    )
    up = rng.random(n) < 0.1
    rows["decision"] = np.where(up, "modified", "accepted")
    rows["final_qty"] = np.where(up, 130.0, 100.0)
    return _frames(rows)


def test_coincidences_among_many_candidates_do_not_reach_the_list() -> None:
    log = decided_log(_random_log())
    loose = dict(min_support=5, min_confidence=0.0, min_lift=1.0, min_z=0.0)
    unadjusted = mine_rules(log, fdr=1.0, **loose)
    lucky = unadjusted[unadjusted["p_value"] < 0.05]
    assert len(lucky) >= 3  # chance alone passes an unadjusted 5% test, many times
    assert (unadjusted["n_tested"] > 200).all()
    assert mine_rules(log, **loose).empty  # BH over every candidate tested: none is real


def test_report_shows_adjusted_p_and_marks_costly_rules() -> None:
    frames = _planted(seed=2)
    report = rules_report(frames, top=3)["rules"]
    first = report[0]
    assert 0 <= first["p_value"] <= first["p_adjusted"] <= 0.05
    assert first["n_tested"] >= len(report)
    assert first["costs_more"] is (first["verdict"] == "costs more than it saves")
    assert first["by_type"][0]["rec_type"] == "stockout_risk"
