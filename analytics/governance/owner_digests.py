"""Per-owner and escalation digests: each person gets only what is theirs to decide or chase.

* An **owner digest** holds the owner's open recommendations by impact, those past their
  SLA, and those falling due within the next hours (``due_soon``).
* An **escalation digest** goes to each ``escalation_to`` contact and holds the SLA
  breaches of the people they cover (the recommendations whose most specific owner row
  names them as escalation), with a line per covered owner.

Both are built from one ``analytics.governance.ownership.decision_status`` frame, so every digest of
a run judges the same moment; the frame is sorted once and split by person, which keeps a
million-row log to one pass. Their ids follow ``analytics.governance.digest``: the date plus a hash of
the kind, the recipient and which items they name.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

from analytics.governance.breaches import breach_queue, breaches_by_owner
from analytics.governance.digest import digest_hash
from analytics.governance.digest_items import DUE_SOON_H, by_impact, due_soon, num, rec_items, text


def _as_utc(now: pd.Timestamp | str) -> pd.Timestamp:
    ts = pd.Timestamp(now)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _groups(rows: pd.DataFrame, key: str) -> dict[str, pd.DataFrame]:
    """``rows`` split by ``key`` (order within each part kept); rows without a key dropped."""
    keyed = rows[rows[key].notna().to_numpy()]
    if keyed.empty:
        return {}
    return {str(k): part for k, part in keyed.groupby(keyed[key].astype("string"), sort=True)}


def _digest(
    kind: str,
    recipient: str,
    *,
    ts: pd.Timestamp,
    open_rows: pd.DataFrame,
    breaches: pd.DataFrame,
    soon: pd.DataFrame | None,
    covered: list[dict[str, Any]],
    app_url: str | None,
    top_n: int,
    due_within_h: float,
) -> dict[str, Any]:
    top = by_impact(open_rows, top_n) if kind == "owner" else open_rows.head(0)
    content: dict[str, Any] = {
        "kind": kind,
        "recipient": recipient,
        "date": ts.strftime("%Y-%m-%d"),
        "as_of": ts.isoformat(),
        "n_open": int(len(open_rows)),
        "n_breaches": int(len(breaches)),
        "breach_impact_usd": num(breaches["est_impact_usd"].sum()) or 0.0,
        "breaches": rec_items(breaches.head(top_n), now=ts, app_url=app_url),
        "breaches_by_owner": covered,
        "top_open": rec_items(top, now=ts, app_url=app_url),
        "due_soon": None if soon is None else rec_items(soon.head(top_n), now=ts, app_url=app_url),
        "due_within_h": due_within_h,
        "rule_candidates": None,
        "notes": [],
    }
    identity = {
        "date": content["date"],
        "kind": kind,
        "recipient": recipient,
        "breaches": sorted(str(x) for x in breaches["rec_id"]),
        "top_open": [r["rec_id"] for r in content["top_open"]],
    }
    return {"digest_id": f"{content['date']}-{digest_hash(identity)}", **content}


def owner_digests(
    status: pd.DataFrame,
    *,
    now: pd.Timestamp | str,
    owners: Iterable[str] | None = None,
    app_url: str | None = None,
    top_n: int = 10,
    due_within_h: float = DUE_SOON_H,
) -> dict[str, dict[str, Any]]:
    """One digest per owner, ``{owner: digest}`` in name order.

    Parameters
    ----------
    status
        ``analytics.governance.ownership.decision_status`` as of ``now`` (``owner``, ``is_open``,
        ``hours_overdue``, ``due_at``, ``est_impact_usd``…).
    owners
        The owners to build for — each gets a digest even when nothing is open. None:
        every owner with at least one open recommendation.
    top_n
        Items listed per section (the counts cover everything).

    Returns
    -------
    dict of digests with ``digest_id, kind ("owner"), recipient, date, as_of, n_open,
    n_breaches, breach_impact_usd, breaches, due_soon, top_open`` (items as
    ``digest_items.rec_items``, each with its ``url``), ``breaches_by_owner`` (empty),
    ``rule_candidates`` (None) and ``notes``.
    """
    ts = _as_utc(now)
    open_rows = by_impact(status[status["is_open"].to_numpy(dtype=bool)])
    by_owner = _groups(open_rows, "owner")
    breaches = _groups(breach_queue(status), "owner")
    soon = _groups(due_soon(open_rows, now=ts, within_h=due_within_h), "owner")
    names = sorted(by_owner) if owners is None else list(dict.fromkeys(owners))
    empty = open_rows.head(0)
    return {
        name: _digest(
            "owner",
            name,
            ts=ts,
            open_rows=by_owner.get(name, empty),
            breaches=breaches.get(name, empty),
            soon=soon.get(name, empty),
            covered=[],
            app_url=app_url,
            top_n=top_n,
            due_within_h=due_within_h,
        )
        for name in names
    }


def escalation_digests(
    status: pd.DataFrame,
    *,
    now: pd.Timestamp | str,
    contacts: Iterable[str] | None = None,
    app_url: str | None = None,
    top_n: int = 10,
) -> dict[str, dict[str, Any]]:
    """One digest per escalation contact with the breaches of the people they cover.

    ``contacts`` None: every contact with at least one breach to chase. Returns
    ``{contact: digest}`` shaped like ``owner_digests`` with ``kind`` ``"escalation"``,
    ``breaches`` (items, largest impact first), ``breaches_by_owner`` (one line per
    covered owner, as in the plant digest), ``n_open`` (open recommendations escalating
    to them) and no ``top_open``/``due_soon`` lists.
    """
    ts = _as_utc(now)
    open_rows = by_impact(status[status["is_open"].to_numpy(dtype=bool)])
    queue = breach_queue(status)
    by_contact = _groups(queue, "escalation_to")
    open_by_contact = _groups(open_rows, "escalation_to")
    names = sorted(by_contact) if contacts is None else list(dict.fromkeys(contacts))
    late = status[status["hours_overdue"].notna().to_numpy()]
    late_by_contact = _groups(late, "escalation_to")
    out = {}
    for name in names:
        covered = breaches_by_owner(late_by_contact.get(name, late.head(0)))
        out[name] = _digest(
            "escalation",
            name,
            ts=ts,
            open_rows=open_by_contact.get(name, open_rows.head(0)),
            breaches=by_contact.get(name, queue.head(0)),
            soon=None,
            covered=[
                {
                    "owner": str(r.owner),
                    "escalation_to": text(r.escalation_to),
                    "n_breaches": int(r.n_breaches),
                    "impact_usd": num(r.impact_usd),
                    "max_hours_overdue": num(r.max_hours_overdue),
                }
                for r in covered.itertuples()
            ],
            app_url=app_url,
            top_n=top_n,
            due_within_h=DUE_SOON_H,
        )
    return out
