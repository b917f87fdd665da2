"""The Override patterns page as an S&OP lead meets it (AppTest through app.py, sample data)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest

from store.audit import read_events
from store.db import dispose_engine, get_engine
from store.ingest.sample import SAMPLE_BUNDLE
from store.rule_status import read_rule_statuses
from store.users import add_user
from tests.conftest import APP, clear_streamlit, drop_undrawn, open_tab, tiles

PAGE = "pages/overrides.py"
RULES = "Candidate rules"


@pytest.fixture
def store(sample_store: str) -> str:
    return sample_store


def _open(at: AppTest, tab: str | None = RULES) -> AppTest:
    """The page, on ``tab`` (it opens on Reason themes; only the open tab is drawn)."""
    at.run()
    at.switch_page(PAGE)
    at.run()
    assert not at.exception, at.exception
    return open_tab(at, "overrides_tab", tab) if tab else at


def _rules_table(at: AppTest) -> pd.DataFrame:
    return next(d.value for d in at.dataframe if "direction" in d.value and "lift" in d.value)


def test_page_shows_themes_rules_and_value_added(store: str) -> None:
    at = _open(AppTest.from_file(APP, default_timeout=180))
    metrics = {m.label: m.value for m in tiles(at)}
    assert int(metrics["Overrides"].replace(",", "")) > 1000
    assert metrics["Capture gap"].endswith("%")
    assert int(metrics["Themes"]) >= 5
    assert metrics["Value added"].endswith(" units")  # in the planner's units, said so
    value_added = float(metrics["Value added"].removesuffix(" units").replace(",", ""))
    assert value_added < 0  # noise overrides dominate
    rules = _rules_table(at)
    planted = json.loads((SAMPLE_BUNDLE / "truth" / "planted_rules.json").read_text())
    top = rules.head(10)
    for truth in planted:
        wanted = " · ".join(f"{k} = {v}" for k, v in truth["conditions"].items())
        names = {frozenset(r.split(" · ")) for r in top["rule"]}
        assert frozenset(wanted.split(" · ")) in names, truth["id"]
    assert set(top["status"]) == {"candidate"}
    # evidence for the selected rule: example reasons as quotes, and the overrides behind it
    assert any(md.value.startswith("> ") for md in at.markdown)
    open_tab(at, "overrides_tab", "Did it pay off?")
    assert any("Costing more than they saved" in md.value for md in at.markdown)
    open_tab(at, "overrides_tab", "Adopted rules")
    assert any("No adopted rules yet" in i.value for i in at.info)


def test_reason_themes_charts_draw_the_themes_table_and_every_months_overrides(
    store: str,
) -> None:
    at = _open(AppTest.from_file(APP, default_timeout=180), tab=None)
    assert not at.get("plotly_chart")  # Vega-Lite: the first screen loads no Plotly chunk
    charts = {
        json.loads(c.proto.spec)["title"]: pa.ipc.open_stream(c.proto.data.data).read_pandas()
        for c in at.get("vega_lite_chart")
    }
    sizes, trend = charts["Overrides per theme"], charts["Themes by month (share of overrides)"]
    themes = next(d.value for d in at.dataframe if {"theme_id", "size"} <= set(d.value.columns))
    assert sizes["size"].tolist() == sorted(themes["size"], reverse=True)  # largest on top
    assert sizes["size"].sum() == themes["size"].sum()
    assert sizes["no_reason"].sum() == 1 and sizes.loc[sizes["no_reason"], "theme"].item() == (
        "no reason given"
    )
    monthly = trend.groupby("month")["share"].sum()
    assert ((monthly - 1).abs() < 1e-9).all()  # each month's shares stack to 100%
    assert trend["n"].sum() == themes["size"].sum()  # every override is in a month


def test_sop_lead_adopts_a_rule_and_it_is_monitored(store: str) -> None:
    at = _open(AppTest.from_file(APP, default_timeout=180))
    rid = at.selectbox(key="overrides_rule_pick").value
    at.radio(key="overrides_new_status").set_value("adopted")
    at.text_input(key="overrides_owner").input("m.garcia")
    at.text_area(key="overrides_note").input("Encode as a planning parameter")
    next(b for b in at.button if b.label == "Save").click()
    at.run()
    assert not at.exception, at.exception
    engine = get_engine(store)
    stored = read_rule_statuses(engine)
    assert stored["rule_key"].tolist() == [rid]
    assert stored.iloc[0]["status"] == "adopted" and stored.iloc[0]["owner"] == "m.garcia"
    assert read_events(engine).iloc[0]["action"] == "rule_adopted"
    assert any("Status: **adopted**" in md.value for md in at.markdown)
    assert _rules_table(at).set_index("id").at[rid, "status"] == "adopted"
    open_tab(at, "overrides_tab", "Adopted rules")
    assert any("Encoding: Encode as a planning parameter" in md.value for md in at.markdown)
    assert not any("No adopted rules yet" in i.value for i in at.info)


def test_adopting_without_owner_shows_why(store: str) -> None:
    at = _open(AppTest.from_file(APP, default_timeout=180))
    at.radio(key="overrides_new_status").set_value("adopted")
    next(b for b in at.button if b.label == "Save").click()
    at.run()
    assert any("needs an owner" in e.value for e in at.error)
    assert read_rule_statuses(get_engine(store)).empty


def test_a_planner_sees_rules_but_cannot_change_their_status(store: str) -> None:
    engine = get_engine(store)
    add_user(engine, "root", role="admin", password="admin-pass", actor="t", actor_role="admin")
    add_user(engine, "pat", role="planner", password="planner-pass", actor="t", actor_role="admin")
    at = AppTest.from_file(APP, default_timeout=180)
    at.run()
    at.text_input(key="auth_name").input("pat")
    at.text_input(key="auth_password").input("planner-pass")
    next(b for b in at.button if b.label == "Sign in").click()
    _open(at)
    assert next(b for b in at.button if b.label == "Save").disabled
    assert any("Only an S&OP lead or admin" in c.value for c in at.caption)


def test_store_without_decisions_shows_an_empty_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import store.ingest.sample

    url = f"sqlite:///{tmp_path / 'empty.db'}"
    monkeypatch.setenv("WORKBENCH_DB", url)
    monkeypatch.setattr(store.ingest.sample, "SAMPLE_BUNDLE", Path("/nonexistent"))
    clear_streamlit()
    at = _open(AppTest.from_file(APP, default_timeout=60), tab=None)
    assert any("no overrides to learn from" in i.value for i in at.info)
    clear_streamlit()
    dispose_engine(url)


def test_themes_and_rules_say_how_they_were_made_and_sort_by_value_added(store: str) -> None:
    at = _open(AppTest.from_file(APP, default_timeout=180), tab=None)  # Reason themes
    # themes: labels a person would say, representatives per language, a second pick too
    pick = at.selectbox(key="overrides_theme_pick")
    ids = [int(o.split(" · ")[0]) for o in pick.options if o[0].isdigit()]
    by_label = {o: int(o.split(" · ")[0]) for o in pick.options if o[0].isdigit()}
    supplier = next(t for o, t in by_label.items() if "SUP-017 · Q4 · +25%" in o)
    machine = next(t for o, t in by_label.items() if "L07 · rejected" in o)
    assert len(ids) >= 5
    for tid, words in ((supplier, ("Lieferant", "proveedor")), (machine, ("Linie", "línea"))):
        at.selectbox(key="overrides_theme_pick").set_value(tid).run()
        assert not at.exception, at.exception
        lines = [md.value for md in at.markdown if "**German** —" in md.value]
        assert lines and words[0] in lines[0] and "**Spanish** —" in lines[0], lines
        assert words[1].lower() in lines[0].lower()
    # rules: the ranking and the multiple-testing control are stated
    open_tab(at, "overrides_tab", RULES)
    assert any(
        "Benjamini–Hochberg" in c.value and "candidates tested" in c.value for c in at.caption
    )
    rules = _rules_table(at)
    assert {"base_rate", "p_adjusted"} <= set(rules.columns)
    assert (rules["p_adjusted"] <= 0.05).all()
    costly = rules[rules["verdict"] == "⚠ costs more than it saves"]
    assert len(costly) >= 1  # the sample plants habits that cost money
    title = at.selectbox(key="overrides_rule_pick").format_func(costly["id"].iloc[0])
    assert title.endswith("(⚠ costs more than it saves)")
    for choice, pick_min in (
        ("value added (worst first)", True),
        ("value added (best first)", False),
    ):
        at.selectbox(key="overrides_rules_sort").set_value(choice).run()
        assert not at.exception, at.exception
        shown = _rules_table(at)["value_added"].dropna()
        assert shown.iloc[0] == (shown.min() if pick_min else shown.max())


def test_only_the_open_tab_is_drawn_and_choices_outlive_a_closed_tab(store: str) -> None:
    at = _open(AppTest.from_file(APP, default_timeout=180), tab=None)
    assert at.session_state["overrides_tab"] == "Reason themes"
    assert not any("direction" in d.value and "lift" in d.value for d in at.dataframe)
    theme = at.selectbox(key="overrides_theme_pick")
    theme.select(theme.options[2]).run()
    picked_theme = at.selectbox(key="overrides_theme_pick").value
    open_tab(at, "overrides_tab", RULES)
    assert not any("representatives" in d.value for d in at.dataframe)  # nor the themes now
    at.selectbox(key="overrides_rules_sort").set_value("support").run()
    at.multiselect(key="overrides_status_filter").set_value(["candidate", "watch"]).run()
    for option in at.selectbox(key="overrides_rule_pick").options[1:]:  # not the first
        at.selectbox(key="overrides_rule_pick").select(option).run()
        rid = at.selectbox(key="overrides_rule_pick").value
        if any(n.key == f"overrides_action_{rid}" for n in at.number_input):
            break  # a rule with an adjustment to edit
    action = at.number_input(key=f"overrides_action_{rid}")
    typed = action.value + 3
    action.set_value(typed).run()
    widgets = ["overrides_rules_sort", "overrides_status_filter", "overrides_rule_pick",
               f"overrides_action_{rid}", "overrides_theme_pick"]  # fmt: skip
    for tab in ("Did it pay off?", "Reason themes", RULES):  # away, elsewhere, and back
        open_tab(at, "overrides_tab", tab)
        drop_undrawn(at, widgets)  # what a served Streamlit forgets of the undrawn widgets
        if tab == "Reason themes":
            assert at.selectbox(key="overrides_theme_pick").value == picked_theme
    assert at.selectbox(key="overrides_rules_sort").value == "support"
    assert at.multiselect(key="overrides_status_filter").value == ["candidate", "watch"]
    assert at.selectbox(key="overrides_rule_pick").value == rid
    assert at.number_input(key=f"overrides_action_{rid}").value == typed
