"""Alert acknowledgements and the monitor's settings in the store (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import Engine

from store.audit import read_events, verify_chain
from store.db import dispose_engine, get_engine
from store.learning.monitoring import (
    AcknowledgeError,
    acknowledge_alert,
    read_acknowledgements,
    save_calibration_types,
    save_reference,
    saved_calibration_types,
    saved_reference,
)
from store.reads import clear_memo
from store.roles import PermissionDenied

ALERT = {
    "key": "feature_drift||||f_lead_time_days|2025-05-05",
    "kind": "feature_drift",
    "message": "f_lead_time_days rose 40% from 5 May 2025 at every site",
}


def test_acknowledgement_needs_a_role_and_a_note_and_is_audited(engine: Engine) -> None:
    with pytest.raises(PermissionDenied):
        acknowledge_alert(engine, alert=ALERT, note="checked", actor="pat", role="planner")
    with pytest.raises(AcknowledgeError, match="needs a note"):
        acknowledge_alert(engine, alert=ALERT, note="  ", actor="sam", role="sop_lead")
    assert read_acknowledgements(engine).empty
    acknowledge_alert(
        engine, alert=ALERT, note="Plant P2 switched to calendar days", actor="sam", role="sop_lead"
    )
    with pytest.raises(AcknowledgeError, match="already acknowledged by sam"):
        acknowledge_alert(engine, alert=ALERT, note="again", actor="ada", role="admin")
    event = read_events(engine).iloc[0]
    assert (event["action"], event["entity"], event["entity_id"], event["actor"]) == (
        "alert_acknowledged",
        "monitor_alert",
        ALERT["key"],
        "sam",
    )
    assert "calendar days" in event["after"]
    assert verify_chain(engine).ok


def test_acknowledged_stays_acknowledged_across_reloads(engine: Engine) -> None:
    acknowledge_alert(engine, alert=ALERT, note="known: ERP change", actor="ada", role="admin")
    url = engine.url.render_as_string(hide_password=False)
    dispose_engine(url)
    clear_memo()
    again = get_engine(url)
    acks = read_acknowledgements(again)
    assert list(acks["alert_key"]) == [ALERT["key"]]
    row = acks.iloc[0]
    assert (row["acknowledged_by"], row["role"], row["note"]) == (
        "ada",
        "admin",
        "known: ERP change",
    )


def test_reference_window_and_calibration_types_are_admin_settings(engine: Engine) -> None:
    assert saved_reference(engine) is None and saved_calibration_types(engine) is None
    with pytest.raises(PermissionDenied):
        save_reference(engine, date(2025, 2, 1), date(2025, 3, 31), actor="sam", role="sop_lead")
    with pytest.raises(ValueError, match="before it starts"):
        save_reference(engine, date(2025, 3, 1), date(2025, 2, 1), actor="ada", role="admin")
    save_reference(engine, date(2025, 2, 1), date(2025, 3, 31), actor="ada", role="admin")
    assert saved_reference(engine) == (date(2025, 2, 1), date(2025, 3, 31))
    save_calibration_types(engine, ["stockout_risk", "expedite"], actor="ada", role="admin")
    assert saved_calibration_types(engine) == ["expedite", "stockout_risk"]
    save_reference(engine, None, None, actor="ada", role="admin")
    assert saved_reference(engine) is None
    actions = list(read_events(engine)["entity_id"])
    assert actions[:3] == ["monitor_reference", "monitor_calibration_types", "monitor_reference"]
