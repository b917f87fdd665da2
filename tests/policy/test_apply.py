"""Adopted rules applied: proposals on open recommendations, the Policy view, the digest field."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics.governance.digest import build_digest, digest_sections
from analytics.overrides.log import decided_log
from analytics.policy.monitor import policy_view
from analytics.policy.proposal import (
    adopted_policy,
    policy_field,
    proposal_sentence,
    proposals,
    rule_attributes,
)


def _ts(values: list[str]) -> pd.Series:
    return pd.Series(pd.to_datetime(values, utc=True).astype("datetime64[us, UTC]"))


def _statuses() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "rule_key": ["R-sup", "R-sup-q4", "R-dis", "R-who", "R-old"],
            "conditions": [
                {"supplier": "SUP-017"},
                {"supplier": "SUP-017", "quarter": "Q4"},
                {"site": "P1"},
                {"decided_by": "ann"},
                {"site": "P2"},
            ],
            "direction": ["increase", "increase", "reject", "reject", "reject"],
            "status": ["adopted", "adopted", "dismissed", "adopted", "adopted"],
            "owner": ["m.garcia"] * 5,
            "note": ["n"] * 5,
            "action": [
                {"kind": "adjust_pct", "value": 10.0},
                {"kind": "adjust_pct", "value": 25.0},
                {"kind": "reject"},
                {"kind": "reject"},
                None,  # adopted before actions existed: not applied
            ],
            "updated_by": ["s.okafor"] * 5,
            "updated_at": _ts(["2026-11-02T09:00"] * 5),
        }
    )


def _recs() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "rec_id": pd.array(["A", "B", "C", "D"], dtype="string"),
            "rec_type": pd.Categorical(["stockout_risk"] * 4),
            "site": pd.Categorical(["P1", "P1", "P2", "P1"]),
            "supplier": pd.Categorical(["SUP-017", "SUP-017", "SUP-017", "SUP-001"]),
            "created_at": _ts(["2026-11-10", "2026-08-10", "2026-11-11", "2026-11-12"]),
            "recommended_qty": [1000.0, 80.0, np.nan, 50.0],
        }
    )


def test_most_specific_adopted_rule_proposes() -> None:
    policy = adopted_policy(_statuses())
    assert policy["rule_id"].tolist() == ["R-sup-q4", "R-sup", "R-who"]
    out = proposals(_recs(), policy).set_index("rec_id")
    assert out.index.tolist() == ["A", "B", "C"]
    # A: Q4 → the Q4 rule, 1000 × 1.25; B: August → the general rule, 80 × 1.10.
    assert out.loc["A", "rule_id"] == "R-sup-q4"
    assert out.loc["A", "proposed_qty"] == pytest.approx(1250.0)
    assert out.loc["B", "rule_id"] == "R-sup"
    assert out.loc["B", "proposed_qty"] == pytest.approx(88.0)
    assert np.isnan(out.loc["C", "proposed_qty"])
    field = policy_field(out.loc["A"])
    assert field == {"rule_id": "R-sup-q4", "action": {"kind": "adjust_pct", "value": 25.0},
                     "proposed_qty": 1250.0}  # fmt: skip
    assert policy_field(None) is None
    text = proposal_sentence(out.loc["A"])
    assert text == (
        "Documented rule R-sup-q4: supplier = SUP-017 · quarter = Q4 → +25% → 1,250 instead of "
        "1,000, adopted by s.okafor on 2026-11-02."
    )


def test_nothing_adopted_proposes_nothing() -> None:
    none = _statuses().assign(status="watch")
    assert adopted_policy(none).empty
    assert proposals(_recs(), adopted_policy(none)).empty
    assert adopted_policy(pd.DataFrame()).empty


def test_policy_view_counts_what_planners_did_since_adoption() -> None:
    ids = ["A", "B", "C", "D", "E"]
    when = ["2026-11-03", "2026-11-04", "2026-11-05", "2026-11-06", "2026-10-01"]
    recs = pd.DataFrame(
        {
            "rec_id": pd.array(ids + ["F"], dtype="string"),
            "rec_type": pd.Categorical(["stockout_risk"] * 6),
            "site": pd.Categorical(["P1"] * 6),
            "supplier": pd.Categorical(["SUP-017"] * 6),
            "created_at": _ts(when + ["2026-11-20"]),
            "recommended_qty": [100.0] * 6,
        }
    )
    dec = pd.DataFrame(
        {
            "rec_id": pd.array(ids, dtype="string"),
            "decided_at": _ts(when),
            "decided_by": pd.Categorical(["ann"] * 5),
            # A followed (+10%), B kept the model, C cut, D rejected, E before adoption.
            "decision": pd.Categorical(
                ["modified", "accepted", "modified", "rejected", "modified"]
            ),
            "final_qty": [110.0, 100.0, 90.0, 0.0, 110.0],
        }
    )
    frames = type("F", (), {"recommendations": recs, "decisions": dec, "outcomes": pd.DataFrame()})
    log = decided_log(frames)
    attrs = rule_attributes(recs).assign(
        created_at=recs["created_at"].to_numpy(),
        is_open=~recs["rec_id"].isin(dec["rec_id"]).to_numpy(),
    )
    policy = adopted_policy(_statuses().iloc[[0]])
    view = policy_view(log, attrs, policy).iloc[0]
    assert (view["n_fired"], view["n_open"], view["n_decided"]) == (5, 1, 4)
    assert (view["n_followed"], view["n_kept_model"], view["n_on_top"]) == (1, 1, 2)
    assert view["on_top_share"] == pytest.approx(0.5)


def test_digest_lists_likely_rejections() -> None:
    recs = _recs().assign(est_impact_usd=[1.0, 2.0, 3.0, 4.0])
    recs["signal_at"] = recs["created_at"]
    dec = pd.DataFrame({"rec_id": pd.array([], dtype="string"), "decision": pd.Categorical([]),
                        "decided_at": _ts([]), "decided_by": pd.Categorical([])})  # fmt: skip
    owners = pd.DataFrame(columns=["rec_type", "site", "owner", "escalation_to", "sla_hours"])
    likely = [{"rec_id": "C", "p_override": 0.912, "p_rejected": 0.874, "rules": ["R-old"]}]
    digest = build_digest(recs, dec, owners, now="2026-11-30T08:00Z", likely_rejections=likely)
    assert digest["likely_rejections"] == [
        {"rec_id": "C", "p_override": 0.91, "p_rejected": 0.87, "rules": ["R-old"]}
    ]
    lines = dict(digest_sections(digest))["Likely rejections: need a look"]
    assert lines == ["C: 87% likely to be rejected (rules R-old)"]
    assert build_digest(recs, dec, owners, now="2026-11-30T08:00Z")["likely_rejections"] is None
