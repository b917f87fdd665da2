"""Model versions side by side: acceptance, override rate, value added, calibration, latency.

Each ``model_version`` (``(none)`` for the pre-AI process) gets one row. With
``first_weeks`` every version is cut to its own first weeks, so a new version can be
compared with the old one at the same age rather than against its whole history.

- acceptance rate = accepted / (accepted + modified + rejected); override rate its
  complement, as the contract defines it;
- value added = mean |recommended − actual| − mean |final − actual| over overrides with all
  three quantities (the contract's definition; positive: people improved on the model);
- detection latency = ``created_at − signal_at`` (the model's own delay), response time =
  ``decided_at − created_at`` (expired rows left out): medians in hours;
- calibration figures come from ``calibration.calibration_table`` on the judged set.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analytics.monitoring.window import day_numbers

NONE = "(none)"
COLUMNS = [
    "model_version", "first_seen", "last_seen", "n_recs", "n_decided", "acceptance_rate",
    "override_rate", "n_value_scored", "value_added", "n_judged", "ece", "brier",
    "false_positive_rate", "detection_latency_h", "response_time_h",
]  # fmt: skip


def _version(values: pd.Series) -> pd.Series:
    return values.astype("string").fillna(NONE)


def version_table(
    recommendations: pd.DataFrame,
    decisions: pd.DataFrame,
    outcomes: pd.DataFrame,
    calibration: pd.DataFrame | None = None,
    *,
    first_weeks: int | None = None,
) -> pd.DataFrame:
    """One row per model version (``COLUMNS``), oldest version first.

    ``calibration`` is ``calibration_table(judged, by="model_version")`` (computed on the
    same cut when ``first_weeks`` is given), or None to leave those columns empty.
    """
    if recommendations.empty:
        return pd.DataFrame(columns=COLUMNS)
    cols = ["rec_id", "signal_at", "created_at", "recommended_qty"]
    recs = recommendations.reindex(columns=cols).copy()
    mv = recommendations["model_version"] if "model_version" in recommendations else None
    recs["model_version"] = _version(mv) if mv is not None else NONE
    if first_weeks is not None:
        recs = recs[keep_first_weeks(recs, first_weeks)]
    df = recs.merge(
        decisions.reindex(columns=["rec_id", "decided_at", "decision", "final_qty"]),
        on="rec_id",
        how="left",
    )
    if "actual_qty" in outcomes:
        df = df.merge(outcomes[["rec_id", "actual_qty"]], on="rec_id", how="left")
    else:
        df["actual_qty"] = np.nan
    decision = df["decision"].astype("string")
    df["decided"] = decision.isin(["accepted", "modified", "rejected"]).fillna(False)
    df["accepted"] = (decision == "accepted").fillna(False)
    df["override"] = decision.isin(["modified", "rejected"]).fillna(False)
    gain = (df["recommended_qty"] - df["actual_qty"]).abs() - (
        df["final_qty"] - df["actual_qty"]
    ).abs()
    df["gain"] = gain.where(df["override"])
    df["detect_h"] = _hours(df["created_at"], df["signal_at"])
    df["response_h"] = _hours(df["decided_at"], df["created_at"]).where(df["decided"])
    g = df.groupby("model_version", sort=False)
    out = pd.DataFrame(
        {
            "first_seen": g["created_at"].min(),
            "last_seen": g["created_at"].max(),
            "n_recs": g.size(),
            "n_decided": g["decided"].sum(),
            "n_accepted": g["accepted"].sum(),
            "n_override": g["override"].sum(),
            "n_value_scored": g["gain"].count(),
            "value_added": g["gain"].mean(),
            "detection_latency_h": g["detect_h"].median(),
            "response_time_h": g["response_h"].median(),
        }
    )
    decided = out["n_decided"].where(out["n_decided"] > 0)
    out["acceptance_rate"] = out["n_accepted"] / decided
    out["override_rate"] = out["n_override"] / decided
    out = out.reset_index()
    if calibration is not None and len(calibration):
        cal = calibration.rename(columns={"n": "n_judged"})[
            ["model_version", "n_judged", "ece", "brier", "false_positive_rate"]
        ]
        out = out.merge(cal, on="model_version", how="left")
    for c in COLUMNS:
        if c not in out:
            out[c] = np.nan
    return out.sort_values("first_seen", kind="stable")[COLUMNS].reset_index(drop=True)


def _hours(later: pd.Series, earlier: pd.Series) -> pd.Series:
    later, earlier = pd.to_datetime(later, utc=True), pd.to_datetime(earlier, utc=True)
    return (later - earlier).dt.total_seconds() / 3600


def keep_first_weeks(frame: pd.DataFrame, weeks: int) -> np.ndarray:
    """Rows within ``weeks`` weeks of their model version's first ``created_at``."""
    day = day_numbers(frame["created_at"])
    first = pd.Series(day).groupby(frame["model_version"].to_numpy()).transform("min")
    return day < first.to_numpy() + 7 * weeks
