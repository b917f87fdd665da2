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
    analyse_overrides,
    override_themes,
    rules_payload,
    theme_rows,
)
from analytics.overrides.log import decided_log
from analytics.overrides.monitor import monitor_rules
from analytics.overrides.rules import mine_rules
from analytics.overrides.themes import ThemeModel
from analytics.overrides.value_added import stockout_rates, value_added
from contract.frames import Frames
from store.learning.theme_memory import read_theme_memory, save_theme_memory
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


def default_rules(log: pd.DataFrame) -> pd.DataFrame:
    """Candidate rules at the default settings: the context the themes are built on."""
    return mine_rules(log)


def themes(
    log: pd.DataFrame,
    *,
    rules: pd.DataFrame | None = None,
    engine: Engine | None = None,
    random_state: int = 0,
) -> tuple[ThemeModel, np.ndarray]:
    """The reason themes of the log's overrides and each row's theme id.

    With ``engine``, the themes keep the ids of the store's last fit (its theme memory)
    and the memory is replaced by this fit's, so ids persist across data versions.
    """
    previous = read_theme_memory(engine) if engine is not None else None
    model, theme_id = override_themes(
        log, rules=rules, previous=previous, random_state=random_state
    )
    if engine is not None:
        save_theme_memory(engine, model.memory)
    return model, theme_id


def analysis(
    log: pd.DataFrame,
    theme_model: ThemeModel,
    theme_id: np.ndarray,
    *,
    min_support: int | None = None,
    max_conditions: int = 3,
    random_state: int = 0,
    rules: pd.DataFrame | None = None,
) -> OverrideAnalysis:
    """Candidate rules and their evidence over the log and its themes.

    ``rules``: ``default_rules(log)`` when already mined; used only at the default
    settings (``min_support`` None, ``max_conditions`` 3), else the rules are mined here.
    """
    defaults = min_support is None and max_conditions == 3
    return analyse_log(
        log,
        theme_model=theme_model,
        theme_id=theme_id,
        min_support=min_support,
        max_conditions=max_conditions,
        random_state=random_state,
        rules=rules if defaults else None,
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
    result = analyse_overrides(load_frames(engine), previous=read_theme_memory(engine))
    save_theme_memory(engine, result.theme_model.memory)
    return rules_payload(result, top=top, statuses=read_rule_statuses(engine))


def themes_for_store(engine: Engine) -> pd.DataFrame:
    """``cli.py themes``: each override's theme (``rec_id, theme_id, theme_label``), with the
    ids the page shows (the store's theme memory), which this run then extends."""
    log = decided_log(load_frames(engine))
    model, theme_id = themes(log, engine=engine)
    done = OverrideAnalysis(
        log=log.assign(theme_id=theme_id), theme_model=model, rules=pd.DataFrame(), min_support=0
    )
    return theme_rows(done)
