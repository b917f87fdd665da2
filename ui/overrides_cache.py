"""The Override patterns page's cache wrappers (``ui.cache``'s rules: keyed on small hashable
values, never a DataFrame), apart so ``ui/cache.py`` stays small.

The theme views (capture gap overall and by planner, themes by month, where each theme
concentrates) and the page's figures are computed once per built analysis and mining
settings and shared by every session: at a million recommendations they cost about a second
of server CPU, paid on every run before they were kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd
import streamlit as st

from analytics.overrides.charts import (
    stockout_figure,
    theme_size_spec,
    theme_trend_spec,
    value_added_band_figure,
    value_added_group_figure,
)
from analytics.overrides.theme_views import capture_gap, theme_concentration, theme_trend
from ui.cache import DEFAULT_MINING, artefact, artefact_key

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from analytics.overrides.analysis import OverrideAnalysis

Settings = tuple[int | None, int, int]  # (min_support, max_conditions, random_state)
THEME_COLUMNS = ("theme_id", "label", "size", "share", "context", "representatives",
                 "n_distinct", "established")  # fmt: skip


@dataclass(frozen=True)
class ThemeViews:
    """What the page's header and Reason themes tab show of one analysis (read-only)."""

    labels: dict[int, str]  # theme id → label, with 0 = "no reason given"
    gap: pd.Series  # the capture gap over every decided recommendation
    by_planner: pd.DataFrame  # the capture gap per planner, worst first
    concentration: pd.DataFrame  # where each theme concentrates (attribute, value, lift)
    themes: pd.DataFrame  # the themes table as shown (representatives joined)
    size_chart: dict  # Vega-Lite specs (analytics.overrides.charts)
    trend_chart: dict


def analysis_key(url: str) -> str:
    """The cache key of the built override analysis (changes with the data it was built on)."""
    return artefact_key("override_analysis", url)


@st.cache_resource(show_spinner="Summarising the reason themes…", max_entries=8)
def theme_views(_analysis: OverrideAnalysis, url: str, key: str, settings: Settings) -> ThemeViews:
    """The theme views of ``_analysis`` (the analysis of ``url`` built under ``key`` with
    ``settings``; the analysis itself is not hashed)."""
    log = _analysis.log
    labels = {0: "no reason given", **_analysis.theme_labels()}
    themes = _analysis.themes[list(THEME_COLUMNS)].copy()
    themes["representatives"] = themes["representatives"].map(" | ".join)
    return ThemeViews(
        labels=labels,
        gap=capture_gap(log).iloc[0],
        by_planner=capture_gap(log, by="decided_by").sort_values("gap", ascending=False),
        concentration=theme_concentration(log, labels=labels),
        themes=themes,
        size_chart=theme_size_spec(_analysis.themes),
        trend_chart=theme_trend_spec(theme_trend(log, labels=labels)),
    )


@dataclass(frozen=True)
class ValueFigures:
    """The "Did it pay off?" figures of one analysis's value tables (read-only)."""

    band: go.Figure
    planner: go.Figure
    theme: go.Figure
    rec_type: go.Figure
    stockout: go.Figure


@st.cache_resource(show_spinner="Drawing what the overrides were worth…", max_entries=8)
def value_figures(
    _values: dict[str, pd.DataFrame],
    _labels: dict[int, str],
    url: str,
    key: str,
    settings: Settings,
) -> ValueFigures:
    """The value-added figures of ``_values`` (the value tables of the analysis of ``url``
    built under ``key`` with ``settings``; neither argument is hashed)."""
    by_theme = _values["theme"].assign(theme=lambda t: t["theme_id"].map(_labels))
    return ValueFigures(
        band=value_added_band_figure(_values["band"]),
        planner=value_added_group_figure(
            _values["planner"], name_column="decided_by", title="By planner"
        ),
        theme=value_added_group_figure(by_theme, name_column="theme", title="By theme"),
        rec_type=value_added_group_figure(
            _values["rec_type"], name_column="rec_type", title="By recommendation type"
        ),
        stockout=stockout_figure(_values["stockout"]),
    )


def warm(url: str) -> bool:
    """Compute the theme views of the built analysis of ``url`` at the default settings (the
    server's start-up hook calls it, after ``ui.cache.warm``): the page opens on them. Whether
    there was an analysis to summarise."""
    analysis = artefact("override_analysis", url)
    if analysis is None:
        return False
    theme_views(analysis, url, analysis_key(url), DEFAULT_MINING)
    return True
