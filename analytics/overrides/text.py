"""Words for the override-patterns page: rule evidence, lifecycle status, coaching prompts.

Pure string builders over the analysis frames, so the page stays a thin script
and the wording can be tested and reused (exports, digests).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from analytics.overrides.log import describe_conditions
from analytics.overrides.value_added import coaching_flags
from analytics.shared.safe_text import escape_markdown as md


def _num(value: Any, fmt: str, missing: str = "—") -> str:
    return missing if value is None or pd.isna(value) else format(value, fmt)


COSTLY_MARK = "⚠ costs more than it saves"


def rule_title(rule: Mapping[str, Any]) -> str:
    """``supplier = SUP-017 · quarter = Q4 → increase``, marked when it costs more than it saves."""
    title = f"{describe_conditions(rule['conditions'])} → {rule['direction']}"
    return f"{title} ({COSTLY_MARK})" if bool(rule.get("costs_more", False)) else title


def tested_caption(rules: pd.DataFrame) -> str:
    """How the rules were ranked and how many candidates they were chosen from."""
    from analytics.overrides.rules import RANKING
    from analytics.overrides.significance import FDR

    n = int(rules["n_tested"].iloc[0]) if len(rules) and "n_tested" in rules else 0
    return (
        f"{RANKING} Lift is over the rule's own type's base rate. Kept: Benjamini–Hochberg "
        f"adjusted p ≤ {FDR:g} over all {n:,} candidates tested (conditions × direction), "
        f"so the list is not the luck of a big search. Rules marked {COSTLY_MARK} had their "
        "overrides end further from what happened than the recommendation, with the whole "
        "90% interval below zero."
    )


def by_type_table(rule: Mapping[str, Any]) -> pd.DataFrame:
    """A rule's per-type breakdown as a table: how each type it spans follows it."""
    rows = pd.DataFrame(list(rule.get("by_type") or []))
    if rows.empty:
        return pd.DataFrame(columns=["rec_type", "support", "coverage", "confidence", "base_rate"])
    return rows[["rec_type", "support", "coverage", "confidence", "base_rate"]]


def language_lines(by_language: Mapping[str, list[str]]) -> list[str]:
    """``**de** — „…“ · „…“`` per language present (``?`` = not recognised)."""
    names = {"en": "English", "de": "German", "fr": "French", "es": "Spanish",
             "it": "Italian", "pt": "Portuguese", "?": "other / not recognised"}  # fmt: skip
    return [
        f"**{names.get(lang, lang)}** — " + " · ".join(f"“{md(r)}”" for r in reasons)
        for lang, reasons in sorted(by_language.items(), key=lambda kv: (kv[0] == "?", kv[0]))
    ]


def rule_evidence_text(rule: Mapping[str, Any]) -> str:
    """The evidence of one rule (a row of ``OverrideAnalysis.rules``) as Markdown."""
    seen = (
        f"seen {rule['first_seen']:%Y-%m-%d} to {rule['last_seen']:%Y-%m-%d}"
        if not pd.isna(rule["first_seen"])
        else "never seen"
    )
    return (
        f"**{md(rule_title(rule))}** · {rule['support']:,} of {rule['coverage']:,} matching "
        f"recommendations overridden this way ({rule['confidence']:.0%}, "
        f"{rule['lift']:.1f}× its type's base rate of {_num(rule.get('base_rate'), '.0%')}; "
        f"adjusted p {_num(rule.get('p_adjusted'), '.1e')}) · median adjustment "
        f"{_num(rule['median_adjustment_pct'], '+.1f')}% · {seen}  \n"
        f"Theme **{md(rule['theme_label'])}**; {_num(rule['reason_share'], '.0%')} gave a reason. "
        f"Value added {_num(rule['value_added'], '+,.1f')} units per override (90% CI "
        f"{_num(rule['ci_low'], '+,.1f')} to {_num(rule['ci_high'], '+,.1f')}), win rate "
        f"{_num(rule['win_rate'], '.0%')}: **{rule['verdict']}**."
    )


def status_text(status: str, row: Mapping[str, Any] | None) -> str:
    """``Status: **adopted** — by …, on …; owner …; note: …`` (who and when)."""
    text = f"Status: **{md(status)}**"
    if row is None:
        return text
    return (
        f"{text} — by {md(row['updated_by'])} on {row['updated_at']:%Y-%m-%d %H:%M} UTC; "
        f"owner {md(row['owner'] or '—')}; note: {md(row['note'] or '—')}"
    )


def coaching_prompts(planners: pd.DataFrame, rules: pd.DataFrame) -> list[str]:
    """Markdown lines for planners and rules whose overrides cost more than they saved.

    ``planners`` is ``value_added(log, by="decided_by")``; ``rules`` the analysis'
    rules with evidence. Worst net effect first within each kind.
    """
    lines = [
        f"planner **{md(r.decided_by)}**: {md(r.effect)}"
        for r in coaching_flags(planners, name_column="decided_by").itertuples()
    ]
    flagged = coaching_flags(rules, name_column="id")
    lines += [
        f"rule **{md(rule_title(r))}**: {md(r['effect'])}" for r in flagged.to_dict("records")
    ]
    return lines


def headline_caption(overall: Mapping[str, Any], stockouts: pd.DataFrame) -> str:
    """One sentence on value added and stockouts after overrides vs acceptances."""
    s = stockouts.set_index("group")
    return (
        f"Value added: **{overall['verdict']}**; win rate {_num(overall['win_rate'], '.0%')}. "
        f"Stockouts after overrides {_num(s.at['overridden', 'stockout_rate'], '.1%')} vs after "
        f"acceptances {_num(s.at['accepted', 'stockout_rate'], '.1%')} "
        f"({_num(s.at['overridden', 'vs_accepted'], '+.1f')} points)."
    )


def rules_report_lines(report: dict[str, Any]) -> list[str]:
    """``cli.py rules`` as a terminal table, best rule first, saying how it is ranked."""
    if not report["rules"]:
        return ["no candidate rules: too few overrides with a consistent pattern"]
    from analytics.overrides.significance import FDR

    n_tested = report["rules"][0].get("n_tested", 0)
    lines = [
        "ranked by score (excess overrides × confidence); lift over each rule's own type's "
        f"base rate; kept at Benjamini–Hochberg adjusted p ≤ {FDR:g} of {n_tested:,} "
        "candidates tested",
        f"{'id':14s} {'direction':9s} {'support':>8s} {'conf':>6s} {'lift':>6s} {'adj. p':>8s} "
        f"{'VA':>8s}  conditions",
    ]
    for r in report["rules"]:
        cond = ", ".join(f"{k}={v}" for k, v in r["conditions"].items())
        va = "—" if r["value_added"] is None else f"{r['value_added']:+.2f}"
        costly = f"  {COSTLY_MARK}" if r.get("costs_more") else ""
        lines.append(
            f"{r['id']:14s} {r['direction']:9s} {r['support']:>8,} {r['confidence']:>6.2f} "
            f"{r['lift']:>6.1f} {r['p_adjusted']:>8.1e} {va:>8s}  {cond}  [{r['status']}] "
            f"{r['theme_label']}{costly}"
        )
    return lines
