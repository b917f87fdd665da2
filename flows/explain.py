"""Why this fired: the surrogates, explanations and precedents the Why page, ``cli.py
explain/drivers`` and bench/ share."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from analytics.explain.explanation import drivers_report, explain_report
from analytics.explain.fit import Surrogates
from analytics.explain.peers import PeerValues, peer_values
from analytics.explain.picker import is_open, pick_base, pick_list, with_decisions, with_recent
from analytics.explain.precedent import (
    DecisionLookup,
    PrecedentIndex,
    build_precedent_index,
    decision_lookup,
)
from contract.frames import Frames
from store.reads import load_frames, recommendation_row


def surrogates(frames: Frames) -> Surrogates:
    """The fitted explanation surrogates of the log's recommendations."""
    from analytics.explain.surrogates import fit_surrogates  # the fitting stack, on write only

    return fit_surrogates(frames)


def peers(frames: Frames, model: Surrogates) -> PeerValues:
    """Every (type, site) group's values of its type's surrogate inputs (typical values)."""
    features = {t: list(m.features) for t, m in model.types.items()}
    return peer_values(frames.recommendations, features)


def recommendation(engine: Engine, rec_id: str, peers: PeerValues) -> pd.DataFrame:
    """One recommendation as a one-row frame typed as the log (empty when there is none),
    read by its id: what the Why page explains, without the whole log."""
    return recommendation_row(engine, rec_id, features=peers.features, numeric=peers.numeric)


def precedents(frames: Frames, model: Surrogates) -> PrecedentIndex:
    """Recommendations indexed for precedent search."""
    return build_precedent_index(frames, model)


def decisions(frames: Frames) -> DecisionLookup:
    """Decisions and outcomes by rec id, for precedents."""
    return decision_lookup(frames)


def picker_base(frames: Frames) -> pd.DataFrame:
    """The pick list without its decisions (``analytics.explain.picker.pick_base``)."""
    return pick_base(frames)


def picker_with_decisions(base: pd.DataFrame, decisions: pd.DataFrame) -> pd.DataFrame:
    """``picker_base`` plus each recommendation's decision: ``picker``."""
    return with_decisions(base, decisions)


def picker(frames: Frames) -> pd.DataFrame:
    """Every recommendation with type, site, SKU, supplier, owner, impact, decision."""
    return pick_list(frames)


def decisions_since(
    app: tuple[int, pd.DataFrame], version: int, *, known: Callable[[np.ndarray], np.ndarray]
) -> pd.DataFrame | None:
    """The decisions recorded since decisions ``version``, from ``app`` (``app_decisions``:
    the current version and the workbench's own decisions), or None when something else
    (a load) changed the decisions since: read them again then.

    ``known(rec_ids)`` says which recommendations the version-``version`` view already has
    decided (a decision is never overwritten, so those are not new).
    """
    now, rows = app
    if len(rows):
        rows = rows[~known(rows["rec_id"].to_numpy(dtype=object))]
    return rows.reset_index(drop=True) if len(rows) == now - version else None


def pick_list_since(
    base: pd.DataFrame, version: int, app: tuple[int, pd.DataFrame]
) -> pd.DataFrame | None:
    """``base`` (the pick list of decisions ``version``) with the decisions recorded since,
    or None when they cannot be told apart from a load (``decisions_since``)."""
    recent = decisions_since(app, version, known=lambda ids: ~is_open(base, ids))
    return None if recent is None else with_recent(base, recent)


def lookup_since(
    base: DecisionLookup, version: int, app: tuple[int, pd.DataFrame]
) -> DecisionLookup | None:
    """``base`` (the decision lookup of decisions ``version``) with the decisions recorded
    since, or None when they cannot be told apart from a load (``decisions_since``)."""
    recent = decisions_since(app, version, known=lambda ids: base.decided(ids) >= 0)
    return None if recent is None else base.with_recent(recent)


def since(name: str, base: Any, version: int, app: tuple[int, pd.DataFrame]) -> Any | None:
    """``pick_list_since`` or ``lookup_since`` for the artefact ``name``."""
    if name == "pick_list":
        return pick_list_since(base, version, app)
    return lookup_since(base, version, app)


def explain_for_store(engine: Engine, rec_id: str) -> dict[str, Any]:
    """``cli.py explain --json`` for one recommendation (raises ``RecNotFound``,
    ``NotExplainable``)."""
    frames = load_frames(engine)
    return explain_report(surrogates(frames), frames, rec_id)


def drivers_for_store(engine: Engine, *, rec_type: str | None = None) -> dict[str, Any]:
    """``cli.py drivers --json``: mean |SHAP| per feature (raises ``NotExplainable``)."""
    return drivers_report(surrogates(load_frames(engine)), rec_type=rec_type)
