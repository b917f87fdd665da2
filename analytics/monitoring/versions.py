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

from analytics.monitoring.keys import flag, member, positions, spread, text
from analytics.monitoring.window import day_numbers
from contract.vocabulary import HUMAN_DECISIONS as DECIDED
from contract.vocabulary import OVERRIDES

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
    n = len(recommendations)
    mv = recommendations["model_version"] if "model_version" in recommendations else None
    version = text(mv) if mv is not None else np.full(n, "", dtype=object)
    version = np.where(version == "", NONE, version)
    created = pd.to_datetime(recommendations["created_at"], utc=True)
    df = pd.DataFrame({"model_version": version, "created_at": created.array})
    pos = positions(recommendations, decisions)
    df["decided"] = flag(n, pos, member(decisions["decision"], DECIDED))
    df["accepted"] = flag(n, pos, member(decisions["decision"], ["accepted"]))
    df["override"] = flag(n, pos, member(decisions["decision"], OVERRIDES))
    rec_qty = recommendations.reindex(columns=["recommended_qty"])["recommended_qty"]
    rec_qty = rec_qty.to_numpy(dtype="float64", na_value=np.nan)
    final = spread(n, pos, decisions.reindex(columns=["final_qty"])["final_qty"].astype(float))
    actual = (
        spread(n, positions(recommendations, outcomes), outcomes["actual_qty"].astype(float))
        if "actual_qty" in outcomes
        else np.full(n, np.nan)
    )
    gain = np.abs(rec_qty - actual) - np.abs(final - actual)
    df["gain"] = np.where(df["override"], gain, np.nan)
    signal = recommendations.reindex(columns=["signal_at"])["signal_at"]
    df["detect_h"] = _hours(created, signal).to_numpy()
    if "decided_at" in decisions and len(decisions):
        ok = pos >= 0
        response = _hours(
            decisions["decided_at"], created.iloc[np.where(ok, pos, 0)].set_axis(decisions.index)
        )
        df["response_h"] = spread(n, pos, response.where(ok).to_numpy())
        df["response_h"] = df["response_h"].where(df["decided"])
    else:
        df["response_h"] = np.nan
    if first_weeks is not None:
        df = df[keep_first_weeks(df, first_weeks)]
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


def versions_at_age(
    recommendations: pd.DataFrame,
    decisions: pd.DataFrame,
    outcomes: pd.DataFrame,
    judged: pd.DataFrame,
    *,
    weeks: int,
    random_state: int = 0,
) -> pd.DataFrame:
    """``version_table`` with every version — and its judged recommendations — cut to the
    first ``weeks`` weeks after that version's first recommendation."""
    from analytics.monitoring.calibration import calibration_table

    mv = recommendations["model_version"] if "model_version" in recommendations else None
    version = text(mv) if mv is not None else np.full(len(recommendations), "", dtype=object)
    version = np.where(version == "", NONE, version)
    start = pd.Series(day_numbers(recommendations["created_at"])).groupby(version).min()
    jv = judged["model_version"].astype("string").fillna(NONE).to_numpy(dtype=object)
    limit = start.reindex(jv).to_numpy(dtype="float64") + 7 * weeks
    cut = judged[judged["day"].to_numpy() < limit]
    cal = calibration_table(cut, random_state=random_state)
    return version_table(recommendations, decisions, outcomes, cal, first_weeks=weeks)
