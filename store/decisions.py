"""Recording a planner's decision on a recommendation: the human in the loop.

A decision is written as the contract's decision row (``source = "app"``,
``batch_id`` NULL) together with an audit event, in one transaction. A
recommendation is decided at most once: a second decision is refused, never
overwritten. Nothing is sent to any source system (ERP, MES…): the workbench
only records what the planner decided.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError, OperationalError

from contract.tables import DECISIONS, RECOMMENDATIONS
from contract.vocabulary import HUMAN_DECISIONS
from store import roles
from store.audit import audited_write
from store.db import utcnow
from store.ingest.validate import TS_DTYPE, row_hashes
from store.models import Decision
from store.reads import decisions_for
from store.sqlio import read_sql_frame


class DecisionError(ValueError):
    """A decision that cannot be recorded; the message says why, for the page and the CLI."""


class StoreBusy(DecisionError):
    """A load holds the store's write lock (SQLite): nothing was recorded; try again."""


# How long one attempt waits for a load to let go of SQLite's write lock, and how many
# attempts a decision makes before telling the planner the store is busy.
BUSY_SECONDS = 10.0
BUSY_ATTEMPTS = 2


class UnknownRecommendation(DecisionError):
    """No recommendation with this id."""


class AlreadyDecided(DecisionError):
    """The recommendation already has a decision; decisions are never overwritten."""


class InvalidDecision(DecisionError):
    """The decision itself is incomplete or inconsistent (missing reason, bad quantity…)."""


class ChangedSinceShown(DecisionError):
    """The recommendation in the store is not the one the form was shown for."""


@dataclass(frozen=True)
class RenderToken:
    """What the decision form was rendered for, carried into the write.

    A form's values belong to the recommendation it showed: the write refuses when the
    stored recommendation is another one or its recommended quantity differs from the
    one the planner saw (``None`` = no quantity was shown).
    """

    rec_id: str
    recommended_qty: float | None

    @classmethod
    def of(cls, rec_id: str, recommended_qty: object) -> RenderToken:
        qty = None if recommended_qty is None or pd.isna(recommended_qty) else recommended_qty
        return cls(str(rec_id), None if qty is None else float(qty))  # type: ignore[arg-type]


log = logging.getLogger(__name__)


def _clean_reason(reason: str | None) -> str | None:
    if reason is None:
        return None
    stripped = str(reason).strip()
    return stripped or None


def _check(
    decision: str,
    final_qty: float | None,
    reason: str | None,
    by: str,
    reason_code: str | None = None,
) -> tuple[float | None, str | None]:
    if decision not in HUMAN_DECISIONS:
        raise InvalidDecision(
            f"decision must be one of {', '.join(HUMAN_DECISIONS)}, got {decision!r}"
        )
    if not str(by or "").strip():
        raise InvalidDecision("who decides is required")
    reason = _clean_reason(reason)
    if decision in ("modified", "rejected") and reason is None and reason_code is None:
        raise InvalidDecision(f"a reason is required to record a {decision} decision")
    qty = None
    if final_qty is not None:
        try:
            qty = float(final_qty)
        except (TypeError, ValueError):
            raise InvalidDecision(f"quantity must be a number, got {final_qty!r}") from None
        if not math.isfinite(qty) or qty < 0:
            raise InvalidDecision(f"quantity must be a number >= 0, got {final_qty!r}")
    if decision == "modified" and qty is None:
        raise InvalidDecision("a modified decision needs the new quantity")
    return qty, reason


def _final_qty(decision: str, qty: float | None, recommended: float | None) -> float | None:
    """The committed quantity to store, with the contract's defaults made explicit."""
    if decision == "accepted":
        if qty is not None and (recommended is None or qty != recommended):
            raise InvalidDecision(
                "accepted means done as proposed; to commit another quantity record it as modified"
            )
        return recommended
    if decision == "rejected":
        if qty not in (None, 0.0):
            raise InvalidDecision(
                "rejected means not done (quantity 0); to commit a quantity record it as modified"
            )
        return 0.0
    if recommended is not None and qty == recommended:
        raise InvalidDecision(
            f"the new quantity equals the recommended {recommended:g}: record it as accepted"
        )
    return qty


def _decision_frame(
    rec_id: str,
    decided_at: datetime,
    by: str,
    decision: str,
    final_qty: float | None,
    reason: str | None,
    reason_code: str | None = None,
) -> pd.DataFrame:
    """One typed decision row (``store/schema.py`` dtypes), as a bundle import would parse it."""
    return pd.DataFrame(
        {
            "rec_id": pd.array([rec_id], dtype="string"),
            "decided_at": pd.Series([pd.Timestamp(decided_at)]).astype(TS_DTYPE),
            "decided_by": pd.array([by], dtype="string"),
            "decision": pd.array([decision], dtype="string"),
            "final_qty": pd.array([final_qty], dtype="float64"),
            "reason": pd.array([reason], dtype="string"),
            "reason_code": pd.array([reason_code], dtype="string"),
        }
    )


def record_decision(
    engine: Engine,
    rec_id: str,
    *,
    decision: str,
    final_qty: float | None = None,
    reason: str | None = None,
    actor: str,
    role: str,
    shown: RenderToken | None = None,
    reason_code: str | None = None,
) -> dict[str, Any]:
    """Record a planner's decision on one open recommendation, with its audit event.

    Parameters
    ----------
    engine : Engine
        The store.
    rec_id : str
        The recommendation decided.
    decision : {"accepted", "modified", "rejected"}
    final_qty : float, optional
        Required for ``modified`` (>= 0, different from the recommended quantity).
        ``accepted`` stores the recommended quantity, ``rejected`` stores 0.
    reason : str, optional
        Required for ``modified`` and ``rejected`` unless ``reason_code`` is given (the
        planner's words, kept as typed).
    actor : str
        Who decides (the signed-in user or the local user name).
    role : str
        The acting role; must be allowed to ``decide`` (``store.roles``).
    shown : RenderToken, optional
        What the form was rendered for (the page passes it; the CLI names the id itself).
        The write is refused when it is not ``rec_id`` or the stored recommended
        quantity is not the one shown.
    reason_code : str, optional
        The picklist code (the contract's ``reason_code``): the reason theme a planner
        picked (``THEME-7``), stored as the code, never pasted into ``reason``.

    Returns
    -------
    dict
        ``rec_id``, ``decision``, ``final_qty``, ``reason``, ``reason_code``, ``decided_by``,
        ``decided_at`` (ISO 8601 UTC), ``source`` (``"app"``), ``audit_event_id``.

    Raises
    ------
    store.roles.PermissionDenied
        The role may not decide.
    UnknownRecommendation, AlreadyDecided, ChangedSinceShown, InvalidDecision
        (all ``DecisionError``, a ``ValueError``) with a message for the user; an
        ``AlreadyDecided`` message reads "not recorded: R1 is already decided by …";
        ``StoreBusy`` (also a ``DecisionError``) after waiting out a load twice (SQLite).
    """
    roles.require(role, "decide")
    if shown is not None and shown.rec_id != rec_id:
        raise ChangedSinceShown(
            f"not recorded: the form was shown for {shown.rec_id}, not {rec_id}; "
            "check the recommendation and decide again"
        )
    reason_code = _clean_reason(reason_code)
    qty, reason = _check(decision, final_qty, reason, actor, reason_code)
    by = str(actor).strip()
    for attempt in range(1, BUSY_ATTEMPTS + 1):
        try:
            return _record(engine, rec_id, decision, qty, reason, by, role, shown, reason_code)
        except OperationalError as exc:
            if "locked" not in str(exc).lower() and "busy" not in str(exc).lower():
                raise
            if attempt == BUSY_ATTEMPTS:
                raise StoreBusy(
                    "the store is busy loading a bundle; your decision was not recorded — "
                    "try again in a minute"
                ) from None
            log.info("store busy; retrying the decision on %s", rec_id)
    raise AssertionError("unreachable")


def _record(
    engine: Engine,
    rec_id: str,
    decision: str,
    qty: float | None,
    reason: str | None,
    by: str,
    role: str | None,
    shown: RenderToken | None,
    reason_code: str | None,
) -> dict[str, Any]:
    decided_at = utcnow()
    # Immediate: take the write lock first, so two planners cannot both see "open".
    with audited_write(
        engine,
        actor=by,
        role=role,
        permission="decide",
        tables=["decisions"],
        immediate=True,
        busy_seconds=BUSY_SECONDS,
    ) as write:
        conn = write.conn
        rec = read_sql_frame(
            conn,
            RECOMMENDATIONS,
            ["rec_id", "created_at", "recommended_qty"],
            where="WHERE rec_id = :r",
            params={"r": rec_id},
        )
        if rec.empty:
            raise UnknownRecommendation(f"no recommendation with id {rec_id!r}")
        existing = conn.execute(
            select(Decision.decision, Decision.decided_by, Decision.decided_at).where(
                Decision.rec_id == rec_id
            )
        ).first()
        if existing is not None:
            raise AlreadyDecided(_already_decided(rec_id, existing))
        created = rec["created_at"].iloc[0]
        if pd.notna(created) and pd.Timestamp(decided_at) < created:
            raise InvalidDecision(
                f"{rec_id} is created at {created.isoformat()}, after now: it cannot be decided yet"
            )
        recommended = rec["recommended_qty"].iloc[0]
        recommended = None if pd.isna(recommended) else float(recommended)
        if shown is not None and shown.recommended_qty != recommended:
            raise ChangedSinceShown(
                f"not recorded: {rec_id}'s recommended quantity is now {_qty(recommended)}, "
                f"not the {_qty(shown.recommended_qty)} shown; check it and decide again"
            )
        stored_qty = _final_qty(decision, qty, recommended)
        row = _decision_frame(rec_id, decided_at, by, decision, stored_qty, reason, reason_code)
        row_hash = int(np.asarray(row_hashes(row, DECISIONS))[0])
        values = {
            "rec_id": rec_id,
            "decided_at": decided_at,
            "decided_by": by,
            "decision": decision,
            "final_qty": stored_qty,
            "reason": reason,
            "reason_code": reason_code,
            "source": "app",
            "row_hash": row_hash,
            "batch_id": None,
        }
        after = {
            "decision": decision,
            "final_qty": stored_qty,
            "recommended_qty": recommended,
            "reason": reason,
            "reason_code": reason_code,
            "decided_at": decided_at.isoformat(),
            "role": role,
            "source": "app",
        }
        event = write.event(
            action="decide",
            entity="decisions",
            entity_id=rec_id,
            before=None,
            after=after,
            at=decided_at,
        )
        # The row names its event, so audit verify can tell an edited row from its record.
        values["audit_event_id"] = int(event.id) if event.id is not None else None
        values["audit_hash"] = event.hash
        try:
            conn.execute(Decision.__table__.insert().values(**values))  # type: ignore[attr-defined]
        except IntegrityError:  # PostgreSQL: another session inserted it since our check
            raise AlreadyDecided(_already_decided_now(engine, rec_id)) from None
        # One row, one version: the next read of the decisions (the background build's) is
        # the previous snapshot plus the rows recorded since (store.reads.app_decisions), so
        # the planner does not wait here for a million rows to be rewritten.
        write.bump()
    return {
        "rec_id": rec_id,
        "decision": decision,
        "final_qty": stored_qty,
        "reason": reason,
        "reason_code": reason_code,
        "decided_by": by,
        "decided_at": decided_at.isoformat(),
        "source": "app",
        "audit_event_id": int(event.id) if event.id is not None else None,
    }


def _qty(value: float | None) -> str:
    return "no quantity" if value is None else f"{value:,.6g}"


def _already_decided(rec_id: str, existing: Any) -> str:
    at = pd.Timestamp(existing.decided_at)
    at = at.tz_localize("UTC") if at.tzinfo is None else at.tz_convert("UTC")
    return (
        f"not recorded: {rec_id} is already decided by {existing.decided_by} "
        f"({existing.decision} at {at:%Y-%m-%d %H:%M} UTC); a decision is never overwritten"
    )


def _already_decided_now(engine: Engine, rec_id: str) -> str:
    """The refusal for a decision that lost a race: name the winner, read in a new transaction."""
    with engine.connect() as conn:
        winner = conn.execute(
            select(Decision.decision, Decision.decided_by, Decision.decided_at).where(
                Decision.rec_id == rec_id
            )
        ).first()
    if winner is None:  # pragma: no cover - the conflicting row was rolled back meanwhile
        return f"not recorded: {rec_id} was being decided by someone else; try again"
    return _already_decided(rec_id, winner)


def decision_for(engine: Engine, rec_id: str) -> dict[str, Any] | None:
    """The stored decision on ``rec_id`` read straight from the store, or None if it is open."""
    df = decisions_for(engine, [rec_id])
    if df.empty:
        return None
    r = df.iloc[0]

    def clean(v: Any) -> Any:
        return None if v is None or pd.isna(v) else v

    return {
        "rec_id": str(r["rec_id"]),
        "decision": str(r["decision"]),
        "decided_by": str(r["decided_by"]),
        "decided_at": pd.Timestamp(r["decided_at"]).isoformat(),
        "final_qty": clean(r["final_qty"]),
        "reason": clean(r["reason"]),
        "reason_code": clean(r["reason_code"]),
        "source": clean(r.get("source")),
    }
