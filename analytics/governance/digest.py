"""The daily digest: what needs a decision today, as a chat message card.

Pure: builds the digest's content from the log and renders it as a Microsoft
Teams (Adaptive Card), Slack (Block Kit) or plain JSON payload. Posting lives
in ``store/outbox.py``.

The digest id is the date plus a hash of *which* items the digest names (breached
recommendation ids per owner, the top open ids, candidate rule ids), not of
counters such as hours overdue that change by the minute: a scheduler that runs
twice on one day with nothing new produces the same id, so the outbox posts once;
a new breach makes a new id.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from analytics.governance.breaches import breach_queue, breaches_by_owner

# The renderers live apart; re-exported here for the callers of this module.
from analytics.governance.digest_cards import (  # noqa: F401
    FORMATS,
    digest_lines,
    digest_payload,
    digest_sections,
    digest_text,
    slack_message,
    teams_card,
)
from analytics.governance.digest_items import (
    DUE_SOON_H,
    by_impact,
    due_soon,
    open_recommendations,
    rec_items,
    rule_url,
)
from analytics.governance.digest_items import num as _num
from analytics.governance.digest_items import text as _text
from analytics.governance.ownership import decision_status


def digest_hash(identity: Mapping[str, Any]) -> str:
    """12 hex digits naming *which* items a digest holds (see the module docstring)."""
    raw = json.dumps(identity, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(raw).hexdigest()[:12]


def build_digest(
    recommendations: pd.DataFrame,
    decisions: pd.DataFrame,
    owners: pd.DataFrame,
    *,
    now: pd.Timestamp | str,
    rule_candidates: Sequence[Mapping[str, Any]] | None = None,
    rules_note: str | None = None,
    likely_rejections: Sequence[Mapping[str, Any]] | None = None,
    model_alerts: Sequence[Mapping[str, Any]] | None = None,
    top_n: int = 10,
    max_rules: int = 5,
    app_url: str | None = None,
    due_within_h: float = DUE_SOON_H,
) -> dict[str, Any]:
    """The digest's content as a JSON-able dict.

    Parameters
    ----------
    recommendations, decisions, owners
        The contract tables.
    now
        The digest's moment (UTC); its date is part of the id.
    rule_candidates
        New candidate rules, best first (dicts with ``id``, ``conditions``, ``direction``,
        ``support``, ``confidence``, ``median_adjustment_pct`` as far as known), or None when
        the rule analysis is unavailable — the section is then left out with ``rules_note``.
    likely_rejections
        Open recommendations the override-propensity model expects to be rejected, most
        likely first (dicts with ``rec_id``, ``p_override``, ``p_rejected``, ``rules``), or
        None when the model is unavailable; at most ``top_n`` are listed.
    model_alerts
        Unacknowledged model-health alerts (dicts with ``kind``, ``since``, ``message`` and
        optionally their ``key``, which identifies them in the digest id), or
        None when the monitor did not run — the digest then has no ``model_health`` entry.
    top_n
        How many open recommendations (by ``est_impact_usd``), owners and recommendations
        due soon to list.
    app_url
        The workbench's address: every item then carries a deep link ``url``
        (``APP/why?rec=…``, rules ``APP/overrides?rule=…``); None without it.
    due_within_h
        Open recommendations falling due within this many hours are ``due_soon``.

    Returns
    -------
    dict with ``digest_id``, ``date``, ``as_of``, ``n_open``, ``n_breaches``,
    ``breach_impact_usd``, ``breaches_by_owner`` (``owner, escalation_to, n_breaches,
    impact_usd, max_hours_overdue``), ``top_open`` and ``due_soon`` (items of
    ``analytics.governance.digest_items.rec_items``: ``rec_id, rec_type, site, sku,
    est_impact_usd, owner, escalation_to, hours_open, hours_overdue, due_at,
    hours_to_due, url``), ``rule_candidates`` (list or None, each with ``url``) and
    ``likely_rejections`` (``rec_id, p_override, p_rejected, rules``; list or None),
    ``notes`` and, given ``model_alerts``, ``model_health`` (``kind, since, message`` per
    alert). The id does not depend on ``due_soon``: an item crossing into its last
    hours does not re-send the day's digest; its breach will.
    """
    ts = pd.Timestamp(now)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    # Only open recommendations appear in a digest: judge just those (see open_recommendations).
    status = decision_status(
        open_recommendations(recommendations, decisions), decisions.head(0), owners, now=ts
    )
    queue = breach_queue(status)
    by_owner = breaches_by_owner(status)
    open_recs = status[status["is_open"]]
    top = by_impact(open_recs, top_n)
    notes: list[str] = []
    if owners.empty:
        notes.append("No ownership matrix loaded: SLA breaches cannot be judged.")
    unowned_open = int(open_recs["owner"].isna().sum())
    if unowned_open:
        notes.append(f"{unowned_open:,} open recommendations have no owner and no SLA.")

    breach_ids = {
        str(o): sorted(queue.loc[queue["owner"] == o, "rec_id"].astype(str))
        for o in by_owner["owner"]
    }
    content = {
        "kind": "all",
        "date": ts.strftime("%Y-%m-%d"),
        "as_of": ts.isoformat(),
        "n_open": int(len(open_recs)),
        "n_breaches": int(len(queue)),
        "breach_impact_usd": _num(queue["est_impact_usd"].sum()) or 0.0,
        "breaches_by_owner": [
            {
                "owner": str(r.owner),
                "escalation_to": _text(r.escalation_to),
                "n_breaches": int(r.n_breaches),
                "impact_usd": _num(r.impact_usd),
                "max_hours_overdue": _num(r.max_hours_overdue),
            }
            for r in by_owner.head(top_n).itertuples()
        ],
        "top_open": rec_items(top, now=ts, app_url=app_url),
        "due_soon": rec_items(
            due_soon(open_recs, now=ts, within_h=due_within_h).head(top_n),
            now=ts,
            app_url=app_url,
        ),
        "due_within_h": due_within_h,
        "rule_candidates": None,
        "likely_rejections": None
        if likely_rejections is None
        else [_likely(r) for r in list(likely_rejections)[:top_n]],
        "notes": notes,
    }
    if rule_candidates is None:
        notes.append(
            rules_note or "Rule candidates left out: the override analysis is not available."
        )
    else:
        content["rule_candidates"] = [_rule(c, app_url) for c in list(rule_candidates)[:max_rules]]
    identity = {
        "date": content["date"],
        "breaches": breach_ids,
        "top_open": [r["rec_id"] for r in content["top_open"]],
        "rules": [r["id"] for r in content["rule_candidates"] or []],
    }
    if model_alerts is not None:
        content["model_health"] = [
            {"kind": str(a["kind"]), "since": str(a["since"]), "message": str(a["message"])}
            for a in model_alerts
        ]
        # Which alerts, not their counts (they grow daily): the key when given.
        identity["model_health"] = [
            str(a.get("key") or a["kind"] + a["since"]) for a in model_alerts
        ]
    return {"digest_id": f"{content['date']}-{digest_hash(identity)}", **content}


def _likely(r: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "rec_id": str(r["rec_id"]),
        "p_override": _num(r.get("p_override")),
        "p_rejected": _num(r.get("p_rejected")),
        "rules": [str(x) for x in r.get("rules") or []],
    }


def _rule(c: Mapping[str, Any], app_url: str | None = None) -> dict[str, Any]:
    conditions = c.get("conditions") or {}
    rule_id = str(c.get("id", c.get("rule_key", "")))
    return {
        "id": rule_id,
        "url": rule_url(app_url, rule_id) if rule_id else None,
        "conditions": {str(k): str(v) for k, v in dict(conditions).items()},
        "direction": _text(c.get("direction")),
        "support": c.get("support"),
        "confidence": _num(c.get("confidence")),
        "median_adjustment_pct": _num(c.get("median_adjustment_pct")),
        # only when true, so the digest id of a digest without costly rules is unchanged
        **({"costs_more": True} if c.get("costs_more") else {}),
    }
