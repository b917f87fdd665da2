"""The loop in words: backtest verdicts, the policy's use, propensity validation."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from analytics.policy.backtest import CANNOT_KNOW, HELPS, HURTS, NOT_ENOUGH
from contract.actions import describe_action


def _units(value: float | None) -> str:
    return "—" if value is None or pd.isna(value) else f"{value:+,.1f}"


def backtest_text(bt: Mapping[str, Any]) -> str:
    """A backtest document (``Backtest.to_json``) as two Markdown sentences."""
    n, m = bt["n_evaluated"], bt["n_matched"]
    head = (
        f"Replaying **{describe_action(bt['action'])}** on the {m:,} decided recommendations the "
        f"rule matches ({n:,} with an outcome)"
    )
    if bt["verdict"] == NOT_ENOUGH:
        return f"{head}: **not enough data** to tell (at least 20 outcomes are needed)."
    effect = {
        HELPS: "**helps**: committed quantities would have been closer to actual than the model's",
        HURTS: "**hurts**: committed quantities would have been further from actual than the model's",
    }.get(bt["verdict"], "is **not distinguishable from noise** against the model")
    vp = bt["vs_people"]
    return (
        f"{head} {effect} — {_units(bt['value_added'])} units per recommendation (95% CI "
        f"{_units(bt['ci_low'])} to {_units(bt['ci_high'])}). Against what planners actually did "
        f"on them: {_units(vp['value_added'])} units (95% CI {_units(vp['ci_low'])} to "
        f"{_units(vp['ci_high'])}); positive means encoding the rule beats leaving it to people."
    )


def policy_use_text(row: Mapping[str, Any]) -> str:
    """One adopted rule's use since adoption (a row of ``flows.policy.policy_overview``)."""
    if not row["n_fired"]:
        return "Has not fired since it was adopted."
    decided = int(row["n_decided"])
    text = f"Fired on {int(row['n_fired']):,} recommendations since adoption ({int(row['n_open']):,} still open)."
    if decided:
        text += (
            f" Of {decided:,} decided: {int(row['n_followed']):,} followed the rule, "
            f"{int(row['n_kept_model']):,} kept the model's quantity, {int(row['n_on_top']):,} "
            f"overridden on top ({row['on_top_share']:.0%})."
        )
    return text


def propensity_text(evaluation: Mapping[str, Any]) -> str:
    """How the propensity model was validated, for a caption."""
    auc = evaluation.get("auc")
    return (
        f"Trained on decisions before {evaluation['from'][:10]}, scored on the "
        f"{evaluation['n']:,} recommendations created {evaluation['from'][:10]} … "
        f"{evaluation['to'][:10]}: AUC {'—' if auc is None else f'{auc:.3f}'}, Brier "
        f"{evaluation['brier']:.4f} (the base rate alone: {evaluation['base_rate_brier']:.4f}); "
        f"mean predicted {evaluation['mean_predicted']:.1%} vs {evaluation['observed']:.1%} "
        "actually overridden. Only what was known when each recommendation was created is used."
    )


def backtest_lines(bt: Mapping[str, Any], conditions: Mapping[str, str], status: str) -> list[str]:
    """``cli.py backtest`` in words: the rule, its replay against the model and planners,
    by quarter, and what a backtest cannot know."""
    cond = ", ".join(f"{k}={v}" for k, v in conditions.items())
    lines = [
        f"{bt['rule_id']} [{status}] {cond} → {describe_action(bt['action'])}",
        f"matched {bt['n_matched']:,} decided recommendations, {bt['n_evaluated']:,} with an outcome",
    ]
    if bt["value_added"] is None:
        lines.append(f"verdict: {bt['verdict']}")
    else:
        vp = bt["vs_people"]
        lines += [
            f"value added vs the model {_units(bt['value_added'])} units (95% CI "
            f"{_units(bt['ci_low'])} to {_units(bt['ci_high'])}): {bt['verdict']}",
            f"vs what planners did     {_units(vp['value_added'])} units (95% CI "
            f"{_units(vp['ci_low'])} to {_units(vp['ci_high'])})",
        ]
        lines += [
            f"  {q['quarter']}  n={q['n']:>7,}  {_units(q['value_added'])}"
            for q in bt["by_quarter"]
        ]
    lines.append(CANNOT_KNOW)
    return lines


def propensity_lines(doc: Mapping[str, Any], *, top: int = 30) -> list[str]:
    """``cli.py propensity`` in words: the validation, then the open recommendations most
    likely to be overridden."""
    ev = doc["evaluation"]
    auc = "—" if ev["auc"] is None else f"{ev['auc']:.3f}"
    lines = [
        f"validated on {ev['n']:,} recommendations created {ev['from'][:10]} … {ev['to'][:10]}: "
        f"AUC {auc}, Brier {ev['brier']:.4f}",
        f"{'rec_id':16s} {'p_override':>10s}  {'likely':9s} {'adj %':>7s}  rules",
    ]
    for r in doc["open"][:top]:
        lines.append(
            f"{r['rec_id']:16s} {r['p_override']:>10.3f}  {r['likely_decision']:9s} "
            f"{r['expected_adjustment_pct']:>+7.1f}  {', '.join(r['rules'])}"
        )
    return lines


def policy_lines(policy: Mapping[str, Any]) -> list[str]:
    """The ``"policy"`` of ``cli.py explain`` in words."""
    qty = policy["proposed_qty"]
    return [
        f"documented rule {policy['rule_id']}: {describe_action(policy['action'])} → proposed "
        f"quantity {'—' if qty is None else f'{qty:,.0f}'}"
    ]
