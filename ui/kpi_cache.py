"""The Baseline page's cache wrappers (``ui.cache``'s rules: keyed on small hashable values,
never a DataFrame; one-line wrappers over ``flows/``), apart so ``ui/cache.py`` stays small."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

import pandas as pd
import streamlit as st

from ui.cache import artefact, contract_version, current_url, engine_for, frames_for

if TYPE_CHECKING:
    from analytics.baseline.kpis import KpiTables


# --- KPIs against the pre-AI baseline (pages/baseline.py) ---------------------------------
# Keyed on Frames.version (contract tables only), so saving a setting such as the KPI
# targets does not recompute the per-row KPI inputs.


@st.cache_resource(show_spinner="Preparing the KPI inputs…", max_entries=2)
def _kpi_tables(url: str, version: str) -> KpiTables:
    # Built on write; derived here (one pass, no model) only while the build is under way.
    built = artefact("kpi_tables", url)
    if built is not None:
        return built
    from analytics.baseline.kpis import kpi_tables as build_kpi_tables

    return build_kpi_tables(frames_for(url))


def kpi_tables() -> KpiTables:
    """Per-row inputs of every KPI for the current data (shared, read-only)."""
    return _kpi_tables(current_url(), contract_version())


def kpi_version() -> str:
    """The cache key of the KPI figures: the contract tables' version."""
    return contract_version()


# Each view is also kept beside the store (flows/views.py): computed by ``cli.py prepare``
# for the page as it opens, so a server's first visit reads it instead of computing it.


def _baseline_view(url: str, version: str, name: str, go_live: str | None, **kw: Any) -> Any:
    from flows import views

    return views.baseline_view(
        engine_for(url),
        lambda: _kpi_tables(url, version),
        version,
        name,
        go_live_day=date.fromisoformat(go_live) if go_live else None,
        **kw,
    )


@st.cache_data(ttl=600, max_entries=4, show_spinner=False)
def kpi_filter_options(url: str, version: str) -> tuple[list[str], list[str]]:
    """(sites, recommendation types) present in the log, sorted."""
    return _baseline_view(url, version, "kpi_filter_options", None)


@st.cache_data(ttl=600, max_entries=16, show_spinner="Comparing baseline and current…")
def kpi_view(
    url: str, version: str, go_live: str, site: str | None, rec_type: str | None
) -> dict[str, Any]:
    """``flows.baseline.kpi_view`` for one go-live (ISO date) and filter."""
    return _baseline_view(url, version, "kpi_view", go_live, site=site, rec_type=rec_type)


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
    return _baseline_view(
        url, version, "kpi_breakdown", go_live, site=site, rec_type=rec_type, by=by
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
    return _baseline_view(
        url,
        version,
        "money_view",
        go_live,
        site=site,
        rec_type=rec_type,
        expedite_target=expedite_target,
    )
