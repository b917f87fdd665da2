"""Closing the loop, store to figures: rule lookup, backtest, adopt, export, proposals, propensity.

Shared by the pages (through the cached wrappers), ``cli.py`` and ``bench/``.
The compute functions take frames, the decided log and the lifecycle table, so
callers can cache those per data version; the ``*_for_store`` ones read the
store themselves (the CLI's path).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import Engine

from analytics.overrides.log import decided_log
from analytics.overrides.rules import mine_rules
from analytics.policy.action import median_adjustment, rule_action
from analytics.policy.backtest import Backtest, backtest_rule
from analytics.policy.monitor import policy_view
from analytics.policy.propensity import (
    NotEnoughDecisions,
    Propensity,
    decided_mask,
    fit_propensity,
    open_recommendations,
    propensity_payload,
    score_open,
)
from analytics.policy.proposal import adopted_policy, policy_field, proposals, rule_attributes
from contract.actions import ActionError, check_action
from store.learning.policy import export_policy
from store.reads import load_frames
from store.rule_status import clear_rule_status, read_rule_statuses, set_rule_status


class UnknownRule(LookupError):
    """No candidate or stored rule has this id."""


@dataclass(frozen=True)
class RuleRef:
    """A rule as the loop needs it: conditions, direction, lifecycle status, action."""

    rule_id: str
    conditions: dict[str, str]
    direction: str
    status: str
    action: dict[str, Any] | None
    derived_action: dict[str, Any] | None


def candidate_rules(log: pd.DataFrame) -> pd.DataFrame:
    """Mined candidate rules (``id``, ``conditions``, ``direction``…), without themes."""
    return mine_rules(log)


def find_rule(
    log: pd.DataFrame,
    statuses: pd.DataFrame,
    rule_id: str,
    *,
    candidates: pd.DataFrame | None = None,
) -> RuleRef:
    """The rule ``rule_id``: from the lifecycle table if it has a status, else the candidates.

    ``derived_action`` is the action its supporting overrides suggest (direction and
    median adjustment over ``log``); ``action`` the confirmed one, if any.
    Raises ``UnknownRule``.
    """
    if not statuses.empty and rule_id in set(statuses["rule_key"]):
        row = statuses[statuses["rule_key"] == rule_id].iloc[0]
        conditions, direction = dict(row["conditions"]), str(row["direction"])
        status, action = str(row["status"]), row["action"]
    else:
        cands = candidate_rules(log) if candidates is None else candidates
        hit = cands[cands["id"] == rule_id] if len(cands) else cands
        if hit.empty:
            raise UnknownRule(
                f"no rule with id {rule_id!r}: not among the candidate rules "
                "(cli.py rules --json) nor the adopted, dismissed or watched ones"
            )
        conditions, direction = dict(hit.iloc[0]["conditions"]), str(hit.iloc[0]["direction"])
        status, action = "candidate", None
    derived = rule_action(direction, median_adjustment(log, conditions, direction))
    return RuleRef(rule_id, conditions, direction, status, action, derived)


def action_for(rule: RuleRef, action_value: float | None) -> dict[str, Any]:
    """The action to apply: ``action_value`` as ``adjust_pct`` if given, else the confirmed
    action, else the derived one. Raises ``ActionError`` when none can be made."""
    if action_value is not None:
        if rule.direction == "reject":
            raise ActionError(
                f"rule {rule.rule_id} rejects recommendations: its action has no value"
            )
        return check_action({"kind": "adjust_pct", "value": action_value})
    action = rule.action or rule.derived_action
    if action is None:
        raise ActionError(
            f"rule {rule.rule_id} has no median adjustment to act on: give --action-value"
        )
    return check_action(action)


def backtest(
    log: pd.DataFrame,
    rule: RuleRef,
    *,
    action_value: float | None = None,
    random_state: int = 0,
) -> Backtest:
    """Backtest ``rule`` with its confirmed (or derived, or given) action."""
    return backtest_rule(
        log,
        rule_id=rule.rule_id,
        conditions=rule.conditions,
        action=action_for(rule, action_value),
        random_state=random_state,
    )


def set_status(
    engine: Engine,
    log: pd.DataFrame,
    statuses: pd.DataFrame,
    rule_id: str,
    *,
    status: str,
    by: str,
    role: str | None,
    owner: str | None = None,
    note: str | None = None,
    action_value: float | None = None,
    candidates: pd.DataFrame | None = None,
    at: datetime | None = None,
) -> dict[str, Any]:
    """Change a rule's lifecycle status, as the page does; ``candidate`` reopens it.

    Adopting records the action (``action_value`` or the rule's median adjustment,
    or reject). Raises ``UnknownRule``, ``store.roles.PermissionDenied``,
    ``store.rule_status.RuleStatusError`` or ``contract.actions.ActionError``.
    """
    rule = find_rule(log, statuses, rule_id, candidates=candidates)
    if status == "candidate":
        existed = clear_rule_status(engine, rule_key=rule_id, actor=by, role=role)
        return {"rule_key": rule_id, "status": "candidate", "changed": existed}
    action = action_for(rule, action_value) if status == "adopted" else None
    if status != "adopted" and action_value is not None:
        raise ActionError("--action-value only applies when adopting a rule")
    return set_rule_status(
        engine,
        rule_key=rule_id,
        conditions=rule.conditions,
        direction=rule.direction,
        status=status,
        actor=by,
        role=role,
        owner=owner,
        note=note,
        action=action,
        at=at,
    )


def write_policy(
    engine: Engine, out: str | Path, *, actor: str, role: str | None
) -> dict[str, Any]:
    """Export the policy to ``out`` (JSON); returns ``{"out", "version", "n_rules", "changes"}``."""
    result = export_policy(engine, actor=actor, role=role)
    path = Path(out)
    path.write_text(json.dumps(result["document"], indent=2, ensure_ascii=False) + "\n", "utf-8")
    doc = result["document"]
    return {
        "out": str(path),
        "version": doc["version"],
        "n_rules": len(doc["rules"]),
        "changes": result["changes"],
    }


def open_proposals(frames: Any, statuses: pd.DataFrame) -> pd.DataFrame:
    """The adopted rules' proposals on every open recommendation (``proposals`` columns)."""
    return proposals(open_recommendations(frames), adopted_policy(statuses))


def policy_for_rec(frames: Any, statuses: pd.DataFrame, rec_id: str) -> dict[str, Any] | None:
    """``cli.py explain --json``'s ``"policy"`` for one recommendation (None if no rule fires
    or it is already decided)."""
    recs = open_recommendations(frames)
    one = recs[recs["rec_id"] == rec_id]
    out = proposals(one, adopted_policy(statuses))
    return policy_field(out.iloc[0] if len(out) else None)


def policy_overview(
    frames: Any, log: pd.DataFrame, statuses: pd.DataFrame, *, random_state: int = 0
) -> pd.DataFrame:
    """The Policy view: every adopted rule with its action, backtest and use since adoption."""
    policy = adopted_policy(statuses)
    cols = ["rule_id", "conditions", "action", "owner", "adopted_by", "adopted_at",
            "n_evaluated", "value_added", "ci_low", "ci_high", "verdict", "vs_people",
            "n_fired", "n_open", "n_decided", "n_followed", "n_kept_model", "n_on_top",
            "on_top_share"]  # fmt: skip
    if policy.empty:
        return pd.DataFrame(columns=cols)
    recs = frames.recommendations
    attrs = rule_attributes(recs).assign(
        created_at=recs["created_at"].to_numpy(),
        is_open=~decided_mask(recs, frames.decisions),
    )
    view = policy_view(log, attrs, policy).set_index("rule_id")
    rows = []
    for r in policy.itertuples(index=False):
        bt = backtest_rule(
            log,
            rule_id=r.rule_id,
            conditions=r.conditions,
            action=r.action,
            random_state=random_state,
        )
        rows.append(
            {
                "rule_id": r.rule_id,
                "conditions": r.conditions,
                "action": r.action,
                "owner": r.owner,
                "adopted_by": r.adopted_by,
                "adopted_at": r.adopted_at,
                "n_evaluated": bt.n_evaluated,
                "value_added": bt.value_added,
                "ci_low": bt.ci_low,
                "ci_high": bt.ci_high,
                "verdict": bt.verdict,
                "vs_people": bt.vs_people["value_added"],
                **view.loc[r.rule_id].to_dict(),
            }
        )
    return pd.DataFrame(rows, columns=cols)


SCORE_COLUMNS = [
    "rec_id", "p_override", "p_rejected", "likely_decision", "expected_adjustment_pct", "rules",
]  # fmt: skip


def no_scores() -> pd.DataFrame:
    """``propensity_scores``' columns and no row (no model: too few decisions)."""
    return pd.DataFrame(columns=SCORE_COLUMNS)


def propensity_scores(frames: Any, model: Propensity, rules: pd.DataFrame | None) -> pd.DataFrame:
    """Every open recommendation scored, most likely to be overridden first."""
    return score_open(model, open_recommendations(frames), rules=rules)


def propensity_for_store(engine: Engine, *, random_state: int = 0) -> dict[str, Any]:
    """The ``cli.py propensity --json`` document (raises ``NotEnoughDecisions``)."""
    frames = load_frames(engine)
    model = fit_propensity(frames, random_state=random_state)
    rules = candidate_rules(decided_log(frames))
    return propensity_payload(model, propensity_scores(frames, model, rules))


def loop_inputs(engine: Engine) -> tuple[Any, pd.DataFrame, pd.DataFrame]:
    """Frames, decided log and lifecycle table of the store (the CLI's inputs)."""
    frames = load_frames(engine)
    return frames, decided_log(frames), read_rule_statuses(engine)


def backtest_for_store(
    engine: Engine, rule_id: str, *, action_value: float | None = None
) -> tuple[Backtest, RuleRef]:
    """``cli.py backtest``: the rule looked up in the store, replayed over its decided log."""
    _frames, log, statuses = loop_inputs(engine)
    rule = find_rule(log, statuses, rule_id)
    return backtest(log, rule, action_value=action_value), rule


def set_status_for_store(engine: Engine, rule_id: str, **kwargs: Any) -> dict[str, Any]:
    """``cli.py rules status``: ``set_status`` over the store's log and lifecycle table."""
    _frames, log, statuses = loop_inputs(engine)
    return set_status(engine, log, statuses, rule_id, **kwargs)


def policy_for_store(engine: Engine, rec_id: str) -> dict[str, Any] | None:
    """``cli.py explain --json``'s ``"policy"`` for ``rec_id``."""
    return policy_for_rec(load_frames(engine), read_rule_statuses(engine), rec_id)


def likely_rejections(frames: Any, *, top_n: int = 10) -> list[dict[str, Any]] | None:
    """Open recommendations the propensity model expects to be rejected, most likely first
    (``rec_id``, ``p_override``, ``p_rejected``, ``rules``) — the digest's "need a look"
    list; None when there are too few decisions to fit the model."""
    try:
        model = fit_propensity(frames)
    except NotEnoughDecisions:
        return None
    scored = propensity_scores(frames, model, candidate_rules(decided_log(frames)))
    rejected = scored[scored["likely_decision"] == "rejected"]
    rejected = rejected.sort_values(["p_rejected", "rec_id"], ascending=[False, True])
    cols = ["rec_id", "p_override", "p_rejected", "rules"]
    return rejected[cols].head(top_n).to_dict("records")


def replay(
    log: pd.DataFrame, *, rule_id: str, conditions: dict[str, str], action: dict[str, Any]
) -> Backtest:
    """Backtest one rule with a given action (the page's what-if before adopting)."""
    return backtest_rule(log, rule_id=rule_id, conditions=conditions, action=action)


def propensity_model(frames: Any) -> Propensity | None:
    """The fitted propensity model, or None with too few decisions to learn from."""
    try:
        return fit_propensity(frames)
    except NotEnoughDecisions:
        return None
