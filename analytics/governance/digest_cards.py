"""The digests rendered: Teams Adaptive Card, Slack Block Kit, JSON, and plain text.

Every format renders ``digest_lines``: (heading, [(line, deep link)]) sections.
A line with a link is a "Review" button of its own (Teams ``Action.OpenUrl``, a
Slack link button), so the planner is one step from the decision.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from analytics.governance.digest_items import DUE_SOON_H, item_line, usd
from analytics.shared.safe_text import escape_markdown, escape_slack

FORMATS = ("teams", "slack", "json")
# Slack refuses a message of more than 50 blocks, and a section over 3000 characters.
SLACK_MAX_BLOCKS = 50
_SLACK_MAX_TEXT = 2990


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


def _likely_line(r: Mapping[str, Any]) -> str:
    rules = f" (rules {', '.join(r['rules'])})" if r["rules"] else ""
    p = r["p_rejected"]
    return f"{r['rec_id']}: {'?' if p is None else f'{p:.0%}'} likely to be rejected{rules}"


def _owner_line(o: Mapping[str, Any]) -> str:
    esc = f", escalates to {o['escalation_to']}" if o.get("escalation_to") else ""
    return (
        f"{o['owner']}: {o['n_breaches']} past SLA ({usd(o['impact_usd'])}, "
        f"up to {o['max_hours_overdue'] or 0:,.0f} h overdue){esc}"
    )


Line = tuple[str, str | None]  # (text, deep link or None)


def _items(items: Sequence[Mapping[str, Any]], empty: str) -> list[Line]:
    return [(item_line(dict(r)), r.get("url")) for r in items] or [(empty, None)]


def _summary(digest: Mapping[str, Any]) -> str:
    head = (
        f"{digest['n_open']:,} open recommendations; {digest['n_breaches']:,} past their SLA "
        f"({usd(digest['breach_impact_usd'])} at stake)"
    )
    if digest.get("due_soon") is not None:
        head += (
            f"; {len(digest['due_soon']):,} due within {digest.get('due_within_h', DUE_SOON_H):g} h"
        )
    return head + "."


def digest_lines(digest: Mapping[str, Any]) -> list[tuple[str, list[Line]]]:
    """The digest as (heading, [(line, url)]) sections: what every format renders.

    Works for the whole-plant digest (``build_digest``) and the per-owner and escalation
    digests (``analytics.governance.owner_digests``), which carry ``kind`` and
    ``breaches`` (the items past their SLA).
    """
    kind = digest.get("kind", "all")
    within = digest.get("due_within_h", DUE_SOON_H)
    sections: list[tuple[str, list[Line]]] = [("Summary", [(_summary(digest), None)])]
    if kind == "escalation":
        sections.append(
            (
                "Breaches of the people you cover",
                [(_owner_line(o), None) for o in digest["breaches_by_owner"]]
                or [("No open SLA breaches.", None)],
            )
        )
    if kind in ("owner", "escalation"):
        sections.append(("Past their SLA", _items(digest["breaches"], "No open SLA breaches.")))
    if kind == "all":
        sections.append(
            (
                "SLA breaches by owner",
                [(_owner_line(o), None) for o in digest["breaches_by_owner"]]
                or [("No open SLA breaches.", None)],
            )
        )
    if kind != "escalation":
        if digest.get("due_soon") is not None:
            sections.append(
                (f"Due within {within:g} h", _items(digest["due_soon"], "Nothing due soon."))
            )
        heading = (
            "Your open recommendations by impact"
            if kind == "owner"
            else ("Top open recommendations by impact")
        )
        sections.append((heading, _items(digest["top_open"], "Nothing open.")))
    if digest.get("rule_candidates") is not None:
        sections.append(
            (
                "New rule candidates to review",
                [(_rule_line(r), r.get("url")) for r in digest["rule_candidates"]]
                or [("No new candidates.", None)],
            )
        )
    if digest.get("likely_rejections"):
        sections.append(
            (
                "Likely rejections: need a look",
                [(_likely_line(r), None) for r in digest["likely_rejections"]],
            )
        )
    if digest.get("model_health") is not None:
        sections.append(
            (
                "Model health alerts",
                [(a["message"], None) for a in digest["model_health"]]
                or [("No open model-health alert.", None)],
            )
        )
    if digest.get("notes"):
        sections.append(("Notes", [(n, None) for n in digest["notes"]]))
    return sections


def digest_sections(digest: Mapping[str, Any]) -> list[tuple[str, list[str]]]:
    """The digest as (heading, lines) sections, without the links."""
    return [(h, [line for line, _ in lines]) for h, lines in digest_lines(digest)]


def _audit_note(digest: Mapping[str, Any]) -> str:
    """`` · audit trail: N events, head <hash>`` when the digest carries the audit head."""
    head = digest.get("audit_head")
    if not head:
        return ""
    return f" · audit trail: {head['events']:,} events, head {head['head_hash']}"


def _title(digest: Mapping[str, Any]) -> str:
    kind = digest.get("kind", "all")
    if kind == "owner":
        return f"Decision digest {digest['date']} for {digest['recipient']}"
    if kind == "escalation":
        return f"Escalation digest {digest['date']} for {digest['recipient']}"
    return f"Decision digest {digest['date']}"


def _teams_lines(lines: list[Line]) -> list[dict[str, Any]]:
    """Plain lines as one bulleted block; each linked line as a row with its own Review button."""
    out: list[dict[str, Any]] = []
    plain: list[str] = []

    def flush() -> None:
        if plain:
            out.append(
                # Adaptive Card text is Markdown: names, SKUs and reasons render as written.
                {
                    "type": "TextBlock",
                    "text": "\n".join(f"- {escape_markdown(x)}" for x in plain),
                    "wrap": True,
                }
            )
            plain.clear()

    for line, url in lines:
        if not url:
            plain.append(line)
            continue
        flush()
        out.append(
            {
                "type": "ColumnSet",
                "columns": [
                    {
                        "type": "Column",
                        "width": "stretch",
                        "items": [
                            {
                                "type": "TextBlock",
                                "text": f"- {escape_markdown(line)}",
                                "wrap": True,
                            }
                        ],
                    },
                    {
                        "type": "Column",
                        "width": "auto",
                        "items": [
                            {
                                "type": "ActionSet",
                                "actions": [
                                    {"type": "Action.OpenUrl", "title": "Review", "url": url}
                                ],
                            }
                        ],
                    },
                ],
            }
        )
    flush()
    return out


def teams_card(digest: Mapping[str, Any], *, app_url: str | None = None) -> dict[str, Any]:
    """An incoming-webhook message carrying an Adaptive Card (Teams workflows and connectors).

    Each item with a deep link gets its own ``Action.OpenUrl`` "Review" button; ``app_url``
    adds an "Open the workbench" action at the foot.
    """
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "size": "Large",
            "weight": "Bolder",
            "text": escape_markdown(_title(digest)),  # the recipient's name: from the data
            "wrap": True,
        }
    ]
    for heading, lines in digest_lines(digest):
        body.append(
            {
                "type": "TextBlock",
                "weight": "Bolder",
                "text": heading,
                "wrap": True,
                "spacing": "Medium",
            }
        )
        body.extend(_teams_lines(lines))
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


def _slack_mrkdwn(text: str) -> dict[str, Any]:
    # verbatim: Slack does not turn a bare URL, #channel or @here in people's words into a
    # link or a mention; only the <url|label> links written here are links.
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def _slack_section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": _slack_mrkdwn(text[:_SLACK_MAX_TEXT])}


def _slack_text_blocks(run: list[str]) -> list[dict[str, Any]]:
    """Lines packed into as few sections as fit Slack's text limit (never cut mid-line)."""
    blocks: list[dict[str, Any]] = []
    chunk: list[str] = []
    size = 0
    for line in run:
        if chunk and size + len(line) + 1 > _SLACK_MAX_TEXT:
            blocks.append(_slack_section("\n".join(chunk)))
            chunk, size = [], 0
        chunk.append(line)
        size += len(line) + 1
    if chunk:
        blocks.append(_slack_section("\n".join(chunk)))
    return blocks


def _slack_blocks(
    sections: list[tuple[str, list[Line]]], buttons: set[int]
) -> list[dict[str, Any]]:
    """Section blocks: a heading, runs of text lines, and one block per item in ``buttons``
    (indices of linked lines, counted across sections) carrying its Review button."""
    blocks: list[dict[str, Any]] = []
    k = 0
    for heading, lines in sections:
        run: list[str] = [f"*{heading}*"]
        for line, url in lines:
            if url and k in buttons:
                blocks.extend(_slack_text_blocks(run))
                run = []
                blocks.append(
                    {
                        **_slack_section(f"• {escape_slack(line)}"),
                        "accessory": {
                            "type": "button",
                            "text": {"type": "plain_text", "text": "Review"},
                            "url": url,
                            "action_id": f"review-{k}",
                        },
                    }
                )
            elif url:
                run.append(f"• <{url}|{escape_slack(line)}>")
            else:
                run.append(f"• {escape_slack(line)}")
            k += 1 if url else 0
        blocks.extend(_slack_text_blocks(run))
    return blocks


def slack_message(digest: Mapping[str, Any], *, app_url: str | None = None) -> dict[str, Any]:
    """A Slack incoming-webhook message (Block Kit, with a plain-text fallback).

    Each item with a deep link is a section with its own "Review" link button while the
    message stays within Slack's 50 blocks; the items beyond keep their link inline.
    """
    sections = digest_lines(digest)
    buttons = set(range(sum(1 for _, lines in sections for _, url in lines if url)))
    blocks = _slack_blocks(sections, buttons)
    while len(blocks) + 2 > SLACK_MAX_BLOCKS and buttons:  # + header and footer
        buttons.discard(max(buttons))
        blocks = _slack_blocks(sections, buttons)
    if len(blocks) + 2 > SLACK_MAX_BLOCKS:  # even without buttons: keep the first sections
        blocks = blocks[: SLACK_MAX_BLOCKS - 3]
        blocks.append(_slack_section("… more in the workbench (too long for one Slack message)."))
    footer = f"Digest {digest['digest_id']}{_audit_note(digest)}"
    if app_url:
        footer += f" · <{app_url}|Open the workbench>"
    return {
        "text": escape_slack(f"{_title(digest)}: {sections[0][1][0][0]}"),
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": _title(digest)[:150]}},
            *blocks,
            {"type": "context", "elements": [_slack_mrkdwn(footer)]},
        ],
    }


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
    """The digest as plain text, for a terminal (links after their line)."""
    out = [_title(digest), ""]
    for heading, lines in digest_lines(digest):
        out.append(heading)
        out.extend(f"  - {x}" + (f"\n      {url}" if url else "") for x, url in lines)
        out.append("")
    out.append(f"Digest id: {digest['digest_id']}")
    return "\n".join(out)
