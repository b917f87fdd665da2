"""Override learning: the reason themes, candidate rules and value added the Override
patterns page, the Why page, ``cli.py rules/themes``, the gates and the digest share."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from analytics.overrides.analysis import (
    OverrideAnalysis,
    analyse_log,
    override_themes,
    rules_report,
    theme_assignments,
)
from analytics.overrides.log import decided_log
from analytics.overrides.monitor import monitor_rules
from analytics.overrides.themes import ThemeModel
from analytics.overrides.value_added import stockout_rates, value_added
from contract.frames import Frames
from store.reads import load_frames
from store.rule_status import read_rule_statuses

# The breakdowns of value added the Override patterns page shows.
VALUE_BREAKDOWNS: dict[str, str | list[str]] = {
    "band": ["direction", "size_band"],
    "direction": "direction",
    "planner": "decided_by",
    "rec_type": "rec_type",
    "theme": "theme_id",
}


def override_log(frames: Frames) -> pd.DataFrame:
    """Every decided recommendation joined with its outcome (``analytics.overrides.log``)."""
    return decided_log(frames)


def themes(log: pd.DataFrame, *, random_state: int = 0) -> tuple[ThemeModel, np.ndarray]:
    """The reason themes of the log's overrides and each row's theme id."""
    return override_themes(log, random_state=random_state)


def analysis(
    log: pd.DataFrame,
    theme_model: ThemeModel,
    theme_id: np.ndarray,
    *,
    min_support: int | None = None,
    max_conditions: int = 3,
    random_state: int = 0,
) -> OverrideAnalysis:
    """Candidate rules and their evidence over the log and its themes."""
    return analyse_log(
        log,
        theme_model=theme_model,
        theme_id=theme_id,
        min_support=min_support,
        max_conditions=max_conditions,
        random_state=random_state,
    )


def value_tables(log: pd.DataFrame, *, random_state: int = 0) -> dict[str, pd.DataFrame]:
    """Value added overall and per direction × size band, planner, type and theme; stockouts."""
    out = {"overall": value_added(log, random_state=random_state)}
    for name, by in VALUE_BREAKDOWNS.items():
        out[name] = value_added(log, by=by, random_state=random_state)
    out["stockout"] = stockout_rates(log)
    return out


def adopted_monitor(
    log: pd.DataFrame, statuses: pd.DataFrame, *, random_state: int = 0
) -> pd.DataFrame:
    """Support and value added per quarter of every adopted rule."""
    adopted = statuses[statuses["status"] == "adopted"] if not statuses.empty else statuses
    return monitor_rules(log, adopted, random_state=random_state)


def rules_for_store(engine: Engine, *, top: int | None = None) -> dict[str, Any]:
    """``cli.py rules --json``: candidate rules best first, each with its lifecycle status."""
    return rules_report(load_frames(engine), top=top, statuses=read_rule_statuses(engine))


def themes_for_store(engine: Engine) -> pd.DataFrame:
    """``cli.py themes``: each override's theme (``rec_id, theme_id, theme_label``)."""
    return theme_assignments(load_frames(engine))
