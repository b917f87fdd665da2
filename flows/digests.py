"""Per-owner and escalation digests from the store, and posting each to its own webhook.

``build_person_digests`` reads the log once, judges it at one moment and builds the
digests asked for; ``post_person_digests`` posts each, once per digest id and target
(``store.outbox.post_digest``), to the person's webhook from the admin's routing
(``store.webhooks``), else the run's ``--webhook``, else the saved default. A webhook
that fails for one person is reported in that person's row and does not stop the others.
"""

from __future__ import annotations

import getpass
import time
from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd
from sqlalchemy import Engine

from analytics.governance.digest import digest_payload
from analytics.governance.digest_items import open_recommendations
from analytics.governance.owner_digests import escalation_digests, owner_digests
from analytics.governance.ownership import decision_status
from contract.frames import Frames
from store.outbox import DigestError, post_digest, target_of
from store.reads import load_frames
from store.roles import require
from store.settings import get_setting
from store.webhooks import APP_URL, WebhookRoutes, get_routes


class UnknownPerson(ValueError):
    """A name asked for is neither an owner nor an escalation contact in the matrix."""


def saved_app_url(engine: Engine, app_url: str | None = None) -> str | None:
    """``app_url`` when given, else the saved ``app_url`` setting (None when unset)."""
    return app_url or get_setting(engine, APP_URL) or None


def people(owners: pd.DataFrame) -> tuple[list[str], list[str]]:
    """(owners, escalation contacts) named in the ownership matrix, sorted."""
    if owners.empty:
        return [], []

    def names(col: str) -> list[str]:
        return sorted({str(x) for x in owners[col].dropna().astype("string") if str(x).strip()})

    return names("owner"), names("escalation_to")


def build_person_digests(
    engine: Engine,
    *,
    owner: Sequence[str] | None = None,
    escalations: bool = False,
    all_owners: bool = False,
    fmt: str = "json",
    app_url: str | None = None,
    now: pd.Timestamp | None = None,
    top_n: int = 10,
    frames: Frames | None = None,
) -> list[dict[str, Any]]:
    """The digests asked for: ``[{"kind", "recipient", "digest_id", "format", "digest", "payload"}]``.

    ``owner``: these owners (each gets one even with nothing open; raises ``UnknownPerson``
    for a name the matrix does not hold). ``escalations``: every escalation contact with a
    breach to chase. ``all_owners``: every owner with something open, plus (with
    ``escalations`` implied) every escalation contact with a breach.
    """
    frames = frames if frames is not None else load_frames(engine)
    known_owners, known_contacts = people(frames.owners)
    unknown = [n for n in owner or [] if n not in known_owners]
    if unknown:
        listed = ", ".join(known_owners) or "none — load owners.csv"
        raise UnknownPerson(
            f"not an owner in the ownership matrix: {', '.join(unknown)} (owners: {listed})"
        )
    ts = now if now is not None else pd.Timestamp.now(tz="UTC")
    url = saved_app_url(engine, app_url)
    # Digests list only open recommendations: judge just those (a few percent of the log).
    open_recs = open_recommendations(frames.recommendations, frames.decisions)
    status = decision_status(open_recs, frames.decisions.head(0), frames.owners, now=ts)
    digests: list[dict[str, Any]] = []
    if owner or all_owners:
        wanted = list(owner) if owner and not all_owners else None
        digests += owner_digests(status, now=ts, owners=wanted, app_url=url, top_n=top_n).values()
    if escalations or all_owners:
        digests += escalation_digests(status, now=ts, app_url=url, top_n=top_n).values()
    return [
        {
            "kind": d["kind"],
            "recipient": d["recipient"],
            "digest_id": d["digest_id"],
            "format": fmt,
            "digest": d,
            "payload": digest_payload(d, fmt=fmt, app_url=url),
        }
        for d in digests
    ]


def post_person_digests(
    engine: Engine,
    built: list[dict[str, Any]],
    *,
    webhook: str | None = None,
    routes: WebhookRoutes | None = None,
    actor: str | None = None,
    role: str | None,
    force: bool = False,
    max_attempts: int = 4,
    base_delay: float = 1.0,
    jitter: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Post each built digest to its person's webhook; one failure does not stop the rest.

    Returns ``{"results": [{"kind", "recipient", "digest_id", "target", "posted",
    "already_sent", "attempts", "status_code", "error"}], "n_posted", "n_already_sent",
    "n_failed"}``; ``target`` is the webhook's label (never its secret), None when the
    person has no webhook and there is no default (counted as failed). ``role`` is the
    acting user's role; one that may not post digests raises ``PermissionDenied`` before
    anything is sent.
    """
    require(role, "digest")
    routes = routes if routes is not None else get_routes(engine)
    who = actor or getpass.getuser()
    results: list[dict[str, Any]] = []
    for b in built:
        url = routes.webhook_for(b["recipient"], webhook)
        row: dict[str, Any] = {
            "kind": b["kind"],
            "recipient": b["recipient"],
            "digest_id": b["digest_id"],
            "target": None,
            "posted": False,
            "already_sent": False,
            "attempts": 0,
            "status_code": None,
            "error": None,
        }
        if not url:
            row["error"] = (
                f"no webhook for {b['recipient']} and no default: set one on the Ownership page "
                "or pass --webhook"
            )
            results.append(row)
            continue
        try:
            row["target"] = target_of(url)[1]
            result = post_digest(
                engine,
                digest_id=b["digest_id"],
                payload=b["payload"],
                webhook=url,
                fmt=b["format"],
                actor=who,
                role=role,
                force=force,
                max_attempts=max_attempts,
                base_delay=base_delay,
                jitter=jitter,
                sleep=sleep,
            )
        except DigestError as exc:
            row["error"] = str(exc)
        else:
            row |= {k: v for k, v in result.to_json().items() if k != "digest_id"}
            row["target"] = result.target_label
        results.append(row)
    return {
        "results": results,
        "n_posted": sum(r["posted"] for r in results),
        "n_already_sent": sum(r["already_sent"] for r in results),
        "n_failed": sum(r["error"] is not None for r in results),
    }


def person_digests_command(
    engine: Engine,
    *,
    owner: str | None,
    escalations: bool,
    all_owners: bool,
    post: bool,
    webhook: str | None,
    fmt: str,
    app_url: str | None,
    actor: str,
    role: str,
    force: bool = False,
) -> tuple[dict[str, Any], list[str]]:
    """``cli.py digest --owner/--escalations/--all-owners``: (JSON to print, error lines).

    Prints one owner's payload (``--owner`` alone), ``{"digests": [{"kind", "recipient",
    "digest_id", "payload"}]}`` for several, or — when posting (``--all-owners``,
    ``--post`` or a ``--webhook``) — ``post_person_digests``'s outcome, with one error
    line per person whose post failed. Raises ``UnknownPerson``.
    """
    built = build_person_digests(
        engine,
        owner=[owner] if owner else None,
        escalations=escalations,
        all_owners=all_owners,
        fmt=fmt,
        app_url=app_url,
    )
    if not (all_owners or post or webhook):
        if owner and not escalations:
            return built[0]["payload"], []
        keep = ("kind", "recipient", "digest_id", "payload")
        return {"digests": [{k: b[k] for k in keep} for b in built]}, []
    outcome = post_person_digests(
        engine, built, webhook=webhook, actor=actor, role=role, force=force
    )
    errors = [
        f"{r['kind']} digest for {r['recipient']}: {r['error']}"
        for r in outcome["results"]
        if r["error"]
    ]
    return outcome, errors
