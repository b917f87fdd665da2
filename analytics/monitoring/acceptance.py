"""Acceptance drift: each type × site's weekly override rate against its reference, by CUSUM.

The test is a two-sided **binomial (Bernoulli) CUSUM** on the log-likelihood ratio of the
reference override rate ``p0`` against a shifted rate ``p1`` with the odds multiplied by
``odds_ratio`` (upward: planners override more) or divided by it (downward: they stop
overriding). A week with ``n`` decisions and ``x`` overrides adds
``x·ln(p1/p0) + (n − x)·ln((1 − p1)/(1 − p0))``; the sum restarts at 0 when it would go below.
It signals when it passes ``h``; the change is estimated to have started in the week after
the sum last stood at 0 (the classical CUSUM change-point estimate). The reference rate
is an estimate too: the upward side starts from its 95% interval's upper end, the downward
side from its lower end, so a noisy reference does not by itself raise an alert. Weeks with few
decisions simply add little, so a thin type × site is not flagged on noise.

Override rate = (modified + rejected) / (accepted + modified + rejected), as in the data
contract; expired and open recommendations do not count.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from analytics.monitoring.calibration import wilson
from analytics.monitoring.keys import factor, member, positions
from analytics.monitoring.window import (
    Reference,
    day_number,
    day_numbers,
    week_date,
    week_of_day,
)
from contract.vocabulary import HUMAN_DECISIONS, OVERRIDES

ODDS_RATIO = 2.0
H = 5.0
MIN_REFERENCE = 30
DECIDED = HUMAN_DECISIONS


@dataclass(frozen=True)
class AcceptanceShift:
    rec_type: str
    site: str
    direction: str  # "up" (more overrides) or "down"
    since: date
    signalled: date
    statistic: float  # the CUSUM's peak
    reference_rate: float
    current_rate: float  # override rate from ``since`` on
    n_reference: int
    n_since: int


def weekly_override_rates(recommendations: pd.DataFrame, decisions: pd.DataFrame) -> pd.DataFrame:
    """``rec_type, site, week, n, overrides`` per type × site × week of ``created_at``."""
    cols = ["rec_type", "site", "week", "n", "overrides"]
    if recommendations.empty or decisions.empty:
        return pd.DataFrame(columns=cols)
    decided = member(decisions["decision"], DECIDED)
    pos = positions(recommendations, decisions)[decided]
    ok = pos >= 0
    at = pos[ok]
    # Codes and day numbers of just the decided rows: taking whole rows of a wide frame
    # (every feature column) would cost more than everything else here.
    type_code, type_labels = factor(recommendations["rec_type"])
    site_code, site_labels = factor(recommendations["site"])
    day = day_numbers(recommendations["created_at"].iloc[at])
    override = member(decisions["decision"], OVERRIDES)[decided][ok]
    week = week_of_day(day)
    df = pd.DataFrame(
        {"t": type_code[at], "s": site_code[at], "week": week, "override": override, "day": day}
    )
    df = df[(df["t"] >= 0) & (df["s"] >= 0)]
    out = df.groupby(["t", "s", "week"], sort=True).agg(
        n=("override", "size"), overrides=("override", "sum"), first_day=("day", "min")
    )
    out = out.reset_index()
    out.insert(0, "rec_type", np.asarray(type_labels, dtype=object)[out.pop("t").to_numpy()])
    out.insert(1, "site", np.asarray(site_labels, dtype=object)[out.pop("s").to_numpy()])
    return out


def cusum(n: np.ndarray, x: np.ndarray, p0: float, p1: float) -> np.ndarray:
    """The one-sided Bernoulli CUSUM path over weeks (``n`` decisions, ``x`` overrides)."""
    up, down = np.log(p1 / p0), np.log((1 - p1) / (1 - p0))
    s, path = 0.0, np.empty(len(n))
    for i, (ni, xi) in enumerate(zip(n, x, strict=True)):
        s = max(0.0, s + xi * up + (ni - xi) * down)
        path[i] = s
    return path


def _shifted(p0: float, odds_ratio: float) -> float:
    odds = p0 / (1 - p0) * odds_ratio
    return odds / (1 + odds)


def acceptance_shifts(
    weekly: pd.DataFrame,
    reference: Reference,
    *,
    odds_ratio: float = ODDS_RATIO,
    h: float = H,
    min_reference: int = MIN_REFERENCE,
) -> tuple[list[AcceptanceShift], pd.DataFrame]:
    """(shifts found, per-week chart rows). The CUSUM runs over the weeks after the reference
    window; a type × site with fewer than ``min_reference`` decisions in it is not judged
    (chart rows say ``judged`` False). Chart rows: ``rec_type, site, week, n, overrides,
    rate, reference_rate, cusum_up, cusum_down, current``."""
    shifts, frames = [], []
    if weekly.empty:
        return shifts, pd.DataFrame(columns=["rec_type", "site", "week", "n", "overrides"])
    last_ref_week = reference.last_week
    for (rec_type, site), g in weekly.groupby(["rec_type", "site"], sort=True):
        g = g.sort_values("week").copy()
        ref = g[
            (g["week"] >= week_of_day(day_number(reference.start))) & (g["week"] <= last_ref_week)
        ]
        n_ref = int(ref["n"].sum())
        g["rate"] = g["overrides"] / g["n"]
        g["current"] = g["week"] > last_ref_week
        g["judged"] = n_ref >= min_reference
        if n_ref < min_reference:
            frames.append(g)
            continue
        k_ref = int(ref["overrides"].sum())
        p0 = float(np.clip(k_ref / n_ref, 0.01, 0.99))
        g["reference_rate"] = p0
        # The reference rate is itself an estimate: each side starts from the edge of its
        # 95% interval nearest to the change it looks for, so its noise is not read as drift.
        low, high = (float(np.clip(v, 0.01, 0.99)) for v in wilson(k_ref, n_ref))
        cur = g[g["current"]]
        for direction, base, ratio, col in (
            ("up", high, odds_ratio, "cusum_up"),
            ("down", low, 1 / odds_ratio, "cusum_down"),
        ):
            p1 = _shifted(base, ratio)
            path = cusum(cur["n"].to_numpy(), cur["overrides"].to_numpy(), base, p1)
            g.loc[cur.index, col] = path
            hits = np.flatnonzero(path > h)
            if not len(hits):
                continue
            first = hits[0]
            zeros = np.flatnonzero(path[:first] == 0)
            start = zeros[-1] + 1 if len(zeros) else 0
            since_rows = cur.iloc[start:]
            shifts.append(
                AcceptanceShift(
                    rec_type=str(rec_type), site=str(site), direction=direction,
                    since=week_date(int(cur["week"].iloc[start])),
                    signalled=week_date(int(cur["week"].iloc[first])),
                    statistic=float(path.max()), reference_rate=p0,
                    current_rate=float(since_rows["overrides"].sum() / since_rows["n"].sum()),
                    n_reference=n_ref, n_since=int(since_rows["n"].sum()),
                )
            )  # fmt: skip
        frames.append(g)
    return shifts, pd.concat(frames, ignore_index=True)
