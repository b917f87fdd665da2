"""Tests of the seeded sample-data generator and of the committed bundle.

Small fresh bundles (3,000 recs) check determinism, contract invariants and the
baseline -> current story; the committed 20k bundle checks what needs support
(planted rules, reason themes) and that it still matches its seed.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sample_data.generate import (
    REC_TYPES,
    SCORE_MODEL,
    generate_bundle,
)

ROOT = Path(__file__).resolve().parents[1]
BUNDLE = ROOT / "sample_data" / "bundle"
TABLES = ("recommendations", "decisions", "outcomes", "orders", "kpi_periods", "owners")
GO_LIVE = pd.Timestamp("2025-10-01", tz="UTC")


def _read(folder: Path) -> dict[str, pd.DataFrame]:
    return {t: pd.read_csv(folder / f"{t}.csv") for t in TABLES}


def _ts(values: pd.Series) -> pd.Series:
    # Values without an offset are read as UTC, the bundle's time zone.
    return pd.to_datetime(values, utc=True, format="ISO8601")


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, pd.DataFrame]]:
    out = tmp_path_factory.mktemp("small")
    generate_bundle(out, rows=3000, seed=3)
    return out, _read(out)


@pytest.fixture(scope="module")
def bundle() -> dict[str, pd.DataFrame]:
    return _read(BUNDLE)


def _joined(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Recommendations with their decision and outcome, times parsed, calendar attrs."""
    m = frames["recommendations"].merge(frames["decisions"], on="rec_id", how="left")
    m = m.merge(frames["outcomes"], on="rec_id", how="left")
    for col in ("signal_at", "created_at", "decided_at"):
        m[col] = _ts(m[col])
    # Calendar attributes of created_at, from its local date as written.
    local = pd.to_datetime(frames["recommendations"]["created_at"].str[:10])
    m["quarter"] = "Q" + local.dt.quarter.astype(str)
    m["weekday"] = local.dt.strftime("%a")
    m["month"] = local.dt.strftime("%b")
    m["current"] = m["signal_at"] >= GO_LIVE
    return m


def test_same_seed_gives_identical_files(tmp_path: Path) -> None:
    generate_bundle(tmp_path / "a", rows=1500, seed=11)
    generate_bundle(tmp_path / "b", rows=1500, seed=11)
    generate_bundle(tmp_path / "c", rows=1500, seed=12)
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*.*"))
    assert len(files) == 11
    for f in files:
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes(), f
    a = (tmp_path / "a" / "recommendations.csv").read_bytes()
    assert a != (tmp_path / "c" / "recommendations.csv").read_bytes()


def test_contract_invariants_hold_on_every_row(small: tuple[Path, dict]) -> None:
    _, f = small
    rec, dec, out = f["recommendations"], f["decisions"], f["outcomes"]
    assert len(rec) == 3000
    assert rec["rec_id"].is_unique and dec["rec_id"].is_unique and out["rec_id"].is_unique
    assert dec["rec_id"].isin(rec["rec_id"]).all() and out["rec_id"].isin(rec["rec_id"]).all()
    assert not f["orders"].duplicated(["order_id", "line"]).any()
    assert not f["kpi_periods"].duplicated(["period_start", "site"]).any()
    assert not f["owners"].duplicated(["rec_type", "site"]).any()
    assert set(rec["rec_type"]) == set(REC_TYPES)
    assert set(dec["decision"]) == {"accepted", "modified", "rejected", "expired"}
    assert rec["confidence"].dropna().between(0, 1).all()
    assert rec["score"].between(0, 1).all()
    for col in ("recommended_qty",):
        assert (rec[col].dropna() >= 0).all()
    for col in ("final_qty",):
        assert (dec[col].dropna() >= 0).all()
    assert (out["actual_qty"].dropna() >= 0).all() and (out["expedite_usd"] >= 0).all()
    # Every recommendation timestamp carries its site's offset.
    assert rec["created_at"].str.match(r".*T\d\d:\d\d:\d\d[+-]\d\d:\d\d$").all()
    m = _joined(f)
    assert (m["created_at"] >= m["signal_at"]).all()
    decided = m[m["decision"].notna()]
    assert (decided["decided_at"] >= decided["created_at"]).all()
    mod = decided[(decided["decision"] == "modified") & decided["recommended_qty"].notna()]
    assert mod["final_qty"].notna().all()
    assert set(out["stockout"].dropna()) <= {True, False}
    orders = f["orders"]
    delivered = orders["delivered_date"].notna()
    assert (orders.loc[delivered, "qty_delivered"] >= 0).all()
    assert 0 < (~delivered).sum() < 0.05 * len(orders)
    assert len(orders) <= 1.5 * len(rec)


def test_open_naive_timestamps_and_mixed_units(small: tuple[Path, dict]) -> None:
    out, f = small
    rec, dec = f["recommendations"], f["decisions"]
    open_share = 1 - len(dec) / len(rec)
    assert 0.03 <= open_share < 0.05
    naive = ~dec["decided_at"].str.contains(r"[+-]\d\d:\d\d$")
    assert 0.003 < naive.mean() < 0.02
    meta = json.loads((out / "truth" / "meta.json").read_text())
    assert meta["planted_data_health"]["decided_at_without_offset"] == naive.sum()
    units = rec.dropna(subset=["uom"]).groupby("sku")["uom"].nunique()
    assert (units > 1).sum() >= 3
    assert set(units[units > 1].index) <= set(meta["planted_data_health"]["mixed_uom_skus"])


def test_calendar_attributes_agree_in_local_time_and_utc(small: tuple[Path, dict]) -> None:
    _, f = small
    created = f["recommendations"]["created_at"]
    local = pd.to_datetime(created.str[:10])
    utc = _ts(created)
    assert (local.dt.date == utc.dt.date).all()


def test_baseline_to_current_improves(small: tuple[Path, dict]) -> None:
    _, f = small
    m = _joined(f)
    live = m[m["decision"].notna() & (m["decision"] != "expired")]
    lat = (live["decided_at"] - live["signal_at"]).dt.total_seconds() / 3600
    base, cur = lat[~live["current"]].median(), lat[live["current"]].median()
    assert 60 <= base <= 90 and 12 <= cur <= 20
    det = (m["created_at"] - m["signal_at"]).dt.total_seconds() / 3600
    assert det[~m["current"]].median() > 2 and det[m["current"]].median() < 0.5
    assert det[m["current"]].max() > 24  # a few late feeds
    dec = m[m["decision"].notna()]
    expired = (dec["decision"] == "expired").groupby(dec["current"]).mean()
    assert expired[True] < expired[False]
    o = f["orders"].dropna(subset=["delivered_date"])
    promised, delivered = _ts(o["promised_date"]), _ts(o["delivered_date"])
    ok = (delivered <= promised) & (o["qty_delivered"] >= o["qty_ordered"])
    otif = ok.groupby(promised >= GO_LIVE).mean()
    assert otif[False] == pytest.approx(0.88, abs=0.02)
    assert otif[True] == pytest.approx(0.94, abs=0.015)
    k = f["kpi_periods"]
    k_cur = pd.to_datetime(k["period_start"], utc=True) >= GO_LIVE
    g = k.groupby(k_cur)
    exp = g["expedite_usd"].sum() / g["cogs_usd"].sum()
    assert exp[False] == pytest.approx(0.045, abs=0.004)
    assert exp[True] == pytest.approx(0.028, abs=0.003)
    months = g["period_start"].apply(lambda s: s.str[:7].nunique())
    per_month = g["stockout_events"].sum() / months
    assert per_month[True] < per_month[False]


def test_owners_miss_maintenance_and_quality_hold(small: tuple[Path, dict]) -> None:
    _, f = small
    owners = f["owners"]
    assert not owners["rec_type"].isin(["maintenance", "quality_hold"]).any()
    star = owners[owners["site"] == "*"]
    exact = owners[owners["site"] != "*"]
    assert len(star) >= 2
    assert exact["rec_type"].isin(star["rec_type"]).any()  # exact site overrides a `*` row


def test_score_is_the_documented_function_of_its_drivers(small: tuple[Path, dict]) -> None:
    out, f = small
    rec = f["recommendations"]
    truth = json.loads((out / "truth" / "score_drivers.json").read_text())
    for name, (intercept, terms) in SCORE_MODEL.items():
        sub = rec[rec["rec_type"] == name]
        z = np.full(len(sub), intercept)
        for feat, kind, coef in terms:
            x = sub[feat]
            if kind == "linear":
                z += coef * x.to_numpy(float)
            elif kind == "one_minus_pct":
                z += coef * (1 - x.to_numpy(float) / 100)
            else:
                z += x.map(coef).to_numpy(float)
        np.testing.assert_allclose(1 / (1 + np.exp(-z)), sub["score"], atol=6e-5)
        assert set(truth[name]["drivers"]) == {t[0] for t in terms}
        assert not set(truth[name]["drivers"]) & set(truth[name]["irrelevant"])
        assert {"f_noise_a", "f_noise_b", "f_bin_code"} <= set(truth[name]["irrelevant"])
    dom = pd.read_csv(out / "truth" / "dominant_driver.csv").merge(rec, on="rec_id")
    assert 0.01 < len(dom) / len(rec) < 0.03
    for _, row in dom.iterrows():
        assert row["feature"] in truth[row["rec_type"]]["drivers"]


def _rule_match(m: pd.DataFrame, conditions: dict[str, str]) -> pd.Series:
    mask = pd.Series(True, index=m.index)
    for attr, value in conditions.items():
        mask &= m[attr] == value
    return mask


def test_planted_rules_have_support_and_consistency(bundle: dict[str, pd.DataFrame]) -> None:
    rules = json.loads((BUNDLE / "truth" / "planted_rules.json").read_text())
    assert len(rules) >= 5
    m = _joined(bundle)
    live = m[m["decision"].isin(["accepted", "modified", "rejected"])]
    in_any_rule = pd.Series(False, index=live.index)
    for rule in rules:
        assert 1 <= len(rule["conditions"]) <= 3
        sub = live[_rule_match(live, rule["conditions"])]
        in_any_rule |= _rule_match(live, rule["conditions"])
        adj = (sub["final_qty"] - sub["recommended_qty"]) / sub["recommended_qty"] * 100
        if rule["direction"] == "reject":
            hit = sub["decision"] == "rejected"
        else:
            sign = 1 if rule["direction"] == "increase" else -1
            hit = (sub["decision"] == "modified") & (np.sign(adj) == sign)
            assert adj[hit].median() == pytest.approx(rule["adjustment_pct"], abs=1.0)
            assert adj[hit].quantile(0.9) - adj[hit].quantile(0.1) < 8
        assert hit.sum() >= 60, rule["id"]
        assert 0.82 <= hit.mean() <= 0.97, rule["id"]
        # Value added: the right rules beat the model, the wrong ones lose to it.
        done = sub[hit & sub["actual_qty"].notna()]
        final = done["final_qty"].fillna(0)
        va = (done["recommended_qty"] - done["actual_qty"]).abs().mean() - (
            final - done["actual_qty"]
        ).abs().mean()
        assert (va > 0) == rule["right"], rule["id"]
    # Outside the rules overrides are noise: no (rec_type, site) or planner cell is a rule.
    rest = live[~in_any_rule]
    rest_ov = rest["decision"].isin(["modified", "rejected"])
    for keys in (["rec_type", "site"], ["decided_by", "rec_type"], ["rec_type", "weekday"]):
        rate = rest_ov.groupby([rest[k] for k in keys]).agg(["mean", "size"])
        assert rate.loc[rate["size"] >= 40, "mean"].max() < 0.25, keys
    assert 0.08 <= rest_ov.mean() <= 0.13


def test_override_reasons_and_themes(bundle: dict[str, pd.DataFrame]) -> None:
    dec = bundle["decisions"]
    ov = dec[dec["decision"].isin(["modified", "rejected"])]
    empty = ov["reason"].isna().groupby(ov["decided_by"]).mean()
    assert 0.1 <= ov["reason"].isna().mean() <= 0.4
    assert empty.max() - empty.min() > 0.15  # varies by planner
    assert 0 < ov["reason_code"].notna().mean() < 1
    themes = pd.read_csv(BUNDLE / "truth" / "override_themes.csv")
    assert set(themes["rec_id"]) == set(ov.loc[ov["reason"].notna(), "rec_id"])
    assert set(themes["theme"]) == {"R1", "R2", "R3", "R4", "R5", "noise"}


def test_reason_themes_are_recoverable_by_clustering(bundle: dict[str, pd.DataFrame]) -> None:
    pytest.importorskip("sklearn")
    from scipy.sparse import hstack
    from sklearn.cluster import AgglomerativeClustering
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.metrics import adjusted_rand_score
    from sklearn.preprocessing import normalize

    themes = pd.read_csv(BUNDLE / "truth" / "override_themes.csv")
    t = themes.merge(bundle["decisions"][["rec_id", "reason"]], on="rec_id")
    text = t["reason"].str.lower()
    x = hstack(
        [
            TfidfVectorizer(
                analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True
            ).fit_transform(text),
            TfidfVectorizer(analyzer="word", sublinear_tf=True).fit_transform(text),
        ]
    )
    x = normalize(x.tocsr())
    distance = np.clip(1.0 - (x @ x.T).toarray(), 0.0, None)  # cosine, sparse product
    labels = AgglomerativeClustering(
        n_clusters=t["theme"].nunique(), metric="precomputed", linkage="average"
    ).fit_predict(distance)
    assert adjusted_rand_score(t["theme"], labels) >= 0.8


def test_committed_bundle_matches_its_seed(tmp_path: Path) -> None:
    meta = json.loads((BUNDLE / "truth" / "meta.json").read_text())
    assert meta["rows"] == 20000 and meta["seed"] == 7
    generate_bundle(
        tmp_path,
        rows=meta["rows"],
        seed=meta["seed"],
        start=meta["start"],
        end=meta["end"],
        go_live=meta["go_live"],
    )
    for p in sorted(BUNDLE.rglob("*.*")):
        rel = p.relative_to(BUNDLE)
        assert (tmp_path / rel).read_bytes() == p.read_bytes(), rel
