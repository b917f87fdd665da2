"""Reason themes: normalisation, clustering, the no-reason bucket, views, and the planted truth."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from analytics.overrides.analysis import override_themes, theme_assignments
from analytics.overrides.log import decided_log
from analytics.overrides.stopwords import STOP_WORDS, guess_language
from analytics.overrides.theme_labels import label_phrase, picked_themes, theme_code, theme_picks
from analytics.overrides.theme_views import capture_gap, theme_concentration, theme_trend
from analytics.overrides.themes import (
    NO_REASON_ID,
    NO_REASON_LABEL,
    OTHER_ID,
    fit_themes,
    min_theme_size,
    normalize_reasons,
    number_tokens,
    strip_stop_words,
)
from store.db import dispose_engine, get_engine
from store.ingest.load import load_bundle
from store.reads import clear_memo, load_frames
from tests.overrides.paraphrase_set import PRACTICES, paraphrase_log

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
    model = fit_themes(reasons, min_size=3, random_state=0)
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
    first = fit_themes(reasons, min_size=2, random_state=3)
    again = fit_themes(reasons, min_size=2, random_state=3)
    np.testing.assert_array_equal(first.theme_id, again.theme_id)
    pd.testing.assert_frame_equal(first.themes, again.themes)
    order = np.random.default_rng(1).permutation(len(reasons))
    shuffled = fit_themes(reasons.iloc[order].reset_index(drop=True), min_size=2, random_state=3)
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
    model, theme_id = override_themes(log, min_size=2)
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


# --- Words nobody predicted: the hand-written paraphrase set (tests/overrides/paraphrase_set.py) -------


@pytest.fixture(scope="module")
def paraphrased() -> tuple[pd.DataFrame, pd.Series]:
    frames, truth = paraphrase_log(seed=0)
    return decided_log(frames), truth


def _fit(log: pd.DataFrame, **kw: object) -> tuple[object, pd.DataFrame]:
    model, theme_id = override_themes(log, **kw)  # type: ignore[arg-type]
    return model, log.assign(theme_id=theme_id)


def test_paraphrased_practices_come_out_as_one_theme_each(paraphrased) -> None:
    log, truth = paraphrased
    model, log = _fit(log)
    ov = log[log["is_override"]].set_index("rec_id")
    planted = truth.reindex(ov.index)
    keep = planted.isin(PRACTICES).to_numpy()
    assert keep.sum() == 6 * 45
    assert adjusted_rand_score(planted[keep], ov["theme_id"][keep]) >= 0.9
    # no two practices share a theme, and no practice is split by language
    by_theme = pd.crosstab(planted[keep], ov["theme_id"][keep])
    assert (by_theme.gt(0).sum(axis=0) == 1).all()
    assert (by_theme.max(axis=1) >= 43).all(), by_theme


def test_labels_say_the_context_and_contain_no_stop_words(paraphrased) -> None:
    log, truth = paraphrased
    model, log = _fit(log)
    labels = model.labels()
    ov = log[log["is_override"]].set_index("rec_id")
    planted = truth.reindex(ov.index)

    def label_of(practice: str) -> str:
        return labels[int(ov["theme_id"][planted == practice].mode().iloc[0])]

    assert label_of("supplier_q4").endswith("SUP-017 · Q4 · +25%")
    assert label_of("key_account").endswith("CUST-042 · -20%")
    assert label_of("machine").endswith("L07 · rejected")
    assert label_of("monday_call").endswith("k.weber · Monday · rejected")
    assert label_of("inventory_goal").endswith("j.nguyen · -30%")
    for tid, label in labels.items():
        if tid in (NO_REASON_ID, OTHER_ID):
            continue
        words = set(normalize_reasons(pd.Series([label])).iloc[0].split())
        assert not words & STOP_WORDS, (label, words & STOP_WORDS)
        assert not re.search(r"\d{4,}", label), label  # no pasted order numbers


def test_representatives_per_language(paraphrased) -> None:
    log, truth = paraphrased
    model, log = _fit(log)
    ov = log[log["is_override"]].set_index("rec_id")
    tid = int(ov["theme_id"][truth.reindex(ov.index) == "supplier_q4"].mode().iloc[0])
    row = model.themes.set_index("theme_id").loc[tid]
    langs = row["by_language"]
    assert {"es", "fr", "it", "pt"} <= set(langs), langs
    assert any("proveedor" in r for r in langs["es"])
    assert any("fornitore" in r for r in langs["it"])
    assert row["established"]


def test_one_odd_reason_changes_no_theme_and_adds_none(paraphrased) -> None:
    log, _ = paraphrased
    model, before = _fit(log)
    odd_frames, _ = paraphrase_log(seed=0)
    dec = odd_frames.decisions
    i = int(np.flatnonzero(dec["decision"].astype(str) == "accepted")[0])
    dec["decision"] = dec["decision"].cat.add_categories([]).astype("string")
    dec.loc[i, "decision"] = "modified"
    dec.loc[i, "final_qty"] = dec.loc[i, "final_qty"] * 1.5 + 1
    dec.loc[i, "reason"] = "the moon is in a funny phase, xyzzy"
    dec["decision"] = pd.Categorical(dec["decision"])
    odd_log = decided_log(odd_frames)
    model2, after = _fit(odd_log, previous=model.memory)
    assert int(after["is_override"].sum()) == int(before["is_override"].sum()) + 1
    merged = before[["rec_id", "theme_id"]].merge(after[["rec_id", "theme_id"]], on="rec_id")
    was = merged["theme_id_x"] >= 0
    assert (merged.loc[was, "theme_id_x"] == merged.loc[was, "theme_id_y"]).all()
    assert set(model2.themes["theme_id"]) <= set(model.themes["theme_id"]) | {OTHER_ID}
    odd_theme = int(
        after.loc[after["reason"] == "the moon is in a funny phase, xyzzy", "theme_id"].iloc[0]
    )
    assert odd_theme in set(model.themes["theme_id"]) | {OTHER_ID}


def test_same_input_same_themes_twice(paraphrased) -> None:
    log, _ = paraphrased
    first, a = _fit(log)
    second, b = _fit(log)
    np.testing.assert_array_equal(a["theme_id"], b["theme_id"])
    pd.testing.assert_frame_equal(first.themes, second.themes)


def test_theme_ids_persist_into_the_next_data_version(paraphrased) -> None:
    log, truth = paraphrased
    order = np.random.default_rng(5).permutation(len(log))
    early = log.iloc[np.sort(order[: int(0.7 * len(order))])].reset_index(drop=True)
    m1, v1 = _fit(early)
    m2, v2 = _fit(log, previous=m1.memory)
    for practice in PRACTICES:
        ids1 = v1.loc[v1["rec_id"].map(truth) == practice, "theme_id"].mode().iloc[0]
        ids2 = v2.loc[v2["rec_id"].map(truth) == practice, "theme_id"].mode().iloc[0]
        assert ids1 == ids2, practice
    # new ids continue after the previous ones instead of reusing them
    new = set(m2.themes["theme_id"]) - set(m1.themes["theme_id"])
    assert all(t > m1.themes["theme_id"].max() for t in new)


def test_minimum_theme_size_by_hand() -> None:
    assert min_theme_size(100) == 10 and min_theme_size(2000) == 10 and min_theme_size(2001) == 11
    nine = ["press jammed again"] * 9 + ["adjusted manually"] * 30 + ["see email"] * 61
    model = fit_themes(pd.Series(nine))  # 100 overrides: 10 needed
    by = dict(zip(nine, model.theme_id, strict=True))
    assert by["press jammed again"] == OTHER_ID
    assert by["adjusted manually"] >= 2 and by["see email"] >= 2
    assert by["adjusted manually"] != by["see email"]
    ten = ["press jammed again"] * 10 + ["adjusted manually"] * 30 + ["see email"] * 60
    model = fit_themes(pd.Series(ten))
    assert model.theme_id[0] >= 2 and len(model.themes) == 4  # no reason, three themes


def test_stop_words_of_every_language_are_stripped() -> None:
    cases = {
        "the supplier is late in the winter": "supplier late winter",
        "der lieferant ist im winter zu spat": "lieferant winter spat",
        "le fournisseur est en retard pour les fetes": "fournisseur retard fetes",
        "el proveedor llega tarde en el invierno": "proveedor llega tarde invierno",
        "il fornitore e in ritardo per natale": "fornitore ritardo natale",
        "o fornecedor esta atrasado no natal": "fornecedor atrasado natal",
    }
    for text, expected in cases.items():
        assert strip_stop_words(text) == expected
    assert label_phrase("SUP-017 slips in the Q4, order extra PO#48213") == (
        "SUP-017 slips Q4, order extra"
    )
    assert guess_language("el proveedor llega tarde".split()) == "es"
    assert guess_language("der lieferant ist zu spat".split()) == "de"


def test_quick_picks_are_established_themes_and_a_pick_files_the_override(paraphrased) -> None:
    log, truth = paraphrased
    model, before = _fit(log)
    picks = theme_picks(model.themes)
    established = model.themes.loc[model.themes["theme_id"] >= 2, "theme_id"]
    assert set(picks) <= {f"THEME-{t}" for t in established}
    assert "THEME-0" not in picks and f"THEME-{OTHER_ID}" not in picks
    assert len(picks) == min(8, len(established))
    ov = before[before["is_override"]].set_index("rec_id")
    machine = int(ov["theme_id"][truth.reindex(ov.index) == "machine"].mode().iloc[0])
    noise_row = ov.index[truth.reindex(ov.index) == "noise"][0]
    assert ov.at[noise_row, "theme_id"] != machine
    # the planner picked the machine theme on a noise-worded override: filed there
    picked = log.copy()
    at = picked.index[picked["rec_id"] == noise_row][0]
    picked["reason_code"] = picked["reason_code"].astype("string")
    picked.loc[at, "reason_code"] = theme_code(machine)
    model2, after = _fit(picked, previous=model.memory)
    assert int(after.loc[at, "theme_id"]) == machine
    assert picked_themes(pd.Series(["THEME-12", "SUPPLY", None, "THEME-x"])).tolist() == [
        12, -1, -1, -1,
    ]  # fmt: skip


def test_theme_memory_round_trips_and_keeps_ids_across_versions(engine, paraphrased) -> None:
    """On SQLite and PostgreSQL: the store keeps the last fit's memory; the next fit reuses it."""
    from flows.overrides import themes as flow_themes
    from store.learning.theme_memory import read_theme_memory, save_theme_memory

    assert read_theme_memory(engine) is None
    small = pd.DataFrame({"reason": ["b", "a"], "context": ["", "R1"], "theme_id": [3, 2]})
    save_theme_memory(engine, small)
    back = read_theme_memory(engine)
    assert back.to_dict("list") == {"reason": ["a", "b"], "context": ["R1", ""], "theme_id": [2, 3]}
    save_theme_memory(engine, small.iloc[:1])  # replaced whole, not appended
    assert len(read_theme_memory(engine)) == 1

    log, truth = paraphrased
    save_theme_memory(engine, small.iloc[:0])
    order = np.random.default_rng(11).permutation(len(log))
    early = log.iloc[np.sort(order[: int(0.6 * len(order))])].reset_index(drop=True)
    _, id1 = flow_themes(early, engine=engine)
    memory = read_theme_memory(engine)
    assert memory is not None and len(memory) > 0
    _, id2 = flow_themes(log, engine=engine)
    for practice in PRACTICES:
        a = pd.Series(id1[early["rec_id"].map(truth).eq(practice).to_numpy()]).mode().iloc[0]
        b = pd.Series(id2[log["rec_id"].map(truth).eq(practice).to_numpy()]).mode().iloc[0]
        assert a == b, practice
