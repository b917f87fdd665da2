"""Model health: definitions on hand-worked frames, then the planted problems of a generated log."""

from __future__ import annotations

import math
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from analytics.monitoring import text
from analytics.monitoring.acceptance import cusum
from analytics.monitoring.alerts import ALERT_FIELDS, run_monitor
from analytics.monitoring.calibration import (
    brier_score,
    expected_calibration_error,
    false_positive_rate,
    judged_set,
)
from analytics.monitoring.drift import DriftRun
from analytics.monitoring.psi import psi
from analytics.monitoring.versions import version_table
from analytics.monitoring.window import Reference, default_reference
from tests.monitoring import monitor_data as md

EPS = 1e-4


# --- definitions, worked by hand ---------------------------------------------------------


def test_psi_categorical_with_empty_bins() -> None:
    # Bins a, b, other, missing. Reference 1/2, 1/2, 0, 0; current 1/4, 0, 3/4, 0.
    # Empty shares become 0.0001 (Evidently's convention); the shared empty bin adds 0.
    expected = (
        (0.5 - 0.25) * math.log(0.5 / 0.25)
        + (0.5 - EPS) * math.log(0.5 / EPS)
        + (EPS - 0.75) * math.log(EPS / 0.75)
    )
    got = psi(pd.Series(["a", "a", "b", "b"]), pd.Series(["a", "c", "c", "c"]))
    assert got == pytest.approx(expected)
    assert got == pytest.approx(11.12213, abs=1e-4)


def test_psi_numeric_deciles_open_outer_bins() -> None:
    ref = pd.Series(np.arange(1.0, 11.0))  # deciles cut it into ten bins of one value
    # Every current value lands in the top bin, 100 beyond the reference's range too.
    expected = 9 * (0.1 - EPS) * math.log(0.1 / EPS) + (0.1 - 1.0) * math.log(0.1 / 1.0)
    assert psi(ref, pd.Series([10.0, 10.0, 100.0, 9.5])) == pytest.approx(expected)
    assert expected == pytest.approx(8.283089, abs=1e-5)
    assert psi(ref, ref.copy()) == pytest.approx(0.0)


def test_psi_counts_missing_values_as_their_own_bin() -> None:
    ref = pd.Series([1.0, 2.0, 3.0, 4.0])
    cur = pd.Series([1.0, 2.0, np.nan, np.nan])
    # Reference: four value bins of 1/4 (cuts at 1.75, 2.5, 3.25), missing 0.
    # Current: 1/4, 1/4, 0, 0, missing 1/2.
    expected = 2 * (0.25 - EPS) * math.log(0.25 / EPS) + (EPS - 0.5) * math.log(EPS / 0.5)
    assert psi(ref, cur) == pytest.approx(expected)


def test_ece_brier_and_false_positive_rate_by_hand() -> None:
    score = np.array([0.05, 0.15, 0.15, 0.95])
    y = np.array([0, 0, 1, 1])
    # Bins [0, .1): gap .05, weight 1/4; [.1, .2): |.15 − .5| = .35, weight 2/4;
    # [.9, 1]: .05, weight 1/4.
    assert expected_calibration_error(score, y) == pytest.approx(0.0125 + 0.175 + 0.0125)
    assert brier_score(score, y) == pytest.approx((0.0025 + 0.0225 + 0.7225 + 0.0025) / 4)
    # A score of exactly 1.0 falls in the last bin, not an eleventh one.
    assert expected_calibration_error(np.array([1.0, 0.95]), np.array([1, 1])) == pytest.approx(
        0.025
    )
    # Of the two scores ≥ 0.5, the 0.6 was not followed by a stockout.
    assert false_positive_rate(np.append(score, 0.6), np.append(y, 0)) == pytest.approx(0.5)
    assert math.isnan(false_positive_rate(np.array([0.1]), np.array([0])))


def test_judged_set_keeps_only_what_acting_could_not_change() -> None:
    ts = pd.Timestamp("2025-01-06", tz="UTC")
    recs = pd.DataFrame(
        {
            "rec_id": list("abcdef"),
            "rec_type": ["s"] * 6,
            "site": ["P1"] * 6,
            "model_version": ["m1"] * 6,
            "created_at": [ts] * 6,
            "score": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6],
        }
    )
    decisions = pd.DataFrame(
        {"rec_id": list("abcd"), "decision": ["accepted", "modified", "rejected", "expired"]}
    )
    outcomes = pd.DataFrame(
        {"rec_id": list("abcdf"), "stockout": pd.array([1, 1, 0, 1, None], dtype="boolean")}
    )
    judged = judged_set(recs, decisions, outcomes, types=["s"])
    # c rejected, d expired have outcomes; e is open without one; f open with stockout unknown.
    assert list(judged["rec_id"]) == ["c", "d"]
    assert list(judged["stockout"]) == [0, 1]


def test_cusum_by_hand() -> None:
    # p0 = 0.2, p1 = 1/3: an override adds ln(5/3), an acceptance ln(5/6).
    path = cusum(np.array([10, 10, 4]), np.array([5, 0, 4]), 0.2, 1 / 3)
    first = 5 * math.log(5 / 3) + 5 * math.log(5 / 6)
    assert path[0] == pytest.approx(first)
    assert path[1] == 0.0  # 1.64 − 10 · 0.18 < 0: restarts
    assert path[2] == pytest.approx(4 * math.log(5 / 3))


def test_version_table_rates_value_added_and_latency() -> None:
    ts = pd.Timestamp("2025-01-06 10:00", tz="UTC")
    recs = pd.DataFrame(
        {
            "rec_id": list("abcd"),
            "signal_at": [ts - pd.Timedelta(hours=h) for h in (1, 3, 2, 4)],
            "created_at": [ts] * 4,
            "recommended_qty": [100.0, 100.0, 100.0, 100.0],
            "model_version": ["m1", "m1", "m2", "m2"],
        }
    )
    decisions = pd.DataFrame(
        {
            "rec_id": list("abc"),
            "decided_at": [ts + pd.Timedelta(hours=h) for h in (2, 4, 6)],
            "decision": ["accepted", "modified", "rejected"],
            "final_qty": [100.0, 120.0, 0.0],
        }
    )
    outcomes = pd.DataFrame({"rec_id": list("abc"), "actual_qty": [90.0, 130.0, 10.0]})
    table = version_table(recs, decisions, outcomes).set_index("model_version")
    assert table.loc["m1", "acceptance_rate"] == pytest.approx(0.5)
    assert table.loc["m2", "override_rate"] == pytest.approx(1.0)
    # b: |100 − 130| − |120 − 130| = 20; c: |100 − 10| − |0 − 10| = 80.
    assert table.loc["m1", "value_added"] == pytest.approx(20.0)
    assert table.loc["m2", "value_added"] == pytest.approx(80.0)
    assert table.loc["m1", "detection_latency_h"] == pytest.approx(2.0)
    assert table.loc["m1", "response_time_h"] == pytest.approx(3.0)
    assert table.loc["m2", "n_decided"] == 1


# --- messages on situations the generator does not plant ---------------------------------


def _run(**kw: object) -> DriftRun:
    base = dict(
        feature="f_x", since=date(2025, 8, 4), n_weeks=2, psi_last=0.5, psi_max=0.6,
        sites=("P1",), all_sites=False, rec_types=("t",), kind="numeric", ref_median=10.0,
        run_median=10.0, ref_missing=0.02, run_missing=0.02, top_value=None, ref_share=None,
        run_share=None,
    )  # fmt: skip
    base.update(kw)
    return DriftRun(**base)  # type: ignore[arg-type]


def test_drift_messages_say_what_changed_and_where() -> None:
    fell = text.drift_message(_run(run_median=7.5, sites=("P1", "P2"), all_sites=True))
    assert fell.startswith("f_x fell 25% from 4 Aug 2025 at every site")
    assert "every site" not in text.drift_message(_run(run_median=7.5, sites=("P1", "P2")))
    empty = text.drift_message(_run(run_missing=0.45))
    assert "arrives empty 45% of the time (was 2%)" in empty and "at P1" in empty
    recoded = text.drift_message(
        _run(kind="categorical", top_value="KG", ref_share=0.1, run_share=0.7, ref_median=None)
    )
    assert "'KG' makes up 70% (was 10%)" in recoded
    new_codes = text.drift_message(
        _run(kind="categorical", top_value="new", ref_share=0.0, run_share=0.35)
    )
    assert "never seen in the reference window make up 35%" in new_codes
    rare = text.drift_message(
        _run(kind="categorical", top_value="other", ref_share=0.1, run_share=0.4)
    )
    assert "rare in the reference window make up 40% (was 10%)" in rare
    small = text.drift_message(  # a 40-code field whose mix moved a little everywhere
        _run(kind="categorical", top_value="BIN-12", ref_share=0.04, run_share=0.03)
    )
    assert "distribution changed (PSI 0.50)" in small and "BIN-12" not in small
    spread = text.drift_message(_run(run_median=10.2))  # same median, other shape
    assert "distribution changed (PSI 0.50)" in spread


# --- the planted problems of a generated log ---------------------------------------------


@pytest.fixture(scope="module", params=[0, 1])
def planted(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    log = md.make_log(seed=request.param)
    return run_monitor(
        log["recommendations"],
        log["decisions"],
        log["outcomes"],
        reference=default_reference(md.GO_LIVE),
    )


def _since(alert: dict) -> date:
    return date.fromisoformat(alert["since"])


def test_planted_definition_change_is_found_and_stable_features_are_not(planted) -> None:  # type: ignore[no-untyped-def]
    drift = [a for a in planted.alerts if a["kind"] == "feature_drift"]
    assert [a["feature"] for a in drift] == ["f_lead_time_days"]
    alert = drift[0]
    assert abs((_since(alert) - md.DRIFT_START).days) <= 14
    assert alert["value"] >= 0.2 and alert["threshold"] == 0.2
    assert "rose" in alert["message"] and "at every site" in alert["message"]
    assert alert["site"] is None  # every site, not one
    summary = planted.drift.summary.set_index("feature")
    for feat in md.STABLE_FEATURES:
        assert summary.loc[feat, "psi_max"] < 0.2
    assert summary.loc["f_abc_class", "test"] == "chi2"
    assert summary.loc["f_lead_time_days", "test"] == "ks"
    assert summary.loc["f_lead_time_days", "p_value"] < 1e-6


def test_over_confident_version_is_found_from_its_start(planted) -> None:  # type: ignore[no-untyped-def]
    cal = [a for a in planted.alerts if a["kind"] == "calibration"]
    assert [a["model_version"] for a in cal] == ["m2"]
    assert 0 <= (_since(cal[0]) - md.V2_START).days <= 42
    assert "over-confident" in cal[0]["message"]
    table = planted.calibration.set_index("model_version")
    assert table.loc["m1", "ece"] < 0.08 < table.loc["m2", "ece_low"]
    by_site = planted.calibration_by_site
    assert set(by_site["site"]) == set(md.SITES) and set(by_site["rec_type"]) == {"stockout_risk"}
    assert (by_site["n"] >= 50).all()


def test_override_rate_jump_is_found_at_its_type_and_site_only(planted) -> None:  # type: ignore[no-untyped-def]
    acc = [a for a in planted.alerts if a["kind"] == "acceptance_drift"]
    assert [(a["rec_type"], a["site"]) for a in acc] == [md.JUMP]
    assert abs((_since(acc[0]) - md.JUMP_START).days) <= 14
    assert "much more" in acc[0]["message"]


def test_alerts_have_the_cli_shape_and_acknowledged_keys_stick() -> None:
    log = md.make_log(seed=2)
    args = (log["recommendations"], log["decisions"], log["outcomes"])
    ref = default_reference(md.GO_LIVE)
    first = run_monitor(*args, reference=ref)
    assert first.alerts and not any(a["acknowledged"] for a in first.alerts)
    drift_key = next(a["key"] for a in first.alerts if a["kind"] == "feature_drift")
    again = run_monitor(*args, reference=ref, acknowledged={drift_key})
    marked = {a["key"]: a["acknowledged"] for a in again.alerts}
    assert marked[drift_key] is True and sum(marked.values()) == 1
    payload = again.to_json()
    assert set(payload) == {"reference", "alerts", "calibration", "drift"}
    assert payload["reference"] == {"from": "2025-01-06", "to": "2025-03-02"}
    assert all(tuple(a) == ALERT_FIELDS for a in payload["alerts"])
    assert set(payload["calibration"]["m2"]) == {"ece", "brier", "false_positive_rate", "n"}
    assert set(payload["drift"]["f_demand_cv"]) == {"psi_latest", "psi_max"}


def test_false_positive_alert_when_a_version_cries_wolf() -> None:
    rng = np.random.default_rng(7)
    n = 4000
    start = pd.Timestamp("2025-01-06", tz="UTC")
    created = start + pd.to_timedelta(np.sort(rng.uniform(0, 20 * 7 * 86400, n)), unit="s")
    late = created >= start + pd.Timedelta(weeks=10)
    score = rng.uniform(0.5, 0.9, n)  # every one an alarm
    # m1 is right 70% of the time; m2 (from week 10) 25%: three alarms in four are false.
    stockout = rng.uniform(size=n) < np.where(late, 0.25, 0.7)
    recs = pd.DataFrame(
        {
            "rec_id": [f"r{i}" for i in range(n)], "rec_type": "s", "site": "P1",
            "created_at": created.astype("datetime64[us, UTC]"), "score": score,
            "model_version": np.where(late, "m2", "m1"),
        }
    )  # fmt: skip
    outcomes = pd.DataFrame({"rec_id": recs["rec_id"], "stockout": stockout})
    decisions = pd.DataFrame({"rec_id": [], "decision": []})
    report = run_monitor(recs, decisions, outcomes, reference=default_reference(date(2025, 1, 6)))
    fp = [a for a in report.alerts if a["kind"] == "false_positives"]
    assert [a["model_version"] for a in fp] == ["m2"]
    assert fp[0]["since"] == "2025-03-17"  # m2's first week (week 10)
    assert fp[0]["value"] == pytest.approx(0.75, abs=0.05)
    assert fp[0]["threshold"] == pytest.approx(0.3 + 0.1, abs=0.05)
    assert report.reference_fpr == pytest.approx(0.3, abs=0.05)


@pytest.mark.parametrize("n", [0, 1, 5])
def test_too_little_data_says_not_enough_data(n: int) -> None:
    log = md.make_log(weeks=2, per_week=1)
    recs = log["recommendations"].head(n)
    ids = set(recs["rec_id"])
    report = run_monitor(
        recs,
        log["decisions"][log["decisions"]["rec_id"].isin(ids)],
        log["outcomes"][log["outcomes"]["rec_id"].isin(ids)],
        reference=Reference(md.GO_LIVE, md.GO_LIVE + timedelta(days=55)),
        calibration_types=["stockout_risk"],
    )
    assert report.alerts == []
    assert any(text.NOT_ENOUGH in note for note in report.notes)
    payload = report.to_json()
    assert payload["alerts"] == []
    assert all(v["psi_latest"] is None for v in payload["drift"].values())


# --- the digest's model-health section ---------------------------------------------------


def test_digest_lists_open_model_health_alerts() -> None:
    from analytics.governance.digest import build_digest, digest_payload, digest_text

    ts = pd.Timestamp("2025-01-06 08:00", tz="UTC")
    recs = pd.DataFrame(
        {
            "rec_id": ["r1"], "rec_type": ["stockout_risk"], "site": ["P1"], "sku": ["A"],
            "signal_at": [ts], "created_at": [ts], "est_impact_usd": [10.0],
        }
    )  # fmt: skip
    decisions = pd.DataFrame(columns=["rec_id", "decided_at", "decided_by", "decision"])
    owners = pd.DataFrame(columns=["rec_type", "site", "owner", "escalation_to", "sla_hours"])
    alert = {
        "key": "acceptance_drift|expedite|P3|||2025-06-02",
        "kind": "acceptance_drift",
        "since": "2025-06-02",
        "message": "Planners override expedite at P3 much more since 2 Jun 2025: 61% of 545 …",
    }
    without = build_digest(recs, decisions, owners, now=ts)
    assert "model_health" not in without  # the monitor did not run: nothing claimed
    d = build_digest(recs, decisions, owners, now=ts, model_alerts=[alert])
    assert d["model_health"] == [{k: alert[k] for k in ("kind", "since", "message")}]
    assert "Model health alerts" in digest_text(d) and "expedite at P3" in digest_text(d)
    assert d["digest_id"] != without["digest_id"]
    recount = dict(alert, message=alert["message"].replace("545", "561"))  # a day later
    same = build_digest(recs, decisions, owners, now=ts, model_alerts=[recount])
    assert same["digest_id"] == d["digest_id"]
    none_open = build_digest(recs, decisions, owners, now=ts, model_alerts=[])
    assert "No open model-health alert." in digest_text(none_open)
    assert digest_payload(d)["digest"]["model_health"][0]["kind"] == "acceptance_drift"


def test_psi_groups_rare_categories_so_a_long_code_list_is_not_noise() -> None:
    rng = np.random.default_rng(0)
    codes = [f"BIN-{i:02d}" for i in range(40)]
    ref = pd.Series(rng.choice(codes, 4000))
    cur = pd.Series(rng.choice(codes, 150))  # same distribution, one small week
    assert psi(ref, cur) < 0.2
    # Hand-worked: a (90%) has a bin; b and c (5% each... b 6%, c 4%): b a bin, c "other".
    ref = pd.Series(["a"] * 90 + ["b"] * 6 + ["c"] * 4)
    cur = pd.Series(["a"] * 50 + ["c"] * 25 + ["z"] * 25)  # c is rare, z is new
    # Bins a, b, other, new, missing: ref .90, .06, .04, 0, 0; cur .50, 0, .25, .25, 0.
    expected = (
        (0.90 - 0.50) * math.log(0.90 / 0.50)
        + (0.06 - EPS) * math.log(0.06 / EPS)
        + (0.04 - 0.25) * math.log(0.04 / 0.25)
        + (EPS - 0.25) * math.log(EPS / 0.25)
    )
    assert psi(ref, cur) == pytest.approx(expected)


def test_pre_ai_exceptions_are_not_judged_for_calibration() -> None:
    ts = pd.Timestamp("2025-01-06", tz="UTC")
    recs = pd.DataFrame(
        {
            "rec_id": ["a", "b"], "rec_type": ["s", "s"], "site": ["P1", "P1"],
            "model_version": ["m1", None], "created_at": [ts, ts], "score": [0.9, 0.9],
        }
    )  # fmt: skip
    outcomes = pd.DataFrame({"rec_id": ["a", "b"], "stockout": [True, False]})
    judged = judged_set(recs, pd.DataFrame({"rec_id": [], "decision": []}), outcomes, types=["s"])
    assert list(judged["rec_id"]) == ["a"]


def test_charts_show_what_they_say(planted) -> None:  # type: ignore[no-untyped-def]
    from analytics.monitoring import charts
    from analytics.monitoring.calibration import reliability

    ref = planted.reference
    spec = charts.psi_spec(planted.drift.weekly, feature="f_lead_time_days", reference=ref,
                           threshold=0.2)  # fmt: skip
    band, line, over, rule = (layer["data"]["values"] for layer in spec["layer"])
    past = [w["psi"] for w in over]
    assert len(past) >= 2 and min(past) >= 0.2  # the weeks past the threshold, marked
    assert len(past) == sum(w["psi"] >= 0.2 for w in line) < len(line)
    assert rule == [{"threshold": 0.2}]
    assert band[0]["start"] == str(ref.start) and line[0]["week"] >= band[0]["start"]
    points = {v: reliability(g) for v, g in planted.judged.groupby("model_version")}
    rel = charts.reliability_figure(points)
    assert [t.name for t in rel.data] == ["calibrated", "m1", "m2"]
    acc = charts.override_rate_figure(planted.weekly_overrides, rec_type="expedite", site="P3",
                                      reference=ref)  # fmt: skip
    assert {t.name for t in acc.data} >= {"override rate", "reference rate", "CUSUM up"}
    shares = planted.drift.shares["f_abc_class"]
    dist = charts.distribution_spec(shares, feature="f_abc_class", latest_label="latest week")
    bars = dist["data"]["values"]
    assert [b["bin"] for b in bars if b["window"] == "reference"][:3] == ["A", "B", "C"]
    latest = {b["bin"]: b["share"] for b in bars if b["window"] == "latest week"}
    assert latest == pytest.approx(dict(zip(shares["bin"], shares["latest"], strict=True)))
