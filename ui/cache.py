"""Every Streamlit cache wrapper of the workbench, in one place: one-line wrappers over
``flows/``, keyed on what they read.

Caches are keyed on small hashable values — the database URL and the store's data
version (or one table's version) — never on a large DataFrame (Streamlit hashes only
a sample of one). Engines, frames and fitted models are ``cache_resource`` and
read-only. No cached function reads session state: the URL it works on is an argument.
"""

from __future__ import annotations

import json
from datetime import date
from types import EllipsisType
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st
from sqlalchemy import Engine

from analytics.baseline.kpis import KpiTables
from analytics.baseline.kpis import kpi_tables as _build_kpi_tables
from analytics.explain.fit import Surrogates
from analytics.explain.precedent import DecisionLookup, PrecedentIndex
from analytics.governance.ownership import OwnershipOverview
from analytics.monitoring.alerts import MonitorReport
from analytics.overrides.analysis import OverrideAnalysis, rules_payload
from analytics.overrides.themes import ThemeModel
from analytics.policy.propensity import Propensity
from contract.frames import Frames
from flows import baseline, explain, governance, monitoring, overrides, policy
from store.audit import COUNTER, read_events
from store.db import data_version, data_versions, get_engine, resolve_url
from store.ingest.staging import clean_stale_scratch
from store.learning.monitoring import read_acknowledgements
from store.reads import load_frames
from store.rule_status import read_rule_statuses


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


def clear_after_write() -> None:
    """Drop cached results after the store changed (new data version keys most of them anyway)."""
    st.cache_data.clear()


@st.cache_data(ttl=600, max_entries=4, show_spinner="Checking data health…")
def data_overview(url: str, version: str) -> dict[str, Any]:
    """Counts, date ranges and health findings for the Data page (small JSON-able dict)."""
    return governance.data_overview(
        engine_for(url), frames_for(url), now=pd.Timestamp.now(tz="UTC")
    )


# --- KPIs against the pre-AI baseline (pages/baseline.py) ---------------------------------
# Keyed on Frames.version (contract tables only), so saving a setting such as the KPI
# targets does not recompute the per-row KPI inputs.


@st.cache_resource(show_spinner="Preparing the KPI inputs…", max_entries=2)
def _kpi_tables(url: str, version: str) -> KpiTables:
    return _build_kpi_tables(frames_for(url))


def kpi_tables() -> KpiTables:
    """Per-row inputs of every KPI for the current data (shared, read-only)."""
    return _kpi_tables(current_url(), get_frames().version)


def kpi_version() -> str:
    """The cache key of the KPI figures: the contract tables' version."""
    return get_frames().version


@st.cache_data(ttl=600, max_entries=4, show_spinner=False)
def kpi_filter_options(url: str, version: str) -> tuple[list[str], list[str]]:
    """(sites, recommendation types) present in the log, sorted."""
    return baseline.filter_options(_kpi_tables(url, version))


@st.cache_data(ttl=600, max_entries=16, show_spinner="Comparing baseline and current…")
def kpi_view(
    url: str, version: str, go_live: str, site: str | None, rec_type: str | None
) -> dict[str, Any]:
    """``flows.baseline.kpi_view`` for one go-live (ISO date) and filter."""
    return baseline.kpi_view(
        _kpi_tables(url, version),
        go_live=date.fromisoformat(go_live),
        site=site,
        rec_type=rec_type,
    )


@st.cache_data(ttl=600, max_entries=16, show_spinner="Breaking the KPIs down…")
def kpi_breakdown(
    url: str,
    version: str,
    go_live: str,
    site: str | None,
    rec_type: str | None,
    by: tuple[str, ...],
) -> pd.DataFrame:
    """KPIs per group of ``by`` (site, rec_type, owner) before and after go-live."""
    return baseline.kpi_breakdown(
        _kpi_tables(url, version),
        go_live=date.fromisoformat(go_live),
        site=site,
        rec_type=rec_type,
        by=list(by),
    )


@st.cache_data(ttl=600, max_entries=16, show_spinner="Pricing late decisions and money at risk…")
def money_view(
    url: str,
    version: str,
    go_live: str,
    site: str | None,
    rec_type: str | None,
    expedite_target: float | None,
) -> dict[str, Any]:
    """``flows.baseline.money_view`` for one go-live (ISO date), filter and expedite target."""
    return baseline.money_view(
        _kpi_tables(url, version),
        go_live=date.fromisoformat(go_live),
        site=site,
        rec_type=rec_type,
        expedite_target=expedite_target,
    )


# --- Override patterns (pages/overrides.py) ----------------------------------------------
# Keyed on Frames.version (contract tables) plus the mining settings; the rule lifecycle
# has its own version, so adopting a rule does not recompute themes and rules.


@st.cache_resource(show_spinner="Joining recommendations, decisions and outcomes…", max_entries=2)
def _override_log(url: str, version: str) -> pd.DataFrame:
    return overrides.override_log(frames_for(url))


@st.cache_resource(show_spinner="Mining candidate rules (the themes' context)…", max_entries=2)
def _override_rules(url: str, version: str) -> pd.DataFrame:
    return overrides.default_rules(_override_log(url, version))


@st.cache_resource(show_spinner="Clustering override reasons into themes…", max_entries=2)
def _override_themes(url: str, version: str, random_state: int) -> tuple[ThemeModel, np.ndarray]:
    # With the engine: theme ids persist across data versions (the store's theme memory).
    return overrides.themes(
        _override_log(url, version),
        rules=_override_rules(url, version),
        engine=engine_for(url),
        random_state=random_state,
    )


@st.cache_resource(
    show_spinner="Mining candidate rules and weighing their value added…", max_entries=4
)
def _override_analysis(
    url: str, version: str, min_support: int | None, max_conditions: int, random_state: int
) -> OverrideAnalysis:
    model, theme_id = _override_themes(url, version, random_state)
    return overrides.analysis(
        _override_log(url, version),
        model,
        theme_id,
        min_support=min_support,
        max_conditions=max_conditions,
        random_state=random_state,
        rules=_override_rules(url, version),
    )


def override_analysis(
    *, min_support: int | None = None, max_conditions: int = 3, random_state: int = 0
) -> OverrideAnalysis:
    """Themes, rules and evidence for the current data (shared, read-only).

    Three cached stages (log, themes, rules), each with its own spinner, so a first
    visit shows what is being computed and a rule setting change does not re-cluster
    the reasons.
    """
    url = current_url()
    return _override_analysis(
        url, frames_for(url).version, min_support, max_conditions, random_state
    )


@st.cache_data(ttl=600, max_entries=8, show_spinner="Weighing what the overrides were worth…")
def override_value_tables(
    url: str, version: str, min_support: int | None, max_conditions: int, random_state: int
) -> dict[str, pd.DataFrame]:
    """Value added overall and per direction × size band, planner, type and theme; stockouts."""
    log = _override_analysis(url, version, min_support, max_conditions, random_state).log
    return overrides.value_tables(log, random_state=random_state)


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
    log = _override_analysis(url, version, min_support, max_conditions, random_state).log
    return overrides.adopted_monitor(
        log, rule_statuses(url, status_version), random_state=random_state
    )


# --- Ownership & SLA, readiness gates, audit trail (pages/ownership.py, audit.py) ---------


@st.cache_data(ttl=60, max_entries=4, show_spinner=False)
def audit_chain(url: str, events_version: int | None = None) -> dict[str, Any]:
    """The audit chain's check (``flows.governance.audit_verify``).

    Keyed on the audit trail's version (``audit_version``), so an event written through
    the workbench is counted at once; repeated at least once a minute besides, since an
    edit made outside the app changes no version and only time re-checks it.
    """
    return governance.audit_verify(engine_for(url))


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
    recommendations signalled from ``since`` (ISO date) on, or all of them."""
    return governance.ownership_overview(
        frames_for(url),
        now=pd.Timestamp(as_of),
        trend_by=trend_by,
        freq=freq,
        since=date.fromisoformat(since) if since else None,
    )


@st.cache_data(ttl=600, max_entries=4, show_spinner="Checking the readiness gates…")
def readiness_gates(url: str, version: str, go_live: str | None, today: str) -> dict[str, Any]:
    """The five gates (``flows.governance.gates_for_store``) for one go-live (ISO date) and day,
    reusing the cached override analysis for the candidate rules."""
    engine = engine_for(url)
    candidates: list[dict[str, Any]] | None | EllipsisType = ...
    try:
        analysis = _override_analysis(url, frames_for(url).version, None, 3, 0)
        statuses = governance.read_rule_status(engine)
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


@st.cache_resource(show_spinner=False, max_entries=2)
def _why_surrogates(url: str, recs_version: int) -> Surrogates:
    return explain.surrogates(frames_for(url))


def why_surrogates() -> Surrogates:
    """The fitted explanation surrogates for the current recommendations (shared, read-only)."""
    return _why_surrogates(current_url(), table_version("recommendations"))


@st.cache_resource(show_spinner=False, max_entries=2)
def _why_precedents(url: str, recs_version: int) -> PrecedentIndex:
    return explain.precedents(frames_for(url), _why_surrogates(url, recs_version))


def why_precedents() -> PrecedentIndex:
    """Recommendations indexed for precedent search (rebuilt only when recommendations change)."""
    return _why_precedents(current_url(), table_version("recommendations"))


@st.cache_resource(show_spinner=False, max_entries=2)
def _why_decisions(url: str, version: str) -> DecisionLookup:
    return explain.decisions(frames_for(url))


def why_decisions() -> DecisionLookup:
    """Decisions and outcomes by rec id, for precedents (current data, read-only)."""
    url = current_url()
    return _why_decisions(url, frames_for(url).version)


@st.cache_resource(show_spinner=False, max_entries=2)
def _why_pick_list(url: str, version: str) -> pd.DataFrame:
    return explain.picker(frames_for(url))


def why_pick_list() -> pd.DataFrame:
    """Every recommendation with type, site, SKU, supplier, owner, impact, decision (read-only)."""
    url = current_url()
    return _why_pick_list(url, frames_for(url).version)


# --- Closing the loop: backtests, the policy, override propensity (issue 14) ----------------
# Backtests and the Policy view read the decided log (contract tables' version) and the rule
# lifecycle (its own version); the propensity model is refitted per data version.


@st.cache_data(ttl=600, max_entries=32, show_spinner="Replaying history with the rule…")
def rule_backtest(
    url: str, version: str, rule_id: str, conditions_json: str, action_json: str
) -> dict[str, Any]:
    """``flows.policy`` backtest of one rule and action (JSON-encoded to key the cache):
    the ``cli.py backtest`` document plus ``shortfall_share``."""
    bt = policy.replay(
        _override_log(url, version),
        rule_id=rule_id,
        conditions=json.loads(conditions_json),
        action=json.loads(action_json),
    )
    return {**bt.to_json(), "shortfall_share": bt.shortfall_share}


@st.cache_data(ttl=600, max_entries=8, show_spinner="Backtesting the adopted rules…")
def policy_overview(url: str, version: str, status_version: int) -> pd.DataFrame:
    """The Policy view (``flows.policy.policy_overview``)."""
    return policy.policy_overview(
        frames_for(url), _override_log(url, version), rule_statuses(url, status_version)
    )


@st.cache_data(ttl=600, max_entries=8, show_spinner=False)
def open_proposals(url: str, version: str, status_version: int) -> pd.DataFrame:
    """The adopted rules' proposals on open recommendations (``flows.policy.open_proposals``)."""
    return policy.open_proposals(frames_for(url), rule_statuses(url, status_version))


@st.cache_resource(show_spinner="Fitting the override-propensity model…", max_entries=2)
def propensity_model(url: str, version: str) -> Propensity | None:
    """The propensity model for the current data, or None with too few decisions."""
    return policy.propensity_model(frames_for(url))


@st.cache_data(ttl=600, max_entries=4, show_spinner="Scoring open recommendations…")
def propensity_open(url: str, version: str) -> pd.DataFrame:
    """Every open recommendation scored (empty without a model), most likely override first."""
    model = propensity_model(url, version)
    if model is None:
        return pd.DataFrame(columns=["rec_id", "p_override", "p_rejected", "likely_decision",
                                     "expected_adjustment_pct", "rules"])  # fmt: skip
    rules = policy.candidate_rules(_override_log(url, version))
    return policy.propensity_scores(frames_for(url), model, rules)


# --- Model health (pages/health.py) -------------------------------------------------------
# The monitor is keyed on the contract tables' version and the settings' version (reference
# window, calibration types); acknowledgements are applied on top, keyed on their own
# table's version, so acknowledging an alert does not recompute drift and calibration.


@st.cache_resource(
    show_spinner="Checking model health: drift, calibration, acceptance…", max_entries=2
)
def _model_health(url: str, version: str, settings_version: int) -> MonitorReport | None:
    return monitoring.monitor_for_store(
        engine_for(url), frames=frames_for(url), apply_acknowledgements=False
    )


@st.cache_resource(show_spinner=False, max_entries=4)
def _model_health_acked(
    url: str, version: str, settings_version: int, ack_version: int
) -> MonitorReport | None:
    report = _model_health(url, version, settings_version)
    return None if report is None else monitoring.acknowledged(engine_for(url), report)


def model_health() -> MonitorReport | None:
    """The monitor for the current data, saved settings and acknowledgements (read-only);
    None when there is no reference window."""
    url = current_url()
    return _model_health_acked(
        url, frames_for(url).version, table_version("settings"), table_version("monitor_ack")
    )


@st.cache_data(ttl=600, max_entries=8, show_spinner=False)
def model_health_acks(url: str, ack_version: int) -> pd.DataFrame:
    """Every alert acknowledgement (``store.learning.monitoring.read_acknowledgements``)."""
    return read_acknowledgements(engine_for(url))


@st.cache_data(ttl=600, max_entries=8, show_spinner="Comparing versions at the same age…")
def model_versions_at_age(
    url: str, version: str, settings_version: int, weeks: int
) -> pd.DataFrame:
    """Model versions side by side, each cut to its own first ``weeks`` weeks."""
    report = _model_health(url, version, settings_version)
    if report is None:
        return pd.DataFrame()
    return monitoring.versions_at_age(frames_for(url), report, weeks=weeks)
