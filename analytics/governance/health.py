"""Data-health findings drawn from the failure patterns in ``shared/DOMAIN.md``.

Each finding says what was checked, the figure, a status (``ok``, ``warn``,
``fail``, ``n/a``) and the evidence, so the Data page, ``cli.py info`` and the
readiness gates tell the same story from one computation.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from analytics.shared.figures import (
    EXPIRED,
    detection_hours,
    fmt_hours,
    fmt_period,
    latency,
    to_us,
)
from analytics.shared.owners import resolve_owners
from contract.vocabulary import OVERRIDES

STALE_WARN_DAYS = 7
STALE_FAIL_DAYS = 30
REASON_CAPTURE_TARGET = 0.90
PIPELINE_TARGET_H = 0.25  # 15 minutes, the practitioners' pipeline latency target
DETECTION_OUTLIER_H = 24.0


def _finding(
    key: str, title: str, status: str, value: Any, detail: str, **extra: Any
) -> dict[str, Any]:
    return {
        "key": key,
        "finding": title,
        "status": status,
        "value": value,
        "detail": detail,
        **extra,
    }


def reason_capture(decisions: pd.DataFrame) -> dict[str, Any]:
    """Share of overrides (modified/rejected) that carry no reason."""
    if decisions.empty:
        return _finding(
            "reason_gap", "Overrides without a reason", "n/a", None, "no decisions loaded"
        )
    overrides = decisions[decisions["decision"].isin(OVERRIDES)]
    n = len(overrides)
    if n == 0:
        return _finding("reason_gap", "Overrides without a reason", "n/a", None, "no overrides yet")
    reason = overrides["reason"].astype("string").str.strip()
    missing = int((reason.isna() | (reason == "")).sum())
    share = missing / n
    status = "ok" if share <= 1 - REASON_CAPTURE_TARGET else "fail"
    return _finding(
        "reason_gap",
        "Overrides without a reason",
        status,
        round(share, 4),
        f"{missing:,} of {n:,} overrides have no reason (target: at most "
        f"{1 - REASON_CAPTURE_TARGET:.0%}); an override without a reason is the earliest "
        "sign that a deployment is failing",
        n=n,
        missing=missing,
    )


def unowned_types(recommendations: pd.DataFrame, owners: pd.DataFrame) -> dict[str, Any]:
    """Recommendation types (by site) that no row of the ownership matrix covers."""
    if recommendations.empty:
        return _finding(
            "unowned", "Recommendation types with no owner", "n/a", None, "no recommendations"
        )
    resolved = resolve_owners(recommendations, owners)
    missing = recommendations.loc[resolved["owner"].isna().to_numpy(), ["rec_type", "site"]]
    if missing.empty:
        return _finding(
            "unowned",
            "Recommendation types with no owner",
            "ok",
            0,
            "every recommendation type has an owner at every site",
            table=[],
        )
    table = (
        missing.astype(str)
        .groupby(["rec_type", "site"])
        .size()
        .rename("recommendations")
        .reset_index()
        .sort_values("recommendations", ascending=False)
    )
    types = sorted(table["rec_type"].unique())
    share = len(missing) / len(recommendations)
    return _finding(
        "unowned",
        "Recommendation types with no owner",
        "fail",
        len(types),
        f"{', '.join(types)}: {len(missing):,} recommendations ({share:.1%}) have no owner, "
        "SLA or escalation",
        table=table.to_dict("records"),
    )


def detection_scope(
    recommendations: pd.DataFrame, decisions: pd.DataFrame | None = None
) -> tuple[str, np.ndarray, pd.DataFrame]:
    """(scope in words, detection hours, the recommendations in scope) of the pipeline figure.

    The pipeline target is about the AI's own recommendations: those with a
    ``model_version`` when there are any, else all. Hours come from
    ``analytics.shared.figures.detection_hours`` (``expired`` ones left out, as on the
    Baseline page), so the Data page, the readiness gate and the KPI tiles agree.
    """
    recs = recommendations
    scope = "recommendations"
    if "model_version" in recs and recs["model_version"].notna().any():
        recs = recs[recs["model_version"].notna().to_numpy()]
        scope = "recommendations with a model_version (the AI pipeline)"
    expired = np.zeros(len(recs), dtype=bool)
    if decisions is not None and len(decisions):
        gone = decisions.loc[decisions["decision"].astype("string") == EXPIRED, "rec_id"]
        expired = recs["rec_id"].isin(gone.astype("string")).to_numpy(dtype=bool)
    hours = detection_hours(to_us(recs["signal_at"]), to_us(recs["created_at"]), expired=expired)
    return scope, hours, recs


def detection_latency(
    recommendations: pd.DataFrame, decisions: pd.DataFrame | None = None
) -> dict[str, Any]:
    """Detection latency (``created_at − signal_at``) of the AI pipeline: p50, p90, outliers."""
    if recommendations.empty:
        return _finding(
            "detection", "Detection latency outliers", "n/a", None, "no recommendations"
        )
    scope, hours, recs = detection_scope(recommendations, decisions)
    lat = latency(hours)
    if lat.n == 0:
        return _finding("detection", "Detection latency outliers", "n/a", None, f"no {scope}")
    top = float(np.nanmax(hours))
    outliers = int((hours > DETECTION_OUTLIER_H).sum())
    status = "ok" if lat.p90_h <= PIPELINE_TARGET_H and outliers == 0 else "warn"
    period = fmt_period(recs["signal_at"].min(), recs["signal_at"].max())
    return _finding(
        "detection",
        "Detection latency outliers",
        status,
        outliers,
        f"median {fmt_hours(lat.median_h)}, p90 {fmt_hours(lat.p90_h)} over {lat.n:,} {scope}, "
        f"signals {period} (pipeline target {PIPELINE_TARGET_H * 60:.0f} min), max "
        f"{fmt_hours(top)}; {outliers:,} were issued more than {DETECTION_OUTLIER_H:.0f} h "
        "after their signal",
        p50_h=round(lat.median_h, 3),
        p90_h=round(lat.p90_h, 3),
        max_h=round(top, 3),
        n=lat.n,
        scope=scope,
    )


def naive_timestamps(batches: pd.DataFrame) -> dict[str, Any]:
    """Timestamp values that came without a time-zone offset, per table and column."""
    if batches.empty:
        return _finding(
            "naive_tz", "Timestamps with no time zone", "n/a", None, "nothing loaded yet"
        )
    counts: dict[str, int] = {}
    for per_batch in batches["naive_timestamps"]:
        for col, n in (per_batch or {}).items():
            counts[col] = counts.get(col, 0) + int(n)
    total = sum(counts.values())
    if not total:
        return _finding(
            "naive_tz",
            "Timestamps with no time zone",
            "ok",
            0,
            "every timestamp carried an offset",
            columns={},
        )
    tz = ", ".join(sorted(set(batches["tz"].astype(str))))
    cols = ", ".join(f"{c} ({n:,})" for c, n in sorted(counts.items()))
    return _finding(
        "naive_tz",
        "Timestamps with no time zone",
        "warn",
        total,
        f"{total:,} values had no offset and were read in the bundle's zone ({tz}): {cols}",
        columns=counts,
    )


def unit_conflicts(recommendations: pd.DataFrame) -> dict[str, Any]:
    """SKUs recommended in more than one unit of measure (missing uom counts as EA)."""
    if recommendations.empty or recommendations["sku"].isna().all():
        return _finding("units", "Units that differ for the same SKU", "n/a", None, "no SKUs")
    df = pd.DataFrame(
        {
            "sku": recommendations["sku"].astype("string"),
            "uom": recommendations["uom"].astype("string").fillna("EA"),
        }
    ).dropna(subset=["sku"])
    n_units = df.groupby("sku", observed=True)["uom"].nunique()
    bad = n_units[n_units > 1]
    if bad.empty:
        return _finding(
            "units", "Units that differ for the same SKU", "ok", 0, "one unit per SKU", skus=[]
        )
    sample = df[df["sku"].isin(bad.index)].groupby("sku")["uom"].unique()
    listed = "; ".join(f"{sku}: {'/'.join(sorted(u))}" for sku, u in sample.head(5).items())
    return _finding(
        "units",
        "Units that differ for the same SKU",
        "warn",
        int(len(bad)),
        f"{len(bad):,} SKUs appear in more than one unit, so quantities are not comparable: "
        f"{listed}{' …' if len(bad) > 5 else ''}",
        skus=sorted(bad.index.astype(str))[:100],
    )


def staleness(recommendations: pd.DataFrame, *, now: pd.Timestamp) -> dict[str, Any]:
    """Age of the newest recommendation's ``created_at`` against ``now``."""
    if recommendations.empty:
        return _finding("stale", "Stale data", "n/a", None, "no recommendations")
    newest = recommendations["created_at"].max()
    age_days = (now - newest).total_seconds() / 86400
    status = (
        "ok" if age_days <= STALE_WARN_DAYS else ("warn" if age_days <= STALE_FAIL_DAYS else "fail")
    )
    return _finding(
        "stale",
        "Stale data",
        status,
        round(age_days, 1),
        f"newest recommendation created {newest:%Y-%m-%d %H:%M} UTC, {age_days:.1f} days ago",
        newest=newest.isoformat(),
    )


def restale(
    findings: list[dict[str, Any]], newest: pd.Timestamp | None, *, now: pd.Timestamp
) -> list[dict[str, Any]]:
    """``findings`` (``health_findings``' list, worked out at another moment) with the stale-data
    finding judged again at ``now`` from the newest ``created_at`` (None: no recommendation)."""
    recs = pd.DataFrame({"created_at": pd.Series([] if newest is None else [newest], dtype=object)})
    fresh = staleness(recs, now=now)
    return [fresh if f["key"] == "stale" else f for f in findings]


def health_findings(
    recommendations: pd.DataFrame,
    decisions: pd.DataFrame,
    owners: pd.DataFrame,
    batches: pd.DataFrame,
    *,
    now: pd.Timestamp,
) -> list[dict[str, Any]]:
    """Every data-health finding, in the order the Data page shows them."""
    return [
        reason_capture(decisions),
        unowned_types(recommendations, owners),
        detection_latency(recommendations, decisions),
        naive_timestamps(batches),
        unit_conflicts(recommendations),
        staleness(recommendations, now=now),
    ]


def date_ranges(
    tables: dict[str, pd.DataFrame], event_columns: dict[str, str]
) -> dict[str, dict[str, Any]]:
    """First and last event time and row count per table."""
    out: dict[str, dict[str, Any]] = {}
    for name, df in tables.items():
        col = event_columns.get(name)
        if col is None or df.empty or col not in df:
            out[name] = {"rows": int(len(df)), "first": None, "last": None}
            continue
        out[name] = {
            "rows": int(len(df)),
            "first": df[col].min().isoformat(),
            "last": df[col].max().isoformat(),
        }
    return out


EVENT_COLUMNS = {
    "recommendations": "signal_at",
    "decisions": "decided_at",
    "outcomes": "observed_at",
    "orders": "promised_date",
    "kpi_periods": "period_start",
}


def overview(
    tables: dict[str, pd.DataFrame], batches: pd.DataFrame, *, now: pd.Timestamp
) -> dict[str, Any]:
    """Everything the Data page and ``cli.py info`` show: counts, date ranges, findings.

    ``tables`` maps each contract table name to its frame; ``batches`` is the
    import history (with ``naive_timestamps`` and ``tz``).
    """
    return {
        "counts": {name: int(len(df)) for name, df in tables.items()},
        "ranges": date_ranges(tables, EVENT_COLUMNS),
        "imports": int(len(batches)),
        "findings": health_findings(
            tables["recommendations"], tables["decisions"], tables["owners"], batches, now=now
        ),
    }
