"""Where each person's digest goes: the owner → webhook mapping, a default, and the app URL.

The mapping is a setting (``digest_webhooks``: ``{"default": url | None, "people":
{name: url}}``) that only an admin changes. Webhook URLs carry their secret in the path,
so the audit event of a change names each target by ``store.outbox.target_of``'s label
and hash, never the URL itself. The app URL (``app_url``) is an ordinary setting: the
base of the digests' deep links.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, select

from store.audit import audited_write
from store.models import Setting
from store.outbox import DigestError, target_of

WEBHOOKS = "digest_webhooks"
APP_URL = "app_url"


@dataclass(frozen=True)
class WebhookRoutes:
    """The saved routing: ``people`` (owner or escalation contact → URL) and ``default``."""

    people: dict[str, str] = field(default_factory=dict)
    default: str | None = None

    def webhook_for(self, person: str, fallback: str | None = None) -> str | None:
        """The person's own webhook, else ``fallback`` (a ``--webhook`` given for the run),
        else the saved default; None when there is none."""
        return self.people.get(person) or fallback or self.default

    def to_json(self) -> dict[str, Any]:
        return {"default": self.default, "people": dict(sorted(self.people.items()))}

    def redacted(self) -> dict[str, Any]:
        """The routing as it may be shown or audited: labels and hashes, no secrets."""

        def show(url: str | None) -> str | None:
            if not url:
                return None
            key, label = target_of(url)
            return f"{label} #{key[:8]}"

        return {
            "default": show(self.default),
            "people": {p: show(u) for p, u in sorted(self.people.items())},
        }


def _clean(routes: Mapping[str, Any]) -> WebhookRoutes:
    people: dict[str, str] = {}
    for name, url in dict(routes.get("people") or {}).items():
        name, url = str(name).strip(), str(url or "").strip()
        if not name or not url:
            continue
        target_of(url)  # raises DigestError for anything but http(s)
        people[name] = url
    default = str(routes.get("default") or "").strip() or None
    if default:
        target_of(default)
    return WebhookRoutes(people, default)


def get_routes(engine: Engine) -> WebhookRoutes:
    """The saved routing (empty when none was saved)."""
    with engine.connect() as conn:
        raw = conn.execute(
            select(Setting.value).where(Setting.key == WEBHOOKS)
        ).scalar_one_or_none()
    return WebhookRoutes() if raw is None else _clean(json.loads(raw))


def set_routes(
    engine: Engine, routes: Mapping[str, Any] | WebhookRoutes, *, actor: str, role: str | None
) -> WebhookRoutes:
    """Save the routing (admin only), audited with redacted before/after.

    ``routes``: a ``WebhookRoutes`` or ``{"default": url, "people": {name: url}}``;
    blank names or URLs are dropped. Raises ``PermissionDenied`` for other roles and
    ``DigestError`` for a URL that is not http(s).
    """
    new = _clean(routes.to_json() if isinstance(routes, WebhookRoutes) else routes)
    table = Setting.__table__  # type: ignore[attr-defined]
    with audited_write(
        engine, actor=actor, role=role, permission="settings", tables=["settings"]
    ) as write:
        raw = write.conn.execute(
            select(Setting.value).where(Setting.key == WEBHOOKS)
        ).scalar_one_or_none()
        old = WebhookRoutes() if raw is None else _clean(json.loads(raw))
        if old == new:
            return new
        payload = json.dumps(new.to_json(), sort_keys=True)
        if raw is None:
            write.conn.execute(table.insert().values(key=WEBHOOKS, value=payload))
        else:
            write.conn.execute(table.update().where(table.c.key == WEBHOOKS).values(value=payload))
        write.event(
            action="setting",
            entity="settings",
            entity_id=WEBHOOKS,
            before=old.redacted(),
            after=new.redacted(),
        )
    return new


class BadAppUrl(DigestError, ValueError):
    """The app URL given is not an http(s) address."""


def check_app_url(url: str) -> str:
    """``url`` without a trailing slash, if it is an http(s) address; raises BadAppUrl."""
    url = url.strip().rstrip("/")
    try:
        target_of(url)
    except DigestError:
        raise BadAppUrl(f"the app URL must be an http(s) address, got {url[:60]!r}") from None
    return url
