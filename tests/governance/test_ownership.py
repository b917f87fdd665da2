"""Ownership: editing the matrix in the store, and the SLA / breach / fatigue figures by hand."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine, text

from analytics.governance.breaches import breach_queue, breaches_by_owner
from analytics.governance.fatigue import fatigue_summary, fatigue_weekly
from analytics.governance.ownership import decision_status, sla_rates, unowned_groups
from analytics.governance.ownership_overview import ownership_overview
from store.audit import read_events, verify_chain
from store.db import data_versions
from store.ingest.load import load_bundle
from store.owner_matrix import (
    OwnershipError,
    apply_owner_changes,
    delete_owner,
    diff_matrix,
    make_entry,
    upsert_owner,
)
from store.reads import load_frames
from tests.conftest import write_bundle

RECS_CSV = """rec_id,rec_type,signal_at,created_at,site
r1,stockout_risk,2025-01-01T00:00:00Z,2025-01-01T00:05:00Z,P1
"""
OWNERS_CSV = """rec_type,site,owner,escalation_to,sla_hours
stockout_risk,*,ana, boss ,24
expedite,P1,cy,,
"""


def _owners(engine: Engine) -> pd.DataFrame:
    with engine.connect() as conn:
        return pd.read_sql(
            text(
                "SELECT rec_type, site, owner, escalation_to, sla_hours, batch_id FROM owners ORDER BY 1, 2"
            ),
            conn,
        )


# --- store: edits ---------------------------------------------------------------------
def test_add_edit_delete_are_audited_with_before_and_after(engine: Engine) -> None:
    entry = make_entry("stockout_risk", "P2", "bea", "boss", "12")
    assert upsert_owner(engine, entry, actor="root", role="admin") is True
    assert upsert_owner(engine, entry, actor="root", role="admin") is False  # same values: no event
    upsert_owner(
        engine, make_entry("stockout_risk", "P2", "dan", "boss", 8), actor="root", role="admin"
    )
    delete_owner(engine, "stockout_risk", "P2", actor="root", role="admin")
    events = read_events(engine)
    assert list(events["action"]) == ["ownership_delete", "ownership_edit", "ownership_add"]
    assert set(events["entity_id"]) == {"stockout_risk|P2"}
    edit = events.iloc[1]
    assert '"owner": "bea"' in edit["before"] and '"sla_hours": 12.0' in edit["before"]
    assert '"owner": "dan"' in edit["after"] and '"sla_hours": 8.0' in edit["after"]
    assert pd.isna(events.iloc[0]["after"])
    assert verify_chain(engine).ok
    assert data_versions(engine)["owners"] == 3
    assert _owners(engine).empty


def test_app_rows_hash_like_imported_rows(engine: Engine, tmp_path: Path) -> None:
    """An app edit equal to the file's row re-imports as unchanged; a different one conflicts."""
    bundle = write_bundle(tmp_path / "b", {"recommendations": RECS_CSV, "owners": OWNERS_CSV})
    load_bundle(bundle, engine=engine, actor="t", role="admin")
    # Re-typing the imported values (spaces, "24.0") changes nothing.
    assert not upsert_owner(
        engine, make_entry("stockout_risk", "*", "ana", "boss", "24.0"), actor="root", role="admin"
    )
    upsert_owner(
        engine, make_entry("stockout_risk", "*", "eve", "boss", 24), actor="root", role="admin"
    )
    report = load_bundle(bundle, engine=engine, actor="t", role="admin")
    assert report.unchanged["owners"] == 1
    assert [r["reason"] for r in report.rejected] == [
        "conflicts with the stored row (from the workbench); stored rows are never overwritten"
    ]
    rows = _owners(engine)
    app_row = rows[rows["site"] == "*"].iloc[0]
    assert app_row["owner"] == "eve" and pd.isna(app_row["batch_id"])
    # Put back exactly what the file says: the next import sees it as the same row.
    upsert_owner(
        engine, make_entry("stockout_risk", "*", "ana", "boss", 24), actor="root", role="admin"
    )
    again = load_bundle(bundle, engine=engine, actor="t", role="admin")
    assert again.unchanged["owners"] == 2 and again.rejected == []
    assert load_frames(engine).owners["owner"].astype(str).tolist() == ["cy", "ana"]


def test_changes_are_one_transaction(engine: Engine) -> None:
    with pytest.raises(OwnershipError, match="no ownership row expedite|P9"):
        apply_owner_changes(
            engine,
            upserts=[make_entry("stockout_risk", "*", "ana", "boss", 24)],
            deletes=[("expedite", "P9")],
            actor="root",
            role="admin",
        )
    assert _owners(engine).empty and read_events(engine).empty


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("stockout_risk", "*", "", "boss", 24), "owner required"),
        (("", "*", "ana", "boss", 24), "rec_type required"),
        (("stockout_risk", "*", "ana", "boss", -1), "must be a number >= 0"),
        (("stockout_risk", "*", "ana", "boss", "soon"), "must be a number"),
    ],
)
def test_bad_rows_are_refused(args: tuple, message: str) -> None:
    with pytest.raises(OwnershipError, match=message):
        make_entry(*args)


def test_diff_matrix_from_an_edited_table() -> None:
    current = pd.DataFrame(
        {
            "rec_type": ["stockout_risk", "expedite", "maintenance"],
            "site": ["*", "P1", "*"],
            "owner": ["ana", "cy", "mo"],
            "escalation_to": ["boss", None, "boss"],
            "sla_hours": [24.0, None, 48.0],
        }
    )
    edited = current.copy()
    edited.loc[1, "sla_hours"] = 8  # changed
    edited = edited.drop(index=2)  # removed
    edited.loc[5] = ["quality_hold", "P2", "qi", "boss", 4]  # added
    edited.loc[6] = [None, None, None, None, None]  # blank line from the editor
    upserts, deletes = diff_matrix(current, edited)
    assert [(e.rec_type, e.site, e.sla_hours) for e in upserts] == [
        ("expedite", "P1", 8.0),
        ("quality_hold", "P2", 4.0),
    ]
    assert deletes == [("maintenance", "*")]
    dup = pd.concat([current, current.iloc[[0]]])
    with pytest.raises(OwnershipError, match="appears twice"):
        diff_matrix(current, dup)


# --- analytics: a hand-worked log -------------------------------------------------------
def T(s: str) -> pd.Timestamp:
    return pd.Timestamp(s, tz="UTC")


NOW = T("2025-01-10")


def tiny() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Seven recommendations judged at 2025-01-10 00:00 UTC.

    r1 stockout P1 (owner ana via '*', SLA 24 h) accepted after 10 h -> met
    r2 stockout P2 (owner bea exact, SLA 4 h)    modified after 5 h -> breached
    r3 stockout P1 created 01-09 12:00, open, due 01-10 12:00        -> pending
    r4 stockout P1 created 01-08, open, due 01-09: 24 h overdue, $100 -> breached
    r5 expedite P1 (owner cy, SLA 8 h, no escalation) expired        -> breached
    r6 maintenance P1 (no owner) rejected after 2 h                   -> unowned
    r7 stockout P2 created 01-05, open, due 01-05 04:00: 116 h overdue, $50
    """
    recs = pd.DataFrame(
        {
            "rec_id": pd.array([f"r{i}" for i in range(1, 8)], dtype="string"),
            "rec_type": pd.Categorical(
                ["stockout_risk"] * 4 + ["expedite", "maintenance", "stockout_risk"]
            ),
            "site": pd.Categorical(["P1", "P2", "P1", "P1", "P1", "P1", "P2"]),
            "signal_at": [
                T("2024-12-31 23:00"), T("2025-01-01"), T("2025-01-09 12:00"), T("2025-01-08"),
                T("2025-01-02"), T("2025-01-01 22:00"), T("2025-01-05"),
            ],
            "created_at": [
                T("2025-01-01"), T("2025-01-01"), T("2025-01-09 12:00"), T("2025-01-08"),
                T("2025-01-02"), T("2025-01-02"), T("2025-01-05"),
            ],
            "est_impact_usd": [10.0, 20.0, 30.0, 100.0, 5.0, 1.0, 50.0],
            "sku": pd.Categorical(["A"] * 7),
        }
    )  # fmt: skip
    dec = pd.DataFrame(
        {
            "rec_id": pd.array(["r1", "r2", "r5", "r6"], dtype="string"),
            "decided_at": [
                T("2025-01-01 10:00"), T("2025-01-01 05:00"), T("2025-01-03"), T("2025-01-02 02:00")
            ],
            "decided_by": pd.Categorical(["ana", "bea", "cy", "dan"]),
            "decision": pd.array(["accepted", "modified", "expired", "rejected"], dtype="string"),
        }
    )  # fmt: skip
    own = pd.DataFrame(
        {
            "rec_type": pd.Categorical(["stockout_risk", "stockout_risk", "expedite"]),
            "site": pd.Categorical(["*", "P2", "P1"]),
            "owner": pd.Categorical(["ana", "bea", "cy"]),
            "escalation_to": pd.Categorical(["boss", "boss2", None]),
            "sla_hours": [24.0, 4.0, 8.0],
        }
    )
    return recs, dec, own


def test_decision_status_by_hand() -> None:
    recs, dec, own = tiny()
    before = recs.copy()
    s = decision_status(recs, dec, own, now=NOW)
    pd.testing.assert_frame_equal(recs, before)  # input untouched
    assert list(s["owner"].astype("string").fillna("-")) == [
        "ana",
        "bea",
        "ana",
        "ana",
        "cy",
        "-",
        "bea",
    ]
    assert list(s["owner_scope"].astype("string").fillna("-")) == [
        "*", "site", "*", "*", "site", "-", "site"
    ]  # fmt: skip
    assert list(s["sla_state"].astype(str)) == [
        "met", "breached", "pending", "breached", "breached", "unowned", "breached"
    ]  # fmt: skip
    assert s["latency_h"].tolist()[:2] == [11.0, 5.0]  # decided_at − signal_at
    assert s["response_h"].tolist()[:2] == [10.0, 5.0]  # decided_at − created_at
    assert pd.isna(s.loc[4, "latency_h"])  # expired: excluded from latency
    assert s["hours_overdue"].dropna().tolist() == [24.0, 116.0]


def test_sla_rates_by_hand() -> None:
    s = decision_status(*tiny(), now=NOW)
    overall = sla_rates(s).iloc[0]
    # 6 owned with SLA: met r1; breached r2 r4 r5 r7; pending r3 — still inside its SLA,
    # so neither met nor breached: left out of the rate (as on the Baseline page and the CLI).
    assert (overall["n_rated"], overall["n_met"], overall["n_breached"], overall["n_pending"]) == (
        5, 1, 4, 1,
    )  # fmt: skip
    assert overall["sla_met_rate"] == pytest.approx(1 / 5)
    # Wilson 95% interval for 1 of 5, worked out by hand.
    assert overall["ci_low"] == pytest.approx(0.036224, abs=1e-5)
    assert overall["ci_high"] == pytest.approx(0.624466, abs=1e-5)
    by_owner = sla_rates(s, by="owner").set_index("owner")
    assert by_owner["n_rated"].to_dict() == {"ana": 2, "bea": 2, "cy": 1}
    assert by_owner["sla_met_rate"].to_dict() == pytest.approx(
        {"ana": 1 / 2, "bea": 0.0, "cy": 0.0}
    )
    assert by_owner.loc["cy", "n_expired"] == 1
    weekly = sla_rates(s, by="site", freq="week")
    # Weeks start on Monday: 2024-12-30 and 2025-01-06.
    p1 = weekly[weekly["site"] == "P1"]
    assert p1["period"].tolist() == [T("2024-12-30"), T("2025-01-06")]
    assert p1["n_met"].tolist() == [1, 0] and p1["n_rated"].tolist() == [2, 1]


def test_unowned_groups_by_hand() -> None:
    s = decision_status(*tiny(), now=NOW)
    u = unowned_groups(s)
    assert list(zip(u["rec_type"], u["site"], u["problem"], strict=True)) == [
        ("expedite", "P1", "no escalation"),
        ("maintenance", "P1", "no owner"),
    ]
    m = u.set_index("rec_type").loc["maintenance"]
    assert m["n_recs"] == 1 and m["share_of_recs"] == pytest.approx(1 / 7)
    assert m["median_latency_h"] == 4.0
    # Owned decided (not expired) latencies: r1 11 h, r2 5 h -> median 8 h.
    assert m["owned_median_latency_h"] == 8.0 and m["latency_vs_owned_h"] == -4.0


def test_breach_queue_sorted_by_impact_with_owner_and_escalation() -> None:
    s = decision_status(*tiny(), now=NOW)
    q = breach_queue(s)
    assert q["rec_id"].tolist() == ["r4", "r7"]
    assert q["est_impact_usd"].tolist() == [100.0, 50.0]
    assert q["owner"].tolist() == ["ana", "bea"]
    assert q["escalation_to"].tolist() == ["boss", "boss2"]
    assert q["hours_overdue"].tolist() == [24.0, 116.0]
    assert breach_queue(s, limit=1)["rec_id"].tolist() == ["r4"]
    by_owner = breaches_by_owner(s)
    assert by_owner[["owner", "n_breaches", "impact_usd"]].values.tolist() == [
        ["ana", 1, 100.0],
        ["bea", 1, 50.0],
    ]
    # Later, r3 is past due too.
    later = breach_queue(decision_status(*tiny(), now=T("2025-01-10 13:00")))
    assert later["rec_id"].tolist() == ["r4", "r7", "r3"]


def test_fatigue_by_hand() -> None:
    s = decision_status(*tiny(), now=NOW)
    w = fatigue_weekly(s)
    ana = w[w["owner"] == "ana"]
    assert ana["n_recs"].tolist() == [1, 2]
    assert ana["median_response_h"].tolist()[0] == 10.0
    bea = w[w["owner"] == "bea"].iloc[0]
    assert (bea["n_recs"], bea["n_answered"], bea["n_open"], bea["override_rate"]) == (2, 1, 1, 1.0)
    summary = fatigue_summary(w, s).set_index("owner")
    assert summary.loc["ana", "recs_per_week_median"] == 1.5
    assert summary.loc["cy", "expired_share"] == 1.0
    assert summary.loc["bea", "override_rate"] == 1.0


def test_fatigue_shows_slower_answers_in_busy_weeks() -> None:
    rows = []
    # Owner "ana": weeks with 1, 1, 3, 3 recommendations; answered in 2 h when quiet, 10 h when busy.
    weeks = [T("2025-01-06"), T("2025-01-13"), T("2025-01-20"), T("2025-01-27")]
    n = 0
    for week, (count, resp) in zip(weeks, [(1, 2.0), (1, 2.0), (3, 10.0), (3, 10.0)], strict=True):
        for k in range(count):
            created = week + pd.Timedelta(hours=k)
            rows.append((f"x{n}", created, created + pd.Timedelta(hours=resp)))
            n += 1
    recs = pd.DataFrame(
        {
            "rec_id": pd.array([r[0] for r in rows], dtype="string"),
            "rec_type": pd.Categorical(["t"] * n),
            "site": pd.Categorical(["S"] * n),
            "signal_at": [r[1] for r in rows],
            "created_at": [r[1] for r in rows],
        }
    )
    dec = pd.DataFrame(
        {
            "rec_id": pd.array([r[0] for r in rows], dtype="string"),
            "decided_at": [r[2] for r in rows],
            "decided_by": pd.Categorical(["ana"] * n),
            "decision": pd.array(["accepted"] * n, dtype="string"),
        }
    )
    own = pd.DataFrame(
        {
            "rec_type": ["t"],
            "site": ["*"],
            "owner": ["ana"],
            "escalation_to": ["b"],
            "sla_hours": [24.0],
        }
    )
    s = decision_status(recs, dec, own, now=T("2025-03-01"))
    summary = fatigue_summary(fatigue_weekly(s), s).iloc[0]
    assert summary["weeks"] == 4 and summary["recs_per_week_max"] == 3
    assert summary["busy_minus_quiet_response_h"] == 8.0
    assert summary["load_response_corr"] == pytest.approx(1.0)


def test_overview_and_empty_inputs() -> None:
    recs, dec, own = tiny()
    ov = ownership_overview(recs, dec, own, now=NOW, queue_limit=1)
    assert ov.n_breaches == 2 and len(ov.breach_queue) == 1
    assert ov.breach_impact_usd == 150.0
    empty = ownership_overview(recs.iloc[0:0], dec.iloc[0:0], own.iloc[0:0], now=NOW)
    assert empty.n_recs == 0 and empty.breach_queue.empty and empty.unowned.empty
    no_owners = ownership_overview(recs, dec, own.iloc[0:0], now=NOW)
    assert no_owners.sla_overall["n_rated"].iloc[0] == 0
    assert set(no_owners.unowned["problem"]) == {"no owner"}
