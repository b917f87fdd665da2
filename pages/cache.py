"""Every Streamlit cache wrapper of the workbench, in one place.

Caches are keyed on small hashable values — the database URL and the store's
data version — never on a large DataFrame (Streamlit hashes only a sample of
one). Engines, frames and fitted models are ``cache_resource`` and read-only.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st
from sqlalchemy import Engine

from analytics.health import overview
from store.db import data_version, get_engine, resolve_url
from store.reads import Frames, import_batches, load_frames
from store.schema import TABLES


@st.cache_resource(show_spinner=False)
def engine_for(url: str) -> Engine:
    return get_engine(url)


def current_url() -> str:
    return resolve_url(st.session_state.get("db_url"))


def current_engine() -> Engine:
    return engine_for(current_url())


def current_version() -> str:
    return data_version(current_engine())


@st.cache_resource(show_spinner="Reading the decision log…", max_entries=2)
def _frames(url: str, version: str, _engine: Engine) -> Frames:
    return load_frames(_engine)


def get_frames() -> Frames:
    """The whole log for the current data version (shared, read-only)."""
    engine = current_engine()
    return _frames(current_url(), data_version(engine), engine)


def clear_after_write() -> None:
    """Drop cached results after the store changed (new data version keys most of them anyway)."""
    st.cache_data.clear()


@st.cache_data(ttl=600, max_entries=4, show_spinner="Checking data health…")
def data_overview(url: str, version: str) -> dict:
    """Counts, date ranges and health findings for the Data page (small JSON-able dict)."""
    frames = get_frames()
    tables = {name: getattr(frames, name) for name in TABLES}
    return overview(tables, import_batches(engine_for(url)), now=pd.Timestamp.now(tz="UTC"))


# --- KPIs against the pre-AI baseline (pages/baseline.py) ---------------------------------
# Keyed on Frames.version (contract tables only), so saving a setting such as the KPI
# targets does not recompute the per-row KPI inputs.


@st.cache_resource(show_spinner="Preparing the KPI inputs…", max_entries=2)
def _kpi_tables(url: str, version: str, _frames: Frames):  # -> analytics.kpis.KpiTables
    from analytics.kpis import kpi_tables

    return kpi_tables(_frames)


def kpi_tables():  # -> analytics.kpis.KpiTables
    """Per-row inputs of every KPI for the current data (shared, read-only)."""
    frames = get_frames()
    return _kpi_tables(current_url(), frames.version, frames)


def kpi_version() -> str:
    """The cache key of the KPI figures: the contract tables' version."""
    return get_frames().version


@st.cache_data(ttl=600, max_entries=4, show_spinner=False)
def kpi_filter_options(url: str, version: str) -> tuple[list[str], list[str]]:
    """(sites, recommendation types) present in the log, sorted."""
    recs = kpi_tables().recs
    return (
        sorted(map(str, recs["site"].dropna().unique())),
        sorted(map(str, recs["rec_type"].dropna().unique())),
    )


@st.cache_data(ttl=600, max_entries=16, show_spinner="Comparing baseline and current…")
def kpi_view(url: str, version: str, go_live: str, site: str | None, rec_type: str | None) -> dict:
    """Everything the Baseline page shows for one go-live (ISO date) and filter: the KPI
    comparison, weekly trend, baseline band, expedite money and data range."""
    from datetime import date

    from analytics.baseline import Change, compare_periods, expedite_money
    from analytics.kpi_groups import baseline_band, weekly_trend
    from analytics.kpis import data_range, filtered

    day = date.fromisoformat(go_live)
    tables = filtered(kpi_tables(), site=site, rec_type=rec_type)
    comparison = compare_periods(tables, go_live=day)
    trend = weekly_trend(tables)
    exp = comparison.set_index("kpi").loc["expedite_pct_cogs"]
    change = Change(
        None if pd.isna(exp["delta"]) else float(exp["delta"]),
        None if pd.isna(exp["ci_low"]) else float(exp["ci_low"]),
        None if pd.isna(exp["ci_high"]) else float(exp["ci_high"]),
        str(exp["verdict"]),
    )
    return {
        "comparison": comparison,
        "trend": trend,
        "band": baseline_band(trend, go_live=day),
        "money": expedite_money(tables, go_live=day, change=change),
        "range": data_range(tables),
    }


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
    from datetime import date

    from analytics.kpi_groups import kpi_breakdown as breakdown
    from analytics.kpis import filtered

    tables = filtered(kpi_tables(), site=site, rec_type=rec_type)
    return breakdown(tables, go_live=date.fromisoformat(go_live), by=list(by))


# --- Override patterns (pages/overrides.py) ----------------------------------------------
# Keyed on Frames.version (contract tables) plus the mining settings; the rule lifecycle
# has its own version, so adopting a rule does not recompute themes and rules.


@st.cache_resource(show_spinner="Joining recommendations, decisions and outcomes…", max_entries=2)
def _override_log(url: str, version: str, _frames: Frames) -> pd.DataFrame:
    from analytics.override_log import decided_log

    return decided_log(_frames)


@st.cache_resource(show_spinner="Clustering override reasons into themes…", max_entries=2)
def _override_themes(url: str, version: str, random_state: int, _frames: Frames):
    from analytics.override_report import override_themes

    return override_themes(_override_log(url, version, _frames), random_state=random_state)


@st.cache_resource(
    show_spinner="Mining candidate rules and weighing their value added…", max_entries=4
)
def _override_analysis(
    url: str,
    version: str,
    min_support: int | None,
    max_conditions: int,
    random_state: int,
    _frames: Frames,
):  # -> analytics.override_report.OverrideAnalysis
    from analytics.override_report import analyse_log

    model, theme_id = _override_themes(url, version, random_state, _frames)
    return analyse_log(
        _override_log(url, version, _frames),
        theme_model=model,
        theme_id=theme_id,
        min_support=min_support,
        max_conditions=max_conditions,
        random_state=random_state,
    )


def override_analysis(
    *, min_support: int | None = None, max_conditions: int = 3, random_state: int = 0
):  # -> analytics.override_report.OverrideAnalysis
    """Themes, rules and evidence for the current data (shared, read-only).

    Three cached stages (log, themes, rules), each with its own spinner, so a
    first visit shows what is being computed and a rule setting change does not
    re-cluster the reasons.
    """
    frames = get_frames()
    return _override_analysis(
        current_url(), frames.version, min_support, max_conditions, random_state, frames
    )


@st.cache_data(ttl=600, max_entries=8, show_spinner="Weighing what the overrides were worth…")
def override_value_tables(
    url: str, version: str, min_support: int | None, max_conditions: int, random_state: int
) -> dict[str, pd.DataFrame]:
    """Value added overall and per direction × size band, planner, type and theme; stockouts."""
    from analytics.value_added import stockout_rates, value_added

    log = override_analysis(
        min_support=min_support, max_conditions=max_conditions, random_state=random_state
    ).log
    out = {"overall": value_added(log, random_state=random_state)}
    for name, by in {
        "band": ["direction", "size_band"],
        "direction": "direction",
        "planner": "decided_by",
        "rec_type": "rec_type",
        "theme": "theme_id",
    }.items():
        out[name] = value_added(log, by=by, random_state=random_state)
    out["stockout"] = stockout_rates(log)
    return out


def rule_status_version() -> int:
    """Version of the rule lifecycle table (0 before the first change)."""
    from store.db import data_versions

    return data_versions(current_engine()).get("rule_status", 0)


@st.cache_data(ttl=600, max_entries=8, show_spinner=False)
def rule_statuses(url: str, status_version: int) -> pd.DataFrame:
    """Every rule lifecycle row (``store.rules_store.read_rule_statuses``)."""
    from store.rules_store import read_rule_statuses

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
    from analytics.rule_monitor import monitor_rules

    statuses = rule_statuses(url, status_version)
    adopted = statuses[statuses["status"] == "adopted"] if not statuses.empty else statuses
    log = override_analysis(
        min_support=min_support, max_conditions=max_conditions, random_state=random_state
    ).log
    return monitor_rules(log, adopted, random_state=random_state)


# --- Ownership & SLA, readiness gates, audit trail (pages/ownership.py, audit.py, auth.py) --


@st.cache_data(ttl=60, max_entries=4, show_spinner=False)
def audit_chain(url: str) -> dict:
    """The audit chain's check (``store.governance.audit_verify``), repeated at most once a
    minute: an edit made outside the app changes no data version, so only time re-checks it."""
    from store.governance import audit_verify

    return audit_verify(engine_for(url))


@st.cache_data(ttl=600, max_entries=4, show_spinner="Reading the audit trail…")
def audit_events(url: str, version: str) -> pd.DataFrame:
    """Every audit event, newest first (``store.audit.read_events``); every event bumps the version."""
    from store.audit import read_events

    return read_events(engine_for(url))


@st.cache_data(ttl=600, max_entries=8, show_spinner="Working out owners, SLAs and breaches…")
def ownership_overview(url: str, version: str, as_of: str, trend_by: str, freq: str):
    """``analytics.ownership.ownership_overview`` for the current log judged at ``as_of`` (ISO)."""
    from analytics.ownership import ownership_overview as overview_of

    frames = get_frames()
    return overview_of(
        frames.recommendations,
        frames.decisions,
        frames.owners,
        now=pd.Timestamp(as_of),
        trend_by=trend_by,
        freq=freq,
    )


@st.cache_data(ttl=600, max_entries=4, show_spinner="Checking the readiness gates…")
def readiness_gates(url: str, version: str, go_live: str | None, today: str) -> dict:
    """The five gates (``store.governance.gates_for_store``) for one go-live (ISO date) and day.

    Reuses the Override patterns page's cached analysis for the candidate rules when present."""
    from datetime import date

    from store.governance import gates_for_store, read_rule_status

    engine = engine_for(url)
    candidates: object = ...
    try:
        from analytics.override_report import rules_payload

        analysis = override_analysis()  # noqa: F821 (the Override patterns page's wrapper, above)
        candidates = rules_payload(analysis, statuses=read_rule_status(engine))["rules"]
    except (NameError, ImportError):
        pass
    return gates_for_store(
        engine,
        go_live_date=date.fromisoformat(go_live) if go_live else None,
        frames=get_frames(),
        candidates=candidates,  # type: ignore[arg-type]
    )


# --- Why this fired (pages/why.py) -------------------------------------------------------
# The surrogates and the precedent index depend only on the recommendations, so they are
# keyed on that table's version: recording a decision only re-indexes decisions by rec id.


def table_version(table: str) -> int:
    """Version of one store table (0 before its first write)."""
    from store.db import data_versions

    return data_versions(current_engine()).get(table, 0)


@st.cache_resource(show_spinner=False, max_entries=2)
def _why_surrogates(url: str, recs_version: int, _frames: Frames):  # -> Surrogates
    from analytics.surrogate import fit_surrogates

    return fit_surrogates(_frames)


def why_surrogates():  # -> analytics.surrogate.Surrogates
    """The fitted explanation surrogates for the current recommendations (shared, read-only)."""
    frames = get_frames()
    return _why_surrogates(current_url(), table_version("recommendations"), frames)


@st.cache_resource(show_spinner=False, max_entries=2)
def _why_precedents(url: str, recs_version: int, _frames: Frames, _model):
    from analytics.precedent import build_precedent_index

    return build_precedent_index(_frames, _model)


def why_precedents():  # -> analytics.precedent.PrecedentIndex
    """Recommendations indexed for precedent search (rebuilt only when recommendations change)."""
    frames = get_frames()
    recs_version = table_version("recommendations")
    model = _why_surrogates(current_url(), recs_version, frames)
    return _why_precedents(current_url(), recs_version, frames, model)


@st.cache_resource(show_spinner=False, max_entries=2)
def _why_decisions(url: str, version: str, _frames: Frames):
    from analytics.precedent import decision_lookup

    return decision_lookup(_frames)


def why_decisions():  # -> analytics.precedent.DecisionLookup
    """Decisions and outcomes by rec id, for precedents (current data, read-only)."""
    frames = get_frames()
    return _why_decisions(current_url(), frames.version, frames)


@st.cache_resource(show_spinner=False, max_entries=2)
def _why_pick_list(url: str, version: str, _frames: Frames) -> pd.DataFrame:
    from analytics.rec_picker import pick_list

    return pick_list(_frames)


def why_pick_list() -> pd.DataFrame:
    """Every recommendation with type, site, SKU, supplier, owner, impact, decision (read-only)."""
    frames = get_frames()
    return _why_pick_list(current_url(), frames.version, frames)


if __name__ == "__main__":  # opened as a page by Streamlit's folder discovery: show the app
    from pages.ui import ensure_shell

    ensure_shell()
