"""The digest command: the plant digest, or per owner and escalation contact.

Exit 0 every message went out (or had already), 1 a post failed, 2 bad usage.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Callable
from typing import Any

from flows import digests, governance
from store.db import get_engine
from store.outbox import DigestError
from store.webhooks import BadAppUrl, check_app_url

OPERATOR_ROLE = "admin"  # whoever runs the command line on the server, as in ``cli.py``
Add = Callable[[str, Callable[[argparse.Namespace], int], str], argparse.ArgumentParser]


def cmd_digest(args: argparse.Namespace) -> int:
    engine = get_engine(args.db)
    who: dict[str, Any] = {"actor": getpass.getuser(), "role": OPERATOR_ROLE, "force": args.force}
    try:  # bad usage (a non-http app URL, an unknown owner) is 2; a failed post is 1
        app_url = check_app_url(args.app_url) if args.app_url else None
        if args.owner or args.escalations or args.all_owners:
            doc, errors = digests.person_digests_command(
                engine, owner=args.owner, escalations=args.escalations,
                all_owners=args.all_owners, post=args.post, webhook=args.webhook,
                fmt=args.format, app_url=app_url, **who,
            )  # fmt: skip
        else:
            result = governance.run_digest(
                engine, webhook=args.webhook, fmt=args.format, app_url=app_url, **who
            )
            doc, errors = result["post"] if args.webhook else result["payload"], []
    except (digests.UnknownPerson, BadAppUrl) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except DigestError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(doc, indent=2, default=str, ensure_ascii=False))
    for line in errors:
        print(f"error: {line}", file=sys.stderr)
    return 1 if errors else 0


def register(add: Add) -> None:
    """Add ``digest`` to the parser through ``cli``'s ``add``."""
    p = add(
        "digest",
        cmd_digest,
        "The daily digest, printed or posted to a chat webhook; per person with --owner, "
        "--escalations, --all-owners. Exit 0 all sent (or already), 1 a post failed, 2 bad usage.",
    )
    p.add_argument("--webhook", help="webhook URL (else printed); per person: for the unrouted")
    p.add_argument("--format", choices=["teams", "slack", "json"], default="json")
    p.add_argument("--force", action="store_true", help="re-send after an unfinished attempt")
    who = p.add_mutually_exclusive_group()
    who.add_argument("--owner", metavar="NAME", help="that owner's digest: open, late, due soon")
    who.add_argument(
        "--all-owners", action="store_true",
        help="post each owner's and escalation contact's digest to their own webhook",
    )  # fmt: skip
    p.add_argument("--escalations", action="store_true", help="per escalation contact")
    p.add_argument("--post", action="store_true", help="post --owner/--escalations digests")
    p.add_argument("--app-url", metavar="URL", help="deep links to URL/why?rec=… (else saved)")
