"""Did the overrides pay off? Value added by overrides, as the contract defines it.

**Value added** (Forecast Value Added applied to decisions): over overridden
recommendations with ``recommended_qty``, ``final_qty`` and ``actual_qty`` known,
mean |recommended − actual| − mean |final − actual|. Positive means the people
improved on the model; it is in the recommendation's units. Per override the
**gain** is |recommended − actual| − |final − actual|, so value added is the mean
gain and ``net_units`` its sum. **Win rate** is the share of overrides that ended
strictly closer to ``actual_qty`` than the recommendation.

Uncertainty is a seeded percentile bootstrap of the mean gain (a normal
interval above ``NORMAL_ABOVE`` overrides, where the two agree). A group is
flagged as costing more than it saved only when the whole interval is below
zero: a prompt for a coaching conversation, not a verdict on a person.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analytics.overrides.log import DIRECTIONS
from analytics.shared.forecast_value import unit_errors
from analytics.shared.intervals import wilson_interval

N_BOOT = 400
LEVEL = 0.90
NORMAL_ABOVE = 5000
_Z90 = 1.6448536269514722

VERDICT_GAIN = "adds value"
VERDICT_COST = "costs more than it saves"
VERDICT_UNCLEAR = "no clear effect yet"

VA_COLUMNS = [
    "n_overrides",
    "n_scored",
    "model_error",
    "override_error",
    "value_added",
    "value_added_pct",
    "ci_low",
    "ci_high",
    "net_units",
    "win_rate",
    "verdict",
]


def scored_overrides(log: pd.DataFrame) -> pd.DataFrame:
    """Overrides whose value added can be scored, with their errors and gain.

    Parameters
    ----------
    log : DataFrame
        ``decided_log`` output (``is_override``, ``recommended_qty``, ``final_qty``,
        ``actual_qty``). Not modified.

    Returns
    -------
    DataFrame
        Those rows (original index kept) plus ``model_error`` = |recommended − actual|,
        ``override_error`` = |final − actual|, ``gain`` (their difference) and ``win``.
    """
    rec = log["recommended_qty"].to_numpy(dtype=float)
    final = log["final_qty"].to_numpy(dtype=float)
    actual = log["actual_qty"].to_numpy(dtype=float)
    ok = log["is_override"].to_numpy(dtype=bool) & ~(
        np.isnan(rec) | np.isnan(final) | np.isnan(actual)
    )
    out = log.loc[ok].copy()
    out["model_error"], out["override_error"] = unit_errors(rec[ok], final[ok], actual[ok])
    out["gain"] = out["model_error"] - out["override_error"]
    out["win"] = out["override_error"] < out["model_error"]
    return out


def mean_ci(
    values: np.ndarray,
    *,
    rng: np.random.Generator,
    n_boot: int = N_BOOT,
    level: float = LEVEL,
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean (normal interval for large samples)."""
    x = np.asarray(values, dtype=float)
    n = len(x)
    if n < 2:
        return float("nan"), float("nan")
    alpha = (1 - level) / 2
    if n > NORMAL_ABOVE:
        from scipy import stats  # here, not at import: scipy.stats costs every page ~0.5 s

        z = float(stats.norm.ppf(1 - alpha))
        se = x.std(ddof=1) / np.sqrt(n)
        return float(x.mean() - z * se), float(x.mean() + z * se)
    means = x[rng.integers(0, n, size=(n_boot, n))].mean(axis=1)
    lo, hi = np.quantile(means, [alpha, 1 - alpha])
    return float(lo), float(hi)


def verdict(ci_low: float, ci_high: float) -> str:
    """``adds value`` / ``costs more than it saves`` / ``no clear effect yet`` from an interval."""
    if np.isnan(ci_low) or np.isnan(ci_high):
        return VERDICT_UNCLEAR
    if ci_low > 0:
        return VERDICT_GAIN
    if ci_high < 0:
        return VERDICT_COST
    return VERDICT_UNCLEAR


def summarize_gains(
    scored: pd.DataFrame,
    *,
    n_overrides: int | None = None,
    rng: np.random.Generator,
    n_boot: int = N_BOOT,
    level: float = LEVEL,
) -> dict[str, float | int | str]:
    """Value added, its interval, win rate and net units for one set of scored overrides."""
    n = len(scored)
    model_error = float(scored["model_error"].mean()) if n else float("nan")
    override_error = float(scored["override_error"].mean()) if n else float("nan")
    va = model_error - override_error
    lo, hi = mean_ci(scored["gain"].to_numpy(dtype=float), rng=rng, n_boot=n_boot, level=level)
    return {
        "n_overrides": int(n if n_overrides is None else n_overrides),
        "n_scored": n,
        "model_error": model_error,
        "override_error": override_error,
        "value_added": va,
        "value_added_pct": va / model_error * 100 if n and model_error > 0 else float("nan"),
        "ci_low": lo,
        "ci_high": hi,
        "net_units": float(scored["gain"].sum()),
        "win_rate": float(scored["win"].mean()) if n else float("nan"),
        "verdict": verdict(lo, hi),
    }


def value_added(
    log: pd.DataFrame,
    *,
    by: str | list[str] | None = None,
    n_boot: int = N_BOOT,
    level: float = LEVEL,
    random_state: int = 0,
) -> pd.DataFrame:
    """Value added by overrides, overall or per group.

    Parameters
    ----------
    log : DataFrame
        ``decided_log`` output, optionally with extra group columns (e.g. ``theme_id``).
    by : str or list of str, optional
        Columns to group by (``decided_by``, ``rec_type``, ``direction``, ``size_band``…).
    n_boot, level : int, float
        Bootstrap resamples and interval level.
    random_state : int
        Seeds the bootstrap.

    Returns
    -------
    DataFrame
        One row per group (groups with overrides only) with the ``by`` columns and
        ``VA_COLUMNS``: ``n_overrides`` (all overrides), ``n_scored`` (with the
        three quantities known), ``model_error``, ``override_error``,
        ``value_added`` (units), ``value_added_pct`` (of the model's error),
        ``ci_low``/``ci_high``, ``net_units``, ``win_rate`` and ``verdict``.
    """
    rng = np.random.default_rng(random_state)
    overrides = log.loc[log["is_override"].to_numpy(dtype=bool)]
    scored = scored_overrides(log)
    if by is None:
        row = summarize_gains(
            scored, n_overrides=len(overrides), rng=rng, n_boot=n_boot, level=level
        )
        return pd.DataFrame([row], columns=VA_COLUMNS)
    keys = [by] if isinstance(by, str) else list(by)
    counts = overrides.groupby(keys, observed=True, sort=True).size()
    groups = scored.groupby(keys, observed=True, sort=True).indices
    rows = []
    for key, n_over in counts.items():
        pos = groups.get(key)
        part = scored.iloc[pos] if pos is not None else scored.iloc[:0]
        stats = summarize_gains(part, n_overrides=int(n_over), rng=rng, n_boot=n_boot, level=level)
        values = key if isinstance(key, tuple) else (key,)
        rows.append({**dict(zip(keys, values, strict=True)), **stats})
    return pd.DataFrame(rows, columns=[*keys, *VA_COLUMNS])


def _wilson(k: np.ndarray, n: np.ndarray, z: float = _Z90) -> tuple[np.ndarray, np.ndarray]:
    return wilson_interval(k, n, z=z)


def stockout_rates(log: pd.DataFrame) -> pd.DataFrame:
    """Stockout rate after acceptances vs after overrides (all, and by direction).

    Over decided recommendations whose outcome records ``stockout``.

    Returns
    -------
    DataFrame
        ``group`` (``accepted``, ``overridden``, then each direction), ``n``,
        ``stockouts``, ``stockout_rate``, ``ci_low``/``ci_high`` (Wilson, 90%) and
        ``vs_accepted`` (rate difference to acceptances, percentage points).
    """
    known = ~np.isnan(log["stockout"].to_numpy(dtype=float))
    so = log["stockout"].to_numpy(dtype=float)
    decision = log["decision"].astype("string").to_numpy(dtype=object, na_value="")
    direction = log["direction"].astype("string").to_numpy(dtype=object, na_value="")
    masks = {
        "accepted": decision == "accepted",
        "overridden": log["is_override"].to_numpy(dtype=bool),
    }
    masks.update({d: direction == d for d in DIRECTIONS})
    names = list(masks)
    n = np.array([(masks[g] & known).sum() for g in names], dtype=float)
    k = np.array([np.nansum(so[masks[g] & known]) for g in names], dtype=float)
    lo, hi = _wilson(k, n)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = k / n
    out = pd.DataFrame(
        {
            "group": names,
            "n": n.astype(int),
            "stockouts": k.astype(int),
            "stockout_rate": rate,
            "ci_low": lo,
            "ci_high": hi,
        }
    )
    out["vs_accepted"] = (out["stockout_rate"] - out["stockout_rate"].iloc[0]) * 100
    return out


def coaching_flags(table: pd.DataFrame, *, name_column: str, min_scored: int = 20) -> pd.DataFrame:
    """Groups of a ``value_added`` table whose overrides cost more than they saved.

    Only groups with at least ``min_scored`` scored overrides and an interval wholly
    below zero; worst net effect first. ``effect`` says it in words for a coaching
    conversation.
    """
    costly = table[(table["verdict"] == VERDICT_COST) & (table["n_scored"] >= min_scored)]
    costly = costly.sort_values(["net_units", name_column], kind="stable").copy()
    costly["effect"] = [
        f"{-r.value_added:,.1f} units further from actual per override "
        f"(90% CI {-r.ci_high:,.1f} to {-r.ci_low:,.1f}); {-r.value_added_pct:,.0f}% more error "
        f"than the recommendation, over {r.n_scored:,} overrides with an outcome; "
        f"{r.win_rate:.0%} ended closer than the recommendation"
        for r in costly.itertuples()
    ]
    return costly.reset_index(drop=True)
