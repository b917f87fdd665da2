"""The registry of derived artefacts: what is computed on write so that no page view fits a model.

An artefact is one ``Artefact`` entry: a name, the store tables whose versions it depends on
(``inputs``), the other artefacts its build reuses (``needs``), a build function and a
serializer. Its key is the store identity plus the versions of exactly those tables (its own
and its needs', transitively), so a new decision rebuilds what depends on decisions and
nothing else. Builds run after a load (``cli.py load``; the Data page's background worker)
and after a decision (``flows.background``); pages only read (``read``) and, when a file is
missing, say it is being prepared.

A build sees only its declared tables: the others are handed to it empty, so an artefact
that forgot an input gives visibly wrong results in its tests instead of a stale file.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Engine

from contract.frames import Frames
from contract.tables import TABLES
from flows import builds
from flows.builds import RuleCards  # noqa: F401  (re-exported: ui/cache reads it here)
from flows.facts import log_facts
from store.artefacts import (
    PICKLE,
    Serializer,
    artefact_key,
    build_lock,
    latest_key,
    newest_inputs,
    read_artefact,
    verify_artefact,
)
from store.artefacts import write_artefact as _write
from store.db import data_versions
from store.reads import load_frames
from store.settings import go_live

Progress = Callable[[str, float], None]
TABLES_ALL = tuple(TABLES)
# Versioned store tables besides the contract's that a build may read through the engine.
STORE_TABLES = frozenset({"settings", "rule_status", "import_batch"})


@dataclass(frozen=True)
class Artefact:
    """One derived artefact (see the module docstring)."""

    name: str
    build: Callable[[Builder], Any]
    inputs: tuple[str, ...] = ()
    needs: tuple[str, ...] = ()
    serializer: Serializer = PICKLE
    persist: bool = True  # False: an intermediate shared by builds within one pass only
    fmt: int = 1  # bump when the build's output changes shape, so old files are not read
    # True: its figures depend on the day (the gates judge freshness against today), so it is
    # also keyed on the UTC day: the first read of a new day finds it missing and it is built
    # again in the background, as after a write.
    daily: bool = False


REGISTRY: dict[str, Artefact] = {}


def register(artefact: Artefact) -> Artefact:
    unknown = [t for t in artefact.inputs if t not in TABLES and t not in STORE_TABLES]
    missing = [n for n in artefact.needs if n not in REGISTRY]
    if unknown or missing:
        raise ValueError(f"{artefact.name}: unknown tables {unknown} or artefacts {missing}")
    REGISTRY[artefact.name] = artefact
    return artefact


def input_tables(name: str) -> tuple[str, ...]:
    """Every table whose version keys ``name`` (its inputs and its needs', transitively)."""
    art = REGISTRY[name]
    tables = set(art.inputs)
    for need in art.needs:
        tables.update(input_tables(need))
    return tuple(sorted(tables))


def today() -> date:
    """The UTC day a ``daily`` artefact is keyed on (a function, so tests can move the clock)."""
    return datetime.now(UTC).date()


def key_inputs(name: str, versions: dict[str, int]) -> dict[str, int]:
    """What keys ``name``: the versions of its input tables, and the UTC day if it is daily."""
    inputs = {t: versions.get(t, 0) for t in input_tables(name)}
    if REGISTRY[name].daily:
        inputs["utc_day"] = today().toordinal()
    return inputs


def key_for(engine: Engine, name: str, versions: dict[str, int]) -> str:
    """The file key of ``name`` for the store's ``versions`` (``store.db.data_versions``)."""
    return artefact_key(engine, name, key_inputs(name, versions), fmt=REGISTRY[name].fmt)


class Builder:
    """One pass over one data version: reads the frames once and builds, or reads back, any
    artefact by name (each under its build lock, so two processes build it once)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._frames: Frames | None = None
        self.versions = data_versions(engine)
        self._done: dict[str, Any] = {}
        self.outcome: dict[str, str] = {}  # name -> "read" | "built" | "intermediate"
        self.seconds: dict[str, float] = {}

    def frames(self) -> Frames:
        """The whole log, of exactly the versions this pass was keyed on."""
        while self._frames is None:
            frames = load_frames(self.engine)
            after = data_versions(self.engine)
            if after == self.versions:
                self._frames = frames
            else:  # a write landed in between: key the pass on the newer version
                self.versions = after
        return self._frames

    def frames_for(self, name: str) -> Frames:
        """The frames with every table ``name`` does not declare handed over empty."""
        frames, wanted = self.frames(), set(REGISTRY[name].inputs)
        tables = {
            t: getattr(frames, t) if t in wanted else getattr(frames, t).iloc[:0] for t in TABLES
        }
        version = ".".join(f"{t}{self.versions.get(t, 0)}" for t in sorted(wanted))
        return Frames(**tables, version=version)

    def get(self, name: str) -> Any:
        if name in self._done:
            return self._done[name]
        art = REGISTRY[name]
        t0 = time.perf_counter()
        if not art.persist:
            obj = art.build(self)
            self.outcome[name] = "intermediate"
        else:
            key = key_for(self.engine, name, self.versions)
            found, obj = read_artefact(self.engine, name, key, serializer=art.serializer)
            if found:
                self.outcome[name] = "read"
            else:
                with build_lock(self.engine, name, key):
                    found, obj = read_artefact(self.engine, name, key, serializer=art.serializer)
                    if found:
                        self.outcome[name] = "read"
                    else:
                        obj = art.build(self)
                        inputs = key_inputs(name, self.versions)
                        _write(
                            self.engine, name, key, obj, inputs=inputs, serializer=art.serializer
                        )
                        self.outcome[name] = "built"
        self.seconds[name] = time.perf_counter() - t0
        self._done[name] = obj
        return obj


def build_all(
    engine: Engine, *, names: list[str] | None = None, progress: Progress | None = None
) -> dict[str, dict[str, Any]]:
    """Build (or find already built) every persisted artefact of the store's current version.

    Returns ``{name: {"outcome": "built" | "read" | "present", "seconds": float}}``
    ("present": already built for this version, found and verified). An artefact whose
    build fails is reported with ``"outcome": "failed"`` and its error; the others still build.
    """
    builder = Builder(engine)
    wanted = names or [n for n, a in REGISTRY.items() if a.persist]
    report: dict[str, dict[str, Any]] = {}
    for i, name in enumerate(wanted):
        if progress is not None:
            progress(f"Preparing {name.replace('_', ' ')}", i / len(wanted))
        t0 = time.perf_counter()
        if REGISTRY[name].persist and verify_artefact(
            engine, name, key_for(engine, name, builder.versions)
        ):
            # Already built for this version: checked, not unpickled.
            report[name] = {"outcome": "present", "seconds": round(time.perf_counter() - t0, 3)}
            continue
        try:
            builder.get(name)
        except Exception as exc:  # one broken analysis must not keep the others from building
            report[name] = {"outcome": "failed", "error": f"{type(exc).__name__}: {exc}"}
            continue
        report[name] = {
            "outcome": builder.outcome[name],
            "seconds": round(builder.seconds[name], 3),
        }
    if progress is not None:
        progress("Analyses ready", 1.0)
    return report


def read(engine: Engine, name: str, versions: dict[str, int] | None = None) -> tuple[bool, Any]:
    """``(True, artefact)`` when ``name`` is built for ``versions`` (default: the store's
    current ones), else ``(False, None)``. Never builds."""
    art = REGISTRY[name]
    versions = versions if versions is not None else data_versions(engine)
    return read_artefact(engine, name, key_for(engine, name, versions), serializer=art.serializer)


def read_key(engine: Engine, name: str, key: str) -> tuple[bool, Any]:
    """``(True, artefact)`` for the verified file of ``name`` under ``key``, else ``(False, None)``."""
    return read_artefact(engine, name, key, serializer=REGISTRY[name].serializer)


def latest(engine: Engine, name: str) -> str | None:
    """The key of the newest built file of ``name`` for any data version (``latest_key``)."""
    return latest_key(engine, name)


def built_before(engine: Engine, name: str, versions: dict[str, int]) -> tuple[str, int] | None:
    """(key, decisions version) of the newest file of ``name`` differing in decisions alone."""
    found = newest_inputs(engine, name)
    if found is None or key_for(engine, name, found[1]) != found[0]:
        return None
    same = all(versions.get(t, 0) == v for t, v in found[1].items() if t != "decisions")
    return (found[0], found[1].get("decisions", 0)) if same else None


def ensure(engine: Engine, name: str) -> Any:
    """``name`` for the current version, built now if missing (CLI and bench, not pages)."""
    return Builder(engine).get(name)


# --- The artefacts, in build order ----------------------------------------------------------
# The cheap aggregates a decision changes come first, so the pages they serve are current
# soonest; the mining defaults are the Override patterns page's (automatic support, up to 3
# conditions, seed 0).


_LOG = ("recommendations", "decisions", "outcomes")

for _artefact in (
    Artefact(
        "log_facts",
        inputs=("recommendations", "decisions", "owners"),
        build=lambda b: log_facts(b.frames_for("log_facts")),
        fmt=3,  # 2: LogFacts lives in flows/facts.py; 3: with the inferred go-live
    ),
    Artefact(
        "data_overview",  # the stale-data finding is judged again at view time (overview_now)
        inputs=(*TABLES_ALL, "import_batch"),
        build=builds.data_overview,
    ),
    Artefact(
        "pick_base",  # the decisions are joined on at view time: a decision rebuilds nothing here
        inputs=("recommendations", "owners"),
        build=lambda b: builds.explain().picker_base(b.frames_for("pick_base")),
    ),
    Artefact(
        "pick_list",  # after a decision, the page joins the decisions on the base until rebuilt
        inputs=("decisions",),
        needs=("pick_base",),
        build=lambda b: builds.explain().picker_with_decisions(
            b.get("pick_base"), b.frames_for("pick_list").decisions
        ),
    ),
    Artefact(
        "decision_lookup",
        inputs=_LOG,
        build=lambda b: builds.explain().decisions(b.frames_for("decision_lookup")),
        fmt=2,  # 2: ids as byte keys, only the columns a precedent shows
    ),
    Artefact(
        "ownership_base",
        inputs=("recommendations", "decisions", "owners"),
        build=builds.ownership_base,
    ),
    # What of the Ownership page the clock does not change, so a view judges only the
    # undecided recommendations: over the whole log, and since the saved go-live (a setting).
    Artefact(
        "ownership_settled",
        needs=("ownership_base",),
        build=lambda b: builds.governance().ownership_settled(b.get("ownership_base")),
    ),
    Artefact(
        "ownership_go_live",
        inputs=("settings",),
        needs=("ownership_base", "log_facts"),
        build=lambda b: builds.governance().ownership_settled(
            b.get("ownership_base"),
            since=go_live(b.engine, inferred=lambda: b.get("log_facts").inferred_go_live)[0],
        ),
    ),
    Artefact(
        "kpi_tables",
        inputs=TABLES_ALL,
        build=builds.kpi_tables,
    ),
    Artefact("override_parts", inputs=_LOG, build=builds.override_parts, persist=False),
    Artefact("override_analysis", needs=("override_parts",), build=builds.override_analysis),
    Artefact(
        "value_tables",
        needs=("override_analysis",),
        build=builds.value_tables,
    ),
    Artefact("rule_cards", needs=("override_analysis",), build=builds.rule_cards),
    Artefact("propensity", inputs=_LOG, needs=("override_parts",), build=builds.propensity),
    # The reference window and calibration types are settings: a settings change rebuilds it.
    Artefact("monitoring", inputs=(*_LOG, "settings"), build=builds.monitoring),
    # The gates read every table, the import history, the KPI targets and go-live (settings)
    # and the rule lifecycle.
    Artefact(
        "gates",
        inputs=(*TABLES_ALL, "import_batch", "settings", "rule_status"),
        needs=("override_analysis",),
        build=builds.gates,
        daily=True,
    ),
    Artefact(
        "surrogates",
        inputs=("recommendations",),
        build=lambda b: builds.explain().surrogates(b.frames_for("surrogates")),
        fmt=2,  # 2: trees as leaf paths, no estimator or shap explainer pickled
    ),
    Artefact(
        "peer_values",  # typical values: the Why page never reads the whole log for them
        inputs=("recommendations",),
        needs=("surrogates",),
        build=lambda b: builds.explain().peers(b.frames_for("peer_values"), b.get("surrogates")),
    ),
    Artefact(
        "precedents",
        inputs=("recommendations",),
        needs=("surrogates",),
        build=lambda b: builds.explain().precedents(
            b.frames_for("precedents"), b.get("surrogates")
        ),
        fmt=2,  # 2: ids as byte keys, sites as categories
    ),
):
    register(_artefact)
