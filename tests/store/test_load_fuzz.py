"""A bounded fuzz of the loader (issue 17): whatever the bundle, a load either returns a
report or raises ``BundleError`` with a reason; nothing else escapes, and the store
stays readable. The long run is ``bench/fuzz_load.py``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from store.db import dispose_engine, get_engine
from store.ingest.bundle import BundleError
from store.ingest.load import load_bundle
from store.reads import clear_memo, load_frames
from tests.store.fuzz_bundles import bundles

EXAMPLES = int(os.environ.get("WORKBENCH_FUZZ_EXAMPLES", "120"))


@pytest.fixture(scope="module")
def fuzz_engine(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'store.db'}"
    engine = get_engine(url)
    yield engine
    dispose_engine(url)
    clear_memo()


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)
@given(source=bundles())
def test_loader_never_raises_anything_but_a_clean_report(fuzz_engine, source) -> None:  # type: ignore[no-untyped-def]
    for strict in (False, True):
        try:
            report = load_bundle(
                source, engine=fuzz_engine, role="admin", strict=strict, snapshot=False
            )
        except BundleError as exc:
            assert str(exc)
            return
        for r in report.rejected:
            assert r["reason"] and r["table"]
        assert report.to_json()["loaded"] == report.loaded


def test_store_after_the_fuzz_is_readable(fuzz_engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    frames = load_frames(fuzz_engine)
    ts = frames.recommendations["signal_at"].dropna()
    assert ts.empty or (ts.dt.year.between(1900, 2199)).all()
