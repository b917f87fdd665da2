"""Why a recommendation fired: one record per explanation, and the CLI's reports.

``explain_rec`` gathers everything the page shows about one recommendation —
the surrogate's exact SHAP contributions (``analytics.explain.surrogates``), each
driver's raw value beside the typical value for its type and site, the
sentence (``analytics.explain.text``) and the precedents
(``analytics.explain.precedent``). ``explain_report`` and ``drivers_report`` return the
JSON the CLI prints.

Like shap's ``Explanation``, a ``RecExplanation`` keeps the raw value a planner
recognises (``value``) apart from what the trees saw (ordinal codes for text).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from analytics.explain.fit import (
    FIDELITY_WARN,
    Surrogates,
    TypeModel,
    dependence,
    fidelity_warning,
    global_drivers,
)
from analytics.explain.peers import PeerValues, one_group
from analytics.explain.precedent import (
    PRECEDENT_COLUMNS,
    DecisionLookup,
    PrecedentIndex,
    build_precedent_index,
    decision_lookup,
    find_precedents,
)
from analytics.explain.text import (
    explain_sentence,
    feature_label,
    format_value,
)

__all__ = [
    "FIDELITY_WARN",
    "NotExplainable",
    "RecExplanation",
    "RecNotFound",
    "dependence",
    "drivers_report",
    "explain_rec",
    "explain_row",
    "explain_report",
    "fidelity_warning",
    "global_drivers",
    "waterfall_steps",
]


def __getattr__(name: str) -> Any:
    # Fitting needs scikit-learn and shap; explaining with a fitted model does not, so the
    # fitting function is re-exported here without importing them for every reader.
    if name == "fit_surrogates":
        from analytics.explain.surrogates import fit_surrogates

        return fit_surrogates
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class RecNotFound(LookupError):
    """No recommendation with this id in the log."""


class NotExplainable(ValueError):
    """The recommendation's type has no surrogate (too few rows, no snapshot, no output)."""


@dataclass(frozen=True)
class RecExplanation:
    """Everything known about why one recommendation fired.

    Attributes
    ----------
    rec_id, rec_type, site : str
    target : str
        The logged output the surrogate reproduces (``score`` or ``confidence``).
    logged_value : float
        That output as logged for this recommendation (NaN if missing).
    base_value, prediction : float
        Surrogate's average output and its output here; ``base_value + contributions.shap.sum()
        == prediction`` (exact up to float rounding).
    fidelity_r2 : float
        Held-out R² of the type's surrogate; ``warning`` is set below ``FIDELITY_WARN``.
    strategy : str
        ``per_type`` or ``pooled`` surrogate.
    contributions : pd.DataFrame
        One row per surrogate input, by |shap| descending: ``feature``, ``label``, ``value``
        (raw), ``value_text``, ``typical``, ``typical_text``, ``percentile``, ``n_peers``,
        ``pct_fraction``, ``shap``.
    sentence : str
    precedents : pd.DataFrame
        ``analytics.explain.precedent.PRECEDENT_COLUMNS``, nearest first.
    """

    rec_id: str
    rec_type: str
    site: str | None
    target: str
    logged_value: float
    base_value: float
    prediction: float
    fidelity_r2: float
    strategy: str
    warning: str | None
    contributions: pd.DataFrame
    sentence: str
    precedents: pd.DataFrame


def _locate(recommendations: pd.DataFrame, rec_id: str) -> int:
    hits = np.flatnonzero(
        (recommendations["rec_id"] == rec_id).to_numpy(dtype=bool, na_value=False)
    )
    if len(hits) == 0:
        raise RecNotFound(f"no recommendation with id {rec_id!r}")
    return int(hits[0])


_ROW_COLUMNS = (
    "rec_id",
    "rec_type",
    "site",
    "created_at",
    "score",
    "confidence",
    "recommended_qty",
)


def _one_row(recs: pd.DataFrame, pos: int, columns: list[str]) -> pd.DataFrame:
    """One recommendation as a one-row frame of raw values (only ``columns``).

    Reads scalars column by column: taking a row of a million-row frame with Arrow
    string columns would cost a take per column and block.
    """
    data = {c: [recs[c].iloc[pos]] for c in columns if c in recs.columns}
    return pd.DataFrame(data, index=[pos])


def explain_rec(
    model: Surrogates,
    frames: Any,
    rec_id: str,
    *,
    index: PrecedentIndex | None = None,
    lookup: DecisionLookup | None = None,
    k: int = 5,
) -> RecExplanation:
    """Explain one recommendation of the log ``frames`` (``explain_row`` on its row).

    Parameters
    ----------
    model : Surrogates
        From ``fit_surrogates`` on the same log.
    frames : Frames
        The log (``recommendations``; ``decisions`` and ``outcomes`` for precedents).
    rec_id : str
    index : PrecedentIndex, optional
        A prebuilt precedent index (``build_precedent_index``); built for this
        recommendation's type when omitted.
    lookup : DecisionLookup, optional
        Decisions and outcomes by rec id (``decision_lookup``); built when omitted.
    k : int
        Number of precedents.

    Raises
    ------
    RecNotFound
        Unknown ``rec_id``.
    NotExplainable
        The type has no surrogate (the reason says why).
    """
    recs = frames.recommendations
    pos = _locate(recs, rec_id)
    tm = _type_model(model, str(recs["rec_type"].iloc[pos]))
    row = _one_row(recs, pos, [*_ROW_COLUMNS, *(f for f in tm.features if f not in _ROW_COLUMNS)])
    rec = row.iloc[0]
    peers = one_group(recs, rec["rec_type"], rec["site"], list(tm.features))
    if index is None or tm.rec_type not in index.types:
        index = build_precedent_index(frames, model, rec_types=[tm.rec_type])
    if lookup is None:
        lookup = decision_lookup(frames)
    return explain_row(model, row, peers=peers, index=index, lookup=lookup, k=k)


def _type_model(model: Surrogates, rec_type: str) -> TypeModel:
    tm = model.types.get(rec_type)
    if tm is None:
        why = model.skipped.get(rec_type, "no surrogate was fitted for it")
        raise NotExplainable(f"cannot explain {rec_type} recommendations: {why}")
    return tm


def explain_row(
    model: Surrogates,
    row: pd.DataFrame,
    *,
    peers: PeerValues,
    index: PrecedentIndex,
    lookup: DecisionLookup,
    k: int = 5,
) -> RecExplanation:
    """Explain the recommendation in the one-row frame ``row`` (raw values, typed as the log).

    ``peers`` gives the typical values (``peer_values``, built once per version of the
    recommendations), ``index`` and ``lookup`` the precedents: nothing here reads the log.

    Raises
    ------
    NotExplainable
        The type has no surrogate (the reason says why).
    """
    rec = row.iloc[0]
    rec_type = str(rec["rec_type"])
    tm = _type_model(model, rec_type)
    pred, shap_rows = tm.explain(row)
    shap_row, prediction = shap_rows[0], float(pred[0])
    contrib = peers.typical(rec, list(tm.features)).assign(shap=shap_row)
    contrib.insert(1, "label", [feature_label(f) for f in contrib["feature"]])
    contrib["value_text"] = [
        format_value(f, v, pct_fraction=p)
        for f, v, p in zip(
            contrib["feature"], contrib["value"], contrib["pct_fraction"], strict=True
        )
    ]
    contrib["typical_text"] = [
        format_value(f, v, pct_fraction=p)
        for f, v, p in zip(
            contrib["feature"], contrib["typical"], contrib["pct_fraction"], strict=True
        )
    ]
    order = np.lexsort((contrib["feature"].to_numpy(dtype=str), -np.abs(shap_row)))
    contrib = contrib.iloc[order].reset_index(drop=True)
    contrib = contrib[
        [
            "feature",
            "label",
            "value",
            "value_text",
            "typical",
            "typical_text",
            "percentile",
            "n_peers",
            "pct_fraction",
            "shap",
        ]
    ]
    site = None if pd.isna(rec["site"]) else str(rec["site"])
    sentence = explain_sentence(
        contrib, rec_type=rec_type, site=site, prediction=prediction, base_value=tm.base_value
    )
    precedents = find_precedents(index, row, lookup, k=k)
    logged = rec.get(tm.target)
    return RecExplanation(
        rec_id=str(rec["rec_id"]),
        rec_type=rec_type,
        site=site,
        target=tm.target,
        logged_value=float(logged) if logged is not None and pd.notna(logged) else float("nan"),
        base_value=tm.base_value,
        prediction=prediction,
        fidelity_r2=tm.fidelity_r2,
        strategy=tm.strategy,
        warning=fidelity_warning(tm.fidelity_r2),
        contributions=contrib,
        sentence=sentence,
        precedents=precedents if len(precedents) else pd.DataFrame(columns=PRECEDENT_COLUMNS),
    )


def _json_value(v: Any) -> Any:
    if v is None or v is pd.NA:
        return None
    if isinstance(v, (float, np.floating)):
        return None if not math.isfinite(float(v)) else float(v)
    if isinstance(v, (np.integer, int)) and not isinstance(v, bool):
        return int(v)
    return str(v)


def explain_report(
    model: Surrogates,
    frames: Any,
    rec_id: str,
    *,
    index: PrecedentIndex | None = None,
    lookup: DecisionLookup | None = None,
) -> dict[str, Any]:
    """The CLI's ``explain`` JSON for one recommendation.

    Returns
    -------
    dict
        ``{"rec_id", "base_value", "prediction", "fidelity_r2", "contributions":
        [{"feature", "value", "typical", "shap"}], "sentence", "precedents":
        [{"rec_id", "decision", "reason", "value_added"}]}``; contributions by
        |shap| descending, values raw (text stays text), typical = median among
        the same type and site (most common value for text).

    Raises
    ------
    RecNotFound, NotExplainable
    """
    ex = explain_rec(model, frames, rec_id, index=index, lookup=lookup)
    return {
        "rec_id": ex.rec_id,
        "base_value": float(ex.base_value),
        "prediction": float(ex.prediction),
        "fidelity_r2": _json_value(ex.fidelity_r2),
        "contributions": [
            {
                "feature": str(f),
                "value": _json_value(v),
                "typical": _json_value(t),
                "shap": float(s),
            }
            for f, v, t, s in zip(
                ex.contributions["feature"],
                ex.contributions["value"],
                ex.contributions["typical"],
                ex.contributions["shap"],
                strict=True,
            )
        ],
        "sentence": ex.sentence,
        "precedents": [
            {
                "rec_id": str(r),
                "decision": _json_value(d),
                "reason": _json_value(reason),
                "value_added": _json_value(va),
            }
            for r, d, reason, va in zip(
                ex.precedents["rec_id"],
                ex.precedents["decision"],
                ex.precedents["reason"],
                ex.precedents["value_added"],
                strict=True,
            )
        ],
    }


def drivers_report(model: Surrogates, *, rec_type: str | None = None) -> dict[str, Any]:
    """The CLI's ``drivers`` JSON: ``{"fidelity_r2", "drivers": [{"feature", "mean_abs_shap"}]}``.

    Drivers by mean |SHAP| on held-out recommendations, descending. With
    ``rec_type``, that type's surrogate and its held-out R²; without, the per-type
    means weighted by each type's share of the log, and the held-out-row weighted
    mean of the per-type R² (see ``Surrogates.fidelity_r2``).

    Raises
    ------
    NotExplainable
        ``rec_type`` has no surrogate.
    """
    if rec_type is not None and rec_type not in model.types:
        why = model.skipped.get(rec_type, "not a recommendation type in the log")
        raise NotExplainable(f"no surrogate for {rec_type!r}: {why}")
    table = global_drivers(model, rec_type=rec_type)
    r2 = model.types[rec_type].fidelity_r2 if rec_type is not None else model.fidelity_r2
    return {
        "fidelity_r2": _json_value(r2),
        "drivers": [
            {"feature": str(f), "mean_abs_shap": float(v)}
            for f, v in zip(table["feature"], table["mean_abs_shap"], strict=True)
        ],
    }


def waterfall_steps(ex: RecExplanation, *, top: int = 6) -> pd.DataFrame:
    """The waterfall's bars: the ``top`` drivers by |shap|, then the rest pooled.

    Columns ``label`` (name = raw value), ``shap``, ``feature`` (empty for the pool). Bars
    start at ``ex.base_value`` and end at ``ex.prediction``.
    """
    c = ex.contributions
    head = c.iloc[:top]
    rows = [
        {"label": f"{lab} = {txt}", "shap": float(s), "feature": f}
        for lab, txt, s, f in zip(
            head["label"], head["value_text"], head["shap"], head["feature"], strict=True
        )
    ]
    rest = c.iloc[top:]
    if len(rest):
        rows.append(
            {
                "label": f"{len(rest)} other features",
                "shap": float(rest["shap"].sum()),
                "feature": "",
            }
        )
    return pd.DataFrame(rows, columns=["label", "shap", "feature"])
