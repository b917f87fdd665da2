"""Decision capture: the contract's decision row plus an audit event, refused when incomplete."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine

from store.audit import read_events, verify_chain
from store.db import data_versions
from store.decisions import (
    AlreadyDecided,
    ChangedSinceShown,
    DecisionError,
    InvalidDecision,
    RenderToken,
    UnknownRecommendation,
    decision_for,
    record_decision,
)
from store.ingest.load import load_bundle
from store.reads import load_frames
from store.roles import PermissionDenied
from tests.conftest import write_bundle

RECS = """
rec_id,rec_type,signal_at,created_at,site,sku,recommended_qty,score,f_days_of_cover
R1,stockout_risk,2026-01-05T08:00:00Z,2026-01-05T09:00:00Z,P100,SKU-1,120,0.8,2.1
R2,stockout_risk,2026-01-05T08:00:00Z,2026-01-05T09:30:00Z,P100,SKU-2,50,0.7,3.0
R3,maintenance,2026-01-05T08:00:00Z,2026-01-05T10:00:00Z,P200,,,0.6,
R4,stockout_risk,2026-01-04T08:00:00Z,2026-01-04T09:00:00Z,P100,SKU-3,10,0.9,1.0
"""
DECS = """
rec_id,decided_at,decided_by,decision,final_qty,reason
R4,2026-01-04T12:00:00Z,ana,accepted,,
"""


@pytest.fixture
def store(engine: Engine, tmp_path: Path) -> Engine:
    bundle = write_bundle(tmp_path / "b", {"recommendations": RECS, "decisions": DECS})
    report = load_bundle(bundle, engine=engine, role="admin")
    assert not report.rejected
    return engine


def _n_decisions(engine: Engine) -> int:
    return len(load_frames(engine).decisions)


def test_accept_writes_the_contract_row_an_audit_event_and_bumps_the_version(store) -> None:
    before = data_versions(store).get("decisions", 0)
    out = record_decision(store, "R1", decision="accepted", actor="ana", role="planner")
    assert out["decision"] == "accepted" and out["final_qty"] == 120.0  # the recommended qty
    assert out["source"] == "app" and out["decided_by"] == "ana"
    assert data_versions(store)["decisions"] == before + 1

    stored = decision_for(store, "R1")
    assert stored["decision"] == "accepted" and stored["final_qty"] == 120.0
    assert stored["source"] == "app" and stored["reason"] is None
    decided_at = pd.Timestamp(stored["decided_at"])
    assert decided_at.tzinfo is not None and decided_at >= pd.Timestamp("2026-01-05T09:00Z")

    frames = load_frames(store)
    row = frames.decisions.set_index("rec_id").loc["R1"]
    assert row["decided_by"] == "ana" and row["source"] == "app"

    ev = read_events(store, limit=1).iloc[0]
    assert (ev["action"], ev["entity"], ev["entity_id"], ev["actor"]) == (
        "decide",
        "decisions",
        "R1",
        "ana",
    )
    assert '"decision": "accepted"' in ev["after"] and '"role": "planner"' in ev["after"]
    assert verify_chain(store).ok


def test_modify_and_reject_need_a_reason_and_modify_a_quantity(store) -> None:
    for decision, qty in (("modified", 90), ("rejected", None)):
        for reason in (None, "", "   "):
            with pytest.raises(InvalidDecision, match="a reason is required"):
                record_decision(
                    store,
                    "R1",
                    decision=decision,
                    final_qty=qty,
                    reason=reason,
                    actor="ana",
                    role="planner",
                )
    with pytest.raises(InvalidDecision, match="needs the new quantity"):
        record_decision(store, "R1", decision="modified", reason="x", actor="ana", role="planner")
    with pytest.raises(InvalidDecision, match=">= 0"):
        record_decision(
            store, "R1", decision="modified", final_qty=-5, reason="x", actor="ana", role="planner"
        )
    with pytest.raises(InvalidDecision, match="record it as accepted"):
        record_decision(
            store, "R1", decision="modified", final_qty=120, reason="x", actor="ana", role="planner"
        )
    with pytest.raises(InvalidDecision, match="record it as modified"):
        record_decision(store, "R1", decision="accepted", final_qty=80, actor="ana", role="planner")
    with pytest.raises(InvalidDecision, match="one of"):
        record_decision(store, "R1", decision="expired", actor="ana", role="planner")
    assert decision_for(store, "R1") is None
    assert _n_decisions(store) == 1

    out = record_decision(
        store,
        "R1",
        decision="modified",
        final_qty=90,
        reason=" sup late in Q4 ",
        actor="ana",
        role="planner",
    )
    assert out["final_qty"] == 90.0 and out["reason"] == "sup late in Q4"
    out = record_decision(
        store, "R3", decision="rejected", reason="PM done yesterday", actor="bo", role="sop_lead"
    )
    assert out["final_qty"] == 0.0
    assert _n_decisions(store) == 3


def test_unknown_second_and_unauthorised_decisions_are_refused(store) -> None:
    with pytest.raises(UnknownRecommendation):
        record_decision(store, "NOPE", decision="accepted", actor="ana", role="planner")
    # R4 was decided by an import: the app never overwrites it
    with pytest.raises(AlreadyDecided, match="never overwritten"):
        record_decision(store, "R4", decision="rejected", reason="x", actor="ana", role="planner")
    record_decision(store, "R2", decision="accepted", actor="ana", role="planner")
    with pytest.raises(
        AlreadyDecided, match=r"^not recorded: R2 is already decided by ana \(accepted at 20"
    ):
        record_decision(
            store, "R2", decision="rejected", reason="changed my mind", actor="bo", role="admin"
        )
    with pytest.raises(PermissionDenied):
        record_decision(store, "R1", decision="accepted", actor="eve", role="exec")
    assert issubclass(AlreadyDecided, ValueError) and issubclass(
        UnknownRecommendation, DecisionError
    )
    assert decision_for(store, "R1") is None
    assert decision_for(store, "R2")["decision"] == "accepted"
    actions = read_events(store)["action"].tolist()
    assert actions.count("decide") == 1


def test_a_form_shown_for_another_recommendation_or_quantity_is_refused(store) -> None:
    # the form was rendered for R1 (recommended 120) but the write names R2
    with pytest.raises(ChangedSinceShown, match="shown for R1, not R2"):
        record_decision(
            store, "R2", decision="accepted", actor="ana", role="planner",
            shown=RenderToken("R1", 120.0),
        )  # fmt: skip
    # R1 as stored recommends 120: a form that showed 11,769 must not record against it
    with pytest.raises(ChangedSinceShown, match="is now 120, not the 11,769 shown"):
        record_decision(
            store, "R1", decision="modified", final_qty=921, reason="x", actor="ana",
            role="planner", shown=RenderToken("R1", 11769.0),
        )  # fmt: skip
    # R3 has no quantity: a form showing one is stale too
    with pytest.raises(ChangedSinceShown, match="is now no quantity, not the 5 shown"):
        record_decision(
            store, "R3", decision="rejected", reason="x", actor="ana", role="planner",
            shown=RenderToken("R3", 5.0),
        )  # fmt: skip
    assert _n_decisions(store) == 1 and "decide" not in read_events(store)["action"].tolist()
    # the form as shown (NaN read from a frame is "no quantity") records
    out = record_decision(
        store, "R3", decision="rejected", reason="PM done", actor="ana", role="planner",
        shown=RenderToken.of("R3", float("nan")),
    )  # fmt: skip
    assert out["decision"] == "rejected"
    out = record_decision(
        store, "R1", decision="accepted", actor="ana", role="planner",
        shown=RenderToken.of("R1", 120),
    )  # fmt: skip
    assert out["final_qty"] == 120.0


def test_row_hash_matches_a_reimport_of_the_same_decision(store, tmp_path: Path) -> None:
    out = record_decision(
        store,
        "R1",
        decision="modified",
        final_qty=90,
        reason="sup late",
        actor="ana",
        role="planner",
    )
    at = pd.Timestamp(out["decided_at"]).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    header = "rec_id,decided_at,decided_by,decision,final_qty,reason"

    def reload(name: str, reason: str):  # noqa: ANN202
        decisions = f"{header}\nR1,{at},ana,modified,90,{reason}"
        bundle = write_bundle(tmp_path / name, {"recommendations": RECS, "decisions": decisions})
        return load_bundle(bundle, engine=store, role="admin")

    # re-importing the same decision (as an export of the store writes it) is "unchanged"
    report = reload("again", "sup late")
    assert report.unchanged.get("decisions") == 1 and not report.rejected
    # a different reason for the same recommendation is a conflict, never an overwrite
    report = reload("other", "another reason")
    assert report.rejected and "conflicts with the stored row" in report.rejected[0]["reason"]
    assert decision_for(store, "R1")["reason"] == "sup late"


def _read_back(store: Engine) -> pd.DataFrame:
    """The decisions as a read of the database types them, through a Parquet round trip."""
    import io

    from contract.tables import DECISIONS
    from store.reads import _read_table

    buffer = io.BytesIO()
    _read_table(store, DECISIONS).to_parquet(buffer, index=False)
    return pd.read_parquet(buffer)


def test_after_decisions_the_snapshot_is_the_previous_one_plus_them(store, monkeypatch) -> None:
    """The first read after two decisions is the earlier snapshot plus the two rows (no pass
    over the database), equal to reading the table back (modified with a reason, rejected)."""
    import store.reads as reads
    from store.snapshots import snapshot_path

    reads.read_table(store, "decisions")  # the snapshot of the loaded version
    record_decision(
        store,
        "R2",
        decision="modified",
        final_qty=40,
        reason="pad for Q4",
        actor="bo",
        role="planner",
    )
    record_decision(
        store, "R1", decision="rejected", reason="dup of R2", actor="ana", role="planner"
    )
    expected = _read_back(store)
    assert list(expected["rec_id"]) == ["R1", "R2", "R4"]
    reads.clear_memo()
    with monkeypatch.context() as m:
        m.setattr(reads, "_read_table", lambda *a: pytest.fail("read the whole table"))
        got = reads.read_table(store, "decisions")
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
    assert snapshot_path(store, "decisions", data_versions(store)["decisions"]).exists()


def test_after_a_load_of_decisions_the_snapshot_is_read_from_the_store(store, tmp_path) -> None:
    """A load between two decisions writes decisions the app did not record: the earlier
    snapshot plus the app's rows would miss them, so the table is read again."""
    import store.reads as reads
    from contract.tables import DECISIONS

    reads.read_table(store, "decisions")
    record_decision(store, "R2", decision="accepted", actor="bo", role="planner")
    more = "rec_id,decided_at,decided_by,decision,final_qty,reason\n"
    more += "R3,2026-01-05T12:00:00Z,cy,rejected,0,down for PM\n"
    bundle = write_bundle(tmp_path / "more", {"recommendations": RECS, "decisions": more})
    assert not load_bundle(bundle, engine=store, role="admin").rejected
    record_decision(
        store, "R1", decision="rejected", reason="dup of R2", actor="ana", role="planner"
    )
    reads.clear_memo()
    got = reads.read_table(store, "decisions")
    assert list(got["rec_id"]) == ["R1", "R2", "R3", "R4"]
    assert got["decided_by"].astype(str).tolist() == ["ana", "bo", "cy", "ana"]
    pd.testing.assert_frame_equal(got, reads._read_table(store, DECISIONS), check_exact=True)


def test_a_picked_theme_is_stored_as_the_reason_code_not_in_the_text(store) -> None:
    out = record_decision(
        store,
        "R1",
        decision="modified",
        final_qty=90,
        reason="same again",
        reason_code="THEME-7",
        actor="ana",
        role="planner",
    )
    assert (out["reason"], out["reason_code"]) == ("same again", "THEME-7")
    stored = decision_for(store, "R1")
    assert (stored["reason"], stored["reason_code"]) == ("same again", "THEME-7")
    # the picked theme is a reason on its own: no text needed
    record_decision(
        store, "R2", decision="rejected", reason_code="THEME-3", actor="ana", role="planner"
    )
    stored = decision_for(store, "R2")
    assert stored["reason"] is None and stored["reason_code"] == "THEME-3"
    dec = load_frames(store).decisions.set_index("rec_id")
    assert dec.at["R2", "reason_code"] == "THEME-3"
