"""The contract tables built from the drawn arrays, as Arrow columns ready to write.

recommendations.csv, decisions.csv and outcomes.csv, with their empty cells and
contract defaults.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from sample_data.gen_features import FEATURE_COLUMNS, INT_FEATURES
from sample_data.gen_io import _frame, _iso_local, _iso_naive, _to_epoch_s
from sample_data.gen_world import ACTIONS, REC_TYPES, SITES


def _model_version(created: np.ndarray, cal: dict[str, Any]) -> np.ndarray:
    v = np.where(created >= _to_epoch_s("2026-03-01"), "v1.3", "v1.2").astype(object)
    return np.where(created >= cal["go_live_s"], v, "")


def _fmt_float(values: np.ndarray, mask: np.ndarray | None = None) -> pd.Series:
    """Floats for CSV with empty cells where NaN or masked out."""
    s = pd.Series(values, dtype="float64")
    if mask is not None:
        s = s.where(mask)
    return s


def _int_col(values: np.ndarray) -> pd.Series:
    return pd.Series(pd.array(np.where(np.isnan(values), np.nan, values), dtype="Int64"))


def _recommendations_table(
    rng: np.random.Generator,
    rec: pd.DataFrame,
    ent: dict[str, np.ndarray],
    cal: dict[str, Any],
    rec_id: np.ndarray,
    attrs: dict[str, np.ndarray],
    masks: dict[str, np.ndarray],
    qty: np.ndarray,
    uom: np.ndarray,
    feats: dict[str, np.ndarray],
    score: np.ndarray,
) -> dict[str, pa.Array]:
    """recommendations.csv: entities, model output and the f_* snapshot."""
    n = len(rec)
    site = rec["site"].to_numpy()
    created = rec["created"].to_numpy()
    has_qty = masks["qty"]
    conf_mask = rng.random(n) < 0.94
    impact_mask = rng.random(n) < 0.92
    cost = ent["sku_cost"][rec["sku"].to_numpy()]
    impact = np.where(
        has_qty,
        np.nan_to_num(qty) * cost * 0.3 * score,
        np.exp(rng.normal(np.log(4000), 1.0, n)) * score,
    )
    confidence = np.clip(0.55 + 0.4 * np.abs(2 * score - 1) + rng.normal(0, 0.05, n), 0.01, 0.99)
    signal = rec["signal"].to_numpy()
    return _frame(
        {
            "rec_id": rec_id,
            "rec_type": attrs["rec_type"],
            "signal_at": _iso_local(signal, site),
            "created_at": _iso_local(created, site),
            "site": np.array(SITES, dtype=object)[site],
            "sku": np.where(masks["sku"], ent["sku_code"][rec["sku"].to_numpy()], ""),
            "supplier": np.where(masks["supplier"], attrs["supplier"], ""),
            "customer": np.where(masks["customer"], attrs["customer"], ""),
            "resource": np.where(masks["resource"], attrs["resource"], ""),
            "action": np.array([ACTIONS[t] for t in REC_TYPES], object)[rec["rtype"].to_numpy()],
            "recommended_qty": _int_col(qty),
            "uom": uom,
            "confidence": _fmt_float(np.round(confidence, 3), conf_mask),
            "score": score,
            "est_impact_usd": _fmt_float(np.round(impact, 2), impact_mask),
            "model_version": _model_version(created, cal),
            **{f: _int_col(feats[f]) if f in INT_FEATURES else feats[f] for f in FEATURE_COLUMNS},
        }
    )


def _decisions_table(
    rec: pd.DataFrame,
    rec_id: np.ndarray,
    decided: np.ndarray,
    naive: np.ndarray,
    timing: dict[str, np.ndarray],
    attrs: dict[str, np.ndarray],
    dec: dict[str, np.ndarray],
    reason: np.ndarray,
    code: np.ndarray,
) -> dict[str, pa.Array]:
    """decisions.csv: one row per decided rec; ~1% of decided_at without an offset."""
    d = decided
    site = rec["site"].to_numpy()[d]
    at = timing["decided"][d]
    # An offset-less value is the UTC wall clock, so read in the bundle's time zone
    # (UTC) it is still the right instant.
    naive_txt = _iso_naive(pa.array(at.astype("datetime64[s]")))
    return _frame(
        {
            "rec_id": rec_id[d],
            "decided_at": pc.if_else(pa.array(naive[d]), naive_txt, _iso_local(at, site)),
            "decided_by": attrs["decided_by"][d],
            "decision": dec["decision"][d],
            "final_qty": dec["final"][d],
            "reason": reason[d],
            "reason_code": code[d],
        }
    )


def _outcomes_table(
    rec: pd.DataFrame,
    rec_id: np.ndarray,
    o: np.ndarray,
    observed: np.ndarray,
    masks: dict[str, np.ndarray],
    outc: dict[str, np.ndarray],
) -> dict[str, pa.Array]:
    """outcomes.csv; stockout is empty where the rec concerns no item."""
    stock = np.where(outc["stockout"][o], "true", "false").astype(object)
    return _frame(
        {
            "rec_id": rec_id[o],
            "observed_at": _iso_local(observed[o], rec["site"].to_numpy()[o]),
            "actual_qty": _int_col(outc["actual"][o]),
            "stockout": np.where(masks["sku"][o], stock, None),
            "expedite_usd": outc["expedite"][o],
        }
    )
