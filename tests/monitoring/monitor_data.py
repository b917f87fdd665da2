"""A seeded decision log with three planted model-health problems, for the monitor's tests.

From go-live (Monday 6 Jan 2025) on, ``per_week`` recommendations a week of each of three
types at four sites. Planted:

- ``f_lead_time_days`` changes definition on ``DRIFT_START`` at every site: working days
  become calendar days (× 7/5), as when one ERP field changes meaning upstream;
- ``m2`` replaces ``m1`` for ``stockout_risk`` on ``V2_START``: over-confident (the log-odds of
  the true probability stretched 2.5×) and shifted up, so more of its alarms are false;
- planners start overriding ``expedite`` at ``P3`` three times as often on ``JUMP_START``.

Everything else is stable: ``f_days_of_cover``, ``f_demand_cv`` and ``f_abc_class`` never change,
``m1``'s score is the true stockout probability, and the other override rates stay put.
Outcomes arrive two weeks after the recommendation (none for the last two weeks).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

GO_LIVE = date(2025, 1, 6)
DRIFT_START = date(2025, 5, 5)
V2_START = date(2025, 4, 7)
JUMP_START = date(2025, 6, 2)
JUMP = ("expedite", "P3")
SITES = ("P1", "P2", "P3", "P4")
TYPES = ("stockout_risk", "supplier_delay", "expedite")
STABLE_FEATURES = ("f_days_of_cover", "f_demand_cv", "f_abc_class")


def _logit(p: np.ndarray) -> np.ndarray:
    return np.log(p / (1 - p))


def make_log(*, weeks: int = 30, per_week: int = 300, seed: int = 0) -> dict[str, pd.DataFrame]:
    """``{"recommendations", "decisions", "outcomes"}`` as the store reads them back."""
    rng = np.random.default_rng(seed)
    n = weeks * per_week * len(TYPES)
    start = pd.Timestamp(GO_LIVE, tz="UTC")
    created = start + pd.to_timedelta(rng.uniform(0, weeks * 7 * 86400, n), unit="s")
    created = pd.Series(created).sort_values(ignore_index=True).dt.floor("s")
    rec_type = rng.choice(TYPES, n)
    site = rng.choice(SITES, n)
    day = created.dt.date.to_numpy()
    p_true = np.clip(rng.beta(1.2, 2.5, n), 0.02, 0.95)
    v2 = (rec_type == "stockout_risk") & (day >= V2_START)
    score = np.where(v2, 1 / (1 + np.exp(-(2.5 * _logit(p_true) + 1.2))), p_true)
    lead = rng.gamma(6.0, 3.0, n)  # working days
    lead = np.where(day >= DRIFT_START, lead * 7 / 5, lead)
    carries_lead = rec_type != "expedite"
    recs = pd.DataFrame(
        {
            "rec_id": [f"R{i:06d}" for i in range(n)],
            "rec_type": rec_type,
            "signal_at": created - pd.Timedelta(hours=2),
            "created_at": created,
            "site": site,
            "sku": rng.choice([f"SKU-{i}" for i in range(50)], n),
            "recommended_qty": rng.integers(50, 500, n).astype(float),
            "score": np.round(score, 4),
            "est_impact_usd": np.round(rng.gamma(2.0, 500.0, n), 2),
            "model_version": np.where(v2, "m2", "m1"),
            "f_abc_class": rng.choice(["A", "B", "C"], n, p=[0.2, 0.3, 0.5]),
            "f_days_of_cover": np.round(rng.lognormal(2.0, 0.5, n), 2),
            "f_demand_cv": np.round(rng.uniform(0.1, 0.9, n), 3),
            "f_lead_time_days": np.where(carries_lead, np.round(lead, 1), np.nan),
        }
    )
    base = 0.2
    p_override = np.where(
        (rec_type == JUMP[0]) & (site == JUMP[1]) & (day >= JUMP_START), 0.6, base
    )
    u = rng.uniform(size=n)
    kind = np.where(u < 0.15, "open", np.where(u < 0.25, "expired", "decided"))
    overridden = rng.uniform(size=n) < p_override
    decision = np.where(
        kind == "expired",
        "expired",
        np.where(
            overridden, np.where(rng.uniform(size=n) < 0.5, "modified", "rejected"), "accepted"
        ),
    )
    decided = kind != "open"
    final = np.where(decision == "modified", recs["recommended_qty"] * 1.2, np.nan)
    final = np.where(decision == "rejected", 0.0, final)
    decisions = pd.DataFrame(
        {
            "rec_id": recs["rec_id"][decided].to_numpy(),
            "decided_at": (created + pd.Timedelta(hours=5))[decided].to_numpy(),
            "decided_by": rng.choice(["ana", "bea", "cy"], n)[decided],
            "decision": decision[decided],
            "final_qty": final[decided],
            "reason": np.where(decision[decided] == "modified", "supplier late", None),
        }
    )
    stockout = rng.uniform(size=n) < p_true
    observed = created + pd.Timedelta(days=14)
    has_outcome = observed < start + pd.Timedelta(days=weeks * 7)
    outcomes = pd.DataFrame(
        {
            "rec_id": recs["rec_id"][has_outcome].to_numpy(),
            "observed_at": observed[has_outcome].to_numpy(),
            "actual_qty": (recs["recommended_qty"] * rng.uniform(0.7, 1.3, n))[has_outcome].round(),
            "stockout": pd.array(
                np.where(rec_type == "stockout_risk", stockout, None)[has_outcome], dtype="boolean"
            ),
        }
    )
    for frame, cols in ((recs, ("signal_at", "created_at")), (decisions, ("decided_at",)),
                        (outcomes, ("observed_at",))):  # fmt: skip
        for c in cols:
            frame[c] = pd.to_datetime(frame[c], utc=True).astype("datetime64[us, UTC]")
    return {"recommendations": recs, "decisions": decisions, "outcomes": outcomes}


def write_bundle(folder: Path, log: dict[str, pd.DataFrame]) -> Path:
    """The log as a contract bundle folder (CSV, ISO timestamps)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in log.items():
        out = frame.copy()
        for c in out.columns:
            if isinstance(out[c].dtype, pd.DatetimeTZDtype):
                out[c] = out[c].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
        out.to_csv(folder / f"{name}.csv", index=False)
    return folder
