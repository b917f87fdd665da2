"""The loop's page blocks (issue 14), kept out of the page scripts so each stays a flat script:
the backtest and confirmed action of a candidate rule, the Policy view, the documented rule's
proposal on the Why page with its one-click decision, and the override propensity note."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import streamlit as st

from analytics.policy.proposal import proposal_sentence
from analytics.shared.safe_text import escape_markdown
from contract.actions import MAX_ADJUST_PCT, MIN_ADJUST_PCT, describe_action
from store import roles
from store.decisions import DecisionError, record_decision
from store.learning.policy import export_policy
from ui import cache, session

_PROPOSAL_COLS = ["rule_id", "action", "recommended_qty", "proposed_qty"]


def rule_action_and_backtest(url: str, version: str, rule: pd.Series) -> dict[str, Any] | None:
    """The action to adopt a candidate rule with (editable, keyed on the rule) and the
    backtest of that action. Returns the action, or None when the rule has none."""
    from analytics.policy.text import (
        backtest_text,  # scipy: only where worded
    )

    action = rule.get("action")
    rid = str(rule["id"])
    if not action:
        st.caption("This rule has no median adjustment to act on, so it cannot be backtested.")
        return None
    if action["kind"] == "adjust_pct":
        key = f"overrides_action_{rid}"  # keyed on the rule: each starts at its own median
        value = st.number_input(
            "Action: adjust the recommended quantity by (%)",
            min_value=MIN_ADJUST_PCT,
            max_value=MAX_ADJUST_PCT,
            # the value last typed outlives a closed tab (the widget is drawn anew)
            value=session.kept(key, None, float(round(action["value"]))),
            step=1.0,
            key=key,
            help=f"The rule's median adjustment is {action['value']:+.1f}%; round it as you "
            "would write it into the planning system.",
        )
        session.keep(key, value)
        action = {"kind": "adjust_pct", "value": float(value)}
    else:
        st.markdown("Action: **reject** the recommendation (commit nothing).")
    bt = cache.rule_backtest(
        url, version, rid, json.dumps(rule["conditions"], sort_keys=True), json.dumps(action)
    )
    st.markdown(backtest_text(bt))
    if bt["by_quarter"]:
        st.dataframe(
            pd.DataFrame(bt["by_quarter"]),
            hide_index=True,
            key=f"overrides_backtest_q_{rid}",
            column_config={"value_added": st.column_config.NumberColumn(format="%+.1f")},
        )
    share = bt["shortfall_share"]
    if bt["n_evaluated"]:
        st.caption(
            f"Short of actual: model {share['model']:.0%}, planners {share['people']:.0%}, rule "
            f"{share['rule']:.0%} of the evaluated recommendations. A backtest keeps the outcomes "
            "observed under what people did: it cannot know how suppliers, customers and lines "
            "would have reacted to the rule, nor the stockouts and expedite spend it would cause."
        )
    return action


def policy_view(url: str, version: str, status_version: int) -> None:
    """The Override patterns page's Policy view: adopted rules, backtests, use since adoption,
    and the versioned export a planning system loads."""
    from analytics.policy.text import (
        policy_use_text,  # scipy: only where worded
    )

    table = cache.policy_overview(url, version, status_version)
    if table.empty:
        session.empty_state(
            "No adopted rule carries an action yet: the policy is empty.",
            hint="Adopt a candidate on the **Candidate rules** tab with its action.",
        )
    else:
        shown = table.assign(
            rule=table["rule_id"],
            action=table["action"].map(describe_action),
            adopted_at=pd.to_datetime(table["adopted_at"], utc=True).dt.strftime("%Y-%m-%d"),
        )
        cols = ["rule", "action", "owner", "adopted_by", "adopted_at", "verdict", "value_added",
                "vs_people", "n_fired", "n_open", "n_followed", "n_kept_model", "n_on_top",
                "on_top_share"]  # fmt: skip
        st.dataframe(
            shown[cols],
            hide_index=True,
            key="overrides_policy",
            column_config={
                "value_added": st.column_config.NumberColumn("backtest vs model", format="%+.1f"),
                "vs_people": st.column_config.NumberColumn("vs planners", format="%+.1f"),
                "on_top_share": st.column_config.NumberColumn(
                    "overridden on top", format="percent"
                ),
            },
        )
        for row in table.to_dict("records"):
            st.markdown(
                f"**{row['rule_id']}** · {describe_action(row['action'])} · {policy_use_text(row)}"
            )
    allowed = roles.can(session.current_role(), "policy_export")
    if st.button("Export the policy", key="overrides_policy_export", disabled=not allowed):
        try:
            result = export_policy(
                cache.current_engine(), actor=session.current_user(), role=session.current_role()
            )
        except roles.PermissionDenied as exc:
            st.error(escape_markdown(str(exc)))
        else:
            cache.clear_after_write()
            st.session_state["overrides_policy_doc"] = result
    if not allowed:
        st.caption("Only an S&OP lead or admin may export the policy.")
    done = st.session_state.get("overrides_policy_doc")
    if done:
        ch = done["changes"]
        st.success(
            f"Policy version {done['document']['version']} exported (audited): "
            f"{len(ch['added'])} added, {len(ch['removed'])} removed, {len(ch['changed'])} "
            "changed since the previous export."
        )
        st.download_button(
            "Download policy (JSON)",
            json.dumps(done["document"], indent=2),
            f"policy_v{done['document']['version']}.json",
            key="overrides_policy_download",
        )


def rule_proposal(rec: pd.DataFrame, *, allowed: bool) -> None:
    """On an open recommendation (the one-row frame ``rec``) an adopted rule matches: the
    rule's proposal beside the model's, and "Accept the rule's quantity" (a ``modified``
    decision whose ``reason_code`` is the rule id; a reject rule records ``rejected``)."""
    rec_id = str(rec["rec_id"].iloc[0])
    hit = cache.rule_proposals(rec)
    if hit.empty:
        return
    row = hit.iloc[0]
    st.info(escape_markdown(proposal_sentence(row)), icon=":material/rule:")
    reject = row["action"]["kind"] == "reject"
    if not reject and pd.isna(row["proposed_qty"]):
        return
    label = "Accept the rule: reject" if reject else "Accept the rule's quantity"
    if st.button(label, key=f"why_accept_rule_{rec_id}", disabled=not allowed, type="secondary"):
        reason = f"Documented rule {row['rule_id']}: {describe_action(row['action'])}"
        try:
            result = record_decision(
                cache.current_engine(),
                rec_id,
                decision="rejected" if reject else "modified",
                final_qty=None if reject else float(row["proposed_qty"]),
                reason=reason,
                reason_code=str(row["rule_id"]),
                actor=session.current_user(),
                role=session.current_role(),
            )
        except (DecisionError, roles.PermissionDenied) as exc:
            st.error(escape_markdown(str(exc)), icon=":material/error:")
        else:
            cache.clear_after_write()
            st.session_state["why_recorded"] = result
            st.rerun()


def propensity_scores() -> pd.DataFrame | None:
    """Open recommendations scored for override propensity (empty with too few decisions;
    None while the model is being prepared)."""
    url = cache.current_url()
    return cache.propensity_open(url, cache.contract_version(url))


def propensity_note(rec_id: str, scores: pd.DataFrame) -> None:
    """The picked open recommendation's override propensity, with how it was validated."""
    from analytics.policy.text import (
        propensity_text,  # scipy: only where worded
    )

    hit = scores[scores["rec_id"] == rec_id] if len(scores) else scores
    if hit.empty:
        return
    r = hit.iloc[0]
    adj = "" if r["likely_decision"] != "modified" else f" by {r['expected_adjustment_pct']:+.0f}%"
    rules = f"; rules that fire: {', '.join(r['rules'])}" if r["rules"] else ""
    st.caption(
        f"Override propensity **{r['p_override']:.0%}** — likely {r['likely_decision']}{adj}{rules}."
    )
    url = cache.current_url()
    model = cache.propensity_model(url, cache.contract_version(url))
    if model is not None:
        box = session.opened("How the propensity model was validated", key="why_calibration_open")
        if box is not None:
            box.caption(propensity_text(model.evaluation))
            box.dataframe(model.calibration, hide_index=True, key="why_calibration")
