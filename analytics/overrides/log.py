"""The decided log that override learning works on: one row per decided recommendation.

Joins recommendations, decisions and outcomes once, and derives what every
override analysis needs with the contract's definitions: the rule attributes
(``rec_type`` … ``resource``, ``decided_by``, and ``month``/``quarter``/``weekday``
of ``created_at``), the override **direction**, the **adjustment %** and its size
band. Themes, rules and value added all read this one frame.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import pandas as pd

from contract.vocabulary import (  # noqa: F401  (re-exported for the override wing)
    CALENDAR_ATTRIBUTES,
    DIRECTIONS,
    ENTITY_ATTRIBUTES,
    MONTHS,
    OVERRIDES,
    QUARTERS,
    WEEKDAYS,
)
from contract.vocabulary import HUMAN_DECISIONS as DECIDED
from contract.vocabulary import RULE_ATTRIBUTES as ATTRIBUTES

NO_DIRECTION = "none"
SIZE_BANDS: tuple[str, ...] = ("<10%", "10–25%", "25–50%", "≥50%")
_BAND_EDGES = np.array([10.0, 25.0, 50.0])


class LogFrames(Protocol):
    """What the override analyses read: the contract's recommendations, decisions, outcomes."""

    @property
    def recommendations(self) -> pd.DataFrame: ...

    @property
    def decisions(self) -> pd.DataFrame: ...

    @property
    def outcomes(self) -> pd.DataFrame: ...


def _floats(series: pd.Series) -> np.ndarray:
    return series.to_numpy(dtype="float64", na_value=np.nan)


def _as_category(values: pd.Series, categories: tuple[str, ...] | None = None) -> pd.Categorical:
    if categories is not None:
        return pd.Categorical(values, categories=list(categories))
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values.array  # type: ignore[return-value]
    return pd.Categorical(values.astype("string"))


def calendar_attributes(created_at: pd.Series) -> dict[str, pd.Categorical]:
    """``month`` (Jan…Dec), ``quarter`` (Q1…Q4) and ``weekday`` (Mon…Sun) of timestamps."""
    ts = pd.DatetimeIndex(created_at)
    month = ts.month.to_numpy(dtype="float64", na_value=np.nan)
    weekday = ts.day_of_week.to_numpy(dtype="float64", na_value=np.nan)

    def cat(codes: np.ndarray, labels: tuple[str, ...]) -> pd.Categorical:
        ints = np.where(np.isnan(codes), -1, codes).astype(np.int64)
        return pd.Categorical.from_codes(ints, categories=list(labels))

    return {
        "month": cat(month - 1, MONTHS),
        "quarter": cat(np.floor((month - 1) / 3), QUARTERS),
        "weekday": cat(weekday, WEEKDAYS),
    }


def size_band(adjustment_pct: np.ndarray) -> pd.Categorical:
    """Band of |adjustment %|: ``<10%``, ``10–25%``, ``25–50%``, ``≥50%`` (NaN stays missing)."""
    size = np.abs(np.asarray(adjustment_pct, dtype="float64"))
    codes = np.searchsorted(_BAND_EDGES, size, side="right")
    codes = np.where(np.isnan(size), -1, codes)
    return pd.Categorical.from_codes(codes, categories=list(SIZE_BANDS), ordered=True)


def decided_log(frames: LogFrames) -> pd.DataFrame:
    """One row per decided recommendation (accepted, modified or rejected).

    Expired and open recommendations are left out: like the override rate, every
    rate built on this frame is over decided recommendations.

    Parameters
    ----------
    frames
        ``.recommendations``, ``.decisions`` (``final_qty`` already carrying the
        contract defaults) and ``.outcomes`` in the store's dtypes. Not modified.

    Returns
    -------
    DataFrame
        ``rec_id``; the rule attributes of ``ATTRIBUTES`` (category); ``created_at``,
        ``decided_at``; ``decision`` and ``is_override``; ``direction`` (``increase``,
        ``decrease``, ``reject`` or ``none``: accepted, or modified without a usable
        ``recommended_qty`` or to the same quantity); ``recommended_qty``, ``final_qty``,
        ``adjustment_pct`` (``(final − recommended) / recommended × 100``, NaN when
        recommended is missing or 0), ``size_band``; ``reason`` and ``reason_code`` (string);
        ``actual_qty`` and ``stockout`` (1.0 / 0.0 / NaN) from outcomes.
        Ordered by ``created_at`` (ties in input order), with a fresh RangeIndex.
    """
    dec = frames.decisions
    recs = frames.recommendations
    if dec.empty or recs.empty:
        return _empty_log()
    decision = dec["decision"].astype("string").to_numpy(dtype=object, na_value="")
    keep = np.isin(decision, DECIDED)
    pos = pd.Index(recs["rec_id"]).get_indexer(dec["rec_id"])
    keep &= pos >= 0
    rows = np.flatnonzero(keep)
    rpos = pos[rows]

    out: dict[str, object] = {"rec_id": dec["rec_id"].array[rows]}
    for attr in ENTITY_ATTRIBUTES:
        if attr in recs.columns:
            out[attr] = _as_category(recs[attr]).take(rpos)
        else:
            out[attr] = pd.Categorical.from_codes(np.full(len(rows), -1), categories=[])
    out["decided_by"] = _as_category(dec["decided_by"]).take(rows)
    created = recs["created_at"].array.take(rpos)
    out.update(calendar_attributes(pd.Series(created)))
    out["created_at"] = created
    out["decided_at"] = dec["decided_at"].array.take(rows)

    chosen = decision[rows]
    rec_qty = _floats(recs["recommended_qty"])[rpos] if "recommended_qty" in recs else None
    rec_qty = rec_qty if rec_qty is not None else np.full(len(rows), np.nan)
    final = _floats(dec["final_qty"])[rows]
    with np.errstate(divide="ignore", invalid="ignore"):
        adj = np.where(rec_qty > 0, (final - rec_qty) / rec_qty * 100.0, np.nan)
    modified = chosen == "modified"
    direction = np.full(len(rows), NO_DIRECTION, dtype=object)
    direction[modified & (adj > 0)] = "increase"
    direction[modified & (adj < 0)] = "decrease"
    direction[chosen == "rejected"] = "reject"
    out["decision"] = pd.Categorical(chosen, categories=list(DECIDED))
    out["is_override"] = np.isin(chosen, OVERRIDES)
    out["direction"] = pd.Categorical(direction, categories=[*DIRECTIONS, NO_DIRECTION])
    out["recommended_qty"] = rec_qty
    out["final_qty"] = final
    out["adjustment_pct"] = np.where(np.isin(chosen, OVERRIDES), adj, np.nan)
    out["size_band"] = size_band(out["adjustment_pct"])  # type: ignore[arg-type]
    out["reason"] = dec["reason"].astype("string").array[rows] if "reason" in dec else pd.NA
    code = dec["reason_code"] if "reason_code" in dec else pd.Series(pd.NA, index=dec.index)
    out["reason_code"] = code.astype("string").array[rows]

    outcomes = frames.outcomes
    actual = np.full(len(rows), np.nan)
    stockout = np.full(len(rows), np.nan)
    if not outcomes.empty:
        opos = pd.Index(outcomes["rec_id"]).get_indexer(pd.Index(out["rec_id"]))  # type: ignore[arg-type]
        hit = opos >= 0
        if "actual_qty" in outcomes:
            actual[hit] = _floats(outcomes["actual_qty"])[opos[hit]]
        if "stockout" in outcomes:
            so = outcomes["stockout"].astype("boolean").astype("Float64")
            stockout[hit] = _floats(so)[opos[hit]]
    out["actual_qty"] = actual
    out["stockout"] = stockout

    log = pd.DataFrame(out)
    # Stable on the input order (the store reads by rec_id) so ties stay deterministic.
    order = np.argsort(log["created_at"].to_numpy(dtype="datetime64[us]"), kind="stable")
    return log.take(order).reset_index(drop=True)


def _empty_log() -> pd.DataFrame:
    cats = {a: pd.Categorical([]) for a in ATTRIBUTES}
    cats.update(calendar_attributes(pd.Series([], dtype="datetime64[us, UTC]")))
    return pd.DataFrame(
        {
            "rec_id": pd.array([], dtype="string"),
            **cats,
            "created_at": pd.Series([], dtype="datetime64[us, UTC]"),
            "decided_at": pd.Series([], dtype="datetime64[us, UTC]"),
            "decision": pd.Categorical([], categories=list(DECIDED)),
            "is_override": np.array([], dtype=bool),
            "direction": pd.Categorical([], categories=[*DIRECTIONS, NO_DIRECTION]),
            "recommended_qty": np.array([], dtype="float64"),
            "final_qty": np.array([], dtype="float64"),
            "adjustment_pct": np.array([], dtype="float64"),
            "size_band": size_band(np.array([], dtype="float64")),
            "reason": pd.array([], dtype="string"),
            "reason_code": pd.array([], dtype="string"),
            "actual_qty": np.array([], dtype="float64"),
            "stockout": np.array([], dtype="float64"),
        }
    )


def match_mask(log: pd.DataFrame, conditions: dict[str, str]) -> np.ndarray:
    """Boolean array: rows of ``log`` meeting every ``attr == value`` condition.

    A condition on a value the column never holds matches nothing.
    """
    mask = np.ones(len(log), dtype=bool)
    for attr, value in conditions.items():
        col = log[attr]
        if isinstance(col.dtype, pd.CategoricalDtype):
            cats = col.cat.categories
            code = cats.get_loc(value) if value in cats else -2
            mask &= col.cat.codes.to_numpy() == code
        else:
            mask &= (col.astype("string") == value).fillna(False).to_numpy(dtype=bool)
    return mask


def describe_conditions(conditions: dict[str, str]) -> str:
    """``supplier = SUP-017 · quarter = Q4`` in attribute order (for tables and labels)."""
    order = {a: i for i, a in enumerate(ATTRIBUTES)}
    items = sorted(conditions.items(), key=lambda kv: order.get(kv[0], len(order)))
    return " · ".join(f"{k} = {v}" for k, v in items)
