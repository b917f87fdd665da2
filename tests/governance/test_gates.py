"""Readiness gates on crafted logs: each gate passes, fails and lacks data where it should."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

import pandas as pd
import pytest

from analytics.governance.gates import (
    FAIL,
    NO_DATA,
    PASS,
    data_foundation_gate,
    gates_report,
    operational_context_gate,
    override_logging_gate,
    ownership_gate,
    success_criteria_gate,
)

T0 = pd.Timestamp("2025-03-03 08:00", tz="UTC")


@dataclass(frozen=True)
class Log:
    recommendations: pd.DataFrame
    decisions: pd.DataFrame
    owners: pd.DataFrame
    orders: pd.DataFrame
    kpi_periods: pd.DataFrame


def recs(
    n: int,
    *,
    rec_type: str = "stockout_risk",
    site: str = "P1",
    detect_min: list[float] | None = None,
    start: pd.Timestamp = T0,
    uom: list[str | None] | None = None,
    model_version: str | None = "m1",
    prefix: str = "r",
) -> pd.DataFrame:
    created = pd.Series(start + pd.to_timedelta(range(n), unit="h"))
    detect = pd.Series(pd.to_timedelta(detect_min or [10.0] * n, unit="min"))
    return pd.DataFrame(
        {
            "rec_id": pd.array([f"{prefix}{i}" for i in range(n)], dtype="string"),
            "rec_type": pd.Categorical([rec_type] * n),
            "site": pd.Categorical([site] * n),
            "signal_at": (created - detect).astype("datetime64[us, UTC]"),
            "created_at": created.astype("datetime64[us, UTC]"),
            "sku": pd.Categorical(["SKU1"] * n),
            "uom": pd.Categorical(uom if uom is not None else ["EA"] * n),
            "model_version": pd.Categorical([model_version] * n),
        }
    )


def owners(*rows: tuple) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=["rec_type", "site", "owner", "escalation_to", "sla_hours"])
    for c in ("rec_type", "site", "owner", "escalation_to"):
        df[c] = df[c].astype("category")
    df["sla_hours"] = df["sla_hours"].astype("float64")
    return df


def decisions(rec_ids: list[str], kinds: list[str], reasons: list[str | None]) -> pd.DataFrame:
    n = len(rec_ids)
    return pd.DataFrame(
        {
            "rec_id": pd.array(rec_ids, dtype="string"),
            "decided_at": pd.Series([T0 + pd.Timedelta(days=30)] * n, dtype="datetime64[us, UTC]"),
            "decided_by": pd.Categorical(["ana"] * n),
            "decision": pd.array(kinds, dtype="string"),
            "final_qty": [1.0] * n,
            "reason": pd.array(reasons, dtype="string"),
            "reason_code": pd.Categorical([None] * n),
        }
    )


def batches(naive: dict[str, int] | None = None) -> pd.DataFrame:
    return pd.DataFrame({"id": [1], "tz": ["UTC"], "naive_timestamps": [naive or {}]})


def status(gate: dict) -> str:
    return gate["status"]


def check(gate: dict, name: str) -> dict:
    return next(c for c in gate["evidence"]["checks"] if c["check"] == name)


# --- 1. decision ownership ------------------------------------------------------------
def test_ownership_passes_when_every_type_and_site_resolves() -> None:
    r = pd.concat(
        [recs(3), recs(2, site="P2", prefix="q"), recs(1, rec_type="expedite", prefix="e")]
    )
    own = owners(
        ("stockout_risk", "*", "ana", "boss", 24),
        ("expedite", "P1", "cy", "boss", 8),
    )
    gate = ownership_gate(r, own)
    assert status(gate) == PASS and gate["hard"] is True


def test_ownership_fails_naming_the_unowned_type_and_its_volume() -> None:
    r = pd.concat([recs(3), recs(2, rec_type="maintenance", prefix="m")])
    gate = ownership_gate(r, owners(("stockout_risk", "*", "ana", "boss", 24)))
    assert status(gate) == FAIL
    gaps = check(gate, "owner, SLA and escalation")["gaps"]
    assert gaps == [
        {
            "missing": "owner",
            "types": ["maintenance"],
            "type_sites": ["maintenance|P1"],
            "n_recs": 2,
        }
    ]
    assert "2 of 5 recommendations" in gate["evidence"]["summary"]


def test_ownership_most_specific_row_wins_even_when_it_lacks_the_sla() -> None:
    r = pd.concat([recs(2), recs(2, site="P2", prefix="q")])
    own = owners(
        ("stockout_risk", "*", "ana", "boss", 24),
        ("stockout_risk", "P2", "bea", "boss", None),
    )
    gate = ownership_gate(r, own)
    assert status(gate) == FAIL
    gaps = check(gate, "owner, SLA and escalation")["gaps"]
    assert [(g["missing"], g["type_sites"]) for g in gaps] == [("SLA", ["stockout_risk|P2"])]


def test_ownership_fails_without_escalation() -> None:
    gate = ownership_gate(recs(2), owners(("stockout_risk", "*", "ana", None, 24)))
    assert status(gate) == FAIL
    assert "no escalation for stockout_risk" in gate["evidence"]["summary"]


def test_ownership_without_recommendations_lacks_data() -> None:
    assert status(ownership_gate(recs(0), owners())) == NO_DATA


# --- 2. data foundation -----------------------------------------------------------------
def _fresh_now(r: pd.DataFrame) -> pd.Timestamp:
    return r["created_at"].max() + pd.Timedelta(days=1)


def test_data_foundation_passes_at_exactly_the_pipeline_target() -> None:
    # 27 at 10 min and 3 at 60 min: p90 (linear) = 10 + 0.1 × 50 = 15.0 min = the target.
    r = recs(30, detect_min=[10.0] * 27 + [60.0] * 3)
    gate = data_foundation_gate(r, batches(), now=_fresh_now(r))
    assert status(gate) == PASS
    assert check(gate, "detection latency p90")["value"] == pytest.approx(15.0)


def test_data_foundation_fails_on_slow_detection() -> None:
    # 26 at 10 min and 4 at 60 min: the 26.1th order statistic is already 60 min.
    r = recs(30, detect_min=[10.0] * 26 + [60.0] * 4)
    gate = data_foundation_gate(r, batches(), now=_fresh_now(r))
    assert status(gate) == FAIL
    det = check(gate, "detection latency p90")
    assert det["status"] == FAIL and det["value"] == pytest.approx(60.0)


def test_detection_is_judged_on_the_ai_pipeline_not_the_pre_ai_process() -> None:
    slow_manual = recs(30, detect_min=[360.0] * 30, model_version=None, prefix="old")
    fast_ai = recs(30, detect_min=[5.0] * 30, start=T0 + pd.Timedelta(days=10))
    r = pd.concat([slow_manual, fast_ai], ignore_index=True)
    gate = data_foundation_gate(r, batches(), now=_fresh_now(r))
    det = check(gate, "detection latency p90")
    assert det["status"] == PASS and det["n"] == 30


def test_data_foundation_fails_on_naive_timestamps() -> None:
    r = recs(30)
    gate = data_foundation_gate(r, batches({"decisions.decided_at": 4}), now=_fresh_now(r))
    assert status(gate) == FAIL
    assert check(gate, "time zones")["value"] == 4


def test_data_foundation_fails_on_two_units_for_one_sku() -> None:
    r = recs(30, uom=["EA"] * 29 + ["CS"])
    gate = data_foundation_gate(r, batches(), now=_fresh_now(r))
    assert status(gate) == FAIL and check(gate, "units per SKU")["status"] == FAIL


def test_missing_uom_counts_as_ea() -> None:
    r = recs(30, uom=["EA"] * 29 + [None])
    gate = data_foundation_gate(r, batches(), now=_fresh_now(r))
    assert check(gate, "units per SKU")["status"] == PASS


def test_data_foundation_fails_on_stale_data() -> None:
    r = recs(30)
    gate = data_foundation_gate(r, batches(), now=r["created_at"].max() + pd.Timedelta(days=8))
    assert status(gate) == FAIL and check(gate, "fresh data")["status"] == FAIL


def test_data_foundation_lacks_data_without_imports_or_enough_recs() -> None:
    r = recs(30)
    empty = pd.DataFrame(columns=["id", "tz", "naive_timestamps"])
    assert status(data_foundation_gate(r, empty, now=_fresh_now(r))) == NO_DATA
    few = recs(5)
    gate = data_foundation_gate(few, batches(), now=_fresh_now(few))
    assert status(gate) == NO_DATA
    assert check(gate, "detection latency p90")["status"] == NO_DATA


# --- 3. override logging --------------------------------------------------------------
def _overrides(n: int, with_reason: int, n_accepted: int = 5) -> pd.DataFrame:
    ids = [f"r{i}" for i in range(n + n_accepted)]
    kinds = ["modified", "rejected"] * (n // 2) + ["modified"] * (n % 2) + ["accepted"] * n_accepted
    reasons = ["supplier late"] * with_reason + ["  "] * (n - with_reason) + [None] * n_accepted
    return decisions(ids, kinds, reasons)


def test_override_logging_passes_at_90_percent() -> None:
    gate = override_logging_gate(_overrides(20, 18))
    assert status(gate) == PASS and check(gate, "reasons")["value"] == pytest.approx(0.9)


def test_override_logging_fails_below_90_percent() -> None:
    gate = override_logging_gate(_overrides(20, 17))  # blank reasons count as missing
    assert status(gate) == FAIL and check(gate, "reasons")["value"] == pytest.approx(0.85)


def test_override_logging_lacks_data_with_few_overrides() -> None:
    assert status(override_logging_gate(_overrides(19, 19))) == NO_DATA
    assert status(override_logging_gate(_overrides(0, 0))) == NO_DATA


# --- 4. success criteria ----------------------------------------------------------------
GO_LIVE = date(2025, 6, 1)


def _kpi_log() -> Log:
    r = recs(25)  # created from 2025-03-03: all before go-live
    d = decisions(list(r["rec_id"]), ["accepted"] * 25, [None] * 25)
    promised = pd.Series(
        [T0 + pd.Timedelta(days=i) for i in range(20)], dtype="datetime64[us, UTC]"
    )
    orders = pd.DataFrame(
        {
            "order_id": pd.array([f"o{i}" for i in range(20)], dtype="string"),
            "site": pd.Categorical(["P1"] * 20),
            "qty_ordered": [5.0] * 20,
            "promised_date": promised,
            "delivered_date": promised,
            "qty_delivered": [5.0] * 20,
        }
    )
    kpi = pd.DataFrame(
        {
            "period_start": pd.Series(
                [pd.Timestamp("2025-03-01", tz="UTC"), pd.Timestamp("2025-04-01", tz="UTC")],
                dtype="datetime64[us, UTC]",
            ),
            "site": pd.Categorical(["P1", "P1"]),
            "cogs_usd": [1000.0, 1000.0],
            "expedite_usd": [20.0, 40.0],
            "stockout_events": pd.array([1, 2], dtype="Int64"),
        }
    )
    return Log(r, d, owners(), orders, kpi)


def test_success_criteria_passes_with_saved_targets_and_baselines() -> None:
    gate = success_criteria_gate(_kpi_log(), go_live=GO_LIVE, kpi_targets={"otif": 0.95})
    assert status(gate) == PASS
    assert check(gate, "targets set")["targets"]["OTIF"] == 0.95
    assert check(gate, "baseline data")["rows_per_kpi"] == {
        "decision latency": 25,
        "detection latency": 25,
        "OTIF": 20,
        "expedite % of COGS": 2,
        "stockouts per month": 2,
    }


def test_unsaved_targets_fail_even_though_defaults_exist() -> None:
    gate = success_criteria_gate(_kpi_log(), go_live=GO_LIVE, kpi_targets=None)
    assert status(gate) == FAIL and check(gate, "targets set")["status"] == FAIL
    assert check(gate, "baseline data")["status"] == PASS


def test_a_cleared_target_fails() -> None:
    gate = success_criteria_gate(_kpi_log(), go_live=GO_LIVE, kpi_targets={"otif": None})
    assert status(gate) == FAIL
    assert "OTIF (cleared)" in check(gate, "targets set")["detail"]


def test_missing_baseline_for_a_kpi_fails_naming_it() -> None:
    log = _kpi_log()
    log = replace(log, orders=log.orders.iloc[0:0])
    gate = success_criteria_gate(log, go_live=GO_LIVE, kpi_targets={})
    assert status(gate) == FAIL
    assert "OTIF (0 delivered order lines, need 20)" in check(gate, "baseline data")["detail"]
    # A go-live before any data leaves no baseline at all.
    early = success_criteria_gate(_kpi_log(), go_live=date(2025, 1, 1), kpi_targets={})
    assert check(early, "baseline data")["status"] == FAIL


def test_success_criteria_without_go_live_lacks_data() -> None:
    gate = success_criteria_gate(_kpi_log(), go_live=None, kpi_targets={})
    assert status(gate) == NO_DATA


# --- 5. operational context (soft) ------------------------------------------------------
def _rule_status(*rows: tuple[str, str]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["rule_key", "status"])


def test_operational_context_passes_when_top_candidates_reviewed_and_one_adopted() -> None:
    cands = [{"id": "a"}, {"id": "b"}, {"id": "c"}]
    rs = _rule_status(("a", "adopted"), ("b", "dismissed"), ("c", "dismissed"))
    gate = operational_context_gate(rs, candidates=cands, n_overrides=50, top=3)
    assert status(gate) == PASS and gate["hard"] is False


def test_watch_is_not_a_review_and_unreviewed_candidates_fail() -> None:
    cands = [{"id": "a"}, {"id": "b"}, {"id": "c"}, {"id": "d"}]
    rs = _rule_status(("a", "adopted"), ("b", "watch"))
    gate = operational_context_gate(rs, candidates=cands, n_overrides=50, top=3)
    assert status(gate) == FAIL
    assert check(gate, "candidates reviewed")["detail"].startswith(
        "1 of the top 3 candidate rules adopted or dismissed (1 on watch)"
    )


def test_no_documented_rule_fails() -> None:
    gate = operational_context_gate(
        _rule_status(("a", "dismissed")), candidates=[{"id": "a"}], n_overrides=50
    )
    assert status(gate) == FAIL and check(gate, "documented rules")["status"] == FAIL


def test_operational_context_lacks_data_without_the_rule_analysis() -> None:
    gate = operational_context_gate(_rule_status(("x", "adopted")), candidates=None, n_overrides=9)
    assert status(gate) == NO_DATA


# --- the report -------------------------------------------------------------------------
def test_gates_report_shape_and_readiness() -> None:
    log = _kpi_log()
    log = replace(log, owners=owners(("stockout_risk", "*", "ana", "boss", 24)))
    d = _overrides(20, 20, n_accepted=5)
    log = replace(log, decisions=d)
    now = log.recommendations["created_at"].max() + pd.Timedelta(hours=2)
    report = gates_report(
        log,
        batches=batches(),
        now=now,
        go_live=GO_LIVE,
        kpi_targets={},
        rule_status=_rule_status(("a", "adopted")),
        rule_candidates=[{"id": "a"}],
    )
    names = [(g["name"], g["hard"]) for g in report["gates"]]
    assert names == [
        ("Decision ownership", True),
        ("Data foundation", True),
        ("Override logging", True),
        ("Success criteria", True),
        ("Operational context", False),
    ]
    assert all(set(g) == {"name", "hard", "status", "evidence"} for g in report["gates"])
    assert [g["status"] for g in report["gates"]] == [PASS] * 5
    assert report["ready"] is True
    # A soft gate failing does not block readiness; a hard one does.
    soft_fail = gates_report(
        log, batches=batches(), now=now, go_live=GO_LIVE, kpi_targets={},
        rule_status=_rule_status(), rule_candidates=[{"id": "a"}],
    )  # fmt: skip
    assert soft_fail["gates"][4]["status"] == FAIL and soft_fail["ready"] is True
    hard_fail = gates_report(
        log, batches=batches(), now=now, go_live=GO_LIVE, kpi_targets=None,
        rule_status=_rule_status(("a", "adopted")), rule_candidates=[{"id": "a"}],
    )  # fmt: skip
    assert hard_fail["ready"] is False
