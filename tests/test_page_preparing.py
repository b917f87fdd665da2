"""Pages never fit on a view: with the artefacts missing they say so and the background build
fills them in; after a decision the Why page keeps its model and rebuilds the rest behind."""

from __future__ import annotations

import shutil
from pathlib import Path

from streamlit.testing.v1 import AppTest

from flows import artefacts, background
from store.db import data_versions, get_engine
from tests.conftest import APP, clear_streamlit, tiles


def _drop_artefacts(url: str, names: tuple[str, ...]) -> None:
    path = Path(url.removeprefix("sqlite:///"))
    for name in names:
        shutil.rmtree(path.with_name(path.name + ".artefacts") / name)


def _open(page: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=300)
    at.run()
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def _texts(at: AppTest) -> str:
    return " ".join(str(e.value) for e in [*at.info, *at.caption, *at.markdown])


def test_missing_artefacts_are_prepared_in_the_background(sample_store: str) -> None:
    for page, ready, names in (
        ("pages/why.py", "Fidelity (held-out R²)", ("surrogates", "precedents")),
        ("pages/overrides.py", "Capture gap", ("override_analysis", "value_tables")),
        ("pages/health.py", "Open alerts", ("monitoring",)),
    ):
        _drop_artefacts(sample_store, names)
        clear_streamlit()  # as after a server restart
        at = _open(page)
        assert "for the latest data: built once per data version" in _texts(at)
        assert ready not in [m.label for m in tiles(at)]
        job = background.wait(sample_store)
        assert job is not None and not job.running and job.error is None
        for _ in range(2):  # the page fills in, and stays so on the next run
            at.run()
            assert not at.exception, at.exception
            assert ready in [m.label for m in tiles(at)]
            assert "for the latest data: built once" not in _texts(at)


def test_a_decision_keeps_the_model_and_rebuilds_what_reads_decisions(sample_store: str) -> None:
    engine = get_engine(sample_store)
    surrogates_key = artefacts.key_for(engine, "surrogates", data_versions(engine))
    at = _open("pages/why.py")
    rec_id = at.selectbox(key="why_rec").value
    at.radio(key=f"why_decision_{rec_id}").set_value("accepted")
    submit = f"FormSubmitter:why_decide_form_{rec_id}-Record decision on {rec_id}"
    at.button(key=submit).click().run()
    assert not at.exception, at.exception
    assert f"Recorded: {rec_id} accepted" in at.success[0].value
    # The model did not change with the decision: the page shows it at once.
    assert "Fidelity (held-out R²)" in [m.label for m in tiles(at)]
    assert artefacts.key_for(engine, "surrogates", data_versions(engine)) == surrogates_key
    job = background.wait(sample_store)
    assert job is not None and job.error is None
    versions = data_versions(engine)
    for name in ("decision_lookup", "override_analysis", "ownership_base", "propensity"):
        assert artefacts.read(engine, name, versions)[0], name
    # The next pick is another open recommendation: the decided one is no longer offered.
    at.run()
    assert not at.exception, at.exception
    assert at.selectbox(key="why_rec").value != rec_id
    assert rec_id not in at.selectbox(key="why_rec").options
