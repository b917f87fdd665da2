"""The Baseline page as an executive meets it, through Streamlit's AppTest on the sample data."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from store.db import dispose_engine, get_engine
from store.ingest.load import load_bundle
from store.ingest.sample import SAMPLE_BUNDLE
from tests.conftest import APP, clear_streamlit, drop_undrawn, tiles

PAGE = "pages/baseline.py"
GO_LIVE = date(2025, 10, 1)  # the sample bundle's planted go-live (truth/meta.json)


@pytest.fixture
def store(sample_store: str) -> str:
    return sample_store


def _page(role: str | None = None, go_live: date = GO_LIVE) -> AppTest:
    """The app on the Baseline page, with go-live set in the shared sidebar and, for
    ``role``, a local user of that role signed in."""
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    if role is not None:
        from store.users import add_user
        from tests.conftest import session_token

        engine = get_engine(os.environ["WORKBENCH_DB"])
        add_user(engine, "eve", role=role, password=None, actor="test", actor_role="admin")
        at.session_state["auth_token"] = session_token(engine, "eve")
    at.date_input(key="app_go_live").set_value(go_live)
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    assert any(f"({role or 'admin'})" in c.value for c in at.sidebar.caption)
    return at


def _open(at: AppTest, tab: str) -> AppTest:
    """Open one of the page's tabs (only the open one is drawn), as a click on it does."""
    at.session_state["baseline_tab"] = tab
    at.run()
    assert not at.exception, at.exception
    return at


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in tiles(at)}


def test_page_renders_tiles_trends_and_breakdown(store: str) -> None:
    at = _page()
    metrics = _metrics(at)
    for label in (
        "Decision latency (median)",
        "Detection latency (median)",
        "SLA met",
        "Override rate",
        "OTIF",
        "Expedite % of COGS",
        "Stockouts per month",
    ):
        assert label in metrics and metrics[label] != "—"
    # The sample plants OTIF ~88% before go-live and ~94% after, expedite 4.5% -> 2.8%.
    otif = float(metrics["OTIF"].rstrip("%"))
    assert 92.0 < otif < 96.0
    assert 2.4 < float(metrics["Expedite % of COGS"].rstrip("%")) < 3.2
    captions = " ".join(c.value for c in at.caption)
    assert "improved" in captions and "95% CI" in captions and "target ≤ 24.0 h" in captions
    assert "saved" in metrics["Expedite spend vs baseline rate, at current COGS"]
    # The page opens on the breakdown; the trends are drawn when their tab is opened.
    assert [t.label for t in at.tabs] == ["Breakdown", "Trends", "Export", "Targets"]
    breakdown = next(d.value for d in at.dataframe if "period" in d.value.columns)
    assert set(breakdown["period"]) == {"baseline", "current"}
    assert breakdown["site"].nunique() == 5
    assert len(at.get("plotly_chart")) == 0
    _open(at, "Trends")
    assert len(at.get("plotly_chart")) == 9
    assert not any("period" in d.value.columns for d in at.dataframe)


def test_the_breakdown_keeps_its_choice_across_tabs_and_the_late_cost_opens(store: str) -> None:
    at = _page()
    at.segmented_control(key="baseline_by").set_value("Owner").run()
    assert not at.exception, at.exception
    owners = next(d.value for d in at.dataframe if "period" in d.value.columns)
    assert "owner" in owners.columns
    _open(at, "Trends")
    drop_undrawn(at, ["baseline_by"])  # as a served Streamlit forgets a closed tab's widgets
    _open(at, "Breakdown")
    assert at.segmented_control(key="baseline_by").value == "Owner"
    again = next(d.value for d in at.dataframe if "period" in d.value.columns)
    pd.testing.assert_frame_equal(again, owners)
    # The late-cost table is drawn only once its expander is opened.
    assert not any("Late $" in d.value.columns for d in at.dataframe)
    at.session_state["baseline_late_by_open"] = True
    at.run()
    assert not at.exception, at.exception
    assert any("Late $" in d.value.columns for d in at.dataframe)


def test_changing_go_live_changes_the_figures(store: str) -> None:
    at = _page()
    before = _metrics(at)
    captions_before = [c.value for c in at.caption]
    at.date_input(key="app_go_live").set_value(date(2025, 4, 1)).run()
    assert not at.exception
    after = _metrics(at)
    # Half the pre-AI year is now "current": its latency and OTIF pull the current figures back.
    assert after["Decision latency (median)"] != before["Decision latency (median)"]
    assert after["OTIF"] != before["OTIF"]
    assert [c.value for c in at.caption] != captions_before
    assert any("2025-04-01" in m.value for m in at.markdown)


def test_site_filter_narrows_tiles_and_breakdown(store: str) -> None:
    at = _page()
    before = _metrics(at)
    at.selectbox(key="baseline_site").set_value("P100").run()
    assert not at.exception
    breakdown = next(d.value for d in at.dataframe if "period" in d.value.columns)
    assert set(breakdown["site"]) == {"P100"}
    assert _metrics(at)["Stockouts per month"] != before["Stockouts per month"]


def test_admin_edits_a_target_and_the_tile_shows_it(store: str) -> None:
    at = _open(_page(), "Targets")
    at.number_input(key="baseline_target_decision_latency_median_h").set_value(12.0)
    submit = [b for b in at.get("form_submit_button") if "Save targets" in b.label][0]
    submit.click().run()
    assert not at.exception
    captions = " ".join(c.value for c in at.caption)
    assert "target ≤ 12.0 h" in captions
    clear_streamlit()
    from store.settings import get_setting

    assert get_setting(get_engine(store), "kpi_targets")["decision_latency_median_h"] == 12.0


def test_targets_are_read_only_for_a_non_admin(store: str) -> None:
    at = _open(_page(role="exec"), "Targets")
    box = at.number_input(key="baseline_target_otif")
    assert box.disabled
    assert box.value == pytest.approx(94.0)


def test_missing_tables_say_what_to_load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = SAMPLE_BUNDLE if (SAMPLE_BUNDLE / "recommendations.csv").exists() else None
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    if source is None:
        from sample_data.generate import generate_bundle

        generate_bundle(tmp_path / "full", rows=2_000, seed=7)
        source = tmp_path / "full"
    for name in ("recommendations", "decisions"):
        frame = pd.read_csv(source / f"{name}.csv", dtype=str, keep_default_na=False)
        frame.to_csv(bundle / f"{name}.csv", index=False)
    url = f"sqlite:///{tmp_path / 'partial.db'}"
    load_bundle(bundle, engine=get_engine(url), role="admin")
    monkeypatch.setenv("WORKBENCH_DB", url)
    clear_streamlit()
    try:
        at = _page()
        captions = [c.value for c in at.caption]
        assert "not available — load orders.csv" in captions
        assert "not available — load kpi_periods.csv" in captions
        assert "not available — load owners.csv" in captions
        assert _metrics(at)["Decision latency (median)"] != "—"
    finally:
        clear_streamlit()
        dispose_engine(url)


def test_tiles_say_their_period_and_a_type_without_owner_has_no_sla(store: str) -> None:
    at = _open(_page(), "Trends")
    captions = " ".join(c.value for c in at.caption)
    # Each tile names the days each side covers by its own table's event time.
    assert "By signal: current 2025-10-01 – " in captions
    assert "By promised date: current 2025-10-01 – " in captions
    assert "open ones still inside it are left out" in captions  # the SLA met rule
    # maintenance has no owner row in the sample: no SLA to meet, said in words, no chart.
    at.selectbox(key="baseline_type").set_value("maintenance").run()
    assert not at.exception, at.exception
    assert _metrics(at)["SLA met"] == "—"
    assert any(c.value.startswith("No owner, no SLA") for c in at.caption)
    assert len(at.get("plotly_chart")) == 8
    # Another type, an owned one: the SLA tile and its trend come back (no stale state).
    at.selectbox(key="baseline_type").set_value("stockout_risk").run()
    assert not at.exception, at.exception
    assert _metrics(at)["SLA met"] != "—"
    assert not any("No owner, no SLA" in c.value for c in at.caption)
    assert len(at.get("plotly_chart")) == 9


def test_the_page_opens_on_the_views_prepared_on_write(
    store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # cli.py prepare kept the views the page opens with (flows/views.py): a server's first
    # visit reads them back and computes none; another filter is computed, then kept too.
    from flows import baseline as flows_baseline

    calls: list[str] = []
    for name in ("kpi_view", "money_view", "kpi_breakdown", "filter_options"):
        real = getattr(flows_baseline, name)

        def counted(*args: object, _name: str = name, _real: object = real, **kw: object) -> object:
            calls.append(_name)
            return _real(*args, **kw)  # type: ignore[operator]

        monkeypatch.setattr(flows_baseline, name, counted)
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    assert "Decision latency (median)" in _metrics(at)
    assert calls == []
    at.selectbox(key="baseline_site").select_index(1).run()
    assert not at.exception, at.exception
    assert sorted(calls) == ["kpi_breakdown", "kpi_view", "money_view"]
    clear_streamlit()  # a new server process: the filtered views are read back too
    calls.clear()
    again = AppTest.from_file(APP, default_timeout=120)
    again.run()
    again.switch_page(PAGE).run()
    again.selectbox(key="baseline_site").select_index(1).run()
    assert not again.exception, again.exception
    assert calls == []
