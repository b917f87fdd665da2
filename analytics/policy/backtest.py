"""Backtest: what if a rule had been policy?

Every historical decided recommendation the rule matches is replayed with the
rule's action applied (``contract.actions.proposed_qty``) instead of what people
did. On those with ``recommended_qty`` and ``actual_qty`` known (the
**evaluated** ones), the rule's **value added** is, as the contract defines it
for overrides, mean |recommended − actual| − mean |policy − actual|: positive
means encoding the rule would have brought the committed quantity closer to
what was needed than the model. **vs people** is the same with what planners
actually committed in place of the model: mean |final − actual| − mean
|policy − actual|, positive when the rule beats leaving it to people.

Intervals are 95% seeded bootstraps of the mean gain (``analytics.overrides.value_added.mean_ci``).
The verdict is ``helps`` (interval above zero), ``hurts`` (below), ``not
distinguishable from noise`` (straddles it) or ``not enough data`` (fewer than
``MIN_EVALUATED`` evaluated recommendations).

What a backtest cannot know: an action changes the future it is judged on.
``actual_qty`` was observed under what people did — a supplier expedited
because a planner ordered extra, a customer who got less ordered again — so the
replay assumes demand and shortages would have been the same under the rule.
Stockouts and expedite spend under the rule cannot be observed at all; the
backtest reports the **shortfall share** (policy quantity below ``actual_qty``)
as the nearest measurable sign.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from analytics.overrides.log import match_mask
from analytics.overrides.value_added import mean_ci
from analytics.shared.forecast_value import unit_gain
from analytics.shared.periods import quarter_labels
from contract.actions import check_action, proposed_qty

LEVEL = 0.95
N_BOOT = 1000
MIN_EVALUATED = 20

HELPS = "helps"
HURTS = "hurts"
NOISE = "not distinguishable from noise"
NOT_ENOUGH = "not enough data"
CANNOT_KNOW = (
    "A backtest replays history with the rule's quantity but keeps the outcomes that were "
    "observed under what people did: it cannot know how suppliers, customers and lines would "
    "have reacted to the rule, nor the stockouts and expedite spend it would have caused."
)


@dataclass(frozen=True)
class Backtest:
    """One rule's replay. ``to_json`` is the ``cli.py backtest --json`` document."""

    rule_id: str
    action: dict[str, Any]
    n_matched: int
    n_evaluated: int
    value_added: float
    ci_low: float
    ci_high: float
    verdict: str
    vs_people: dict[str, float]
    by_quarter: list[dict[str, Any]]
    shortfall_share: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "rule_id": self.rule_id,
            "action": self.action,
            "n_matched": self.n_matched,
            "n_evaluated": self.n_evaluated,
            "value_added": _num(self.value_added),
            "ci_low": _num(self.ci_low),
            "ci_high": _num(self.ci_high),
            "verdict": self.verdict,
            "vs_people": {k: _num(v) for k, v in self.vs_people.items()},
            "by_quarter": [
                {"quarter": q["quarter"], "n": q["n"], "value_added": _num(q["value_added"])}
                for q in self.by_quarter
            ],
        }


def _num(value: float) -> float | None:
    return None if value is None or not np.isfinite(value) else round(float(value), 4)


def backtest_verdict(n_evaluated: int, ci_low: float, ci_high: float) -> str:
    """``helps`` / ``hurts`` / ``not distinguishable from noise`` / ``not enough data``."""
    if n_evaluated < MIN_EVALUATED or not (np.isfinite(ci_low) and np.isfinite(ci_high)):
        return NOT_ENOUGH
    if ci_low > 0:
        return HELPS
    if ci_high < 0:
        return HURTS
    return NOISE


def backtest_rule(
    log: pd.DataFrame,
    *,
    rule_id: str,
    conditions: dict[str, str],
    action: dict[str, Any],
    n_boot: int = N_BOOT,
    random_state: int = 0,
) -> Backtest:
    """Replay the decided recommendations a rule matches with its action applied.

    Parameters
    ----------
    log : DataFrame
        ``analytics.overrides.log.decided_log`` output (attributes, ``created_at``,
        ``recommended_qty``, ``final_qty``, ``actual_qty``). Not modified.
    rule_id : str
        Carried into the result.
    conditions : dict
        The rule's ``attribute → value`` conditions.
    action : dict
        A ``contract.actions`` action (``ActionError`` if invalid).
    n_boot, random_state : int
        Bootstrap resamples and seed: same data, same interval.
    """
    action = check_action(action)
    match = match_mask(log, conditions)
    idx = np.flatnonzero(match)
    rec = log["recommended_qty"].to_numpy(dtype=float)[idx]
    final = log["final_qty"].to_numpy(dtype=float)[idx]
    actual = log["actual_qty"].to_numpy(dtype=float)[idx]
    ok = ~(np.isnan(rec) | np.isnan(actual) | np.isnan(final))
    rec, final, actual = rec[ok], final[ok], actual[ok]
    policy = proposed_qty(action, rec)
    gain = unit_gain(rec, policy, actual)  # the contract's value added, the rule as the person
    gain_people = unit_gain(final, policy, actual)
    rng = np.random.default_rng(random_state)
    n = len(gain)
    lo, hi = mean_ci(gain, rng=rng, n_boot=n_boot, level=LEVEL)
    plo, phi = mean_ci(gain_people, rng=rng, n_boot=n_boot, level=LEVEL)
    by_quarter: list[dict[str, Any]] = []
    if n:
        quarters, _ = quarter_labels(log["created_at"].iloc[idx[ok]])
        table = pd.DataFrame({"quarter": quarters, "gain": gain})
        for q, part in table.groupby("quarter", sort=True):
            by_quarter.append(
                {"quarter": str(q), "n": int(len(part)), "value_added": float(part["gain"].mean())}
            )
    return Backtest(
        rule_id=rule_id,
        action=action,
        n_matched=int(len(idx)),
        n_evaluated=int(n),
        value_added=float(gain.mean()) if n else float("nan"),
        ci_low=lo,
        ci_high=hi,
        verdict=backtest_verdict(n, lo, hi),
        vs_people={
            "value_added": float(gain_people.mean()) if n else float("nan"),
            "ci_low": plo,
            "ci_high": phi,
        },
        by_quarter=by_quarter,
        shortfall_share={
            "model": float((rec < actual).mean()) if n else float("nan"),
            "people": float((final < actual).mean()) if n else float("nan"),
            "rule": float((policy < actual).mean()) if n else float("nan"),
        },
    )
