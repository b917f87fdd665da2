"""Executive KPIs against values worked out by hand on a tiny log (go-live 2025-03-01).

Recommendations (S = stockout_risk, E = expedite; hours after midnight of the signal day):

=====  ====  ====  ==============  =======  ===========================  ==================
rec    type  site  signal          created  decision (decided)           det / lat / resp h
=====  ====  ====  ==============  =======  ===========================  ==================
R1     S     A     02-01 00:00     +2       accepted  (+10)              2 / 10 / 8
R2     S     A     02-02 00:00     +4       modified  (+20)              4 / 20 / 16
R3     S     B     02-03 00:00     +1       rejected  (+30)              1 / 30 / 29
R4     E     A     02-04 00:00     +6       expired   (+30)              excluded
R5     E     B     02-05 00:00     +3       open                         3 / – / –
R7     E     A     02-28 23:00     +2       accepted  (+4)               2 / 4 / 2   (baseline
                                                                         by signal_at, though
                                                                         created after go-live)
R6     S     A     03-01 00:00     +0.5     accepted  (+4.5)             0.5 / 4.5 / 4
R8     S     B     03-02 00:00     +2       modified  (+8)               2 / 8 / 6
R10    S     A     03-02 10:00     +1       open, SLA ran out            1 / – / –
R9     S     A     03-03 00:00     +1       open, inside SLA at log end  1 / – / –
=====  ====  ====  ==============  =======  ===========================  ==================

Owners: (S, *, sla 12), (S, B, sla 48), (E, A, sla 24); no row for E at B.
The log ends at 03-03 01:00 (R9's created_at).
"""

from __future__ import annotations

import json
from datetime import date

import numpy as np
import pandas as pd
import pytest

from analytics.baseline import groups as kpi_groups
from analytics.baseline import kpis
from analytics.baseline.bootstrap import (
    ProportionSample,
    QuantileSample,
    RatioSample,
    delta_interval,
)
from analytics.baseline.compare import (
    IMPROVED,
    NOISE,
    NOT_ENOUGH,
    WORSE,
    compare_kpi,
    compare_periods,
    expedite_money,
    kpi_export,
    kpi_report,
    with_targets,
)
from analytics.baseline.groups import baseline_band, weekly_trend
from analytics.baseline.late_cost import LATE_KEYS
from analytics.baseline.report_html import kpi_report_html
from analytics.baseline.targets import DEFAULT_TARGETS, meets_target, resolve_targets, target_gap
from analytics.shared.lookups import id_positions
from contract.frames import Frames
from contract.tables import TABLES

GO_LIVE = date(2025, 3, 1)
KPI_KEYS = [k.key for k in kpis.KPIS]
VALUE_KEYS = [*KPI_KEYS, "n_decisions", "n_order_lines"]


def typed(table: str, rows: list[dict]) -> pd.DataFrame:
    """A frame with the store's dtypes (store/schema.py) from plain values."""
    spec = TABLES[table]
    raw = pd.DataFrame(rows, columns=spec.column_names)
    out = {}
    for col in spec.columns:
        s = raw[col.name]
        if col.kind in ("timestamp", "date"):
            out[col.name] = pd.to_datetime(s, utc=True).astype("datetime64[us, UTC]")
        elif col.kind in ("category", "enum"):
            out[col.name] = s.astype("string").astype("category")
        elif col.kind == "float":
            out[col.name] = s.astype("float64")
        elif col.kind == "int":
            out[col.name] = s.astype("Int64")
        elif col.kind == "bool":
            out[col.name] = s.astype("boolean")
        else:
            out[col.name] = s.astype("string")
    return pd.DataFrame(out)


def rec(rec_id, rec_type, site, signal, created_h):
    signal = pd.Timestamp(signal, tz="UTC")
    return {
        "rec_id": rec_id,
        "rec_type": rec_type,
        "site": site,
        "signal_at": signal,
        "created_at": signal + pd.Timedelta(hours=created_h),
    }


def dec(rec_id, signal, decided_h, decision):
    at = pd.Timestamp(signal, tz="UTC") + pd.Timedelta(hours=decided_h)
    return {"rec_id": rec_id, "decided_at": at, "decided_by": "p", "decision": decision}


S, E = "stockout_risk", "expedite"
REC_ROWS = [
    rec("R1", S, "A", "2025-02-01", 2),
    rec("R2", S, "A", "2025-02-02", 4),
    rec("R3", S, "B", "2025-02-03", 1),
    rec("R4", E, "A", "2025-02-04", 6),
    rec("R5", E, "B", "2025-02-05", 3),
    rec("R6", S, "A", "2025-03-01", 0.5),
    rec("R7", E, "A", "2025-02-28 23:00", 2),
    rec("R8", S, "B", "2025-03-02", 2),
    rec("R10", S, "A", "2025-03-02 10:00", 1),
    rec("R9", S, "A", "2025-03-03", 1),
]
DEC_ROWS = [
    dec("R1", "2025-02-01", 10, "accepted"),
    dec("R2", "2025-02-02", 20, "modified"),
    dec("R3", "2025-02-03", 30, "rejected"),
    dec("R4", "2025-02-04", 30, "expired"),
    dec("R6", "2025-03-01", 4.5, "accepted"),
    dec("R7", "2025-02-28 23:00", 4, "accepted"),
    dec("R8", "2025-03-02", 8, "modified"),
]
OWNER_ROWS = [
    {"rec_type": S, "site": "*", "owner": "own1", "sla_hours": 12},
    {"rec_type": S, "site": "B", "owner": "own2", "sla_hours": 48},
    {"rec_type": E, "site": "A", "owner": "own3", "sla_hours": 24},
]


def line(order_id, site, promised, delivered, qty, qty_delivered):
    return {
        "order_id": order_id,
        "line": "1",
        "site": site,
        "qty_ordered": qty,
        "promised_date": pd.Timestamp(promised, tz="UTC"),
        "delivered_date": None if delivered is None else pd.Timestamp(delivered, tz="UTC"),
        "qty_delivered": qty_delivered,
    }


ORDER_ROWS = [
    line("O1", "A", "2025-02-10", "2025-02-09", 10, 10),  # OTIF
    line("O2", "A", "2025-02-10", "2025-02-11", 10, 10),  # late
    line("O3", "B", "2025-02-12", "2025-02-12", 10, 8),  # short
    line("O4", "A", "2025-02-15", None, 10, None),  # undelivered: outside OTIF
    line("O8", "A", "2025-02-28", "2025-03-03", 10, 10),  # baseline by promised date, late
    line("O5", "A", "2025-03-05", "2025-03-05", 5, 5),  # OTIF
    line("O6", "A", "2025-03-10", "2025-03-01", 5, 6),  # early and over: OTIF
    line("O7", "A", "2025-03-20", None, 5, None),  # undelivered
]


def period(start, site, cogs, expedite, events, revenue=None):
    return {
        "period_start": pd.Timestamp(start, tz="UTC"),
        "site": site,
        "cogs_usd": cogs,
        "expedite_usd": expedite,
        "stockout_events": events,
        "revenue_usd": revenue,
    }


PERIOD_ROWS = [
    period("2025-01-27", "A", 1000, 50, 2),  # a partial January still counts as a month
    period("2025-02-03", "A", 1000, 30, 1),
    period("2025-02-03", "B", 2000, 20, 0),
    period("2025-02-24", "A", None, 10, 3),  # no COGS: outside expedite, inside stockouts
    period("2025-03-03", "A", 1000, 10, 1, 10_000),
    period("2025-04-07", "A", 2000, 30, 2, 20_000),
    period("2025-05-05", "A", 1000, 20, None, 10_000),  # no events: May is not a stockout month
]


def make_frames(**drop: bool) -> Frames:
    tables = {
        "recommendations": typed("recommendations", REC_ROWS),
        "decisions": typed("decisions", DEC_ROWS),
        "outcomes": typed("outcomes", []),
        "orders": typed("orders", ORDER_ROWS),
        "kpi_periods": typed("kpi_periods", PERIOD_ROWS),
        "owners": typed("owners", OWNER_ROWS),
    }
    for name, gone in drop.items():
        if gone:
            tables[name] = typed(name, [])
    return Frames(**tables, version="test")


@pytest.fixture(scope="module")
def report() -> dict:
    return kpi_report(make_frames(), go_live=GO_LIVE)


def test_report_has_exactly_the_cli_shape(report):
    assert list(report) == ["go_live", "baseline", "current", "change", "by_type", "money_at_risk"]
    assert report["go_live"] == "2025-03-01"
    assert list(report["baseline"]) == VALUE_KEYS + list(LATE_KEYS)
    assert list(report["current"]) == VALUE_KEYS + list(LATE_KEYS)
    assert list(report["change"]) == KPI_KEYS + list(LATE_KEYS)
    for change in report["change"].values():
        assert list(change) == ["delta", "ci_low", "ci_high", "verdict"]
    assert list(report["by_type"]) == [E, S]
    assert list(report["by_type"][S]) == ["baseline", "current"]
    assert list(report["by_type"][S]["current"]) == VALUE_KEYS + list(LATE_KEYS)
    assert json.loads(json.dumps(report, allow_nan=False)) == report  # strict JSON, no NaN


def test_baseline_latencies_exclude_expired_and_split_by_signal_time(report):
    b = report["baseline"]
    # decision latency over R1, R2, R3, R7: [4, 10, 20, 30]; R4 expired is excluded.
    assert b["decision_latency_median_h"] == pytest.approx(15.0)
    assert b["decision_latency_p90_h"] == pytest.approx(27.0)  # 20 + 0.7 · 10
    # detection over R1, R2, R3, R5 (open), R7: [1, 2, 2, 3, 4]
    assert b["detection_latency_median_h"] == pytest.approx(2.0)
    # response over R1, R2, R3, R7: [2, 8, 16, 29]
    assert b["response_time_median_h"] == pytest.approx(12.0)
    assert b["n_decisions"] == 5  # R1, R2, R3, R4 (expired), R7


def test_current_latencies(report):
    c = report["current"]
    assert c["decision_latency_median_h"] == pytest.approx(6.25)
    assert c["decision_latency_p90_h"] == pytest.approx(7.65)  # 4.5 + 0.9 · 3.5
    assert c["detection_latency_median_h"] == pytest.approx(1.0)  # [0.5, 1, 1, 2]
    assert c["response_time_median_h"] == pytest.approx(5.0)
    assert c["n_decisions"] == 2


def test_sla_uses_most_specific_owner_row_and_counts_expired_as_breach(report):
    # R1 met (8 ≤ 12), R2 not (16 > 12), R3 met against its exact-site 48 h (not '*' 12 h),
    # R4 expired = breach, R7 met (2 ≤ 24); R5 has no owner row and is outside the rate.
    assert report["baseline"]["sla_met_rate"] == pytest.approx(3 / 5)
    # R6, R8 met; R10 open past its 12 h SLA = breach; R9 open inside its SLA = left out.
    assert report["current"]["sla_met_rate"] == pytest.approx(2 / 3)


def test_override_rate_ignores_expired(report):
    assert report["baseline"]["override_rate"] == pytest.approx(2 / 4)  # R2, R3 of R1 R2 R3 R7
    assert report["current"]["override_rate"] == pytest.approx(1 / 2)


def test_otif_over_delivered_lines_by_promised_date(report):
    assert report["baseline"]["otif"] == pytest.approx(1 / 4)  # O1 of O1 O2 O3 O8
    assert report["baseline"]["n_order_lines"] == 4
    assert report["current"]["otif"] == pytest.approx(1.0)  # O5, O6; O7 undelivered
    assert report["current"]["n_order_lines"] == 2


def test_expedite_and_stockouts_per_month(report):
    assert report["baseline"]["expedite_pct_cogs"] == pytest.approx(2.5)  # 100 / 4000
    assert report["current"]["expedite_pct_cogs"] == pytest.approx(1.5)  # 60 / 4000
    # baseline: 6 events over {Jan, Feb}; current: 3 events over {Mar, Apr}.
    assert report["baseline"]["stockouts_per_month"] == pytest.approx(3.0)
    assert report["current"]["stockouts_per_month"] == pytest.approx(1.5)


def test_by_type_holds_recommendation_figures_only(report):
    base_e = report["by_type"][E]["baseline"]
    assert base_e["decision_latency_median_h"] == pytest.approx(4.0)  # R7 only
    assert base_e["sla_met_rate"] == pytest.approx(1 / 2)  # R4 breach, R7 met
    assert base_e["n_decisions"] == 2
    assert base_e["otif"] is None and base_e["n_order_lines"] is None
    cur_e = report["by_type"][E]["current"]
    assert cur_e["decision_latency_median_h"] is None and cur_e["n_decisions"] == 0
    assert report["by_type"][S]["baseline"]["decision_latency_median_h"] == pytest.approx(20.0)


def test_tiny_samples_are_not_enough_data(report):
    for key, change in report["change"].items():
        if key == "expedite_pct_cogs":  # 3 period rows a side: the minimum for a verdict
            continue
        assert change["verdict"] == NOT_ENOUGH
        assert change["ci_low"] is None and change["ci_high"] is None
    expedite = report["change"]["expedite_pct_cogs"]
    assert expedite["delta"] == pytest.approx(-1.0)
    assert expedite["ci_low"] <= -1.0 <= expedite["ci_high"]
    assert expedite["verdict"] in (IMPROVED, NOISE)
    assert report["change"]["otif"]["delta"] == pytest.approx(0.75)
    assert report["change"]["decision_latency_median_h"]["delta"] == pytest.approx(-8.75)


def test_site_filter_applies_to_every_table():
    r = kpi_report(make_frames(), go_live=GO_LIVE, site="B")
    assert r["baseline"]["decision_latency_median_h"] == pytest.approx(30.0)  # R3
    assert r["baseline"]["otif"] == pytest.approx(0.0)  # O3 short
    assert r["baseline"]["expedite_pct_cogs"] == pytest.approx(1.0)  # 20 / 2000
    assert r["current"]["otif"] is None and r["current"]["n_order_lines"] == 0
    assert list(r["by_type"]) == [E, S]


def test_empty_current_period_gives_nulls_not_errors():
    r = kpi_report(make_frames(), go_live=date(2026, 1, 1))
    assert all(r["current"][k] is None for k in KPI_KEYS)
    assert r["current"]["n_decisions"] == 0 and r["current"]["n_order_lines"] == 0
    assert r["baseline"]["n_decisions"] == 7
    assert all(c["delta"] is None and c["verdict"] == NOT_ENOUGH for c in r["change"].values())


@pytest.mark.parametrize(
    ("missing", "gone"),
    [
        ("orders", ["otif"]),
        ("kpi_periods", ["expedite_pct_cogs", "stockouts_per_month"]),
        ("owners", ["sla_met_rate"]),
        (
            "decisions",
            [
                "decision_latency_median_h",
                "decision_latency_p90_h",
                "response_time_median_h",
                "sla_met_rate",
                "override_rate",
            ],
        ),
    ],
)
def test_missing_table_gives_null_and_says_what_to_load(missing, gone):
    frames = make_frames(**{missing: True})
    r = kpi_report(frames, go_live=GO_LIVE)
    for key in gone:
        assert r["baseline"][key] is None and r["current"][key] is None
    kept = [k for k in KPI_KEYS if k not in gone]
    assert all(r["baseline"][k] is not None for k in kept)
    if missing == "orders":
        assert r["baseline"]["n_order_lines"] is None
    if missing == "decisions":
        assert r["baseline"]["n_decisions"] is None
        assert r["by_type"][S]["baseline"]["n_decisions"] is None
    table = compare_periods(kpis.kpi_tables(frames), go_live=GO_LIVE).set_index("kpi")
    for key in gone:
        assert table.loc[key, "note"] == f"not available — load {missing}.csv"
    assert (table.loc[kept, "note"] == "").all()


def test_inputs_are_not_modified():
    frames = make_frames()
    before = {name: getattr(frames, name).copy() for name in ("recommendations", "decisions")}
    kpi_report(frames, go_live=GO_LIVE)
    for name, frame in before.items():
        pd.testing.assert_frame_equal(getattr(frames, name), frame)


def test_breakdown_by_site_matches_hand_values():
    tables = kpis.kpi_tables(make_frames())
    table = kpi_groups.kpi_breakdown(tables, go_live=GO_LIVE, by=["site"])
    row = table[(table["site"] == "A") & (table["period"] == "baseline")].iloc[0]
    # A baseline: R1, R2, R4 (expired), R7 -> latencies [4, 10, 20]
    assert row["n_recs"] == 4 and row["n_decisions"] == 4
    assert row["decision_latency_median_h"] == pytest.approx(10.0)
    assert row["sla_met_rate"] == pytest.approx(2 / 4)  # R1, R7 met; R2 late; R4 expired
    assert row["otif"] == pytest.approx(1 / 3)  # O1 of O1 O2 O8
    assert row["expedite_pct_cogs"] == pytest.approx(4.0)  # 80 / 2000
    assert row["stockouts_per_month"] == pytest.approx(3.0)  # (2 + 1 + 3) / {Jan, Feb}
    by_owner = kpi_groups.kpi_breakdown(tables, go_live=GO_LIVE, by=["owner"])
    own2 = by_owner[by_owner["owner"] == "own2"]  # S at B: R3 baseline, R8 current
    assert own2["decision_latency_median_h"].tolist() == pytest.approx([30.0, 8.0])
    assert "otif" not in by_owner.columns


def test_weekly_trend_and_baseline_band():
    tables = kpis.kpi_tables(make_frames())
    trend = kpi_groups.weekly_trend(tables)
    lat = trend[trend["kpi"] == "decision_latency_median_h"].set_index("period_start")
    # R1 (Sat 02-01) and R2 (Sun 02-02) fall in the week of Monday 01-27.
    assert lat.loc[pd.Timestamp("2025-01-27", tz="UTC"), "value"] == pytest.approx(15.0)
    assert lat.loc[pd.Timestamp("2025-01-27", tz="UTC"), "n"] == 2
    stock = trend[trend["kpi"] == "stockouts_per_month"].set_index("period_start")["value"]
    assert stock.to_dict() == {
        pd.Timestamp("2025-01-01", tz="UTC"): 2.0,
        pd.Timestamp("2025-02-01", tz="UTC"): 4.0,
        pd.Timestamp("2025-03-01", tz="UTC"): 1.0,
        pd.Timestamp("2025-04-01", tz="UTC"): 2.0,
    }
    band = kpi_groups.baseline_band(trend, go_live=GO_LIVE).set_index("kpi")
    # Months wholly before go-live: Jan (2) and Feb (4).
    assert band.loc["stockouts_per_month", "median"] == pytest.approx(3.0)
    assert band.loc["stockouts_per_month", "q25"] == pytest.approx(2.5)
    assert band.loc["stockouts_per_month", "n_points"] == 2


def test_expedite_money_and_bps_of_revenue():
    money = expedite_money(kpis.kpi_tables(make_frames()), go_live=GO_LIVE)
    assert money["current_cogs_usd"] == pytest.approx(4000.0)
    assert money["saved_usd"] == pytest.approx(40.0)  # (2.5 % − 1.5 %) × 4000
    assert money["current_revenue_usd"] == pytest.approx(40_000.0)
    assert money["bps_of_revenue"] == pytest.approx(10.0)  # 40 / 40 000 × 10 000


def test_bps_needs_revenue_on_every_current_row():
    rows = [dict(r) for r in PERIOD_ROWS]
    rows[-1]["revenue_usd"] = None
    frames = make_frames()
    frames = Frames(
        **{
            n: getattr(frames, n)
            for n in ("recommendations", "decisions", "outcomes", "orders", "owners")
        },
        kpi_periods=typed("kpi_periods", rows),
        version="t",
    )
    money = expedite_money(kpis.kpi_tables(frames), go_live=GO_LIVE)
    assert money["saved_usd"] == pytest.approx(40.0)
    assert money["bps_of_revenue"] is None


# --- bootstrap and verdicts ---------------------------------------------------------------


def test_quantile_bootstrap_is_the_exact_resampling_distribution():
    # Resamples of [1, 2, 3] are 27 equally likely triples; their median is 1 in 7, 2 in 13,
    # 3 in 7 of them.
    sample = QuantileSample.of(np.array([3.0, 1.0, 2.0, np.nan]), 0.5)
    assert sample.n == 3 and sample.estimate() == 2.0
    draws = sample.resample(200_000, np.random.default_rng(1))
    freq = [np.mean(draws == v) for v in (1.0, 2.0, 3.0)]
    assert freq == pytest.approx([7 / 27, 13 / 27, 7 / 27], abs=0.005)


def test_quantile_bootstrap_interpolates_like_numpy():
    # p90 of two values interpolates: resamples (a,a) a, (b,b) b, mixed a + 0.9 (b − a).
    sample = QuantileSample.of(np.array([0.0, 10.0]), 0.9)
    assert sample.estimate() == pytest.approx(9.0)
    draws = sample.resample(100_000, np.random.default_rng(2))
    assert np.mean(draws == 0.0) == pytest.approx(0.25, abs=0.01)
    assert np.mean(np.isclose(draws, 9.0)) == pytest.approx(0.5, abs=0.01)
    assert set(np.round(draws, 9)) == {0.0, 9.0, 10.0}


def test_ratio_sample_is_sum_over_sum():
    sample = RatioSample(np.array([50.0, 30.0, 20.0]), np.array([1000.0, 1000.0, 2000.0]), 100.0)
    assert sample.estimate() == pytest.approx(2.5)
    draws = sample.resample(5000, np.random.default_rng(0))
    assert draws.min() >= 1.0 and draws.max() <= 5.0  # between the row ratios


def test_bootstrap_interval_is_seeded():
    rng = np.random.default_rng(0)
    base = QuantileSample.of(rng.exponential(10, 100), 0.5)
    cur = QuantileSample.of(rng.exponential(12, 100), 0.5)
    first = delta_interval(base, cur, random_state=3)
    assert delta_interval(base, cur, random_state=3) == first
    assert delta_interval(base, cur, random_state=4) != first
    low, high = first
    assert low < cur.estimate() - base.estimate() < high


@pytest.mark.parametrize(
    ("key", "expected"),
    [("otif", IMPROVED), ("override_rate", WORSE), ("sla_met_rate", IMPROVED)],
)
def test_verdict_is_direction_aware(key, expected):
    change = compare_kpi(kpis.KPI_BY_KEY[key], ProportionSample(50, 100), ProportionSample(90, 100))
    assert change.delta == pytest.approx(0.4)
    assert change.ci_low > 0 and change.verdict == expected


def test_lower_latency_is_improved_and_overlap_is_noise():
    kpi = kpis.KPI_BY_KEY["decision_latency_median_h"]
    rng = np.random.default_rng(0)
    slow, fast = rng.exponential(40, 400), rng.exponential(10, 400)
    assert compare_kpi(kpi, QuantileSample.of(slow, 0.5), QuantileSample.of(fast, 0.5)).verdict == (
        IMPROVED
    )
    same = compare_kpi(kpi, QuantileSample.of(slow[:200], 0.5), QuantileSample.of(slow[200:], 0.5))
    assert same.verdict == NOISE and same.ci_low < 0 < same.ci_high


def test_not_enough_data_below_minimum_sample():
    kpi = kpis.KPI_BY_KEY["otif"]
    change = compare_kpi(kpi, ProportionSample(5, 29), ProportionSample(29, 29))
    assert change.verdict == NOT_ENOUGH and change.delta == pytest.approx(1 - 5 / 29)


# --- targets ------------------------------------------------------------------------------


def test_targets_default_to_practitioner_figures_and_accept_edits():
    assert resolve_targets(None)["decision_latency_median_h"] == 24.0
    assert DEFAULT_TARGETS == {
        "decision_latency_median_h": 24.0,
        "detection_latency_median_h": 4.0,
        "otif": 0.94,
        "expedite_pct_cogs": 3.0,
        "stockouts_per_month": 3.0,
    }
    edited = resolve_targets(
        {"otif": 0.95, "detection_latency_median_h": None, "x": 1, "sla_met_rate": "a"}
    )
    assert edited["otif"] == 0.95
    assert edited["detection_latency_median_h"] is None
    assert edited["sla_met_rate"] is None and "x" not in edited


def test_target_gap_and_direction():
    assert meets_target("stockouts_per_month", 3.0, 3.0) is False  # fewer than 3
    assert meets_target("expedite_pct_cogs", 3.0, 3.0) is True
    assert meets_target("otif", 0.93, 0.94) is False
    assert target_gap(0.93, 0.94) == pytest.approx(-0.01)
    assert meets_target("otif", None, 0.94) is None


def test_report_with_targets_adds_gaps():
    r = kpi_report(make_frames(), go_live=GO_LIVE, targets={"decision_latency_median_h": 6})
    assert r["targets"]["decision_latency_median_h"] == {"target": 6.0, "gap": 0.25, "met": False}
    assert r["targets"]["otif"]["met"] is True


# --- matching decisions to recommendations ---------------------------------------------------


@pytest.mark.parametrize(
    ("recs", "decs", "expected"),
    [
        (["A01", "A02", "A03", "A04"], ["A02", "A04", "A09"], [1, 3, -1]),  # fixed width, sorted
        (["A03", "A01", "A04", "A02"], ["A02", "A04", "A00"], [3, 2, -1]),  # fixed width, unsorted
        (["R1", "R10", "R2"], ["R2", "R10", "R3"], [2, 1, -1]),  # mixed widths: hash lookup
        (["É1", "É2"], ["É2"], [1]),  # non-ASCII bytes
    ],
)
def test_positions_of_decisions_among_recommendations(recs, decs, expected):
    haystack = pd.Series(recs, dtype="string[pyarrow]")
    needles = pd.Series(decs, dtype="string[pyarrow]")
    assert id_positions(haystack, needles).tolist() == expected


# --- export and printable report ----------------------------------------------------------


@pytest.fixture(scope="module")
def page_figures():
    tables = kpis.kpi_tables(make_frames())
    table = with_targets(compare_periods(tables, go_live=GO_LIVE), resolve_targets(None))
    trend = weekly_trend(tables)
    return tables, table, trend, baseline_band(trend, go_live=GO_LIVE)


def test_export_holds_every_figure(page_figures):
    tables, table, _, _ = page_figures
    out = kpi_export(table, expedite_money(tables, go_live=GO_LIVE)).set_index("kpi")
    assert list(out.index[:9]) == KPI_KEYS
    assert out.loc["expedite_saved_usd", "current"] == pytest.approx(40.0)
    assert out.loc["expedite_saved_bps_of_revenue", "current"] == pytest.approx(10.0)
    assert out.loc["otif", "target"] == pytest.approx(0.94)


def test_printable_report_states_range_go_live_and_every_tile(page_figures):
    tables, table, trend, band = page_figures
    html = kpi_report_html(
        table,
        trend,
        band,
        go_live=GO_LIVE,
        go_live_inferred=True,
        data_range=kpis.data_range(tables),
        money=expedite_money(tables, go_live=GO_LIVE),
        scope="all sites, all types",
        generated_at="2025-06-01 09:00 UTC",
        generated_by="ceo",
    )
    assert html.startswith("<!DOCTYPE html>") and "<script" not in html
    assert "Go-live <b>2025-03-01</b> (inferred" in html
    assert "recommendations signalled 2025-02-01 – 2025-03-03 (10)" in html
    assert "KPI periods starting 2025-01-27 – 2025-05-05 (7)" in html
    for kpi in kpis.KPIS:
        assert kpi.label in html
    assert "$40 saved" in html and "+10 bps of revenue" in html
    assert html.count("<svg") == 9
    assert "Generated 2025-06-01 09:00 UTC by ceo" in html


def test_trend_shades_the_weeks_whose_recommendations_are_still_open() -> None:
    from analytics.baseline.charts import trend_figure

    weeks = pd.date_range("2026-09-07", periods=6, freq="7D", tz="UTC")
    trend = pd.DataFrame(
        {
            "kpi": ["sla_met_rate"] * 6 + ["otif"] * 6,
            "period_start": list(weeks) * 2,
            "value": [0.8, 0.8, 0.8, 0.8, 0.1, 0.0] * 2,
            "n": [10] * 12,
        }
    )
    until = pd.Timestamp("2026-10-06", tz="UTC")

    def shaded(kpi: str, decided: pd.Timestamp | None) -> list[dict]:
        fig = trend_figure(trend, kpi=kpi, go_live=date(2026, 1, 1), decisions_until=decided)
        return [s for s in fig.layout.shapes if s.type == "rect" and s.xref == "x"]

    rects = shaded("sla_met_rate", until)
    assert len(rects) == 1
    assert pd.Timestamp(rects[0].x0) == pd.Timestamp("2026-09-29", tz="UTC")
    assert pd.Timestamp(rects[0].x1) == weeks[-1] + pd.Timedelta(days=7)
    assert shaded("otif", until) == []  # OTIF does not wait for a decision
    assert shaded("sla_met_rate", None) == []
    assert shaded("sla_met_rate", pd.Timestamp("2027-01-01", tz="UTC")) == []  # all decided
