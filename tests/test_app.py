"""The app as a user meets it, through Streamlit's AppTest."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from store.db import dispose_engine
from store.ingest.sample import SAMPLE_BUNDLE
from store.reads import clear_memo
from tests.conftest import APP, clear_streamlit, tiles


@pytest.fixture
def fresh_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    monkeypatch.setenv("WORKBENCH_DB", url)
    clear_streamlit()
    yield url
    clear_streamlit()
    dispose_engine(url)
    clear_memo()


def test_first_start_loads_sample_and_data_page_shows_counts(fresh_store: str) -> None:
    at = AppTest.from_file(APP, default_timeout=180)
    at.run()
    assert not at.exception
    metrics = {m.label: m.value for m in tiles(at)}
    expected = sum(1 for _ in open(SAMPLE_BUNDLE / "recommendations.csv", encoding="utf-8")) - 1
    assert metrics["Recommendations"] == f"{expected:,}"
    assert int(metrics["Decisions"].replace(",", "")) > 0
    findings = [e.label for e in at.expander]
    assert any("Overrides without a reason" in f for f in findings)
    assert any("no owner" in f for f in findings)
    assert any("sample data" in w.value for w in at.sidebar.warning)
    # go-live inferred from the first recommendation with a model_version
    assert "inferred" in at.sidebar.date_input[0].label


def test_empty_store_without_sample_shows_empty_state(
    fresh_store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import store.ingest.sample

    monkeypatch.setattr(store.ingest.sample, "SAMPLE_BUNDLE", Path("/nonexistent"))
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception
    assert any("no recommendations yet" in i.value for i in at.info)


def test_data_page_loads_a_server_path_and_reports_bad_rows(
    fresh_store: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import store.ingest.sample
    from tests.conftest import APP, write_bundle

    monkeypatch.setattr(store.ingest.sample, "SAMPLE_BUNDLE", Path("/nonexistent"))
    # Server paths load only from the import folder beside the store.
    bundle = write_bundle(
        tmp_path / "imports" / "bundle",
        {
            "recommendations": """
rec_id,rec_type,signal_at,created_at,site,sku,recommended_qty,confidence,model_version
R1,stockout_risk,2025-03-03T08:00:00Z,2025-03-03T09:00:00Z,P100,S1,100,0.8,v1
R2,stockout_risk,2025-03-04T08:00:00Z,2025-03-04T08:30:00Z,P100,S2,fifty,0.6,v1
R3,expedite,2025-03-05T08:00:00Z,2025-03-05T09:00:00Z,P200,S3,10,1.7,v1
""",
        },
    )
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.text_input(key="data_path").set_value(str(bundle))
    at.button(key="data_load").click()
    at.run()
    assert not at.exception
    assert any("problems in 2 rows" in e.value for e in at.error)
    frames = [d.value for d in at.dataframe]
    rejected = next(f for f in frames if "reason" in f.columns and "key" in f.columns)
    assert sorted(zip(rejected["row"], rejected["column"], strict=True)) == [
        (3, "recommended_qty"),
        (4, "confidence"),
    ]
    summary = next(f for f in frames if list(f.columns) == ["loaded", "unchanged"])
    assert summary.loc["recommendations", "loaded"] == 1
    kept = next(f for f in frames if "raw" in f.columns)
    assert sorted(kept["row"]) == [3, 4] and kept["raw"].str.contains("fifty").any()
    metrics = {m.label: m.value for m in tiles(at)}
    assert metrics["Recommendations"] == "1"


def test_data_page_refuses_server_paths_outside_the_import_folder_alike(
    fresh_store: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import store.ingest.sample

    monkeypatch.setattr(store.ingest.sample, "SAMPLE_BUNDLE", Path("/nonexistent"))
    (tmp_path / "imports").mkdir()
    outside = tmp_path / "secret"
    outside.mkdir()
    (outside / "recommendations.csv").write_text("rec_id\nsecret-line\n", encoding="utf-8")
    (tmp_path / "imports" / "link").symlink_to(outside)
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    errors = []
    # An existing folder, a missing one, a symlink out and a climb out: one answer for all,
    # clicked one after another in the same session.
    for path in (str(outside), str(tmp_path / "nope"), "link", "../secret", "/etc/passwd"):
        at.text_input(key="data_path").set_value(path)
        at.button(key="data_load").click()
        at.run()
        assert not at.exception
        errors.append([e.value for e in at.error])
    assert all(len(e) == 1 and e == errors[0] for e in errors), errors
    assert "inside the import folder" in errors[0][0]
    assert not any("secret-line" in str(d.value) for d in at.dataframe)
    metrics = {m.label: m.value for m in tiles(at)}
    assert metrics["Recommendations"] == "0"


def scratch_folders(root: Path, tag: str = "") -> tuple[Path, Path]:
    """A killed load's scratch folder (its process is gone) and a running one's, in ``root``."""
    import os
    import subprocess
    import sys

    from store.ingest.staging import SCRATCH_PREFIX

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    folders = []
    for name, pid in (("killed", gone), ("running", str(os.getppid()))):
        folder = root / f"{SCRATCH_PREFIX}{name}{tag}"
        folder.mkdir()
        (folder / "pid").write_text(pid)
        (folder / "recommendations.db").write_bytes(b"x" * 1000)
        folders.append(folder)
    return folders[0], folders[1]


def test_app_start_removes_killed_loads_scratch_once_per_process(
    sample_store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tempfile

    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    killed, running = scratch_folders(scratch)
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    assert not killed.exists() and running.exists()
    # Once per process, not on every rerun: a folder left meanwhile waits for the next
    # start (or the next load, which cleans too).
    later, _ = scratch_folders(scratch, tag="-later")
    at.run()
    assert not at.exception, at.exception
    assert later.exists()


def test_served_app_imports_what_the_pages_import_before_its_first_visitor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `streamlit run app.py` finds the ASGI app in app.py (by its source, without running it),
    # and importing app.py as a module only builds that app: it draws nothing.
    import importlib.util

    import streamlit as st
    from streamlit import config
    from streamlit.web.server.app_discovery import discover_asgi_app

    # Building an App pins the process's script path for config: restored after the test.
    monkeypatch.setattr(config, "_main_script_path", config._main_script_path)

    repo = Path(APP).parent
    found = discover_asgi_app(repo / "app.py")
    assert found.is_asgi_app and found.import_string == "app:app"
    spec = importlib.util.spec_from_file_location("app_as_module", repo / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert isinstance(module.app, st.App)

    from ui.startup import imported_by, warm_imports

    # What the shell and the pages import at their top level, not what functions import lazily.
    names = imported_by([repo / "ui" / "app_shell.py", *(repo / p for p, *_ in module.PAGES)])
    assert {"pandas", "streamlit", "ui.cache", "store.roles"} <= set(names)
    assert "__future__" not in names and not {"scipy", "sklearn", "shap"} & set(names)
    script = tmp_path / "page.py"
    script.write_text(
        "import json\nfrom os import path\nfrom collections import abc, OrderedDict\n"
        "import no_such_module_here\n\ndef f():\n    import sqlite3\n",
        encoding="utf-8",
    )
    names = imported_by([script])
    assert names == [
        "json",
        "os",
        "os.path",
        "collections",
        "collections.abc",
        "collections.OrderedDict",
        "no_such_module_here",
    ]
    # A missing module, or a name that is not a module, is skipped: the server still starts.
    done, _seconds = warm_imports(names)
    assert done == 5


def test_start_up_reads_what_the_pages_open_with_so_a_first_view_reads_no_file(
    sample_store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows import artefacts
    from ui import cache
    from ui.startup import warm_store

    warm_store()  # the server's start-up hook, on the store WORKBENCH_DB names
    took = cache.warm(sample_store)  # again: all of it is in memory now
    assert set(took) == {"log_facts", "go_live", *cache.OPENED_WITH}

    def no_file(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a first view read an artefact's file")

    monkeypatch.setattr(artefacts, "read_key", no_file)
    for name in cache.OPENED_WITH:
        assert cache.artefact(name, sample_store) is not None, name
    assert cache.log_facts().n_recs > 0
    # A new session's first page then reads no artefact from disk either.
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page("pages/why.py").run()
    assert not at.exception, at.exception
    assert any(m.label == "Fidelity (held-out R²)" for m in tiles(at))
    # Nor does Override patterns compute its theme views: they were summarised at start-up.
    from ui import overrides_cache

    monkeypatch.setattr(overrides_cache, "capture_gap", no_file)
    at.switch_page("pages/overrides.py").run()
    assert not at.exception, at.exception
    assert any(m.label == "Capture gap" for m in tiles(at))


def test_start_up_leaves_an_empty_store_to_its_first_visitor(fresh_store: str) -> None:
    from store.db import get_engine
    from store.ingest.sample import store_is_empty
    from ui.startup import warm_store

    warm_store()  # nothing to read, and no build started on an empty store
    assert store_is_empty(get_engine(fresh_store))
    from flows import background

    assert background.current_job(fresh_store) is None
