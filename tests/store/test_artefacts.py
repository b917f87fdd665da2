"""Artefacts built on write: rebuilt when and only when their inputs change, a damaged, foreign
or stale file is detected and rebuilt (never read), two processes building one version make
one file."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine

from flows import artefacts
from flows.artefacts import Artefact, Builder, build_all, key_for, read, register
from store.artefacts import artefact_dir, build_lock, read_artefact, write_artefact
from store.db import bump_versions, data_versions, dispose_engine, get_engine
from store.decisions import record_decision
from store.ingest.load import load_bundle
from store.learning.monitoring import save_reference
from store.learning.theme_memory import read_theme_memory, save_theme_memory
from store.owner_matrix import apply_owner_changes, make_entry
from store.reads import clear_memo
from store.settings import GO_LIVE, set_setting
from tests.conftest import write_bundle

REPO = Path(__file__).resolve().parents[2]

R, D, OUT, ORD, K, OWN = (
    "recommendations",
    "decisions",
    "outcomes",
    "orders",
    "kpi_periods",
    "owners",
)
# Written out by hand (not read from the registry): what each artefact must depend on.
DEPENDS = {
    "surrogates": {R},
    "peer_values": {R},
    "precedents": {R},
    "log_facts": {R, D, OWN},
    "data_overview": {R, D, OUT, ORD, K, OWN, "import_batch"},
    "pick_base": {R, OWN},
    "pick_list": {R, D, OWN},
    "decision_lookup": {R, D, OUT},
    "ownership_base": {R, D, OWN},
    "ownership_settled": {R, D, OWN},
    "ownership_go_live": {R, D, OWN, "settings"},
    "kpi_tables": {R, D, OUT, ORD, K, OWN},
    "override_analysis": {R, D, OUT},
    "value_tables": {R, D, OUT},
    "rule_cards": {R, D, OUT},
    "propensity": {R, D, OUT},
    "monitoring": {R, D, OUT, "settings"},
    "gates": {R, D, OUT, ORD, K, OWN, "import_batch", "settings", "rule_status"},
}


def test_every_persisted_artefact_is_listed() -> None:
    persisted = {n for n, a in artefacts.REGISTRY.items() if a.persist}
    assert persisted == set(DEPENDS)


@pytest.mark.parametrize(
    "table", [R, D, OUT, ORD, K, OWN, "import_batch", "rule_status", "settings", "monitor_ack"]
)
def test_a_write_changes_the_key_of_exactly_what_depends_on_it(
    sqlite_engine: Engine, table: str
) -> None:
    engine = sqlite_engine
    before = {n: key_for(engine, n, data_versions(engine)) for n in DEPENDS}
    with engine.begin() as conn:
        bump_versions(conn, [table])
    after = {n: key_for(engine, n, data_versions(engine)) for n in DEPENDS}
    changed = {n for n in DEPENDS if before[n] != after[n]}
    assert changed == {n for n, deps in DEPENDS.items() if table in deps}


# --- A real store: what a decision, an owner change and a setting rebuild -------------------

RECS = (
    "rec_id,rec_type,signal_at,created_at,site,sku,recommended_qty,score,model_version,est_impact_usd,f_cover_days,f_lead_days\n"
    + "\n".join(  # noqa: E501
        f"R{i},{'stockout_risk' if i % 2 else 'expedite'},2025-0{1 + i % 9}-0{1 + i % 7}T08:00:00Z,"
        f"2025-0{1 + i % 9}-0{1 + i % 7}T09:00:00Z,{'P1' if i % 3 else 'P2'},S{i % 5},{10 + i % 13},"
        f"{(i % 17) / 17 + (i % 3) / 10:.3f},m1,{100 + i},{i % 11},{(i * 7) % 13}"
        for i in range(120)
    )
)
DECS = "rec_id,decided_at,decided_by,decision,final_qty,reason\n" + "\n".join(
    f"R{i},2025-0{1 + i % 9}-0{1 + i % 7}T12:00:00Z,{'ana' if i % 2 else 'bo'},"
    + (
        f"modified,{5 + i % 13},{'supplier late again' if i % 8 else 'promo next week'}"
        if i % 4 == 0
        else "accepted,,"
    )
    for i in range(100)
)
OUTS = "rec_id,observed_at,actual_qty\n" + "\n".join(
    f"R{i},2025-10-01T00:00:00Z,{8 + i % 11}" for i in range(100)
)
OWNERS = "rec_type,site,owner,escalation_to,sla_hours\nstockout_risk,*,ana,boss,24\nexpedite,*,bo,boss,8\n"


@pytest.fixture
def loaded(tmp_path: Path) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    engine = get_engine(url)
    bundle = write_bundle(tmp_path / "b", {R: RECS, D: DECS, OUT: OUTS, OWN: OWNERS.strip()})
    report = load_bundle(bundle, engine=engine, actor="tester", role="admin")
    assert not report.rejected, report.rejected[:3]
    yield engine
    dispose_engine(url)
    clear_memo()


def _outcomes(report: dict[str, dict[str, object]]) -> dict[str, object]:
    assert not [n for n, r in report.items() if r["outcome"] == "failed"], report
    return {n: r["outcome"] for n, r in report.items()}


def _built(report: dict[str, dict[str, object]]) -> set[str]:
    return {n for n, o in _outcomes(report).items() if o == "built"}


def test_a_decision_rebuilds_what_depends_on_decisions_and_nothing_else(loaded: Engine) -> None:
    assert set(_outcomes(build_all(loaded)).values()) == {"built"}
    assert set(_outcomes(build_all(loaded)).values()) == {"present"}  # nothing changed
    before = data_versions(loaded)
    record_decision(
        loaded, "R110", decision="rejected", reason="line down", actor="ana", role="planner"
    )
    # Until rebuilt, what reads decisions is missing for the new version: the old file is
    # never read as the current one.
    assert read(loaded, "ownership_base") == (False, None)
    assert read(loaded, "pick_base")[0]
    assert _built(build_all(loaded)) == {n for n, deps in DEPENDS.items() if D in deps}
    # The rebuilt artefacts hold the new decision; the old version's files are gone.
    ok, picks = read(loaded, "pick_base")  # decision-free: unchanged, still every rec
    assert ok and len(picks) == 120 and "decision" not in picks
    ok, base = read(loaded, "ownership_base")
    assert ok and not base.set_index("rec_id").loc["R110", "is_open"]
    ok, analysis = read(loaded, "override_analysis")
    assert ok and analysis.log.set_index("rec_id").loc["R110", "decision"] == "rejected"
    assert read(loaded, "ownership_base", before) == (False, None)


def test_the_last_views_built_plus_the_decisions_since_are_the_rebuilt_ones(
    loaded: Engine, tmp_path: Path
) -> None:
    """After decisions, the pick list and the decision lookup built before them with the
    decisions recorded since laid over equal the ones rebuilt; after a load of decisions in
    between nothing is laid over (the load's rows are not the workbench's)."""
    from flows import explain
    from store.reads import app_decisions

    build_all(loaded)
    record_decision(loaded, "R110", decision="rejected", reason="down", actor="ana", role="planner")
    record_decision(loaded, "R111", decision="accepted", actor="bo", role="planner")
    versions = data_versions(loaded)
    laid = {}
    for name in ("pick_list", "decision_lookup"):
        key, before = artefacts.built_before(loaded, name, versions)
        assert before == versions[D] - 2
        base = artefacts.read_key(loaded, name, key)[1]
        laid[name] = explain.since(name, base, before, app_decisions(loaded))
    build_all(loaded)
    rebuilt = {name: read(loaded, name)[1] for name in laid}
    pd.testing.assert_frame_equal(laid["pick_list"], rebuilt["pick_list"])
    assert laid["pick_list"].set_index("rec_id").loc["R110", "decision"] == "rejected"
    ids = pd.Series(["R110", "R111", "R0", "R112"]).to_numpy(dtype=object)
    at = laid["decision_lookup"].decided(ids)
    assert (at >= 0).tolist() == [True, True, True, False]
    pd.testing.assert_frame_equal(
        laid["decision_lookup"].table(at[:3]),
        rebuilt["decision_lookup"].table(rebuilt["decision_lookup"].decided(ids[:3])),
    )

    more = "rec_id,decided_at,decided_by,decision,final_qty,reason\nR112,2025-10-01T12:00:00Z,cy,accepted,,\n"
    bundle = write_bundle(tmp_path / "more", {R: RECS, D: more})
    assert not load_bundle(bundle, engine=loaded, actor="t", role="admin").rejected
    record_decision(loaded, "R113", decision="accepted", actor="bo", role="planner")
    for name in ("pick_list", "decision_lookup"):
        key, before = artefacts.built_before(loaded, name, data_versions(loaded))
        base = artefacts.read_key(loaded, name, key)[1]
        assert explain.since(name, base, before, app_decisions(loaded)) is None


def test_an_owner_change_rebuilds_only_what_reads_the_matrix(loaded: Engine) -> None:
    build_all(loaded)
    apply_owner_changes(
        loaded, upserts=[make_entry("expedite", "P2", "cy", "boss", 4.0)], actor="t", role="admin"
    )
    rebuilt = {
        "log_facts", "data_overview", "pick_base", "pick_list", "ownership_base",
        "ownership_settled", "ownership_go_live", "kpi_tables", "gates",
    }  # fmt: skip
    assert _built(build_all(loaded)) == rebuilt
    ok, base = read(loaded, "ownership_base")
    row = base.set_index("rec_id").loc["R0"]  # expedite at P2 (0 % 3 == 0)
    assert ok and row["owner"] == "cy" and row["sla_hours"] == 4.0


def test_a_new_day_rebuilds_only_the_gates(loaded: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """The gates judge the data's freshness against the day: they are keyed on the UTC day,
    so the next day's build makes them again, and only them; the day before's stay readable."""
    build_all(loaded)
    ok, before = read(loaded, "gates")
    assert ok
    yesterday = artefacts.key_for(loaded, "gates", data_versions(loaded))
    monkeypatch.setattr(artefacts, "today", lambda: date(2031, 1, 2))
    assert read(loaded, "gates") == (False, None)  # not shown as today's
    assert artefacts.latest(loaded, "gates") == yesterday  # what a page shows meanwhile
    assert _built(build_all(loaded)) == {"gates"}
    ok, after = read(loaded, "gates")
    assert ok and after["as_of"] >= before["as_of"]
    assert _built(build_all(loaded)) == set()  # and once a day


def test_a_saved_reference_window_rebuilds_only_the_monitor(loaded: Engine) -> None:
    build_all(loaded)
    ok, report = read(loaded, "monitoring")
    assert ok and report is not None
    save_reference(loaded, date(2025, 2, 1), date(2025, 4, 30), actor="t", role="admin")
    assert _built(build_all(loaded)) == {"monitoring", "gates", "ownership_go_live"}
    ok, report = read(loaded, "monitoring")
    assert ok and (report.reference.start, report.reference.end) == (
        date(2025, 2, 1),
        date(2025, 4, 30),
    )


def test_a_saved_go_live_rebuilds_the_ownership_figures_since_it_from_the_built_join(
    loaded: Engine,
) -> None:
    build_all(loaded)
    ok, whole = read(loaded, "ownership_settled")
    # Decided rows are settled; the 20 recommendations without a decision are judged on view.
    assert ok and whole.since is None and whole.n_recs == 120 and len(whole.live) == 20
    assert int(whole.counts["met"].sum() + whole.counts["breached"].sum()) == 100
    ok, since = read(loaded, "ownership_go_live")
    assert ok and since.since == date(2025, 1, 1)  # inferred: the first recommendation's day
    set_setting(loaded, GO_LIVE, "2025-05-01", actor="t", role="admin")
    report = build_all(loaded)
    assert _built(report) == {"ownership_go_live", "monitoring", "gates"}
    assert report["ownership_base"]["outcome"] == "present"  # the join is not redone
    ok, since = read(loaded, "ownership_go_live")
    signal = pd.to_datetime(read(loaded, "ownership_base")[1]["signal_at"])
    assert ok and since.since == date(2025, 5, 1)
    assert since.n_recs == int((signal >= pd.Timestamp("2025-05-01", tz="UTC")).sum())


def test_the_themes_are_built_with_the_store_and_keep_their_ids(loaded: Engine) -> None:
    assert read_theme_memory(loaded) is None
    build_all(loaded, names=["override_analysis"])
    memory = read_theme_memory(loaded)  # the build replaced the store's theme memory
    assert memory is not None and len(memory) and set(memory["theme_id"]) == {2}
    # As if an earlier version had called this theme 7: the next build keeps that id.
    save_theme_memory(loaded, memory.assign(theme_id=7))
    record_decision(
        loaded, "R104", decision="modified", final_qty=3, reason="supplier late again",
        actor="ana", role="planner",
    )  # fmt: skip
    assert _built(build_all(loaded, names=["override_analysis"])) == {"override_analysis"}
    _, analysis = read(loaded, "override_analysis")
    log = analysis.log
    assert set(log.loc[log["reason"].eq("supplier late again"), "theme_id"]) == {7}
    assert set(read_theme_memory(loaded)["theme_id"]) == {7}


# --- Damaged, foreign and stale files --------------------------------------------------------


def _one_file(engine: Engine, name: str) -> Path:
    files = list((artefact_dir(engine) / name).glob("*.art"))
    assert len(files) == 1
    return files[0]


@pytest.mark.parametrize("damage", ["flip", "truncate", "garbage", "empty"])
def test_a_damaged_file_is_detected_removed_and_rebuilt(loaded: Engine, damage: str) -> None:
    build_all(loaded, names=["ownership_base"])
    path = _one_file(loaded, "ownership_base")
    data = bytearray(path.read_bytes())
    if damage == "flip":
        data[-100] ^= 0x01
    elif damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "garbage":
        data = bytearray(b"not an artefact at all")
    else:
        data = bytearray()
    path.write_bytes(bytes(data))
    assert read(loaded, "ownership_base") == (False, None)
    assert not path.exists()
    assert _outcomes(build_all(loaded, names=["ownership_base"])) == {"ownership_base": "built"}
    ok, base = read(loaded, "ownership_base")
    assert ok and len(base) == 120


def test_a_file_signed_by_another_store_is_never_read(loaded: Engine, tmp_path: Path) -> None:
    build_all(loaded, names=["pick_base"])
    key = key_for(loaded, "pick_base", data_versions(loaded))
    # Another store writes something under this store's key: its signature is not ours.
    other = get_engine(f"sqlite:///{tmp_path / 'other.db'}")
    forged = write_artefact(other, "pick_base", key, pd.DataFrame({"rec_id": ["X"]}), inputs={})
    target = artefact_dir(loaded) / "pick_base" / f"{key}.art"
    target.write_bytes(forged.read_bytes())
    assert read_artefact(loaded, "pick_base", key) == (False, None)


def test_a_file_of_an_older_version_is_never_read_as_the_new_one(loaded: Engine) -> None:
    build_all(loaded, names=["decision_lookup"])
    old = _one_file(loaded, "decision_lookup")
    record_decision(loaded, "R111", decision="accepted", actor="bo", role="planner")
    new_key = key_for(loaded, "decision_lookup", data_versions(loaded))
    # The old version's file put under the new version's name: its signed key says otherwise.
    old.rename(old.with_name(f"{new_key}.art"))
    assert read(loaded, "decision_lookup") == (False, None)
    assert _outcomes(build_all(loaded, names=["decision_lookup"])) == {"decision_lookup": "built"}
    ok, lookup = read(loaded, "decision_lookup")
    assert ok and lookup is not None


def test_a_recreated_database_never_reads_the_old_files(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    engine = get_engine(url)
    write_bundle(tmp_path / "b", {R: RECS, OWN: OWNERS.strip()})
    load_bundle(tmp_path / "b", engine=engine, actor="t", role="admin")
    build_all(engine, names=["pick_base"])
    old_key = key_for(engine, "pick_base", data_versions(engine))
    dispose_engine(url)
    clear_memo()
    (tmp_path / "store.db").unlink()
    engine = get_engine(url)  # same path, same data versions after the same load
    load_bundle(tmp_path / "b", engine=engine, actor="t", role="admin")
    assert data_versions(engine)[R] == 1
    assert key_for(engine, "pick_base", data_versions(engine)) != old_key
    assert read(engine, "pick_base") == (False, None)
    dispose_engine(url)
    clear_memo()


# --- Two processes building the same version --------------------------------------------------

SLOW = "test_two_builders"


def _register(counter: Path) -> None:
    def build(b: Builder) -> dict[str, object]:
        with open(counter, "a") as fh:
            fh.write("built\n")
        return {"n_recs": len(b.frames_for(SLOW).recommendations)}

    artefacts.REGISTRY.pop(SLOW, None)
    register(Artefact(SLOW, inputs=(R,), build=build))


def _child(url: str, counter: str, arrived: str, out: str) -> None:
    _register(Path(counter))
    builder = Builder(get_engine(url))
    Path(arrived).touch()
    result = builder.get(SLOW)
    Path(out).write_text(f"{result['n_recs']} {builder.outcome[SLOW]}")


def test_two_processes_building_one_version_make_one_valid_file(
    loaded: Engine, tmp_path: Path
) -> None:
    url = loaded.url.render_as_string(hide_password=False)
    counter = tmp_path / "builds.txt"
    _register(counter)
    # (Making the key here also makes the store's signing secret before the children start.)
    key = key_for(loaded, SLOW, data_versions(loaded))
    # Plain interpreters, not multiprocessing: a spawned child re-runs the parent's __main__,
    # which after an AppTest in the same session is app.py.
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import sys; from tests.store.test_artefacts import _child; _child(*sys.argv[1:])",
                url,
                str(counter),
                str(tmp_path / f"arrived{i}"),
                str(tmp_path / f"out{i}"),
            ],
            cwd=REPO,
        )
        for i in range(2)
    ]
    try:
        # This test holds the build lock until both processes are about to build, so they
        # meet at the lock whatever their start-up times: no sleep decides the outcome.
        with build_lock(loaded, SLOW, key):
            for i, proc in enumerate(procs):
                while not (tmp_path / f"arrived{i}").exists():
                    assert proc.poll() is None, "a builder died before the lock"
                    time.sleep(0.05)
        for proc in procs:
            assert proc.wait(timeout=300) == 0
        assert counter.read_text().splitlines() == ["built"]  # one build, the other read it
        outs = sorted((tmp_path / f"out{i}").read_text() for i in range(2))
        assert outs == ["120 built", "120 read"]
        assert read(loaded, SLOW) == (True, {"n_recs": 120})
        assert len(list((artefact_dir(loaded) / SLOW).glob("*.art"))) == 1
        assert not list((artefact_dir(loaded) / SLOW).glob(".*.tmp"))
    finally:
        artefacts.REGISTRY.pop(SLOW, None)
        for proc in procs:
            if proc.poll() is None:
                proc.kill()


def test_the_log_facts_infer_the_go_live_the_store_query_does(tmp_path: Path) -> None:
    # The pages take the inferred go-live from the facts built on write: the same day as
    # store.settings.inferred_go_live, where early rows have no model version (or an empty one).
    from store.settings import inferred_go_live

    recs = "rec_id,rec_type,signal_at,created_at,site,model_version\n" + "\n".join(
        f"R{i},stockout_risk,2025-0{m}-0{1 + i % 9}T00:00:00Z,2025-0{m}-0{1 + i % 9}T23:30:00Z,S1,{v}"
        for i, (m, v) in enumerate([(3, ""), (4, ""), (5, "m1"), (6, "m2"), (2, "")])
    )
    url = f"sqlite:///{tmp_path / 'store.db'}"
    engine = get_engine(url)
    try:
        report = load_bundle(
            write_bundle(tmp_path / "b", {R: recs}), engine=engine, actor="t", role="admin"
        )
        assert not report.rejected, report.rejected[:3]
        facts = Builder(engine).get("log_facts")
        assert facts.inferred_go_live == inferred_go_live(engine) == date(2025, 5, 3)
    finally:
        dispose_engine(url)
        clear_memo()


def test_a_view_is_kept_per_data_version_and_setting_and_a_damaged_one_recomputed(
    loaded: Engine,
) -> None:
    from flows import views

    computed: list[int] = []

    def compute() -> dict[str, int]:
        computed.append(1)
        return {"n": len(computed)}

    first = views.view(loaded, "probe", "v1", ("a", None), compute)
    assert views.view(loaded, "probe", "v1", ("a", None), compute) == first == {"n": 1}
    assert views.view(loaded, "probe", "v2", ("a", None), compute) == {"n": 2}  # new data
    assert views.view(loaded, "probe", "v1", ("b", None), compute) == {"n": 3}  # other setting
    assert views.view(loaded, "probe", "v1", ("a", None), compute) == {"n": 1}  # still kept
    for path in (artefact_dir(loaded) / "view_probe").glob("*.art"):
        path.write_bytes(path.read_bytes()[:-3] + b"xyz")
    assert views.view(loaded, "probe", "v1", ("a", None), compute) == {"n": 4}
