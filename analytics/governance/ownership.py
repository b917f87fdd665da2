"""Who owns each recommendation, whether they answer within their SLA, and how loaded they are.

Definitions follow ``shared/DATA_CONTRACT.md``:

* the owner of a recommendation is the most specific ``owners`` row (exact site over ``*``);
* **SLA met**, **decision latency** and **response time** per recommendation come from
  ``analytics.shared.figures``, the definition the Baseline page and ``cli.py kpis`` use: an
  ``expired`` recommendation, or an open one already past its SLA at ``now``, is a *breach*;
  an open one still inside it is *pending* and left out of the rate (``n_pending`` counts them);
* **override rate** = (modified + rejected) / (accepted + modified + rejected).

Everything starts from ``decision_status``, one row per recommendation; the other
functions summarise it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analytics.shared.figures import (
    EXPIRED,
    decision_hours,
    response_hours,
    sla_outcome,
    to_us,
)
from analytics.shared.intervals import wilson_interval
from analytics.shared.owners import resolve_owners
from analytics.shared.periods import period_start
from contract.vocabulary import ANSWERED, TS_DTYPE

SLA_STATES = ("met", "breached", "pending", "no SLA", "unowned")
_Z95 = 1.959963984540054


def as_utc(now: pd.Timestamp | str) -> pd.Timestamp:
    ts = pd.Timestamp(now)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _hours(delta: pd.Series) -> pd.Series:
    return delta.dt.total_seconds() / 3600.0


def decision_status(
    recommendations: pd.DataFrame,
    decisions: pd.DataFrame,
    owners: pd.DataFrame,
    *,
    now: pd.Timestamp | str,
) -> pd.DataFrame:
    """One row per recommendation: its owner, decision, times and SLA state as of ``now``.

    Parameters
    ----------
    recommendations
        Needs ``rec_id``, ``rec_type``, ``site``, ``signal_at``, ``created_at`` (UTC);
        ``est_impact_usd`` and ``sku`` are carried when present.
    decisions
        The contract's decisions (``rec_id``, ``decided_at``, ``decided_by``, ``decision``).
    owners
        The ownership matrix.
    now
        The moment open recommendations are judged against (UTC; naive means UTC).

    Returns
    -------
    DataFrame with ``rec_id, rec_type, site, sku, est_impact_usd, signal_at, created_at,
    owner, escalation_to, sla_hours, owner_scope, decision, decided_by, decided_at,
    is_open, latency_h, response_h, due_at, hours_overdue, sla_state``. ``hours_overdue``
    is set only for open recommendations past their SLA; ``sla_state`` is one of
    ``SLA_STATES``.
    """
    return judge_at(decision_base(recommendations, decisions, owners), now=now)


def decision_base(
    recommendations: pd.DataFrame, decisions: pd.DataFrame, owners: pd.DataFrame
) -> pd.DataFrame:
    """The part of ``decision_status`` that does not depend on the moment of judging: one row
    per recommendation with its owner, SLA, decision, latencies and ``due_at``.

    The costly join, built once per data version (``flows.artefacts``); ``judge_at`` adds
    ``hours_overdue`` and ``sla_state``.
    """
    recs = recommendations
    n = len(recs)
    # Keep every column's dtype (no round trip through Python objects: 1M rows stay fast).
    out = pd.DataFrame(
        {
            "rec_id": recs["rec_id"].array,
            "rec_type": _categorical(recs["rec_type"]),
            "site": _categorical(recs["site"]),
            "sku": recs["sku"].array if "sku" in recs else pd.array([pd.NA] * n, dtype="string"),
            "est_impact_usd": recs["est_impact_usd"].to_numpy(dtype="float64", na_value=np.nan)
            if "est_impact_usd" in recs
            else np.full(n, np.nan),
            "signal_at": _utc(recs["signal_at"]),
            "created_at": _utc(recs["created_at"]),
        }
    )
    for col, values in _owner_columns(out["rec_type"], out["site"], owners).items():
        out[col] = values

    # Positional lookup of each recommendation's decision (at most one per rec_id).
    pos = pd.Index(decisions["rec_id"].array).get_indexer(out["rec_id"].array)
    found = pos >= 0
    if len(decisions):
        out["decision"] = decisions["decision"].astype("string").array.take(pos, allow_fill=True)
        out["decided_by"] = _categorical(decisions["decided_by"]).take(pos, allow_fill=True)
        out["decided_at"] = _utc(decisions["decided_at"]).array.take(pos, allow_fill=True)
    else:
        out["decision"] = pd.array([pd.NA] * n, dtype="string")
        out["decided_by"] = pd.Categorical([None] * n)
        out["decided_at"] = pd.Series(pd.NaT, index=out.index, dtype=TS_DTYPE)
    out["is_open"] = ~found

    answered = out["decision"].isin(ANSWERED).to_numpy(dtype=bool)
    signal_us, created_us = to_us(out["signal_at"]), to_us(out["created_at"])
    decided_us = to_us(out["decided_at"])
    out["latency_h"] = decision_hours(signal_us, decided_us, answered=answered)
    out["response_h"] = response_hours(created_us, decided_us, answered=answered)
    out["due_at"] = out["created_at"] + pd.to_timedelta(out["sla_hours"], unit="h")
    return out


def judge_at(base: pd.DataFrame, *, now: pd.Timestamp | str) -> pd.DataFrame:
    """``decision_base`` plus ``hours_overdue`` and ``sla_state`` as of ``now`` (a new frame;
    ``base`` is left as it is)."""
    now_ts = as_utc(now)
    out = base.copy(deep=False)
    found = ~out["is_open"].to_numpy(dtype=bool)
    answered = out["decision"].isin(ANSWERED).to_numpy(dtype=bool)
    expired_any = out["decision"].isin([EXPIRED]).to_numpy(dtype=bool)
    created_us, decided_us = to_us(out["created_at"]), to_us(out["decided_at"])
    overdue = _hours(now_ts - out["due_at"])

    has_owner = out["owner"].notna().to_numpy()
    sla = np.where(has_owner, out["sla_hours"].to_numpy(dtype="float64"), np.nan)
    has_sla = ~np.isnan(sla)
    outcome = sla_outcome(
        created_us,
        decided_us,
        sla,
        answered=answered,
        expired=expired_any,
        as_of_us=int(to_us(pd.Series([now_ts]))[0]),
    )
    # Codes into SLA_STATES: met, breached, pending, no SLA, unowned.
    codes = np.select(
        [~has_owner, ~has_sla, outcome == 1.0, outcome == 0.0], [4, 3, 0, 1], default=2
    )
    out["sla_state"] = pd.Categorical.from_codes(codes.astype("int8"), categories=list(SLA_STATES))
    open_late = has_sla & ~found & (outcome == 0.0)
    out["hours_overdue"] = overdue.where(open_late)
    return out


def _categorical(values: pd.Series) -> pd.Categorical:
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values.array  # type: ignore[return-value]
    return pd.Categorical(values.astype("string"))


def _utc(values: pd.Series) -> pd.Series:
    if str(values.dtype) == TS_DTYPE:
        return values.reset_index(drop=True)
    return pd.to_datetime(values, utc=True).astype(TS_DTYPE).reset_index(drop=True)


def _owner_columns(rec_type: pd.Series, site: pd.Series, owners: pd.DataFrame) -> dict[str, object]:
    """Owner, escalation, SLA and scope per row, resolved once per distinct type × site."""
    rt, si = rec_type.array, site.array
    n_sites = len(si.categories) + 1
    key = (rt.codes.astype(np.int64) + 1) * n_sites + (si.codes.astype(np.int64) + 1)
    uniq, inverse = np.unique(key, return_inverse=True)
    combos = pd.DataFrame(
        {
            "rec_type": pd.Categorical.from_codes(uniq // n_sites - 1, categories=rt.categories),
            "site": pd.Categorical.from_codes(uniq % n_sites - 1, categories=si.categories),
        }
    )
    resolved = resolve_owners(combos, owners)
    out: dict[str, object] = {}
    for col in ("owner", "escalation_to", "owner_scope"):
        per_combo = pd.Categorical(resolved[col].astype("string"))
        out[col] = pd.Categorical.from_codes(
            per_combo.codes[inverse], categories=per_combo.categories
        )
    out["sla_hours"] = resolved["sla_hours"].to_numpy(dtype="float64", na_value=np.nan)[inverse]
    return out


def _wilson(k: pd.Series, n: pd.Series) -> tuple[pd.Series, pd.Series]:
    """95% Wilson score interval for k successes in n trials (NaN where n = 0)."""
    lo, hi = wilson_interval(k.to_numpy(dtype="float64"), n.to_numpy(dtype="float64"), z=_Z95)
    return pd.Series(lo, index=k.index), pd.Series(hi, index=k.index)


SLA_COUNTS = ("met", "breached", "pending", "expired")
# The cells SLA met is counted in: every grouping the page shows is a sum of them.
SLA_CELL = ("rec_type", "site", "owner", "week", "month")


def sla_counts(status: pd.DataFrame) -> pd.DataFrame:
    """Rated recommendations (met, breached or pending) counted per type × site × owner × week
    and month of ``created_at``: the cells ``rates_of`` sums into any grouping.

    Returns
    -------
    DataFrame with ``rec_type, site, owner, week, month`` and the int64 counts ``met,
    breached, pending, expired`` (``expired``: breached by running out).
    """
    rated = status[status["sla_state"].isin(["met", "breached", "pending"])]
    codes = rated["sla_state"].cat.codes.to_numpy()
    frame = pd.DataFrame(
        {
            "rec_type": rated["rec_type"],
            "site": rated["site"],
            "owner": rated["owner"],
            "week": period_start(rated["created_at"], "week"),
            "month": period_start(rated["created_at"], "month"),
            **{
                state: (codes == SLA_STATES.index(state)).astype("int64")
                for state in SLA_COUNTS[:3]
            },
            "expired": rated["decision"].isin([EXPIRED]).to_numpy(dtype=bool).astype("int64"),
        },
        index=rated.index,
    )
    cells = frame.groupby(list(SLA_CELL), sort=False, observed=True, dropna=False)
    return cells[list(SLA_COUNTS)].sum().reset_index()


def rates_of(
    counts: pd.DataFrame, *, by: str | None = None, freq: str | None = None
) -> pd.DataFrame:
    """``sla_rates`` from ``sla_counts`` cells (of one frame, or of several concatenated: the
    cells of the same group add up)."""
    if freq not in (None, "week", "month"):
        raise ValueError(f"freq must be week, month or None, got {freq!r}")
    keys = [k for k in (by, freq) if k is not None]
    if keys:
        agg = counts.groupby(keys, sort=True, observed=True)[list(SLA_COUNTS)].sum()
        agg = agg.reset_index().rename(columns={freq: "period"} if freq else {})
    else:
        agg = counts[list(SLA_COUNTS)].sum().to_frame().T
    out = pd.DataFrame({k: agg[k] for k in ([by] if by else []) + (["period"] if freq else [])})
    if by is not None:
        out[by] = out[by].astype("string")
    out["n_met"] = agg["met"].astype("int64")
    out["n_breached"] = agg["breached"].astype("int64")
    out["n_rated"] = out["n_met"] + out["n_breached"]
    out["n_expired"] = agg["expired"].astype("int64")
    out["n_pending"] = agg["pending"].astype("int64")
    out["sla_met_rate"] = out["n_met"] / out["n_rated"].where(out["n_rated"] > 0)
    out["ci_low"], out["ci_high"] = _wilson(out["n_met"], out["n_rated"])
    return out.reset_index(drop=True)


def sla_rates(
    status: pd.DataFrame, *, by: str | None = None, freq: str | None = None
) -> pd.DataFrame:
    """SLA met rate per group (and per period of ``created_at`` when ``freq`` is given).

    Parameters
    ----------
    status
        Output of ``decision_status``.
    by
        ``"rec_type"``, ``"site"``, ``"owner"`` or None for one overall row.
    freq
        ``"week"``, ``"month"`` or None.

    Returns
    -------
    DataFrame with the group (and ``period``) columns, ``n_rated`` (met + breached: the
    rate's denominator), ``n_met``, ``n_breached`` (late, ``expired`` or open past due),
    ``n_expired``, ``n_pending`` (open, still inside the SLA: left out of the rate, see
    ``analytics.shared.figures``), ``sla_met_rate`` and its 95%
    Wilson interval ``ci_low``/``ci_high``; only groups with an owner and SLA. Sorted by
    group then period.
    """
    return rates_of(sla_counts(status), by=by, freq=freq)


def unowned_groups(status: pd.DataFrame) -> pd.DataFrame:
    """Recommendation type × site combinations with no owner, or an owner but no SLA/escalation.

    Returns
    -------
    DataFrame with ``rec_type, site, problem`` (``"no owner"``, ``"no SLA"``,
    ``"no escalation"``), ``n_recs``, ``share_of_recs``, ``n_decided``,
    ``median_latency_h`` and ``p90_latency_h`` (decision latency, ``expired``
    excluded), ``owned_median_latency_h`` (all owned recommendations) and
    ``latency_vs_owned_h`` (the difference; positive = slower than owned work).
    Sorted by ``n_recs`` descending.
    """
    n_all = len(status)
    no_owner = status["owner"].isna().to_numpy()
    no_sla = status["sla_hours"].isna().to_numpy()
    no_escalation = status["escalation_to"].isna().to_numpy()
    flagged = no_owner | no_sla | no_escalation
    owned = ~no_owner
    owned_median = float(status.loc[owned, "latency_h"].median()) if owned.any() else np.nan
    sub = status.loc[flagged, ["rec_type", "site", "latency_h", "decision"]]
    sub = sub.assign(
        problem=np.select(
            [no_owner[flagged], no_sla[flagged]], ["no owner", "no SLA"], default="no escalation"
        ),
        rec_type=sub["rec_type"].astype("string"),
        site=sub["site"].astype("string"),
    )
    cols = [
        "rec_type",
        "site",
        "problem",
        "n_recs",
        "share_of_recs",
        "n_decided",
        "median_latency_h",
        "p90_latency_h",
        "owned_median_latency_h",
        "latency_vs_owned_h",
    ]
    if sub.empty:
        return pd.DataFrame(columns=cols)
    g = sub.groupby(["rec_type", "site", "problem"], sort=True)
    out = g.agg(
        n_recs=("latency_h", "size"),
        n_decided=("decision", "count"),
        median_latency_h=("latency_h", "median"),
        p90_latency_h=("latency_h", lambda s: s.quantile(0.9)),
    ).reset_index()
    out["share_of_recs"] = out["n_recs"] / n_all
    out["owned_median_latency_h"] = owned_median
    out["latency_vs_owned_h"] = out["median_latency_h"] - owned_median
    out = out.sort_values(
        ["n_recs", "rec_type", "site"], ascending=[False, True, True], kind="stable"
    )
    return out[cols].reset_index(drop=True)
