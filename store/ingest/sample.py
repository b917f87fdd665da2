"""The shipped sample bundle: loaded on first start into an empty store."""

from __future__ import annotations

from sqlalchemy import Engine, text

from store.db import REPO_ROOT
from store.ingest.load import LoadReport, load_bundle

SAMPLE_BUNDLE = REPO_ROOT / "sample_data" / "bundle"
SAMPLE_LOADER = "sample-data"


def store_is_empty(engine: Engine) -> bool:
    """Whether nothing was ever loaded (asked on every new session: one row is enough)."""
    with engine.connect() as conn:
        any_batch = conn.execute(text("SELECT 1 FROM import_batch LIMIT 1")).first()
        any_rec = conn.execute(text("SELECT 1 FROM recommendations LIMIT 1")).first()
    return any_batch is None and any_rec is None


def ensure_sample(engine: Engine) -> LoadReport | None:
    """Load the sample bundle if the store has never been loaded; None when nothing was done."""
    if not store_is_empty(engine) or not SAMPLE_BUNDLE.is_dir():
        return None
    # The first start of an empty store is the server acting for itself, as its operator.
    return load_bundle(SAMPLE_BUNDLE, engine=engine, actor=SAMPLE_LOADER, role="admin")


def only_sample_data(engine: Engine) -> bool:
    """True while every import so far was the shipped sample (so pages can say so)."""
    with engine.connect() as conn:
        loaders = {r[0] for r in conn.execute(text("SELECT DISTINCT loaded_by FROM import_batch"))}
    return loaders == {SAMPLE_LOADER}
