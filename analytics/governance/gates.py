"""The five pre-go-live readiness gates, evaluated from the data with their evidence.

From the S&OP failure patterns (``shared/DOMAIN.md``). Each gate is ``pass``,
``fail`` or ``not enough data``; a gate made of several checks fails when any
check fails, else lacks data when any check lacks data, else passes.

1. **Decision ownership** (hard): every recommendation type × site that occurs has an
   owner, an SLA and an escalation (most specific owners row).
2. **Data foundation** (hard): timestamps carried their time zone; detection latency p90
   at or under the 15-minute pipeline target (on the AI's own recommendations, those
   with a ``model_version``, when there are any); one unit per SKU; data fresh. The
   figures are the Data page's health findings (``analytics.governance.health``), so both agree.
3. **Override logging** (hard): at least 90% of overrides carry a reason.
4. **Success criteria** (hard): KPI targets saved, and a baseline (before go-live) with
   data for each KPI. Targets count only once someone saved them (setting
   ``kpi_targets``): the practitioners' figures the Baseline page starts from are a
   suggestion nobody in the organisation has agreed to, and undefined success is the
   failure pattern this gate is about. Once targets are saved, a default left untouched
   counts as accepted; a target cleared (None) does not.
5. **Operational context** (soft): the top candidate rules are reviewed (adopted or
   dismissed) and at least one documented (adopted) rule exists.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any, Protocol

import pandas as pd

from analytics.baseline.targets import resolve_targets
from analytics.governance import health
from analytics.shared.figures import fmt_hours, latency
from analytics.shared.owners import resolve_owners

PASS, FAIL, NO_DATA = "pass", "fail", "not enough data"
PIPELINE_TARGET_MIN = health.PIPELINE_TARGET_H * 60
REASON_TARGET = health.REASON_CAPTURE_TARGET
MIN_RECS = 20
MIN_OVERRIDES = 20
MIN_BASELINE_ROWS = 20
MIN_BASELINE_PERIODS = 2
TOP_CANDIDATES = 10
REVIEWED = ("adopted", "dismissed")


class GateFrames(Protocol):
    """The contract tables the gates read (``contract.frames.Frames`` fits)."""

    recommendations: pd.DataFrame
    decisions: pd.DataFrame
    owners: pd.DataFrame
    orders: pd.DataFrame
    kpi_periods: pd.DataFrame


def _check(name: str, status: str, detail: str, **values: Any) -> dict[str, Any]:
    return {"check": name, "status": status, "detail": detail, **values}


def _combine(checks: Sequence[Mapping[str, Any]]) -> str:
    statuses = [c["status"] for c in checks]
    if FAIL in statuses:
        return FAIL
    if NO_DATA in statuses:
        return NO_DATA
    return PASS


def _gate(name: str, hard: bool, checks: list[dict[str, Any]]) -> dict[str, Any]:
    status = _combine(checks)
    summary = "; ".join(f"{c['check']}: {c['status']} — {c['detail']}" for c in checks)
    return {
        "name": name,
        "hard": hard,
        "status": status,
        "evidence": {"summary": summary, "checks": checks},
    }


def ownership_gate(recommendations: pd.DataFrame, owners: pd.DataFrame) -> dict[str, Any]:
    """Gate 1: every type × site that occurs resolves to an owner with SLA and escalation."""
    if recommendations.empty:
        return _gate("Decision ownership", True, [_check("owners", NO_DATA, "no recommendations")])
    combos = (
        recommendations.groupby(["rec_type", "site"], observed=True, sort=True)
        .size()
        .rename("n_recs")
        .reset_index()
    )
    resolved = resolve_owners(combos, owners)
    problems = []
    has_owner = resolved["owner"].notna().to_numpy()
    for col, label in (("owner", "owner"), ("sla_hours", "SLA"), ("escalation_to", "escalation")):
        # A missing owner implies the rest: name SLA/escalation gaps only where an owner exists.
        missing = resolved[col].isna().to_numpy() & (has_owner | (col == "owner"))
        if not missing.any():
            continue
        rows = combos.loc[missing]
        by_type = (
            rows.groupby("rec_type", observed=True)["n_recs"].sum().sort_values(ascending=False)
        )
        problems.append(
            {
                "missing": label,
                "types": [str(t) for t in by_type.index],
                "type_sites": [f"{r.rec_type}|{r.site}" for r in rows.itertuples()],
                "n_recs": int(rows["n_recs"].sum()),
            }
        )
    n_types = combos["rec_type"].nunique()
    n_total = int(combos["n_recs"].sum())
    if not problems:
        check = _check(
            "owner, SLA and escalation",
            PASS,
            f"all {n_types} recommendation types at every site where they occur have an "
            "owner, an SLA and an escalation",
            types=n_types,
        )
    else:
        parts = [
            f"no {p['missing']} for {', '.join(p['types'])} "
            f"({p['n_recs']:,} of {n_total:,} recommendations)"
            for p in problems
        ]
        check = _check(
            "owner, SLA and escalation", FAIL, "; ".join(parts), types=n_types, gaps=problems
        )
    return _gate("Decision ownership", True, [check])


def _from_health(name: str, finding: Mapping[str, Any], *, ok: str = "ok") -> dict[str, Any]:
    status = {"n/a": NO_DATA}.get(finding["status"], PASS if finding["status"] == ok else FAIL)
    return _check(name, status, finding["detail"], value=finding["value"])


def _detection_check(
    recommendations: pd.DataFrame, decisions: pd.DataFrame | None
) -> dict[str, Any]:
    scope, hours, _ = health.detection_scope(recommendations, decisions)
    lat = latency(hours)
    if lat.n < MIN_RECS:
        return _check(
            "detection latency p90",
            NO_DATA,
            f"{lat.n} {scope}; need at least {MIN_RECS}",
            n=lat.n,
        )
    # The Data page's figure, in minutes; timestamps are exact to the microsecond, so
    # compare at that grain, not float noise.
    p90 = round(lat.p90_h * 60, 6)
    status = PASS if p90 <= PIPELINE_TARGET_MIN else FAIL
    return _check(
        "detection latency p90",
        status,
        f"p90 {fmt_hours(lat.p90_h)} over {lat.n:,} {scope} "
        f"(pipeline target {PIPELINE_TARGET_MIN:.0f} min)",
        value=round(p90, 2),
        target=PIPELINE_TARGET_MIN,
        n=lat.n,
    )


def data_foundation_gate(
    recommendations: pd.DataFrame,
    batches: pd.DataFrame,
    *,
    now: pd.Timestamp,
    decisions: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """Gate 2: time zones, detection latency, units per SKU and freshness.

    ``batches`` is the import history (``store.reads.import_batches``: needs
    ``naive_timestamps`` dicts and ``tz``). Fresh means the Data page's "ok"
    (newest ``created_at`` at most ``health.STALE_WARN_DAYS`` days before ``now``).
    """
    checks = [
        _from_health("time zones", health.naive_timestamps(batches)),
        _detection_check(recommendations, decisions),
        _from_health("units per SKU", health.unit_conflicts(recommendations)),
        _from_health("fresh data", health.staleness(recommendations, now=now)),
    ]
    return _gate("Data foundation", True, checks)


def override_logging_gate(decisions: pd.DataFrame) -> dict[str, Any]:
    """Gate 3: share of overrides (modified/rejected) with a reason ≥ 90%."""
    finding = health.reason_capture(decisions)
    if finding["status"] == "n/a":
        return _gate("Override logging", True, [_check("reasons", NO_DATA, finding["detail"])])
    n, missing = int(finding["n"]), int(finding["missing"])
    share = (n - missing) / n
    if n < MIN_OVERRIDES:
        status = NO_DATA
        detail = f"only {n} overrides so far; need at least {MIN_OVERRIDES} to judge"
    else:
        status = PASS if share >= REASON_TARGET else FAIL
        detail = (
            f"{share:.1%} of {n:,} overrides carry a reason ({missing:,} without; "
            f"target at least {REASON_TARGET:.0%})"
        )
    return _gate(
        "Override logging",
        True,
        [_check("reasons", status, detail, value=round(share, 4), target=REASON_TARGET, n=n)],
    )


# The KPIs with a practitioners' target: (label, what its baseline needs, target key).
_KPI_BASELINES: tuple[tuple[str, str, str], ...] = (
    ("decision latency", "decisions", "decision_latency_median_h"),
    ("detection latency", "recommendations", "detection_latency_median_h"),
    ("OTIF", "orders", "otif"),
    ("expedite % of COGS", "kpi_expedite", "expedite_pct_cogs"),
    ("stockouts per month", "kpi_stockouts", "stockouts_per_month"),
)


def _baseline_rows(frames: GateFrames, need: str, cut: pd.Timestamp) -> tuple[int, str]:
    recs = frames.recommendations
    if need == "recommendations":
        return int((recs["signal_at"] < cut).sum()), "recommendations"
    if need == "decisions":
        d = frames.decisions
        answered = d[d["decision"].isin(["accepted", "modified", "rejected"])]
        before = recs.loc[recs["signal_at"] < cut, "rec_id"]
        return int(answered["rec_id"].isin(before).sum()), "decided recommendations"
    if need == "orders":
        o = frames.orders
        delivered = o[(o["promised_date"] < cut) & o["delivered_date"].notna()]
        return int(len(delivered)), "delivered order lines"
    k = frames.kpi_periods
    before = k[k["period_start"] < cut]
    if need == "kpi_expedite":
        usable = before[(before["cogs_usd"] > 0) & before["expedite_usd"].notna()]
    else:
        usable = before[before["stockout_events"].notna()]
    return int(usable["period_start"].nunique()), "periods"


def success_criteria_gate(
    frames: GateFrames, *, go_live: date | None, kpi_targets: Mapping[str, Any] | None
) -> dict[str, Any]:
    """Gate 4: targets saved (``kpi_targets``) and a baseline with data for each KPI."""
    checks: list[dict[str, Any]] = []
    if kpi_targets is None:
        checks.append(
            _check(
                "targets set",
                FAIL,
                "no KPI targets saved: the practitioners' figures shown by default are not "
                "counted as agreed — save targets on the Baseline page",
            )
        )
    else:
        resolved = resolve_targets(kpi_targets)
        targets = {label: resolved.get(key) for label, _, key in _KPI_BASELINES}
        lacking = [label for label, value in targets.items() if value is None]
        checks.append(
            _check(
                "targets set",
                FAIL if lacking else PASS,
                f"no target for {', '.join(lacking)} (cleared)"
                if lacking
                else "targets saved for every KPI: "
                + ", ".join(f"{label} {value:g}" for label, value in targets.items()),
                targets=targets,
            )
        )
    if frames.recommendations.empty:
        checks.append(_check("baseline data", NO_DATA, "no recommendations"))
    elif go_live is None:
        checks.append(_check("baseline data", NO_DATA, "no go-live date, so no baseline period"))
    else:
        cut = pd.Timestamp(go_live, tz="UTC")
        per_kpi = {}
        short = []
        for label, need, _ in _KPI_BASELINES:
            n, unit = _baseline_rows(frames, need, cut)
            minimum = MIN_BASELINE_PERIODS if unit == "periods" else MIN_BASELINE_ROWS
            per_kpi[label] = n
            if n < minimum:
                short.append(f"{label} ({n} {unit}, need {minimum})")
        detail = (
            f"every KPI has a baseline before {go_live:%Y-%m-%d}"
            if not short
            else f"no usable baseline before {go_live:%Y-%m-%d} for " + ", ".join(short)
        )
        checks.append(
            _check("baseline data", FAIL if short else PASS, detail, rows_per_kpi=per_kpi)
        )
    return _gate("Success criteria", True, checks)


def _candidate_status(
    candidates: Sequence[Mapping[str, Any]], rule_status: pd.DataFrame
) -> list[str | None]:
    stored = {}
    if not rule_status.empty:
        stored = dict(zip(rule_status["rule_key"].astype(str), rule_status["status"], strict=True))
    out = []
    for c in candidates:
        # The lifecycle table is the record; a status carried by the candidate is a fallback.
        key = c.get("rule_key", c.get("id"))
        status = stored.get(str(key)) if key is not None else None
        out.append(status or c.get("status"))
    return out


def operational_context_gate(
    rule_status: pd.DataFrame,
    *,
    candidates: Sequence[Mapping[str, Any]] | None,
    n_overrides: int,
    top: int = TOP_CANDIDATES,
) -> dict[str, Any]:
    """Gate 5 (soft): top candidate rules reviewed, and at least one adopted rule.

    Parameters
    ----------
    rule_status
        The rule lifecycle table (``rule_key``, ``status`` …).
    candidates
        Candidate rules best first (dicts with ``id``/``rule_key`` and optionally
        ``status``), or None when the rule analysis is not available.
    n_overrides
        Overrides in the log (no overrides: nothing to mine).
    """
    statuses = (
        rule_status["status"].astype(str) if not rule_status.empty else pd.Series([], dtype=str)
    )
    n_adopted = int((statuses == "adopted").sum())
    checks = []
    if candidates is None:
        checks.append(
            _check("candidates reviewed", NO_DATA, "the candidate-rule analysis is not available")
        )
    elif not candidates:
        checks.append(
            _check(
                "candidates reviewed",
                NO_DATA if n_overrides == 0 else PASS,
                "no overrides to learn from yet"
                if n_overrides == 0
                else "the override analysis found no candidate rules to review",
            )
        )
    else:
        head = list(candidates)[:top]
        status = _candidate_status(head, rule_status)
        done = sum(s in REVIEWED for s in status)
        checks.append(
            _check(
                "candidates reviewed",
                PASS if done == len(head) else FAIL,
                f"{done} of the top {len(head)} candidate rules adopted or dismissed"
                + (f" ({sum(s == 'watch' for s in status)} on watch)" if "watch" in status else ""),
                reviewed=done,
                top=len(head),
            )
        )
    if n_adopted:
        checks.append(
            _check("documented rules", PASS, f"{n_adopted} adopted rule(s) documented", n=n_adopted)
        )
    elif n_overrides == 0 and rule_status.empty:
        checks.append(_check("documented rules", NO_DATA, "no overrides and no rules yet"))
    else:
        checks.append(
            _check(
                "documented rules",
                FAIL,
                "no adopted rule yet: the planners' unwritten rules are not documented",
                n=0,
            )
        )
    return _gate("Operational context", False, checks)


def gates_report(
    frames: GateFrames,
    *,
    batches: pd.DataFrame,
    now: pd.Timestamp,
    go_live: date | None,
    kpi_targets: Mapping[str, Any] | None,
    rule_status: pd.DataFrame,
    rule_candidates: Sequence[Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """All five gates: ``{"gates": [{"name", "hard", "status", "evidence"}], "ready"}``.

    ``evidence`` is ``{"summary": text, "checks": [{"check", "status", "detail", …}]}``;
    ``ready`` is True when every hard gate passes. ``batches`` is the import history,
    ``rule_status`` the rule lifecycle table, ``rule_candidates`` the ranked candidate
    rules (None when that analysis is unavailable). See the module doc for each gate.
    """
    now = pd.Timestamp(now)
    now = now.tz_localize("UTC") if now.tzinfo is None else now
    d = frames.decisions
    n_overrides = int(d["decision"].isin(["modified", "rejected"]).sum()) if len(d) else 0
    gates = [
        ownership_gate(frames.recommendations, frames.owners),
        data_foundation_gate(frames.recommendations, batches, now=now, decisions=frames.decisions),
        override_logging_gate(frames.decisions),
        success_criteria_gate(frames, go_live=go_live, kpi_targets=kpi_targets),
        operational_context_gate(rule_status, candidates=rule_candidates, n_overrides=n_overrides),
    ]
    return {
        "gates": gates,
        "ready": all(g["status"] == PASS for g in gates if g["hard"]),
        "as_of": now.isoformat(),
    }
