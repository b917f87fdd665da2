"""Every Streamlit cache wrapper of the workbench, in one place: one-line wrappers over
``flows/``, keyed on what they read.

Caches are keyed on small hashable values — the database URL and the store's data
version (or one table's version) — never on a large DataFrame (Streamlit hashes only
a sample of one). Engines, frames and fitted models are ``cache_resource`` and
read-only. No cached function reads session state: the URL it works on is an argument.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import date
from types import EllipsisType
from typing import TYPE_CHECKING, Any

import pandas as pd
import streamlit as st
from sqlalchemy import Engine
from streamlit.logger import get_logger

from analytics.governance.ownership import decision_base
from analytics.governance.ownership_overview import OwnershipOverview, Settled
from contract.frames import Frames, frames_version
from flows import artefacts, background, explain, facts
from store.audit import COUNTER, read_events
from store.db import data_version, data_versions, get_engine, resolve_url
from store.ingest.staging import clean_stale_scratch
from store.learning.monitoring import read_acknowledgements
from store.reads import app_decisions, load_frames
from store.rule_status import read_rule_statuses
from store.settings import go_live as go_live_setting
from store.settings import inferred_go_live

# The analyses' stacks (scipy, scikit-learn) load with the first wrapper that computes with
# them, not with this module: every page imports it, and a page that only reads artefacts
# (the Why page) should not pay for them on the first visit after a server start.
if TYPE_CHECKING:
    from analytics.explain.fit import Surrogates
    from analytics.explain.peers import PeerValues
    from analytics.explain.precedent import DecisionLookup, PrecedentIndex
    from analytics.monitoring.alerts import MonitorReport
    from analytics.overrides.analysis import OverrideAnalysis
    from analytics.policy.propensity import Propensity

LOG = get_logger(__name__)


@st.cache_resource(show_spinner=False)
def engine_for(url: str) -> Engine:
    return get_engine(url)


@st.cache_resource(show_spinner=False)
def stale_scratch_cleaned() -> tuple[str, ...]:
    """Scratch folders of killed loads, removed once per server process (not on every
    rerun): each holds 70-100 MB, and the next load, which also cleans, may be days away."""
    return tuple(str(p) for p in clean_stale_scratch())


def current_url() -> str:
    return resolve_url(st.session_state.get("db_url"))


def current_engine() -> Engine:
    return engine_for(current_url())


def current_version() -> str:
    return data_version(current_engine())


def table_version(table: str) -> int:
    """Version of one store table (0 before its first write)."""
    return data_versions(current_engine()).get(table, 0)


def rule_status_version() -> int:
    """Version of the rule lifecycle table (0 before the first change)."""
    return table_version("rule_status")


@st.cache_resource(show_spinner="Reading the decision log…", max_entries=2)
def _frames(url: str, version: str) -> Frames:
    return load_frames(engine_for(url))


def frames_for(url: str) -> Frames:
    """The whole log of the store at ``url``, current data version (shared, read-only)."""
    return _frames(url, data_version(engine_for(url)))


def get_frames() -> Frames:
    """The whole log for the current store and data version (shared, read-only)."""
    return frames_for(current_url())


@st.cache_resource(show_spinner=False, max_entries=4)  # keyed on versions: kept across writes
def _go_live(url: str, recs_version: int, settings_version: int) -> tuple[date | None, bool]:
    def inferred() -> date | None:  # from the log's facts built on write: no scan of the log
        facts = artefact("log_facts", url)
        return facts.inferred_go_live if facts is not None else inferred_go_live(engine_for(url))

    return go_live_setting(engine_for(url), inferred=inferred)


def go_live() -> tuple[date | None, bool]:
    """(go-live, whether a user set it) of the current store (``store.settings.go_live``),
    asked once per version of the recommendations and settings (every run of every page shows
    it), and inferred from the log's facts built on write, not by a scan of the log."""
    versions = data_versions(current_engine())
    return _go_live(current_url(), versions.get("recommendations", 0), versions.get("settings", 0))


def clear_after_write() -> None:
    """Drop cached results after the store changed (new data version keys most of them
    anyway) and start building the new version's artefacts in the background."""
    st.cache_data.clear()
    background.start_build(current_url())


def contract_version(url: str | None = None) -> str:
    """``Frames.version`` of the current data, from the version counters alone (no frame read)."""
    return frames_version(data_versions(engine_for(url or current_url())))


# --- Artefacts built on write (flows/artefacts.py) ------------------------------------------
# Read back from their files once per key and kept in memory; a missing one starts the
# background build and reads as None, so the page says it is being prepared.


class _NotBuilt(LookupError):
    """Raised inside the cached reader so that a missing artefact is not cached."""


@st.cache_resource(show_spinner=False, max_entries=32)
def _artefact(url: str, name: str, key: str) -> Any:
    found, obj = artefacts.read_key(engine_for(url), name, key)
    if not found:
        raise _NotBuilt(name)
    return obj


def artefact_key(name: str, url: str | None = None) -> str:
    """The key of artefact ``name`` for the current data of ``url`` (default: this store)."""
    engine = engine_for(url or current_url())
    return artefacts.key_for(engine, name, data_versions(engine))


def artefact(name: str, url: str | None = None) -> Any | None:
    """Artefact ``name`` of the current data of ``url`` (default: the current store), or None
    while it is being prepared (the background build is then started)."""
    url = url or current_url()
    try:
        return _artefact(url, name, artefact_key(name, url))
    except _NotBuilt:
        job = background.current_job(url)
        failed = (
            job is not None
            and not job.running
            and job.versions == data_versions(engine_for(url))
            and job.report.get(name, {}).get("outcome") == "failed"
        )
        if not failed:  # a build that failed on this version is reported, not retried in a loop
            background.start_build(url)
        return None


# What the pages read on their first view, cheapest first (``warm``): ownership_go_live is
# read as the saved go-live's settled view.
OPENED_WITH = (
    "data_overview",
    "gates",
    "rule_cards",
    "value_tables",
    "monitoring",
    "ownership_settled",
    "ownership_go_live",
    "surrogates",
    "peer_values",
    "precedents",
    "decision_lookup",
    "pick_list",
    "override_analysis",
)


def warm(url: str) -> dict[str, float]:
    """Read what the pages open with into this process's memory, as their first view would:
    the log's facts, the go-live and the artefacts of ``OPENED_WITH`` (the server's start-up
    hook calls it before the first visitor). A missing artefact starts the background build,
    as a page's read does; one that fails to read is left to the page. Seconds per item."""
    took: dict[str, float] = {}
    version = contract_version(url)
    versions = data_versions(engine_for(url))
    readers: list[tuple[str, Callable[[], object]]] = [
        ("log_facts", lambda: _log_facts(url, version)),
        (
            "go_live",
            lambda: _go_live(url, versions.get("recommendations", 0), versions.get("settings", 0)),
        ),
        *((name, lambda name=name: artefact(name, url)) for name in OPENED_WITH),
    ]
    for name, read in readers:
        t0 = time.perf_counter()
        try:
            read()
        except Exception as exc:  # noqa: BLE001 - the page reads it again and says what failed
            LOG.warning("warm-up: reading %s failed: %s", name, exc)
        took[name] = time.perf_counter() - t0
    return took


def build_job() -> background.BuildJob | None:
    """The current store's background build (running or last finished), or None."""
    return background.current_job(current_url())


@st.cache_resource(show_spinner=False, max_entries=2)
def _log_facts(url: str, version: str) -> facts.LogFacts:
    built = artefact("log_facts", url)
    return built if built is not None else facts.log_facts(frames_for(url))


def log_facts() -> facts.LogFacts:
    """Counts, time span, types and owners of the current log (read-only): what a page asks
    before anything else, without reading the whole log."""
    url = current_url()
    return _log_facts(url, contract_version(url))


@st.cache_data(ttl=600, max_entries=4, show_spinner="Checking data health…")
def data_overview(url: str, version: str) -> dict[str, Any]:
    """Counts, date ranges and health findings for the Data page (small JSON-able dict):
    built on write, the stale-data finding judged now."""
    from flows import governance

    now = pd.Timestamp.now(tz="UTC")
    built = artefact("data_overview", url)
    if built is None:  # no model: derived here while the build is under way
        return governance.data_overview(engine_for(url), frames_for(url), now=now)
    return governance.overview_now(
        built, _log_facts(url, contract_version(url)).last_created, now=now
    )


# --- Override patterns (pages/overrides.py) ----------------------------------------------
# Keyed on Frames.version (contract tables) plus the mining settings; the rule lifecycle
# has its own version, so adopting a rule does not recompute themes and rules.


DEFAULT_MINING = (None, 3, 0)  # (min_support, max_conditions, random_state) built on write


@st.cache_resource(show_spinner="Joining recommendations, decisions and outcomes…", max_entries=2)
def _decided_log(url: str, version: str) -> pd.DataFrame:
    # The built analysis carries the decided log; joined here only while it is being prepared.
    from flows import overrides

    built = artefact("override_analysis", url)
    return built.log if built is not None else overrides.override_log(frames_for(url))


@st.cache_resource(show_spinner="Mining candidate rules with these settings…", max_entries=4)
def _mined(
    url: str, key: str, min_support: int | None, max_conditions: int, random_state: int
) -> OverrideAnalysis:
    from flows import overrides

    base: OverrideAnalysis = _artefact(url, "override_analysis", key)
    # The reasons are already clustered (the built analysis's themes): only the rules are mined.
    return overrides.analysis(
        base.log,
        base.theme_model,
        base.log["theme_id"].to_numpy(),
        min_support=min_support,
        max_conditions=max_conditions,
        random_state=random_state,
    )


def _override_analysis(
    url: str, min_support: int | None, max_conditions: int, random_state: int
) -> OverrideAnalysis | None:
    base = artefact("override_analysis", url)
    if base is None or (min_support, max_conditions, random_state) == DEFAULT_MINING:
        return base
    key = artefact_key("override_analysis", url)
    return _mined(url, key, min_support, max_conditions, random_state)


def override_analysis(
    *, min_support: int | None = None, max_conditions: int = 3, random_state: int = 0
) -> OverrideAnalysis | None:
    """Themes, rules and evidence for the current data (shared, read-only), or None while the
    analysis of this data version is being prepared.

    The default settings are built on write; other mining settings re-mine the rules over the
    built themes (the reasons are not clustered again).
    """
    return _override_analysis(current_url(), min_support, max_conditions, random_state)


def recent_rule_cards() -> tuple[artefacts.RuleCards | None, bool]:
    """(the override analysis's rules and themes, whether they are the current data's): the
    current ones, else the newest built for an earlier version while the current ones are
    being prepared (the themes keep their ids: the store's theme memory), else None."""
    return recent("rule_cards", current_url())


def recent(name: str, url: str) -> tuple[Any | None, bool]:
    """(artefact ``name`` of ``url``, whether it is the current data's (and day's)): the
    current one, else the newest built for an earlier version or day while the current one
    is being prepared (the background build is then started), else None."""
    current = artefact(name, url)
    if current is not None:
        return current, True
    key = artefacts.latest(engine_for(url), name)
    try:
        return (None if key is None else _artefact(url, name, key)), False
    except _NotBuilt:  # replaced since
        return None, False


@st.cache_data(ttl=600, max_entries=8, show_spinner="Weighing what the overrides were worth…")
def _value_tables(
    url: str, key: str, min_support: int | None, max_conditions: int, random_state: int
) -> dict[str, pd.DataFrame]:
    from flows import overrides

    log = _mined(url, key, min_support, max_conditions, random_state).log
    return overrides.value_tables(log, random_state=random_state)


def override_value_tables(
    url: str, version: str, min_support: int | None, max_conditions: int, random_state: int
) -> dict[str, pd.DataFrame] | None:
    """Value added overall and per direction × size band, planner, type and theme; stockouts
    (None while being prepared)."""
    if (min_support, max_conditions, random_state) == DEFAULT_MINING:
        return artefact("value_tables", url)
    if artefact("override_analysis", url) is None:
        return None
    key = artefact_key("override_analysis", url)
    return _value_tables(url, key, min_support, max_conditions, random_state)


@st.cache_data(ttl=600, max_entries=8, show_spinner=False)
def rule_statuses(url: str, status_version: int) -> pd.DataFrame:
    """Every rule lifecycle row (``store.rule_status.read_rule_statuses``)."""
    return read_rule_statuses(engine_for(url))


@st.cache_data(ttl=600, max_entries=8, show_spinner="Following adopted rules quarter by quarter…")
def adopted_rule_monitor(
    url: str,
    version: str,
    status_version: int,
    min_support: int | None,
    max_conditions: int,
    random_state: int,
) -> pd.DataFrame:
    """Support and value added per quarter of every adopted rule."""
    from flows import overrides

    analysis = _override_analysis(url, min_support, max_conditions, random_state)
    if analysis is None:
        return pd.DataFrame(columns=["rule_key"])
    log = analysis.log
    return overrides.adopted_monitor(
        log, rule_statuses(url, status_version), random_state=random_state
    )


# --- Ownership & SLA, readiness gates, audit trail (pages/ownership.py, audit.py) ---------


@st.cache_data(ttl=60, max_entries=4, show_spinner=False)
def audit_chain(url: str, events_version: int | None = None) -> dict[str, Any]:
    """The audit chain's check (``flows.audit.audit_verify``).

    Keyed on the audit trail's version (``audit_version``), so an event written through
    the workbench is counted at once; repeated at least once a minute besides, since an
    edit made outside the app changes no version and only time re-checks it.
    """
    from flows.audit import audit_verify

    return audit_verify(engine_for(url))


def audit_version() -> int:
    """Version of the audit trail: every recorded event bumps it."""
    return table_version(COUNTER)


@st.cache_data(ttl=600, max_entries=4, show_spinner="Reading the audit trail…")
def audit_events(url: str, version: str) -> pd.DataFrame:
    """Every audit event, newest first (``store.audit.read_events``); every event bumps the version."""
    return read_events(engine_for(url))


@st.cache_data(ttl=600, max_entries=8, show_spinner="Working out owners, SLAs and breaches…")
def ownership_overview(
    url: str, version: str, as_of: str, trend_by: str, freq: str, since: str | None = None
) -> OwnershipOverview:
    """``flows.governance.ownership_overview`` for the log judged at ``as_of`` (ISO), over
    recommendations signalled from ``since`` (ISO date) on, or all of them: what the clock does
    not change is built on write (``ownership_settled``), only the undecided are judged here."""
    from flows import governance

    return governance.ownership_at(
        _ownership_settled(url, contract_version(url), since),
        now=pd.Timestamp(as_of),
        trend_by=trend_by,
        freq=freq,
    )


@st.cache_resource(show_spinner="Working out owners and SLAs…", max_entries=4)
def _ownership_settled(url: str, version: str, since: str | None) -> Settled:
    day = date.fromisoformat(since) if since else None
    # Built on write over the whole log and since the saved go-live.
    built = artefact("ownership_settled" if day is None else "ownership_go_live", url)
    if built is not None and built.since == day:
        return built
    # Being prepared, or another go-live chosen for this session: from the owner join.
    from flows import governance

    return governance.ownership_settled(_ownership_base(url, version), since=day)


@st.cache_resource(show_spinner="Working out owners and SLAs…", max_entries=2)
def _ownership_base(url: str, version: str) -> pd.DataFrame:
    built = artefact("ownership_base", url)
    if built is not None:
        return built
    frames = frames_for(url)  # one join, no model: derived here while the build is under way
    return decision_base(frames.recommendations, frames.decisions, frames.owners)


def readiness_gates(
    url: str, version: str, go_live: str | None, today: str
) -> tuple[dict[str, Any] | None, bool]:
    """(the five gates for one go-live (ISO date) and day, whether they are today's).

    At the saved go-live they are built on write, and again each day (``daily``): while
    today's are being prepared, the newest built ones are returned, said to be older (None
    when there are none). Another go-live (a what-if) is checked here, from the whole log.
    """
    versions = data_versions(engine_for(url))  # the sidebar's go-live, asked once per version
    saved_go_live, _ = _go_live(
        url, versions.get("recommendations", 0), versions.get("settings", 0)
    )
    if go_live != (saved_go_live.isoformat() if saved_go_live else None):
        return _gates_at(url, version, go_live, today), True
    return recent("gates", url)


@st.cache_data(ttl=600, max_entries=4, show_spinner="Checking the readiness gates…")
def _gates_at(url: str, version: str, go_live: str | None, today: str) -> dict[str, Any]:
    # A go-live other than the saved one: the gates from the whole log, with the cached
    # override analysis's candidate rules.
    from flows import governance

    engine = engine_for(url)
    candidates: list[dict[str, Any]] | None | EllipsisType = ...
    try:
        analysis = artefact("override_analysis", url)
        if analysis is None:  # being prepared: the gate says the rules are not available yet
            candidates = None
        else:
            statuses = governance.read_rule_status(engine)
            from analytics.overrides.analysis import rules_payload

            candidates = rules_payload(analysis, statuses=statuses)["rules"]
    except Exception:  # the gates must still show without the override analysis
        candidates = ...
    return governance.gates_for_store(
        engine,
        go_live_date=date.fromisoformat(go_live) if go_live else None,
        frames=frames_for(url),
        candidates=candidates,
    )


# --- Why this fired (pages/why.py) -------------------------------------------------------
# The surrogates and the precedent index depend only on the recommendations, so they are
# keyed on that table's version: recording a decision only re-indexes decisions by rec id.


def why_surrogates() -> Surrogates | None:
    """The fitted explanation surrogates for the current recommendations, or None while they
    are being prepared."""
    return artefact("surrogates")


def why_precedents() -> PrecedentIndex | None:
    """Recommendations indexed for precedent search, or None while being prepared."""
    return artefact("precedents")


def why_peers() -> PeerValues | None:
    """Each (type, site) group's values for typical values, or None while being prepared."""
    return artefact("peer_values")


def why_row(rec_id: str, peers: PeerValues) -> pd.DataFrame:
    """The recommendation ``rec_id`` as a one-row frame, read now by its id (not cached:
    one keyed read, and the form's write must see what the store holds)."""
    return explain.recommendation(current_engine(), rec_id, peers)


@st.cache_resource(show_spinner=False, max_entries=2)
def _why_decisions(url: str, version: str) -> DecisionLookup:
    return explain.decisions(frames_for(url))


def why_decisions() -> DecisionLookup:
    """Decisions and outcomes by rec id, for precedents (current data, read-only)."""
    url = current_url()
    built = artefact("decision_lookup", url)
    if built is None:
        built = _with_recent(url, "decision_lookup")
    return built if built is not None else _why_decisions(url, contract_version(url))


@st.cache_resource(show_spinner=False, max_entries=2)
def _why_pick_base(url: str, version: str) -> pd.DataFrame:
    return explain.picker_base(frames_for(url))


@st.cache_resource(show_spinner=False, max_entries=2)
def _why_pick_list(url: str, version: str, base_key: str) -> pd.DataFrame:
    from analytics.explain.picker import with_decisions

    base = artefact("pick_base", url)
    if base is None:  # one join, no model: derived here while the build is under way
        base = _why_pick_base(url, version)
    return with_decisions(base, frames_for(url).decisions)


def why_pick_list() -> pd.DataFrame:
    """Every recommendation with type, site, SKU, supplier, owner, impact, decision (read-only):
    built on write; after a decision, the last one built plus the decisions recorded since."""
    url = current_url()
    built = artefact("pick_list", url)
    if built is None:
        built = _with_recent(url, "pick_list")
    return (
        built
        if built is not None
        else _why_pick_list(url, contract_version(url), artefact_key("pick_base", url))
    )


# After a decision: the last views built plus the few decisions recorded since (one query),
# not a pass over the million, while the background build makes the new version's files.
@st.cache_resource(show_spinner=False, max_entries=2)
def _app_decisions(url: str, version: int) -> tuple[int, pd.DataFrame]:
    return app_decisions(engine_for(url))


@st.cache_resource(show_spinner=False, max_entries=4)
def _since(url: str, name: str, key: str, since: int, now: int) -> Any:
    return explain.since(name, _artefact(url, name, key), since, _app_decisions(url, now))


def _with_recent(url: str, name: str) -> Any | None:
    # None when nothing is built or a load changed the decisions: then from the whole log.
    engine = engine_for(url)
    now = data_versions(engine)
    base = artefacts.built_before(engine, name, now)
    try:
        return None if base is None else _since(url, name, *base, now.get("decisions", 0))
    except _NotBuilt:  # replaced since
        return None


# --- Closing the loop: backtests, the policy, override propensity (issue 14) ----------------
# Backtests and the Policy view read the decided log (contract tables' version) and the rule
# lifecycle (its own version); the propensity model is refitted per data version.


@st.cache_data(ttl=600, max_entries=32, show_spinner="Replaying history with the rule…")
def rule_backtest(
    url: str, version: str, rule_id: str, conditions_json: str, action_json: str
) -> dict[str, Any]:
    """``flows.policy`` backtest of one rule and action (JSON-encoded to key the cache):
    the ``cli.py backtest`` document plus ``shortfall_share``."""
    from flows import policy

    bt = policy.replay(
        _decided_log(url, version),
        rule_id=rule_id,
        conditions=json.loads(conditions_json),
        action=json.loads(action_json),
    )
    return {**bt.to_json(), "shortfall_share": bt.shortfall_share}


@st.cache_data(ttl=600, max_entries=8, show_spinner="Backtesting the adopted rules…")
def policy_overview(url: str, version: str, status_version: int) -> pd.DataFrame:
    """The Policy view (``flows.policy.policy_overview``)."""
    from flows import policy

    return policy.policy_overview(
        frames_for(url), _decided_log(url, version), rule_statuses(url, status_version)
    )


def rule_proposals(recs: pd.DataFrame) -> pd.DataFrame:
    """The adopted rules' proposals on the open recommendations ``recs`` (a few rows read by
    id), with the rule lifecycle of its current version: ``proposals`` columns."""
    from analytics.policy.proposal import adopted_policy, proposals

    url = current_url()
    return proposals(recs, adopted_policy(rule_statuses(url, rule_status_version())))


def propensity_model(url: str, version: str) -> Propensity | None:
    """The propensity model for the current data, or None with too few decisions or while it
    is being prepared (``version`` is kept for the callers' signature: the artefact's key is
    the current data's)."""
    built = artefact("propensity", url)
    return None if built is None else built[0]


def propensity_open(url: str, version: str) -> pd.DataFrame | None:
    """Every open recommendation scored (empty without a model), most likely override first;
    None while being prepared."""
    built = artefact("propensity", url)
    return None if built is None else built[1]


# --- Model health (pages/health.py) -------------------------------------------------------
# The monitor is keyed on the contract tables' version and the settings' version (reference
# window, calibration types); acknowledgements are applied on top, keyed on their own
# table's version, so acknowledging an alert does not recompute drift and calibration.


PREPARING = "preparing"  # model_health's answer while the monitor is being built


def _model_health(url: str) -> MonitorReport | None | str:
    try:  # a built monitor may be None (no reference window): ask the reader, not artefact()
        return _artefact(url, "monitoring", artefact_key("monitoring", url))
    except _NotBuilt:
        artefact("monitoring", url)  # starts the background build
        return PREPARING


@st.cache_resource(show_spinner=False, max_entries=4)
def _model_health_acked(url: str, key: str, ack_version: int) -> MonitorReport | None:
    from flows import monitoring

    report = _artefact(url, "monitoring", key)
    return None if report is None else monitoring.acknowledged(engine_for(url), report)


def model_health() -> MonitorReport | None | str:
    """The monitor for the current data, saved settings and acknowledgements (read-only);
    None when there is no reference window, ``PREPARING`` while it is being built."""
    url = current_url()
    if _model_health(url) is PREPARING:
        return PREPARING
    key = artefact_key("monitoring", url)
    return _model_health_acked(url, key, table_version("monitor_ack"))


@st.cache_data(ttl=600, max_entries=8, show_spinner=False)
def model_health_acks(url: str, ack_version: int) -> pd.DataFrame:
    """Every alert acknowledgement (``store.learning.monitoring.read_acknowledgements``)."""
    return read_acknowledgements(engine_for(url))


@st.cache_data(ttl=600, max_entries=8, show_spinner="Comparing versions at the same age…")
def model_versions_at_age(
    url: str, version: str, settings_version: int, weeks: int
) -> pd.DataFrame:
    """Model versions side by side, each cut to its own first ``weeks`` weeks."""
    from flows import monitoring

    report = _model_health(url)
    if report is None or report is PREPARING:
        return pd.DataFrame()
    return monitoring.versions_at_age(frames_for(url), report, weeks=weeks)
