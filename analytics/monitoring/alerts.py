"""The whole model-health check: drift, calibration, false positives, acceptance, alerts.

``run_monitor`` takes the contract frames and returns a ``MonitorReport``; its ``to_json``
is the ``cli.py monitor --json`` payload. Alerts carry a stable ``key`` (kind, type, site,
version, feature and ``since``) under which an acknowledgement is stored: the same
condition still running keeps its key, and stays acknowledged; a new episode (a later
``since``) is a new alert.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from analytics.monitoring import acceptance, calibration, drift, text
from analytics.monitoring.versions import NONE, version_table
from analytics.monitoring.window import Reference, week_date

KINDS = ("feature_drift", "calibration", "false_positives", "acceptance_drift")
ALERT_FIELDS = (
    "kind", "rec_type", "site", "model_version", "feature", "since", "statistic", "value",
    "threshold", "message", "acknowledged",
)  # fmt: skip


@dataclass(frozen=True)
class MonitorSettings:
    psi_threshold: float = drift.THRESHOLD
    consecutive_weeks: int = drift.CONSECUTIVE
    min_rows_per_week: int = drift.MIN_ROWS
    ece_threshold: float = 0.08
    min_judged: int = 200
    fpr_margin: float = 0.10
    min_flagged: int = 100
    cusum_h: float = acceptance.H
    odds_ratio: float = acceptance.ODDS_RATIO
    min_reference_decisions: int = acceptance.MIN_REFERENCE


@dataclass(frozen=True)
class MonitorReport:
    reference: Reference
    calibration_types: list[str]
    drift: drift.FeatureDrift
    judged: pd.DataFrame
    calibration: pd.DataFrame  # by model_version
    calibration_by_type: pd.DataFrame
    calibration_by_site: pd.DataFrame  # rec_type × site, where ≥ 50 are judged
    reference_fpr: float
    weekly_overrides: pd.DataFrame
    shifts: list[acceptance.AcceptanceShift]
    versions: pd.DataFrame
    alerts: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """``{"reference", "alerts", "calibration", "drift"}`` exactly as the CLI prints it."""
        return {
            "reference": self.reference.to_json(),
            "alerts": [{k: a[k] for k in ALERT_FIELDS} for a in self.alerts],
            "calibration": {
                str(r.model_version): {
                    "ece": _num(r.ece),
                    "brier": _num(r.brier),
                    "false_positive_rate": _num(r.false_positive_rate),
                    "n": int(r.n),
                }
                for r in self.calibration.itertuples()
            },  # fmt: skip
            "drift": {
                str(r.feature): {"psi_latest": _num(r.psi_latest), "psi_max": _num(r.psi_max)}
                for r in self.drift.summary.itertuples()
            },
        }

    @property
    def unacknowledged(self) -> list[dict[str, Any]]:
        return [a for a in self.alerts if not a["acknowledged"]]


def _num(value: Any) -> float | None:
    if value is None or pd.isna(value):
        return None
    return round(float(value), 4)


def alert_key(alert: dict[str, Any]) -> str:
    parts = [alert["kind"], alert["rec_type"], alert["site"], alert["model_version"],
             alert["feature"], alert["since"]]  # fmt: skip
    return "|".join("" if p is None else str(p) for p in parts)


def _alert(kind: str, *, since: Any, statistic: str, value: float, threshold: float,
           message: str, rec_type: str | None = None, site: str | None = None,
           model_version: str | None = None, feature: str | None = None) -> dict[str, Any]:  # fmt: skip
    alert = {
        "kind": kind, "rec_type": rec_type, "site": site, "model_version": model_version,
        "feature": feature, "since": since.isoformat(), "statistic": statistic,
        "value": _num(value), "threshold": _num(threshold), "message": message,
        "acknowledged": False,
    }  # fmt: skip
    alert["key"] = alert_key(alert)
    return alert


def _over_confident(judged: pd.DataFrame) -> bool:
    n, s, k = calibration.bin_sums(
        judged["score"].to_numpy(float), judged["stockout"].to_numpy(float)
    )
    mean_s = np.divide(s, n, out=np.full_like(s, 0.5), where=n > 0)
    gap = (s - k) * np.sign(mean_s - 0.5)
    return bool(gap.sum() > 0)


def _calibration_alerts(judged: pd.DataFrame, table: pd.DataFrame, reference: Reference,
                        ref_fpr: float, st: MonitorSettings) -> list[dict[str, Any]]:  # fmt: skip
    out = []
    version = judged["model_version"].astype("string").fillna(NONE)
    for r in table.itertuples():
        g = judged[version == r.model_version]
        types = sorted(map(str, g["rec_type"].unique()))
        rec_type = types[0] if len(types) == 1 else None
        if r.n >= st.min_judged and r.ece_low > st.ece_threshold:
            start = calibration.miscalibration_start(
                g, threshold=st.ece_threshold, min_n=st.min_judged
            )
            since = week_date(start)
            after = g[g["week"] >= start]
            message = text.calibration_message(
                str(r.model_version), r.ece, r.ece_low, r.ece_high, len(after), since,
                st.ece_threshold, _over_confident(after),
            )  # fmt: skip
            out.append(_alert("calibration", since=since, statistic="ece", value=r.ece,
                              threshold=st.ece_threshold, message=message, rec_type=rec_type,
                              model_version=str(r.model_version)))  # fmt: skip
        limit = ref_fpr + st.fpr_margin
        if not np.isnan(ref_fpr) and r.n_flagged >= st.min_flagged and r.fpr_low > limit:
            start = max(r.first_week, reference.last_week + 7)
            cur = g[g["week"] >= start]
            flagged = cur["score"] >= calibration.CUT
            if flagged.sum() < st.min_flagged:
                continue
            rate = float((cur.loc[flagged, "stockout"] == 0).mean())
            since = week_date(int(start))
            message = text.false_positive_message(str(r.model_version), rate, int(flagged.sum()),
                                                  ref_fpr, since)  # fmt: skip
            out.append(_alert("false_positives", since=since, statistic="false_positive_rate",
                              value=rate, threshold=limit, message=message, rec_type=rec_type,
                              model_version=str(r.model_version)))  # fmt: skip
    return out


def run_monitor(
    recommendations: pd.DataFrame,
    decisions: pd.DataFrame,
    outcomes: pd.DataFrame,
    *,
    reference: Reference,
    calibration_types: list[str] | None = None,
    acknowledged: Collection[str] = (),
    settings: MonitorSettings | None = None,
    random_state: int = 0,
) -> MonitorReport:
    """Every model-health figure and alert for the log against ``reference``.

    ``calibration_types`` defaults to ``calibration.default_types``; ``acknowledged`` holds
    the keys of acknowledged alerts (they are still listed, with ``acknowledged`` True).
    Too little data never raises: the figure is left out and ``notes`` says so.
    """
    st = settings or MonitorSettings()
    notes: list[str] = []
    types = (
        calibration.default_types(recommendations, outcomes)
        if calibration_types is None else list(calibration_types)
    )  # fmt: skip
    fd = drift.feature_drift(recommendations, reference, threshold=st.psi_threshold,
                             consecutive=st.consecutive_weeks, min_rows=st.min_rows_per_week)  # fmt: skip
    summary = fd.summary
    thin = summary.loc[summary["kind"].isna(), "feature"].tolist() if len(summary) else []
    sparse = (
        summary.loc[summary["kind"].notna() & summary["psi_latest"].isna(), "feature"].tolist()
        if len(summary)
        else []
    )
    if sparse:
        notes.append(
            f"Feature drift: {text.NOT_ENOUGH} — no week after the reference window has "
            f"{st.min_rows_per_week} values of " + ", ".join(sparse) + "."
        )
    if thin:
        notes.append(
            f"Feature drift: {text.NOT_ENOUGH} in the reference window for "
            + ", ".join(thin)
            + f" (fewer than {st.min_rows_per_week} values)."
        )
    alerts = [
        _alert("feature_drift", since=run.since, statistic="psi", value=run.psi_last,
               threshold=st.psi_threshold, message=text.drift_message(run), feature=run.feature,
               rec_type=run.rec_types[0] if len(run.rec_types) == 1 else None,
               site=run.sites[0] if len(run.sites) == 1 and not run.all_sites else None)
        for run in fd.runs
    ]  # fmt: skip
    judged = calibration.judged_set(recommendations, decisions, outcomes, types=types)
    cal = calibration.calibration_table(judged, random_state=random_state)
    cal_types = calibration.calibration_table(judged, by="rec_type", random_state=random_state)
    cal_sites = calibration.calibration_table(
        judged, by=["rec_type", "site"], random_state=random_state, min_n=50
    )
    in_ref = judged[reference.contains(judged["day"].to_numpy())]
    flagged = in_ref["score"] >= calibration.CUT
    ref_fpr = (
        float((in_ref.loc[flagged, "stockout"] == 0).mean())
        if flagged.sum() >= st.min_flagged
        else float("nan")
    )
    if not types:
        notes.append(
            "Calibration: no recommendation type has a score in 0..1 with stockout outcomes."
        )
    elif len(judged) < st.min_judged:
        notes.append(
            f"Calibration: {text.NOT_ENOUGH} — {len(judged):,} judged recommendations (alerts need {st.min_judged})."
        )
    if types and np.isnan(ref_fpr):
        notes.append(
            f"False positives: {text.NOT_ENOUGH} in the reference window (fewer than {st.min_flagged} judged alarms) to compare against."
        )
    alerts += _calibration_alerts(judged, cal, reference, ref_fpr, st)
    weekly = acceptance.weekly_override_rates(recommendations, decisions)
    shifts, chart = acceptance.acceptance_shifts(weekly, reference, odds_ratio=st.odds_ratio,
                                                 h=st.cusum_h, min_reference=st.min_reference_decisions)  # fmt: skip
    if len(chart) and "judged" in chart and not chart["judged"].any():
        notes.append(
            f"Acceptance drift: {text.NOT_ENOUGH} — no type × site has {st.min_reference_decisions} decisions in the reference window."
        )
    alerts += [
        _alert("acceptance_drift", since=s.since, statistic="cusum", value=s.statistic,
               threshold=st.cusum_h, message=text.acceptance_message(s), rec_type=s.rec_type,
               site=s.site)
        for s in shifts
    ]  # fmt: skip
    versions = version_table(recommendations, decisions, outcomes, cal)
    report = MonitorReport(reference, types, fd, judged, cal, cal_types, cal_sites, ref_fpr, chart, shifts,
                           versions, alerts, notes)  # fmt: skip
    return with_acknowledged(report, acknowledged)


def with_acknowledged(report: MonitorReport, acknowledged: Collection[str]) -> MonitorReport:
    """``report`` with each alert's ``acknowledged`` set from the keys given (a new report;
    the figures are shared), open alerts first, then by ``since``."""
    done = set(acknowledged)
    alerts = [dict(a, acknowledged=a["key"] in done) for a in report.alerts]
    alerts.sort(key=lambda a: (a["acknowledged"], a["since"], a["kind"], a["key"]))
    return replace(report, alerts=alerts)
