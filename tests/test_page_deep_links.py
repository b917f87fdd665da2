"""Deep links as the digests send them: why?rec=… and overrides?rule=… (AppTest, sample data)."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from store.db import get_engine
from store.reads import load_frames
from store.users import add_user
from tests.conftest import APP, open_tab
from tests.explain.test_page_why import PAGE, _open_why


def _decided_and_open(url: str) -> tuple[str, str]:
    frames = load_frames(get_engine(url))
    decided = frames.decisions["rec_id"]
    recs = frames.recommendations
    # Low-impact ones, so that no default pick (highest impact, open only) lands there.
    low = recs.sort_values("est_impact_usd", na_position="first")["rec_id"].astype(str)
    return (
        next(r for r in low if r in set(decided.astype(str))),
        next(r for r in low if r not in set(decided.astype(str))),
    )


def test_why_opens_on_the_linked_recommendation_and_the_link_selects_once(
    sample_store: str,
) -> None:
    decided, other = _decided_and_open(sample_store)
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["rec"] = decided
    _open_why(at)
    # Decided, so outside "Open only", and far down the impact order: the link still opens it.
    assert at.selectbox(key="why_rec").value == decided
    assert any("Already decided" in i.value for i in at.info)
    at.run()  # a rerun keeps it
    assert at.selectbox(key="why_rec").value == decided and not at.exception
    # The planner picks another one: their choice stands on the next runs.
    chosen = at.selectbox(key="why_rec").options[1].split(" · ")[0]  # labels start with the id
    at.selectbox(key="why_rec").set_value(chosen).run()
    assert chosen != decided and at.selectbox(key="why_rec").value == chosen
    at.run()
    assert at.selectbox(key="why_rec").value == chosen
    # A second link, to an open one, selects it.
    at.query_params["rec"] = other
    at.run()
    assert not at.exception, at.exception
    assert at.selectbox(key="why_rec").value == other
    assert not any("Already decided" in i.value for i in at.info)


def test_an_unknown_linked_id_says_so(sample_store: str) -> None:
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["rec"] = "NO-SUCH-REC"
    _open_why(at)
    assert any("NO-SUCH-REC" in w.value and "does not hold" in w.value for w in at.warning)
    assert at.selectbox(key="why_rec").value  # the page still works as without a link


def test_a_link_opened_before_sign_in_lands_on_its_target_after(sample_store: str) -> None:
    decided, _ = _decided_and_open(sample_store)
    add_user(get_engine(sample_store), "pia", role="planner", password="a long passphrase", actor="t",
             actor_role="admin")  # fmt: skip
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["rec"] = decided
    at.run()
    at.switch_page(PAGE).run()
    assert at.title[0].value == "Sign in" and not at.selectbox
    at.text_input(key="auth_name").set_value("pia")
    at.text_input(key="auth_password").set_value("a long passphrase")
    at.button(key="FormSubmitter:auth_form-Sign in").click().run()
    assert not at.exception, at.exception
    assert at.selectbox(key="why_rec").value == decided


def test_overrides_opens_on_the_linked_rule(sample_store: str) -> None:
    at = AppTest.from_file(APP, default_timeout=180)
    at.run()
    at.switch_page("pages/overrides.py").run()
    assert not at.exception, at.exception
    open_tab(at, "overrides_tab", "Candidate rules")
    rules = next(d.value for d in at.dataframe if {"id", "verdict"} <= set(d.value.columns))
    assert len(rules) >= 2
    target = str(rules["id"].iloc[-1])  # not the default pick (the first)
    assert at.selectbox(key="overrides_rule_pick").value != target
    open_tab(at, "overrides_tab", "Reason themes")  # the link opens the rules' tab itself
    at.query_params["rule"] = target
    at.run()
    assert not at.exception, at.exception
    assert at.session_state["overrides_tab"] == "Candidate rules"
    assert at.selectbox(key="overrides_rule_pick").value == target
    assert any(target in i.value and "Opened on rule" in i.value for i in at.info)
    at.run()  # and again: still there
    assert at.selectbox(key="overrides_rule_pick").value == target
    open_tab(at, "overrides_tab", "Did it pay off?")  # the link opened the tab once
    at.run()
    assert at.session_state["overrides_tab"] == "Did it pay off?"
    open_tab(at, "overrides_tab", "Candidate rules")
    at.query_params["rule"] = "no-such-rule"
    at.run()
    assert any("no-such-rule" in w.value and "does not hold" in w.value for w in at.warning)
