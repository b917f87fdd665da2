"""Views of the reason themes: trend by month, where each theme concentrates, capture gap.

All take the override-analysis log: ``decided_log`` output with a ``theme_id``
column (``NO_REASON_ID`` for overrides without a reason, -1 for rows that are not
overrides).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analytics.overrides.themes import NO_REASON_ID, NO_REASON_LABEL
from analytics.shared.periods import month_start_naive


def _overrides(log: pd.DataFrame) -> pd.DataFrame:
    return log.loc[log["is_override"].to_numpy(dtype=bool)]


def month_start(ts: pd.Series) -> pd.Series:
    """First day of each timestamp's calendar month (UTC), tz-naive for charts."""
    return month_start_naive(ts)


def theme_trend(log: pd.DataFrame, *, labels: dict[int, str] | None = None) -> pd.DataFrame:
    """Overrides per theme and month (by ``created_at``), with each theme's share of the month.

    Returns
    -------
    DataFrame
        ``month`` (month start), ``theme_id``, ``theme_label``, ``n`` and ``share``
        (of that month's overrides); every theme appears in every month (0 when absent).
    """
    ov = _overrides(log)
    cols = ["month", "theme_id", "theme_label", "n", "share"]
    if ov.empty:
        return pd.DataFrame(columns=cols)
    frame = pd.DataFrame({"month": month_start(ov["created_at"]), "theme_id": ov["theme_id"]})
    counts = frame.groupby(["month", "theme_id"]).size().unstack(fill_value=0)
    shares = counts.div(counts.sum(axis=1), axis=0)
    out = counts.stack().rename("n").to_frame().join(shares.stack().rename("share")).reset_index()
    names = {NO_REASON_ID: NO_REASON_LABEL, **(labels or {})}
    out["theme_label"] = out["theme_id"].map(lambda t: names.get(int(t), f"theme {t}"))
    return out[cols].sort_values(["month", "theme_id"], kind="stable").reset_index(drop=True)


def capture_gap(log: pd.DataFrame, *, by: str | None = None) -> pd.DataFrame:
    """Share of overrides without a reason: the reason capture gap (overall, by month or column).

    Parameters
    ----------
    by : str, optional
        ``"month"`` (of ``created_at``) or a column of ``log`` such as ``decided_by``.

    Returns
    -------
    DataFrame
        The ``by`` column (when given), ``n_overrides``, ``no_reason`` and ``gap``.
    """
    ov = _overrides(log)
    missing = (ov["theme_id"].to_numpy(dtype=np.int64) == NO_REASON_ID).astype(float)
    if by is None:
        n = len(ov)
        return pd.DataFrame(
            {
                "n_overrides": [n],
                "no_reason": [int(missing.sum())],
                "gap": [missing.mean() if n else np.nan],
            }
        )
    key = month_start(ov["created_at"]) if by == "month" else ov[by]
    frame = pd.DataFrame({by: key.to_numpy(), "missing": missing})
    out = frame.groupby(by, observed=True, sort=True)["missing"].agg(["size", "sum", "mean"])
    out.columns = ["n_overrides", "no_reason", "gap"]
    out["no_reason"] = out["no_reason"].astype(int)
    return out.reset_index()


def theme_concentration(
    log: pd.DataFrame,
    *,
    attributes: tuple[str, ...] = ("rec_type", "site", "decided_by"),
    labels: dict[int, str] | None = None,
    top: int = 3,
    min_count: int = 5,
) -> pd.DataFrame:
    """Where each theme concentrates: the values over-represented in it, per attribute.

    ``share`` is the value's share of the theme's overrides, ``share_all`` its share
    of all overrides, ``lift`` their ratio; the ``top`` values by lift with at least
    ``min_count`` overrides are kept per theme and attribute.

    Returns
    -------
    DataFrame
        ``theme_id``, ``theme_label``, ``attribute``, ``value``, ``n``, ``share``,
        ``share_all``, ``lift``.
    """
    ov = _overrides(log)
    cols = ["theme_id", "theme_label", "attribute", "value", "n", "share", "share_all", "lift"]
    if ov.empty:
        return pd.DataFrame(columns=cols)
    names = {NO_REASON_ID: NO_REASON_LABEL, **(labels or {})}
    parts = []
    theme = ov["theme_id"].to_numpy(dtype=np.int64)
    for attr in attributes:
        value = ov[attr].astype("string").to_numpy(dtype=object, na_value="(none)")
        frame = pd.DataFrame({"theme_id": theme, "value": value})
        counts = frame.groupby(["theme_id", "value"]).size().rename("n").reset_index()
        size = counts.groupby("theme_id")["n"].transform("sum")
        overall = counts.groupby("value")["n"].transform("sum") / len(ov)
        counts["share"] = counts["n"] / size
        counts["share_all"] = overall
        counts["lift"] = counts["share"] / counts["share_all"]
        counts["attribute"] = attr
        counts = counts[counts["n"] >= min_count]
        counts = counts.sort_values(
            ["theme_id", "lift", "n", "value"], ascending=[True, False, False, True], kind="stable"
        )
        parts.append(counts.groupby("theme_id", sort=True).head(top))
    out = pd.concat(parts, ignore_index=True)
    out["theme_label"] = out["theme_id"].map(lambda t: names.get(int(t), f"theme {t}"))
    order = {a: i for i, a in enumerate(attributes)}
    out["_a"] = out["attribute"].map(order)
    out = out.sort_values(["theme_id", "_a", "lift"], ascending=[True, True, False], kind="stable")
    return out[cols].reset_index(drop=True)
