"""Closing the loop in the app: backtest and adopt with an action, the Policy tab and its
export, the documented rule's proposal on the Why page, and the propensity sort (AppTest)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from analytics.overrides.rules import rule_id
from store.audit import read_events
from store.db import get_engine
from store.decisions import decision_for
from store.reads import load_frames
from store.rule_status import read_rule_statuses, set_rule_status
from tests.conftest import open_tab

APP = str(Path(__file__).resolve().parents[2] / "app.py")
R1 = {"supplier": "SUP-017", "quarter": "Q4", "rec_type": "stockout_risk"}


@pytest.fixture
def store(sample_store: str) -> str:
    """A private copy of the sample store (``tests/conftest.py``), set as the app's store."""
    return sample_store


def _open(at: AppTest, page: str) -> AppTest:
    at.run()
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def _pick_rule(at: AppTest, conditions: dict[str, str], direction: str) -> str:
    rid = rule_id(conditions, direction)
    at.multiselect(key="overrides_status_filter").set_value(["candidate", "watch", "adopted"])
    at.selectbox(key="overrides_rule_pick").set_value(rid).run()
    assert not at.exception, at.exception
    return rid


def test_backtest_then_adopt_with_an_edited_action_twice(store: str) -> None:
    at = _open(AppTest.from_file(APP, default_timeout=180), "pages/overrides.py")
    open_tab(at, "overrides_tab", "Policy")
    assert any("the policy is empty" in i.value for i in at.info)
    open_tab(at, "overrides_tab", "Candidate rules")
    rid = _pick_rule(at, R1, "increase")
    # The planted +25% rule: its median is about +25%, its backtest helps.
    value = at.number_input(key=f"overrides_action_{rid}")
    assert 23 <= value.value <= 27
    assert any("Replaying **+" in md.value and "**helps**" in md.value for md in at.markdown)
    value.set_value(24.0).run()
    assert any("Replaying **+24%**" in md.value for md in at.markdown)
    at.radio(key="overrides_new_status").set_value("adopted")
    at.text_input(key="overrides_owner").input("m.garcia")
    at.text_area(key="overrides_note").input("Q4 uplift for SUP-017 stockout recommendations")
    next(b for b in at.button if b.label == "Save").click().run()
    assert not at.exception, at.exception
    stored = read_rule_statuses(get_engine(store)).set_index("rule_key")
    assert stored.at[rid, "action"] == {"kind": "adjust_pct", "value": 24.0}

    # A second rule, picked next: its action starts at its own median, not the last one's.
    r2 = {"customer": "CUST-042", "rec_type": "demand_revision"}
    rid2 = _pick_rule(at, r2, "decrease")
    v2 = at.number_input(key=f"overrides_action_{rid2}")
    assert -23 <= v2.value <= -17
    at.radio(key="overrides_new_status").set_value("adopted")
    at.text_input(key="overrides_owner").input("a.schmidt")
    at.text_area(key="overrides_note").input("Cut CUST-042 first orders by a fifth")
    next(b for b in at.button if b.label == "Save").click().run()
    assert not at.exception, at.exception
    stored = read_rule_statuses(get_engine(store)).set_index("rule_key")
    assert stored.at[rid2, "action"] == {"kind": "adjust_pct", "value": v2.value}
    assert stored.at[rid, "action"]["value"] == 24.0

    # The Policy tab lists both with their backtests; exporting is audited and versioned.
    open_tab(at, "overrides_tab", "Policy")
    policy = next(d.value for d in at.dataframe if "overridden on top" in d.value.columns
                  or "on_top_share" in d.value.columns)  # fmt: skip
    assert set(policy["rule"]) == {rid, rid2}
    assert set(policy["verdict"]) == {"helps"}
    at.button(key="overrides_policy_export").click().run()
    assert not at.exception, at.exception
    assert any("Policy version 1 exported" in s.value and "2 added" in s.value for s in at.success)
    events = read_events(get_engine(store))
    assert (events["action"] == "policy_exported").sum() == 1
    at.button(key="overrides_policy_export").click().run()
    assert any("Policy version 2 exported" in s.value and "0 added" in s.value for s in at.success)


def _adopt_r1(url: str, value: float = 25.0) -> str:
    rid = rule_id(R1, "increase")
    set_rule_status(
        get_engine(url), rule_key=rid, conditions=R1, direction="increase", status="adopted",
        owner="m.garcia", note="Q4 uplift", action={"kind": "adjust_pct", "value": value},
        actor="s.okafor", role="sop_lead",
    )  # fmt: skip
    return rid


def test_why_page_proposes_the_rule_and_accepts_it_in_one_click_twice(store: str) -> None:
    rid = _adopt_r1(store)
    frames = load_frames(get_engine(store))
    recs = frames.recommendations
    open_ = recs[~recs["rec_id"].isin(frames.decisions["rec_id"])]
    match = open_[
        (open_["supplier"] == "SUP-017")
        & (open_["rec_type"] == "stockout_risk")
        & (pd.DatetimeIndex(open_["created_at"]).quarter == 4)
        & open_["recommended_qty"].notna()
    ]
    assert len(match) >= 2
    at = _open(AppTest.from_file(APP, default_timeout=180), "pages/why.py")
    for _, rec in match.head(2).iterrows():
        rec_id, qty = str(rec["rec_id"]), float(rec["recommended_qty"])
        at.text_input(key="why_search").set_value(rec_id).run()
        assert at.selectbox(key="why_rec").value == rec_id
        text = next(i.value for i in at.info if i.value.startswith("Documented rule"))
        assert f"→ +25% → {qty * 1.25:,.0f} instead of {qty:,.0f}" in text
        assert "adopted by s.okafor on" in text
        at.button(key=f"why_accept_rule_{rec_id}").click().run()
        assert not at.exception, at.exception
        assert not at.error
        # Searched by id with "Open only", the decided recommendation drops out of the picker.
        assert any("No recommendation matches" in i.value for i in at.info)
        stored = decision_for(get_engine(store), rec_id)
        assert stored["decision"] == "modified" and stored["reason_code"] == rid
        assert stored["final_qty"] == pytest.approx(qty * 1.25)
    # A recommendation no adopted rule matches shows no proposal.
    other = open_[open_["supplier"] != "SUP-017"].iloc[0]["rec_id"]
    at.text_input(key="why_search").set_value(str(other)).run()
    assert not any(i.value.startswith("Documented rule") for i in at.info)


def test_picker_sorts_by_override_propensity(store: str) -> None:
    at = _open(AppTest.from_file(APP, default_timeout=180), "pages/why.py")
    at.selectbox(key="why_sort").set_value("propensity").run()
    assert not at.exception, at.exception
    assert any("most likely to be overridden first" in c.value for c in at.caption)
    picked = at.selectbox(key="why_rec").value
    # The first pick is the highest-scored open recommendation of the CLI's ranking.
    from flows.policy import propensity_for_store

    doc = propensity_for_store(get_engine(store))
    assert picked == doc["open"][0]["rec_id"]
    assert any(c.value.startswith("Override propensity **") for c in at.caption)
