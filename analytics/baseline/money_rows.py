"""Per-recommendation dollars behind the money figures: cost of late decisions, unowned waiting.

Row-level, computed with the other per-recommendation KPI inputs
(``analytics.baseline.kpis.kpi_tables``); summed, annualised and bootstrapped in
``analytics.baseline.late_cost`` and ``analytics.baseline.money_at_risk``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

US_PER_HOUR = 3_600_000_000


UNOWNED_WAIT_H = 24.0


def late_money_columns(
    recs: pd.DataFrame,
    owner: pd.Categorical,
    sla_hours: np.ndarray,
    codes: np.ndarray,
    response: np.ndarray,
    created: np.ndarray,
    decided: np.ndarray,
    n_decisions: int,
) -> dict[str, np.ndarray]:
    """Per-row dollars behind the cost of late decisions and unowned waiting (contract).

    ``impact_usd``: ``est_impact_usd`` (NaN when not given). ``late`` (1.0/0.0, NaN outside
    the denominator) flags the late ones of ``late_usd``: over decided
    recommendations with an owner row and SLA — the impact (0 when unknown) when decided
    after ``created_at + sla_hours`` or ``expired``, else 0; NaN for open ones (not counted
    until decided) and those without an owner row. ``unowned_wait_usd``: over
    recommendations with no owner row — the impact when they expired, were answered after
    more than 24 h, or are open for more than 24 h at the log's last timestamp, else 0;
    NaN for owned ones.
    """
    n = len(recs)
    impact = (
        recs["est_impact_usd"].to_numpy("float64", na_value=np.nan)
        if "est_impact_usd" in recs
        else np.full(n, np.nan)
    )
    known = np.nan_to_num(impact, nan=0.0)
    if not n_decisions:
        nan = np.full(n, np.nan)
        return {
            "impact_usd": impact,
            "late": nan,
            "late_usd": nan.copy(),
            "unowned_wait_usd": nan.copy(),
        }
    decided_any = codes >= 0
    expired = codes == 3
    has_sla = ~np.isnan(sla_hours)
    with np.errstate(invalid="ignore"):
        late = expired | (decided_any & (response > sla_hours))
        answered_late = decided_any & ~expired & (response > UNOWNED_WAIT_H)
    rated = has_sla & decided_any
    late_flag = np.where(rated, late.astype("float64"), np.nan)
    late_usd = np.where(rated, np.where(late, known, 0.0), np.nan)
    as_of = max(created.max(), decided.max()) if n else 0
    open_long = ~decided_any & ((as_of - created) > UNOWNED_WAIT_H * US_PER_HOUR)
    waited = expired | answered_late | open_long
    no_owner = np.asarray(pd.isna(owner))
    unowned = np.where(no_owner, np.where(waited, known, 0.0), np.nan)
    return {
        "impact_usd": impact,
        "late": late_flag,
        "late_usd": late_usd,
        "unowned_wait_usd": unowned,
    }
