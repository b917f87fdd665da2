"""Surrogate SHAP explanations: exactness, the right drivers, the planner's words, precedent."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from analytics.explain.charts import dependence_figure, drivers_figure, waterfall_spec
from analytics.explain.explanation import (
    NotExplainable,
    RecNotFound,
    dependence,
    drivers_report,
    explain_rec,
    explain_report,
    fidelity_warning,
    fit_surrogates,
    global_drivers,
    waterfall_steps,
)
from analytics.explain.picker import filter_pick_list, pick_list
from analytics.explain.precedent import (
    build_precedent_index,
    decision_lookup,
    find_precedents,
)
from analytics.explain.rule_match import matching_rules
from analytics.explain.surrogates import model_target, stratified_sample
from analytics.explain.text import (
    explain_sentence,
    feature_label,
    format_value,
    type_label,
    typical_values,
)
from analytics.shared.forecast_value import unit_gain as value_added
from store.db import dispose_engine, get_engine
from store.ingest.load import load_bundle
from store.ingest.sample import SAMPLE_BUNDLE
from store.reads import clear_memo, load_frames

TS = "datetime64[us, UTC]"


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def _synthetic(n: int = 1500, seed: int = 0) -> SimpleNamespace:
    """Two types with known score functions, noise columns, a categorical driver.

    stockout_risk: score = sigmoid(2 - 0.45·days_of_cover + 1.5·[abc_class == A])
    supplier_delay: score = sigmoid(-2 + 8·(1 - supplier_otd_pct/100))
    f_noise_a and f_bin_code never enter a score. Rows 0..9 of stockout_risk are
    dominated by days of cover (0.05 days, every other driver at its median).
    """
    rng = np.random.default_rng(seed)
    rtype = np.where(np.arange(n) % 3 == 0, "supplier_delay", "stockout_risk")
    days = rng.gamma(2.0, 4.0, n)
    otd = rng.uniform(50, 100, n)
    abc = rng.choice(["A", "B", "C"], n)
    stock = np.flatnonzero(rtype == "stockout_risk")
    dominant = stock[:10]
    days[dominant] = 0.05
    abc[dominant] = "B"
    z = np.where(
        rtype == "stockout_risk",
        2 - 0.45 * days + 1.5 * (abc == "A"),
        -2 + 8 * (1 - otd / 100),
    )
    created = pd.Timestamp("2025-01-01", tz="UTC") + pd.to_timedelta(np.arange(n), unit="h")
    recs = pd.DataFrame(
        {
            "rec_id": pd.array([f"R{i:05d}" for i in range(n)], dtype="string"),
            "rec_type": pd.Categorical(rtype),
            "signal_at": created.astype(TS),
            "created_at": created.astype(TS),
            "site": pd.Categorical(np.where(np.arange(n) % 2 == 0, "P100", "P200")),
            "supplier": pd.Categorical([f"SUP-{i % 4}" for i in range(n)]),
            "recommended_qty": np.full(n, 100.0),
            "confidence": np.full(n, np.nan),
            "score": _sigmoid(z),
            "est_impact_usd": rng.uniform(10, 1000, n),
            "f_abc_class": pd.Categorical(abc),
            "f_bin_code": pd.Categorical(rng.choice([f"BIN-{i}" for i in range(8)], n)),
            "f_days_of_cover": days,
            "f_noise_a": rng.normal(0, 1, n),
            "f_supplier_otd_pct": otd,
        }
    )
    decided = np.arange(n) < n - 50
    decisions = pd.DataFrame(
        {
            "rec_id": recs["rec_id"][decided].reset_index(drop=True),
            "decision": pd.array(
                np.where(np.arange(decided.sum()) % 4 == 0, "modified", "accepted")
            ),
            "decided_by": pd.array(["ana"] * int(decided.sum()), dtype="string"),
            "reason": pd.array(
                np.where(np.arange(decided.sum()) % 4 == 0, "supplier late", None), dtype="string"
            ),
            "final_qty": np.where(np.arange(decided.sum()) % 4 == 0, 80.0, 100.0),
        }
    )
    outcomes = pd.DataFrame({"rec_id": decisions["rec_id"], "actual_qty": 85.0, "stockout": False})
    return SimpleNamespace(
        recommendations=recs,
        decisions=decisions,
        outcomes=outcomes,
        dominant=recs["rec_id"].iloc[dominant].tolist(),
    )


@pytest.fixture(scope="module")
def synth() -> SimpleNamespace:
    return _synthetic()


@pytest.fixture(scope="module")
def synth_model(synth: SimpleNamespace):  # noqa: ANN201
    return fit_surrogates(synth, random_state=0)


# --- surrogate ----------------------------------------------------------------------------
def test_additivity_base_plus_shap_equals_prediction(synth, synth_model) -> None:
    for rec_type, tm in synth_model.types.items():
        rows = synth.recommendations[synth.recommendations["rec_type"] == rec_type]
        sv = tm.shap_values(rows)
        np.testing.assert_allclose(tm.base_value + sv.sum(axis=1), tm.predict(rows), atol=1e-6)
    ex = explain_rec(synth_model, synth, "R00001")
    assert ex.base_value + ex.contributions["shap"].sum() == pytest.approx(ex.prediction, abs=1e-6)


def test_true_drivers_rank_above_irrelevant_features(synth_model) -> None:
    stock = [d["feature"] for d in drivers_report(synth_model, rec_type="stockout_risk")["drivers"]]
    assert stock.index("f_days_of_cover") == 0
    # the categorical driver, coded as ordinal, still outranks every irrelevant column
    irrelevant = ["f_noise_a", "f_bin_code", "f_supplier_otd_pct"]
    assert stock.index("f_abc_class") < min(stock.index(f) for f in irrelevant)
    supp = [d["feature"] for d in drivers_report(synth_model, rec_type="supplier_delay")["drivers"]]
    assert supp[0] == "f_supplier_otd_pct"


def test_fidelity_is_reported_and_high_on_a_learnable_score(synth_model) -> None:
    for tm in synth_model.types.values():
        assert tm.fidelity_r2 > 0.95
        assert tm.n_test > 0 and tm.strategy in ("per_type", "pooled")
    report = drivers_report(synth_model)
    assert set(report) == {"fidelity_r2", "drivers"}
    values = [d["mean_abs_shap"] for d in report["drivers"]]
    assert values == sorted(values, reverse=True)


def test_pooled_strategy_is_exact_and_shows_the_type_as_an_input(synth) -> None:
    model = fit_surrogates(synth, strategy="pooled")
    assert {m.strategy for m in model.types.values()} == {"pooled"}
    ex = explain_rec(model, synth, "R00003")  # a supplier delay
    assert "rec_type" in set(ex.contributions["feature"])
    row = ex.contributions.set_index("feature").loc["rec_type"]
    assert row["value"] == "supplier_delay" and row["label"] == "recommendation type"
    assert ex.base_value + ex.contributions["shap"].sum() == pytest.approx(ex.prediction, abs=1e-6)
    assert "recommendation type" not in ex.sentence


def test_low_fidelity_warns_plainly() -> None:
    assert fidelity_warning(0.95) is None
    assert "Low fidelity" in fidelity_warning(0.42)
    assert "0.42" in fidelity_warning(0.42)
    # a score that is pure noise cannot be reproduced from the snapshot
    s = _synthetic(n=600, seed=3)
    rng = np.random.default_rng(9)
    noisy = s.recommendations.assign(score=rng.uniform(0, 1, len(s.recommendations)))
    model = fit_surrogates(noisy, strategy="per_type")
    ex = explain_rec(
        model,
        SimpleNamespace(recommendations=noisy, decisions=s.decisions, outcomes=s.outcomes),
        "R00001",
    )
    assert ex.fidelity_r2 < 0.8 and ex.warning is not None


def test_dominant_driver_is_the_top_contribution(synth, synth_model) -> None:
    for rec_id in synth.dominant:
        ex = explain_rec(synth_model, synth, rec_id)
        assert ex.contributions["feature"].iloc[0] == "f_days_of_cover"
        assert ex.sentence.startswith("Fired mainly because days of cover is 0.05 (typical for ")


def test_explain_report_has_exactly_the_cli_shape(synth, synth_model) -> None:
    report = explain_report(synth_model, synth, "R01000")
    assert set(report) == {
        "rec_id",
        "base_value",
        "prediction",
        "fidelity_r2",
        "contributions",
        "sentence",
        "precedents",
    }
    assert all(set(c) == {"feature", "value", "typical", "shap"} for c in report["contributions"])
    assert all(
        set(p) == {"rec_id", "decision", "reason", "value_added"} for p in report["precedents"]
    )
    shap = [abs(c["shap"]) for c in report["contributions"]]
    assert shap == sorted(shap, reverse=True)
    json.dumps(report)  # JSON-able as is
    raw = synth.recommendations.set_index("rec_id").loc["R01000"]
    by_feature = {c["feature"]: c["value"] for c in report["contributions"]}
    assert by_feature["f_abc_class"] == raw["f_abc_class"]  # the raw category, not its code
    assert by_feature["f_days_of_cover"] == pytest.approx(raw["f_days_of_cover"])


def test_unknown_and_unexplainable_recs_are_refused(synth, synth_model) -> None:
    with pytest.raises(RecNotFound):
        explain_rec(synth_model, synth, "NOPE")
    few = synth.recommendations.copy()
    few["rec_type"] = few["rec_type"].cat.add_categories("maintenance")
    few.loc[few.index[:5], "rec_type"] = "maintenance"
    model = fit_surrogates(few, strategy="per_type")
    assert "maintenance" in model.skipped
    with pytest.raises(NotExplainable, match="only 5 recommendations"):
        explain_rec(
            model,
            SimpleNamespace(
                recommendations=few, decisions=synth.decisions, outcomes=synth.outcomes
            ),
            "R00000",
        )


def test_target_falls_back_to_confidence_per_type() -> None:
    recs = pd.DataFrame(
        {
            "rec_type": pd.Categorical(["a", "a", "b", "b"]),
            "score": [0.2, np.nan, np.nan, np.nan],
            "confidence": [0.9, 0.8, 0.7, np.nan],
        }
    )
    assert model_target(recs).tolist() == ["score", "score", "confidence", "confidence"]


def test_stratified_sample_keeps_each_type_and_site_share() -> None:
    n_a, n_b = 900, 100
    recs = pd.DataFrame(
        {
            "rec_type": ["a"] * n_a + ["b"] * n_b,
            "site": (["x", "y"] * (n_a // 2)) + (["x", "y"] * (n_b // 2)),
        }
    )
    pos = stratified_sample(recs, max_rows=100, random_state=1, min_per_type=10)
    picked = recs.iloc[pos]
    # share 100/1000 in every (type, site) cell: 45 + 45 + 5 + 5
    assert picked.groupby(["rec_type", "site"]).size().tolist() == [45, 45, 5, 5]
    np.testing.assert_array_equal(
        pos, stratified_sample(recs, max_rows=100, random_state=1, min_per_type=10)
    )
    # a small type keeps at least min_per_type rows
    pos = stratified_sample(recs, max_rows=100, random_state=1, min_per_type=40)
    assert (recs.iloc[pos]["rec_type"] == "b").sum() == 40


def test_waterfall_pools_the_rest(synth, synth_model) -> None:
    ex = explain_rec(synth_model, synth, "R00001")
    steps = waterfall_steps(ex, top=2)
    assert (
        len(steps) == 3 and steps["label"].iloc[-1] == f"{len(ex.contributions) - 2} other features"
    )
    assert ex.base_value + steps["shap"].sum() == pytest.approx(ex.prediction, abs=1e-6)


# --- the planner's words --------------------------------------------------------------------
def test_feature_names_and_values_in_planner_units() -> None:
    assert feature_label("f_supplier_otd_pct") == "supplier on-time delivery"
    assert feature_label("f_days_of_cover") == "days of cover"
    assert feature_label("f_on_hand_qty") == "on-hand quantity"
    assert feature_label("f_vibration_mm_s") == "vibration"
    assert format_value("f_supplier_otd_pct", 62.4) == "62%"
    assert format_value("f_supplier_otd_pct", 0.62, pct_fraction=True) == "62%"
    assert format_value("f_days_of_cover", 2.14) == "2.1"
    assert format_value("f_lead_time_days", 40.0) == "40 days"
    assert format_value("f_vibration_mm_s", 4.25) == "4.2 mm/s"
    assert format_value("f_on_hand_qty", 1250.0) == "1,250"
    assert format_value("f_abc_class", "A") == "A"
    assert format_value("f_noise_a", np.nan) == "n/a"
    assert type_label("stockout_risk", plural=True) == "stockout risks"
    assert type_label("maintenance", plural=True) == "maintenance recommendations"


def test_sentence_names_top_drivers_with_their_values() -> None:
    contrib = pd.DataFrame(
        {
            "feature": ["f_days_of_cover", "f_supplier_otd_pct", "f_lead_time_days", "f_noise_a"],
            "value": [2.1, 62.0, 40.0, 0.3],
            "typical": [11.4, 81.0, 30.0, 0.0],
            "shap": [0.30, 0.10, -0.08, 0.001],
        }
    )
    text = explain_sentence(
        contrib, rec_type="stockout_risk", site="P100", prediction=0.82, base_value=0.5
    )
    assert text == (
        "Fired mainly because days of cover is 2.1 (typical for P100 stockout risks: 11.4) "
        "and supplier on-time delivery is 62% (typical: 81%). "
        "Holding it back: lead time is 40 days (typical: 30 days)."
    )
    # a runner-up under a quarter of the top push is not named
    small = contrib.assign(shap=[0.30, 0.05, -0.01, 0.001])
    assert (
        explain_sentence(
            small, rec_type="stockout_risk", site="P100", prediction=0.84, base_value=0.5
        )
        == "Fired mainly because days of cover is 2.1 (typical for P100 stockout risks: 11.4)."
    )
    below = contrib.assign(shap=[-0.30, 0.02, -0.01, 0.0])
    assert explain_sentence(
        below, rec_type="stockout_risk", site="P100", prediction=0.21, base_value=0.5
    ) == (
        "Scored below a typical stockout risk (0.21 vs 0.50) mainly because days of cover is 2.1 "
        "(typical for P100 stockout risks: 11.4)."
    )


def test_typical_is_median_and_percentile_among_same_type_and_site() -> None:
    recs = pd.DataFrame(
        {
            "rec_type": pd.Categorical(["s", "s", "s", "s", "s", "t"]),
            "site": pd.Categorical(["P1", "P1", "P1", "P1", "P2", "P1"]),
            "f_days_of_cover": [1.0, 2.0, 3.0, 10.0, 99.0, 99.0],
            "f_abc_class": pd.Categorical(["B", "A", "B", "A", "C", "C"]),
        }
    )
    t = typical_values(recs, recs.iloc[1], ["f_days_of_cover", "f_abc_class"]).set_index("feature")
    assert t.loc["f_days_of_cover", "typical"] == 2.5  # median of 1, 2, 3, 10
    assert t.loc["f_days_of_cover", "percentile"] == 50.0  # 2 of 4 peers at or below 2.0
    assert t.loc["f_days_of_cover", "n_peers"] == 4
    assert t.loc["f_abc_class", "typical"] == "A"  # A and B tie twice: the first name wins
    assert t.loc["f_abc_class", "value"] == "A"


# --- precedent ------------------------------------------------------------------------------
def test_value_added_is_the_contract_definition() -> None:
    # |100 - 85| - |80 - 85| = 10: the planner's 80 ended closer to the 85 needed
    np.testing.assert_allclose(
        value_added([100, 100, 50], [80, 100, 0], [85, 85, np.nan]), [10, 0, np.nan]
    )


def test_precedents_are_past_same_type_and_nearest_first(synth, synth_model) -> None:
    recs = synth.recommendations.copy()
    # R01400 (open, late) gets exactly the snapshot of R00016 (an early modified stockout risk)
    src = recs.index[recs["rec_id"] == "R00016"][0]
    dst = recs.index[recs["rec_id"] == "R01400"][0]
    assert recs.loc[src, "rec_type"] == recs.loc[dst, "rec_type"] == "stockout_risk"
    for f in [c for c in recs.columns if c.startswith("f_")]:
        recs.loc[dst, f] = recs.loc[src, f]
    frames = SimpleNamespace(
        recommendations=recs, decisions=synth.decisions, outcomes=synth.outcomes
    )
    index = build_precedent_index(frames, synth_model)
    lookup = decision_lookup(frames)
    prec = find_precedents(index, recs.loc[[dst]], lookup, k=5)
    assert prec["rec_id"].iloc[0] == "R00016"
    assert prec["distance"].iloc[0] == pytest.approx(0.0, abs=1e-6)
    assert prec["decision"].iloc[0] == "modified" and prec["reason"].iloc[0] == "supplier late"
    assert prec["value_added"].iloc[0] == pytest.approx(10.0)  # |100-85| - |80-85|
    assert (prec["created_at"] < recs.loc[dst, "created_at"]).all()
    assert prec["distance"].is_monotonic_increasing
    types = recs.set_index("rec_id").loc[prec["rec_id"], "rec_type"]
    assert (types == "stockout_risk").all()
    # the first recommendation of a type has no precedent
    assert find_precedents(index, recs.iloc[[1]], lookup, k=5).empty
    # open neighbours are skipped: only decided recommendations are precedents
    assert set(prec["rec_id"]) <= set(synth.decisions["rec_id"])


def test_matching_rules_checks_every_condition() -> None:
    rec = pd.Series(
        {
            "rec_type": "stockout_risk",
            "site": "P100",
            "supplier": "SUP-017",
            "created_at": pd.Timestamp("2025-11-03 10:00", tz="UTC"),  # a Monday in Q4
        }
    )
    rules = [
        {"id": 1, "conditions": {"supplier": "SUP-017", "quarter": "Q4"}},
        {"id": 2, "conditions": {"supplier": "SUP-017", "quarter": "Q1"}},
        {"id": 3, "conditions": {"weekday": "Mon", "month": "Nov"}},
        {"id": 4, "conditions": {"decided_by": "ana"}},
    ]
    assert [r["id"] for r in matching_rules(rules, rec)] == [1, 3]
    assert [r["id"] for r in matching_rules(rules, rec, decided_by="ana")] == [1, 3, 4]


# --- the generated sample bundle (known score drivers and dominant rows) -------------------
@pytest.fixture(scope="module")
def bundle_frames(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    folder = tmp_path_factory.mktemp("explain_bundle")
    bundle = SAMPLE_BUNDLE
    if not (bundle / "recommendations.csv").exists():  # until the bundle is committed
        from sample_data.generate import generate_bundle

        bundle = folder / "bundle"
        generate_bundle(bundle, rows=20_000, seed=0)
    url = f"sqlite:///{folder / 'store.db'}"
    engine = get_engine(url)
    load_bundle(bundle, engine=engine, role="admin")
    frames = load_frames(engine)
    yield frames, Path(bundle) / "truth"
    dispose_engine(url)
    clear_memo()


@pytest.fixture(scope="module")
def bundle_model(bundle_frames):  # noqa: ANN201
    return fit_surrogates(bundle_frames[0], random_state=0)


def test_bundle_true_drivers_rank_above_irrelevant(bundle_frames, bundle_model) -> None:
    truth = json.loads((bundle_frames[1] / "score_drivers.json").read_text())
    for rec_type, t in truth.items():
        assert bundle_model.types[rec_type].fidelity_r2 >= 0.8
        drivers = drivers_report(bundle_model, rec_type=rec_type)["drivers"]
        imp = {d["feature"]: d["mean_abs_shap"] for d in drivers}
        lowest_true = min(imp[f] for f in t["drivers"])
        highest_irrelevant = max(imp.get(f, 0.0) for f in t["irrelevant"])
        assert lowest_true > highest_irrelevant, rec_type
        assert [d["feature"] for d in drivers[: len(t["drivers"])]] == t["drivers"], rec_type


def test_bundle_dominant_driver_is_top_contribution(bundle_frames, bundle_model) -> None:
    frames, truth = bundle_frames
    dom = pd.read_csv(truth / "dominant_driver.csv")
    recs = frames.recommendations.set_index("rec_id", drop=False).loc[dom["rec_id"]]
    misses = []
    for rec_type, rows in recs.groupby("rec_type", observed=True):
        tm = bundle_model.types[str(rec_type)]
        sv = tm.shap_values(rows)
        np.testing.assert_allclose(tm.base_value + sv.sum(axis=1), tm.predict(rows), atol=1e-6)
        top = np.array(tm.features)[np.argmax(np.abs(sv), axis=1)]
        expected = dom.set_index("rec_id").loc[rows["rec_id"], "feature"].to_numpy()
        misses += list(rows["rec_id"][top != expected])
    assert not misses, f"{len(misses)} of {len(dom)} dominant rows: {misses[:5]}"


def test_bundle_sentence_names_the_dominant_driver_with_its_value(
    bundle_frames, bundle_model
) -> None:
    frames, truth = bundle_frames
    dom = pd.read_csv(truth / "dominant_driver.csv").iloc[::25]
    index = build_precedent_index(frames, bundle_model)
    lookup = decision_lookup(frames)
    recs = frames.recommendations.set_index("rec_id")
    for rec_id, feature in zip(dom["rec_id"], dom["feature"], strict=True):
        ex = explain_rec(bundle_model, frames, rec_id, index=index, lookup=lookup)
        raw = recs.loc[rec_id, feature]
        phrase = f"{feature_label(feature)} is {format_value(feature, raw)} (typical for "
        assert ex.sentence.startswith("Fired mainly because " + phrase), ex.sentence
        assert ex.base_value + ex.contributions["shap"].sum() == pytest.approx(
            ex.prediction, abs=1e-6
        )
        assert (ex.precedents["created_at"] < recs.loc[rec_id, "created_at"]).all()


def test_pick_list_orders_by_impact_and_filters_open_ones() -> None:
    recs = pd.DataFrame(
        {
            "rec_id": pd.array(["R1", "R2", "R3", "R4"], dtype="string"),
            "rec_type": pd.Categorical(["stockout_risk", "stockout_risk", "expedite", "expedite"]),
            "site": pd.Categorical(["P100", "P200", "P100", "P100"]),
            "sku": pd.Categorical(["SKU-1", "SKU-22", None, "SKU-9"]),
            "supplier": pd.Categorical(["SUP-017", "SUP-002", "SUP-017", None]),
            "created_at": pd.Series(pd.date_range("2026-01-01", periods=4, tz="UTC")).astype(TS),
            "est_impact_usd": [50.0, np.nan, 900.0, 300.0],
        }
    )
    owners = pd.DataFrame(
        {
            "rec_type": ["stockout_risk", "stockout_risk", "expedite"],
            "site": ["*", "P200", "*"],
            "owner": ["ana", "bo", "cy"],
            "escalation_to": [None, None, None],
            "sla_hours": [24.0, 24.0, 8.0],
        }
    )
    decisions = pd.DataFrame({"rec_id": ["R3"], "decision": ["accepted"]})
    table = pick_list(SimpleNamespace(recommendations=recs, decisions=decisions, owners=owners))
    assert table["rec_id"].tolist() == ["R3", "R4", "R1", "R2"]  # impact desc, missing last
    assert table["owner"].tolist() == ["cy", "cy", "ana", "bo"]  # exact site beats "*"
    assert filter_pick_list(table)["rec_id"].tolist() == ["R4", "R1", "R2"]  # open only
    assert filter_pick_list(table, query="sup-017", open_only=False)["rec_id"].tolist() == [
        "R3",
        "R1",
    ]
    assert filter_pick_list(table, query="sku-2")["rec_id"].tolist() == ["R2"]
    assert filter_pick_list(table, owner="ana")["rec_id"].tolist() == ["R1"]
    assert filter_pick_list(table, rec_type="expedite", site="P100")["rec_id"].tolist() == ["R4"]


def test_figures_start_at_the_base_and_end_at_the_prediction(synth, synth_model) -> None:
    ex = explain_rec(synth_model, synth, "R00001")
    steps = waterfall_steps(ex, top=3)
    spec = waterfall_spec(steps, base_value=ex.base_value, prediction=ex.prediction)
    rows = spec["data"]["values"]
    # The x axis holds every bar, and room right of the rightmost one for its value label.
    lo, hi = spec["layer"][0]["encoding"]["x"]["scale"]["domain"]
    edges = [v for r in rows for v in (r["start"], r["end"])]
    assert lo <= min(edges) and hi > max(edges) + 0.1 * (max(edges) - min(edges))
    assert [r["kind"] for r in rows][0] == "start" and rows[-1]["kind"] == "total"
    assert rows[0]["start"] == 0 and rows[0]["end"] == pytest.approx(ex.base_value)
    assert rows[-1]["start"] == 0 and rows[-1]["end"] == pytest.approx(ex.prediction)
    assert [r["label"] for r in rows[1:4]] == steps["label"].tolist()[:3]
    for before, step, shap in zip(rows[:-2], rows[1:-1], steps["shap"], strict=True):
        # each step starts where the one above ended and moves by its SHAP value
        assert step["start"] == pytest.approx(before["end"])
        assert step["end"] - step["start"] == pytest.approx(shap)
        assert step["kind"] == ("up" if shap >= 0 else "down")
    assert rows[-2]["end"] == pytest.approx(ex.prediction)  # exact SHAP: the steps add up
    drivers = drivers_figure(global_drivers(synth_model, rec_type="stockout_risk"))
    assert drivers.data[0].y[0] == "days of cover"
    cat = dependence(synth_model, "stockout_risk", "f_abc_class")
    assert set(cat["value"].astype(str)) <= {"A", "B", "C"}  # raw categories, not codes
    assert len(dependence_figure(cat, feature="f_abc_class").data[0].x) == len(cat)


def test_a_log_without_snapshot_explains_nothing_and_says_why() -> None:
    recs = _synthetic(n=200).recommendations
    bare = recs[[c for c in recs.columns if not c.startswith("f_")]]
    model = fit_surrogates(bare)
    assert model.types == {} and set(model.skipped) == {"stockout_risk", "supplier_delay"}
    assert "no f_* feature snapshot" in model.skipped["stockout_risk"]
    assert drivers_report(model) == {"fidelity_r2": None, "drivers": []}
