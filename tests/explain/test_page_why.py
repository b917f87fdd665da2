"""The Why-this-fired page as a planner meets it, through Streamlit's AppTest on the sample data."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from store.audit import read_events
from store.db import get_engine
from store.decisions import decision_for
from store.reads import load_frames
from store.users import add_user
from tests.conftest import APP

PAGE = "pages/why.py"


@pytest.fixture
def store(sample_store: str) -> str:
    return sample_store


def _open_why(at: AppTest) -> AppTest:
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    return at


def test_pick_explain_and_record_a_decision(store: str) -> None:
    at = _open_why(AppTest.from_file(APP, default_timeout=120))
    rec_id = at.selectbox(key="why_rec").value
    # the default pick is the open recommendation with the highest estimated impact
    assert "·" in at.selectbox(key="why_rec").format_func(rec_id)
    metrics = {m.label: m.value for m in at.metric}
    assert float(metrics["Fidelity (held-out R²)"]) >= 0.8
    sentence = at.info[0].value
    assert sentence.startswith(("Fired mainly because", "Scored below a typical"))
    assert any(c.proto.id for c in at.get("plotly_chart"))  # the waterfall is drawn
    assert len(at.dataframe) >= 2  # drivers beside typical values, and precedents
    assert decision_for(get_engine(store), rec_id) is None

    # a rejection without a reason is refused, and nothing is written
    at.radio(key="why_decision").set_value("rejected")
    at.button(key="FormSubmitter:why_decide_form-Record decision").click().run()
    assert "a reason is required" in at.error[0].value
    assert decision_for(get_engine(store), rec_id) is None

    at.text_area(key="why_reason").set_value("supplier confirmed the PO ships Monday")
    at.button(key="FormSubmitter:why_decide_form-Record decision").click().run()
    assert not at.exception, at.exception
    assert at.success and f"Recorded: {rec_id} rejected" in at.success[0].value

    stored = decision_for(get_engine(store), rec_id)
    assert stored["decision"] == "rejected" and stored["final_qty"] == 0.0
    assert stored["reason"] == "supplier confirmed the PO ships Monday"
    assert stored["source"] == "app"
    events = read_events(get_engine(store), limit=5)
    assert ((events["action"] == "decide") & (events["entity_id"] == rec_id)).any()

    # the decided recommendation shows its decision instead of the form
    at.checkbox(key="why_open_only").uncheck()
    at.text_input(key="why_search").set_value(rec_id).run()
    assert at.selectbox(key="why_rec").value == rec_id
    assert any("Already decided: **rejected**" in i.value for i in at.info)
    assert not at.get("form_submit_button")


def test_a_read_only_role_sees_the_explanation_but_cannot_decide(store: str) -> None:
    engine = get_engine(store)
    add_user(
        engine, "eve", role="exec", password="a long passphrase", actor="t", actor_role="admin"
    )
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["user"] = "eve"
    at.session_state["auth_mode"] = "local"
    _open_why(at)
    assert at.info[0].value.startswith(("Fired mainly because", "Scored below a typical"))
    assert any("can read explanations but not decide" in c.value for c in at.caption)
    assert at.button(key="FormSubmitter:why_decide_form-Record decision").disabled

    # an open line-7 reschedule matches the planted rule "resource = L07 → reject"
    frames = load_frames(engine)
    recs = frames.recommendations
    open_l07 = recs[
        (recs["rec_type"] == "production_reschedule")
        & (recs["resource"] == "L07")
        & ~recs["rec_id"].isin(frames.decisions["rec_id"])
    ]
    rec_id = str(open_l07["rec_id"].iloc[0])
    at.text_input(key="why_search").set_value(rec_id).run()
    assert at.selectbox(key="why_rec").value == rec_id
    rules = next(d.value for d in at.dataframe if "conditions" in d.value.columns)
    hit = rules[rules["conditions"].str.contains("resource = L07")]
    assert not hit.empty and (hit["planners usually"] == "reject").all()
