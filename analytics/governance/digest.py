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
import math
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from analytics.governance.ownership import breach_queue, breaches_by_owner, decision_status
from analytics.shared.safe_text import escape_markdown

FORMATS = ("teams", "slack", "json")


def _num(value: Any) -> float | None:
    if value is None or value is pd.NA:
        return None
    f = float(value)
    return None if math.isnan(f) else round(f, 2)


def _text(value: Any) -> str | None:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    return str(value)


def _usd(value: float | None) -> str:
    return "impact unknown" if value is None else f"${value:,.0f}"


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
        How many open recommendations (by ``est_impact_usd``) and owners to list.

    Returns
    -------
    dict with ``digest_id``, ``date``, ``as_of``, ``n_open``, ``n_breaches``,
    ``breach_impact_usd``, ``breaches_by_owner`` (``owner, escalation_to, n_breaches,
    impact_usd, max_hours_overdue``), ``top_open`` (``rec_id, rec_type, site, sku,
    est_impact_usd, owner, escalation_to, hours_open, hours_overdue``),
    ``rule_candidates`` (list or None), ``likely_rejections`` (``rec_id, p_override,
    p_rejected, rules``; list or None), ``notes`` and, given ``model_alerts``,
    ``model_health`` (``kind, since, message`` per alert).
    """
    ts = pd.Timestamp(now)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    status = decision_status(recommendations, decisions, owners, now=ts)
    queue = breach_queue(status)
    by_owner = breaches_by_owner(status)
    open_recs = status[status["is_open"]]
    top = open_recs.sort_values(
        ["est_impact_usd", "created_at", "rec_id"],
        ascending=[False, True, True],
        na_position="last",
        kind="stable",
    ).head(top_n)
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
        "top_open": [
            {
                "rec_id": str(r.rec_id),
                "rec_type": str(r.rec_type),
                "site": str(r.site),
                "sku": _text(r.sku),
                "est_impact_usd": _num(r.est_impact_usd),
                "owner": _text(r.owner),
                "escalation_to": _text(r.escalation_to),
                "hours_open": _num((ts - r.created_at).total_seconds() / 3600),
                "hours_overdue": _num(r.hours_overdue),
            }
            for r in top.itertuples()
        ],
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
        content["rule_candidates"] = [_rule(c) for c in list(rule_candidates)[:max_rules]]
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
    digest_hash = hashlib.sha256(
        json.dumps(identity, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()[:12]
    return {"digest_id": f"{content['date']}-{digest_hash}", **content}


def _likely(r: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "rec_id": str(r["rec_id"]),
        "p_override": _num(r.get("p_override")),
        "p_rejected": _num(r.get("p_rejected")),
        "rules": [str(x) for x in r.get("rules") or []],
    }


def _likely_line(r: Mapping[str, Any]) -> str:
    rules = f" (rules {', '.join(r['rules'])})" if r["rules"] else ""
    p = r["p_rejected"]
    return f"{r['rec_id']}: {'?' if p is None else f'{p:.0%}'} likely to be rejected{rules}"


def _rule(c: Mapping[str, Any]) -> dict[str, Any]:
    conditions = c.get("conditions") or {}
    return {
        "id": str(c.get("id", c.get("rule_key", ""))),
        "conditions": {str(k): str(v) for k, v in dict(conditions).items()},
        "direction": _text(c.get("direction")),
        "support": c.get("support"),
        "confidence": _num(c.get("confidence")),
        "median_adjustment_pct": _num(c.get("median_adjustment_pct")),
        # only when true, so the digest id of a digest without costly rules is unchanged
        **({"costs_more": True} if c.get("costs_more") else {}),
    }


def _rule_line(r: Mapping[str, Any]) -> str:
    cond = " & ".join(f"{k}={v}" for k, v in r["conditions"].items()) or r["id"]
    parts = [f"{cond} → {r['direction'] or '?'}"]
    if r.get("median_adjustment_pct") is not None and r.get("direction") != "reject":
        parts.append(f"median {r['median_adjustment_pct']:+.0f}%")
    if r.get("support") is not None:
        parts.append(f"{r['support']} overrides")
    if r.get("confidence") is not None:
        parts.append(f"confidence {r['confidence']:.0%}")
    if r.get("costs_more"):
        parts.append("⚠ costs more than it saves")
    return ", ".join(parts)


def _owner_line(o: Mapping[str, Any]) -> str:
    esc = f", escalates to {o['escalation_to']}" if o.get("escalation_to") else ""
    return (
        f"{o['owner']}: {o['n_breaches']} past SLA ({_usd(o['impact_usd'])}, "
        f"up to {o['max_hours_overdue'] or 0:,.0f} h overdue){esc}"
    )


def _open_line(r: Mapping[str, Any]) -> str:
    late = f", {r['hours_overdue']:,.0f} h past SLA" if r.get("hours_overdue") is not None else ""
    who = r["owner"] or "no owner"
    sku = f" {r['sku']}" if r.get("sku") else ""
    return f"{r['rec_id']} {r['rec_type']} @ {r['site']}{sku}: {_usd(r['est_impact_usd'])} — {who}{late}"


def digest_sections(digest: Mapping[str, Any]) -> list[tuple[str, list[str]]]:
    """The digest as (heading, lines) sections: the text every format renders."""
    summary = (
        f"{digest['n_open']:,} open recommendations; {digest['n_breaches']:,} past their SLA "
        f"({_usd(digest['breach_impact_usd'])} at stake)."
    )
    sections: list[tuple[str, list[str]]] = [("Summary", [summary])]
    sections.append(
        (
            "SLA breaches by owner",
            [_owner_line(o) for o in digest["breaches_by_owner"]] or ["No open SLA breaches."],
        )
    )
    sections.append(
        (
            "Top open recommendations by impact",
            [_open_line(r) for r in digest["top_open"]] or ["Nothing open."],
        )
    )
    if digest["rule_candidates"] is not None:
        sections.append(
            (
                "New rule candidates to review",
                [_rule_line(r) for r in digest["rule_candidates"]] or ["No new candidates."],
            )
        )
    if digest.get("likely_rejections"):
        sections.append(
            (
                "Likely rejections: need a look",
                [_likely_line(r) for r in digest["likely_rejections"]],
            )
        )
    if digest.get("model_health") is not None:
        sections.append(
            (
                "Model health alerts",
                [a["message"] for a in digest["model_health"]] or ["No open model-health alert."],
            )
        )
    if digest["notes"]:
        sections.append(("Notes", list(digest["notes"])))
    return sections


def _audit_note(digest: Mapping[str, Any]) -> str:
    """`` · audit trail: N events, head <hash>`` when the digest carries the audit head."""
    head = digest.get("audit_head")
    if not head:
        return ""
    return f" · audit trail: {head['events']:,} events, head {head['head_hash']}"


def _title(digest: Mapping[str, Any]) -> str:
    return f"Decision digest {digest['date']}"


def teams_card(digest: Mapping[str, Any], *, app_url: str | None = None) -> dict[str, Any]:
    """An incoming-webhook message carrying an Adaptive Card (Teams workflows and connectors)."""
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "size": "Large",
            "weight": "Bolder",
            "text": _title(digest),
            "wrap": True,
        }
    ]
    for heading, lines in digest_sections(digest):
        body.append(
            {
                "type": "TextBlock",
                "weight": "Bolder",
                "text": heading,
                "wrap": True,
                "spacing": "Medium",
            }
        )
        # Adaptive Card text is Markdown: names, SKUs and reasons must render as written.
        body.append(
            {
                "type": "TextBlock",
                "text": "\n".join(f"- {escape_markdown(x)}" for x in lines),
                "wrap": True,
            }
        )
    body.append(
        {
            "type": "TextBlock",
            "text": f"Digest {digest['digest_id']}{_audit_note(digest)}",
            "isSubtle": True,
            "size": "Small",
        }
    )
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    }
    if app_url:
        card["actions"] = [
            {"type": "Action.OpenUrl", "title": "Open the workbench", "url": app_url}
        ]
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": card,
            }
        ],
    }


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_message(digest: Mapping[str, Any], *, app_url: str | None = None) -> dict[str, Any]:
    """A Slack incoming-webhook message (Block Kit, with a plain-text fallback)."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _title(digest)}}
    ]
    for heading, lines in digest_sections(digest):
        text = f"*{heading}*\n" + "\n".join(f"• {_slack_escape(x)}" for x in lines)
        # Slack refuses a section over 3000 characters.
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text[:2990]}})
    footer = f"Digest {digest['digest_id']}{_audit_note(digest)}"
    if app_url:
        footer += f" · <{app_url}|Open the workbench>"
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": footer}]})
    sections = digest_sections(digest)
    return {"text": f"{_title(digest)}: {sections[0][1][0]}", "blocks": blocks}


def digest_payload(
    digest: Mapping[str, Any], *, fmt: str = "json", app_url: str | None = None
) -> dict[str, Any]:
    """The body to post for ``fmt`` (``"teams"``, ``"slack"`` or ``"json"``: the digest itself)."""
    if fmt == "teams":
        return teams_card(digest, app_url=app_url)
    if fmt == "slack":
        return slack_message(digest, app_url=app_url)
    if fmt == "json":
        return {"digest": dict(digest)}
    raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")


def digest_text(digest: Mapping[str, Any]) -> str:
    """The digest as plain text, for a terminal."""
    out = [_title(digest), ""]
    for heading, lines in digest_sections(digest):
        out.append(heading)
        out.extend(f"  - {x}" for x in lines)
        out.append("")
    out.append(f"Digest id: {digest['digest_id']}")
    return "\n".join(out)
