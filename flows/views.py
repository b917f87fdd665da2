"""Page views persisted beside the store: a server's first visit reads them, not computes them.

A view is what a page derives from a built artefact for a few settings — the KPI comparison
for one go-live and filter, its breakdown, its money. Each takes a second or so at a million
rows; kept only in a server's memory, every start paid for it again. So each is kept in a
signed file (``store.artefacts``) keyed by the store, the data version it was computed on and
its settings: ``cli.py prepare`` computes the ones a page opens with (``warm_defaults``), and
a page that computes another keeps it too (the ``KEEP`` newest per view). A file of another
data version or store is never read: its key differs.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import date
from typing import Any

from sqlalchemy import Engine

from analytics.baseline.targets import SETTING_KEY, resolve_targets
from contract.frames import frames_version
from flows import artefacts, baseline
from store.artefacts import artefact_key, read_artefact, write_artefact
from store.db import data_versions
from store.settings import get_setting, go_live

KEEP = 16  # files per view besides the newest: the settings a page is seen with
FORMAT = 1  # bump when a view's shape changes, so old files are not read
DEFAULT_BY = ("site",)  # the Baseline page's breakdown as it opens ("Break down by: Site")


def _key(engine: Engine, name: str, version: str, args: tuple[Any, ...]) -> str:
    base = artefact_key(engine, f"view_{name}", {}, fmt=FORMAT)  # the store's identity
    blob = json.dumps({"base": base, "version": version, "args": list(args)}, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def view(
    engine: Engine,
    name: str,
    version: str,
    args: tuple[Any, ...],
    compute: Callable[[], Any],
    *,
    outcome: dict[str, str] | None = None,
) -> Any:
    """View ``name`` for ``args`` on data ``version``: read back if kept, else computed by
    ``compute`` (from that same version) and kept. ``outcome`` gets ``name: "read" | "built"``."""
    key = _key(engine, name, version, args)
    found, obj = read_artefact(engine, f"view_{name}", key)
    if outcome is not None:
        outcome[name] = "read" if found else "built"
    if found:
        return obj
    obj = compute()
    try:
        write_artefact(engine, f"view_{name}", key, obj, inputs={}, keep=KEEP)
    except OSError:  # a read-only folder beside the store: shown anyway, computed again later
        pass
    return obj


BASELINE = ("kpi_filter_options", "kpi_view", "money_view", "kpi_breakdown")


def baseline_view(
    engine: Engine,
    tables: Callable[[], baseline.KpiTables],
    version: str,
    name: str,
    *,
    go_live_day: date | None = None,
    site: str | None = None,
    rec_type: str | None = None,
    expedite_target: float | None = None,
    by: tuple[str, ...] = DEFAULT_BY,
    outcome: dict[str, str] | None = None,
) -> Any:
    """One of the Baseline page's views (``BASELINE``: ``flows.baseline``'s function of that
    name) for one go-live, filter, expedite target and breakdown; ``tables`` gives the KPI
    inputs of ``version``, asked only when the view is not kept."""
    if name == "kpi_filter_options":
        return view(
            engine, name, version, (), lambda: baseline.filter_options(tables()), outcome=outcome
        )
    assert go_live_day is not None, name
    scope: tuple[Any, ...] = (go_live_day.isoformat(), site, rec_type)
    kw: dict[str, Any] = {"go_live": go_live_day, "site": site, "rec_type": rec_type}
    if name == "money_view":
        scope, kw = (*scope, expedite_target), {**kw, "expedite_target": expedite_target}
    elif name == "kpi_breakdown":
        scope, kw = (*scope, list(by)), {**kw, "by": list(by)}
    build = getattr(baseline, name)
    return view(engine, name, version, scope, lambda: build(tables(), **kw), outcome=outcome)


def warm_defaults(engine: Engine) -> dict[str, str]:
    """Compute (or find) the views pages open with on the store's current data: the Baseline
    page at the saved (or inferred) go-live, all sites and types, the saved expedite target.
    Returns ``{view: "read" | "built"}``; empty when the artefacts they derive from are not
    built (or no go-live can be inferred)."""
    versions = data_versions(engine)
    facts_found, facts = artefacts.read(engine, "log_facts", versions)
    day, _ = go_live(engine, inferred=(lambda: facts.inferred_go_live) if facts_found else None)
    if day is None:
        return {}
    targets = resolve_targets(get_setting(engine, SETTING_KEY))
    outcome: dict[str, str] = {}

    read: list[baseline.KpiTables] = []

    def tables() -> baseline.KpiTables:  # read (112 MB at 1M rows) once, if a view is missing
        if not read:
            found, built = artefacts.read(engine, "kpi_tables", versions)
            if not found:
                raise LookupError("kpi_tables")
            read.append(built)
        return read[0]

    try:
        for name in BASELINE:
            baseline_view(
                engine,
                tables,
                frames_version(versions),
                name,
                go_live_day=day,
                expedite_target=targets.get("expedite_pct_cogs"),
                outcome=outcome,
            )
    except LookupError:  # the KPI inputs are not built: nothing to derive the views from
        return {}
    return outcome
