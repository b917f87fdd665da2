"""Reason themes: normalisation, clustering, the no-reason bucket, views, and the planted truth."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from analytics.overrides.analysis import override_themes, theme_assignments
from analytics.overrides.log import decided_log
from analytics.overrides.theme_views import capture_gap, theme_concentration, theme_trend
from analytics.overrides.themes import (
    NO_REASON_ID,
    NO_REASON_LABEL,
    fit_themes,
    normalize_reasons,
    number_tokens,
)
from store.db import dispose_engine, get_engine
from store.ingest.load import load_bundle
from store.reads import clear_memo, load_frames

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data" / "bundle"

SUPPLIER = [
    "sup017 late again Q4", "SUP-017 slips in Q4, order extra", "supplier 017 late every winter",
    "sup 017 slips every Dec", "sup017 late in Q4 PO#48213", "SUP017 alwys late Q4",
    "sup-017 late q4 - pad qty", "Lieferant SUP017 im Q4 zu spät",
]  # fmt: skip
CUSTOMER = [
    "cust042 cancels wk6", "CUST-042 always cancels in week 6", "customer 042 inflates order",
    "cust 042 cancels the difference wk 6", "cust042 inflated order, cancels", "CUST-042 cancls wk6",
    "cliente CUST-042 cancela semana 6", "customer 042 over-orders then cancels",
]  # fmt: skip


def test_normalize_keeps_short_codes_and_drops_noise() -> None:
    raw = pd.Series(
        ["  SUP-017 slips, PO#12345! ", "Linie 7 im Rückstand", None, "  ", "S&OP call"]
    )
    out = normalize_reasons(raw).tolist()
    assert out == ["sup 017 slips po", "linie 7 im ruckstand", "", "", "s&op call"]


def test_two_clear_themes_and_a_visible_no_reason_bucket() -> None:
    reasons = pd.Series(SUPPLIER + CUSTOMER + [None, "", "   "], dtype="string")
    model = fit_themes(reasons, random_state=0)
    ids = model.theme_id
    assert list(ids[-3:]) == [NO_REASON_ID] * 3
    sup, cust = set(ids[: len(SUPPLIER)]), set(ids[len(SUPPLIER) : -3])
    assert len(sup) == 1 and len(cust) == 1 and sup != cust
    table = model.themes.set_index("theme_id")
    assert table.at[NO_REASON_ID, "label"] == NO_REASON_LABEL
    assert table.at[NO_REASON_ID, "size"] == 3
    assert table["size"].sum() == len(reasons)
    assert table["share"].sum() == pytest.approx(1.0)
    sup_label = table.at[sup.pop(), "label"]
    cust_label = table.at[cust.pop(), "label"]
    assert "017" in sup_label or "late" in sup_label
    assert "042" in cust_label or "cancels" in cust_label
    # representatives are reasons as typed, from the theme itself
    for tid, reps in zip(table.index, table["representatives"], strict=True):
        if tid != NO_REASON_ID:
            assert reps and all(r in set(reasons.dropna()) for r in reps)


def test_same_input_any_order_same_themes() -> None:
    reasons = pd.Series(SUPPLIER + CUSTOMER + ["manual adj", "manual adj", "adj per planner"])
    first = fit_themes(reasons, random_state=3)
    again = fit_themes(reasons, random_state=3)
    np.testing.assert_array_equal(first.theme_id, again.theme_id)
    pd.testing.assert_frame_equal(first.themes, again.themes)
    order = np.random.default_rng(1).permutation(len(reasons))
    shuffled = fit_themes(reasons.iloc[order].reset_index(drop=True), random_state=3)
    assert adjusted_rand_score(first.theme_id[order], shuffled.theme_id) == pytest.approx(1.0)


def test_only_empty_reasons_give_only_the_no_reason_bucket() -> None:
    model = fit_themes(pd.Series([None, "", " "], dtype="string"))
    assert list(model.theme_id) == [NO_REASON_ID] * 3
    assert model.themes["theme_id"].tolist() == [NO_REASON_ID]


def _frames(reasons: list[str | None], *, planner: list[str], month: list[str]) -> SimpleNamespace:
    n = len(reasons)
    ids = [f"R{i:03d}" for i in range(n)]
    created = pd.to_datetime([f"2026-{m}-05T10:00:00Z" for m in month]).astype(
        "datetime64[us, UTC]"
    )
    recs = pd.DataFrame(
        {
            "rec_id": pd.array(ids, dtype="string"),
            "rec_type": pd.Categorical(["stockout_risk"] * n),
            "site": pd.Categorical(["P1"] * n),
            "created_at": created,
            "recommended_qty": np.full(n, 100.0),
        }
    )
    dec = pd.DataFrame(
        {
            "rec_id": pd.array(ids, dtype="string"),
            "decided_at": created,
            "decided_by": pd.Categorical(planner),
            "decision": pd.Categorical(["modified"] * n),
            "final_qty": np.full(n, 120.0),
            "reason": pd.array(reasons, dtype="string"),
        }
    )
    outcomes = pd.DataFrame({"rec_id": pd.array([], dtype="string")})
    return SimpleNamespace(recommendations=recs, decisions=dec, outcomes=outcomes)


def test_views_capture_gap_trend_and_concentration_by_hand() -> None:
    reasons = SUPPLIER[:4] + [None, None] + CUSTOMER[:4]
    planner = ["ann"] * 4 + ["bob"] * 2 + ["bob"] * 4
    month = ["01"] * 3 + ["02"] * 3 + ["02"] * 4
    frames = _frames(reasons, planner=planner, month=month)
    log = decided_log(frames)
    model, theme_id = override_themes(log)
    log = log.assign(theme_id=theme_id)

    gap = capture_gap(log).iloc[0]
    assert (gap["n_overrides"], gap["no_reason"], gap["gap"]) == (10, 2, pytest.approx(0.2))
    by_planner = capture_gap(log, by="decided_by").set_index("decided_by")
    assert by_planner.at["bob", "gap"] == pytest.approx(2 / 6)
    assert by_planner.at["ann", "gap"] == 0.0

    trend = theme_trend(log, labels=model.labels())
    assert trend.groupby("month")["share"].sum().tolist() == pytest.approx([1.0, 1.0])
    jan = trend[trend["month"] == pd.Timestamp("2026-01-01")].set_index("theme_id")
    sup_theme = int(theme_id[0])
    assert jan.at[sup_theme, "n"] == 3 and jan.at[sup_theme, "share"] == pytest.approx(1.0)

    conc = theme_concentration(log, labels=model.labels(), min_count=1)
    row = conc[(conc["theme_id"] == sup_theme) & (conc["attribute"] == "decided_by")].iloc[0]
    # the supplier theme is all ann's: 4/4 of the theme vs 4/10 overall -> lift 2.5
    assert (row["value"], row["n"], row["share"], row["share_all"], row["lift"]) == (
        "ann",
        4,
        1.0,
        pytest.approx(0.4),
        pytest.approx(2.5),
    )


@pytest.fixture(scope="module")
def sample_frames(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    url = f"sqlite:///{tmp_path_factory.mktemp('themes') / 'sample.db'}"
    engine = get_engine(url)
    load_bundle(SAMPLE, engine=engine, role="admin")
    yield load_frames(engine)
    dispose_engine(url)
    clear_memo()


def test_sample_bundle_themes_match_the_planted_themes(sample_frames: object) -> None:
    rows = theme_assignments(sample_frames)
    assert list(rows.columns) == ["rec_id", "theme_id", "theme_label"]
    truth = pd.read_csv(SAMPLE / "truth" / "override_themes.csv")
    # one row per override with a reason: exactly the truth's rows
    assert sorted(rows["rec_id"]) == sorted(truth["rec_id"])
    ours = rows.set_index("rec_id").loc[truth["rec_id"], "theme_id"]
    assert adjusted_rand_score(truth["theme"], ours) >= 0.8
    again = theme_assignments(sample_frames)
    pd.testing.assert_frame_equal(rows, again)


def test_a_rule_written_in_another_language_joins_its_theme(sample_frames: object) -> None:
    """The German and Spanish reasons of a planted rule share its codes, not its words."""
    rows = theme_assignments(sample_frames).set_index("rec_id")
    truth = pd.read_csv(SAMPLE / "truth" / "override_themes.csv").set_index("rec_id")
    joined = truth.join(rows)
    planted = joined[joined["theme"] != "noise"]
    for rule, group in planted.groupby("theme"):
        # every planted rule is one theme, and no theme mixes two rules
        assert group["theme_id"].nunique() == 1, (rule, group["theme_id"].value_counts())
    assert planted.groupby("theme_id")["theme"].nunique().max() == 1


def test_number_tokens_drop_leading_zeros() -> None:
    assert number_tokens("lieferant sup017 im q4") == ["#17", "#4"]
    assert number_tokens("linie 7 l07") == ["#7", "#7"]
    assert number_tokens("no numbers") == []
