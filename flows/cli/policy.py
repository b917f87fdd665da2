"""The loop's commands: ``rules status``, ``backtest``, ``policy export``, ``propensity``.

Handlers raise; ``cli.main`` maps ``REFUSED`` to exit 1 (a write the acting role may not
make, too few decisions to learn from) and ``BAD_INPUT`` to exit 2 (an unknown rule id,
an action outside −100..+500%, an adoption without owner and note, a file that cannot
be written).
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine

from analytics.policy import text as policy_text
from analytics.policy.propensity import NotEnoughDecisions
from contract.actions import ActionError
from flows import policy
from store.db import get_engine
from store.roles import PermissionDenied
from store.rule_status import RuleStatusError
from store.users import role_of, user_count

OPERATOR_ROLE = "admin"  # whoever runs the command line on the server, as in ``cli.py``
REFUSED = (PermissionDenied, NotEnoughDecisions)
BAD_INPUT = (policy.UnknownRule, RuleStatusError, ActionError, OSError)
Add = Callable[[str, Callable[[argparse.Namespace], int], str], argparse.ArgumentParser]


def _json(payload: Any) -> None:
    print(json.dumps(payload, indent=2, default=str, ensure_ascii=False))


def _error(message: object, code: int) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code


def _role(engine: Engine, user: str | None) -> str | None:
    """``user``'s role with local users set up; with none (open local mode), or no ``--by``
    where it is optional, the operator of the command line acts as admin, as in the app."""
    return role_of(engine, user) if user and user_count(engine) else OPERATOR_ROLE


def _not_a_user(user: str) -> int:
    return _error(f"{user!r} is not a user of this workbench (see: cli.py users list)", 1)


def cmd_rule_status(args: argparse.Namespace) -> int:
    if not (args.rule_id and args.status and args.by):
        return _error("rules status needs RULE_ID, --status and --by", 2)
    engine = get_engine(args.db)
    if (role := _role(engine, args.by)) is None:
        return _not_a_user(args.by)
    fields = {k: getattr(args, k) for k in ("status", "owner", "note", "action_value")}
    _json(policy.set_status_for_store(engine, args.rule_id, by=args.by, role=role, **fields))
    return 0


def cmd_backtest(args: argparse.Namespace) -> int:
    bt, rule = policy.backtest_for_store(
        get_engine(args.db), args.rule_id, action_value=args.action_value
    )
    if rule.status == "dismissed":
        print(f"note: rule {rule.rule_id} is dismissed; backtested all the same", file=sys.stderr)
    doc = bt.to_json()
    if args.json:
        _json(doc)
    else:
        print("\n".join(policy_text.backtest_lines(doc, rule.conditions, rule.status)))
    return 0


def cmd_policy(args: argparse.Namespace) -> int:
    engine = get_engine(args.db)
    if (role := _role(engine, args.by)) is None:
        return _not_a_user(args.by)
    _json(policy.write_policy(engine, args.out, actor=args.by or getpass.getuser(), role=role))
    return 0


def cmd_propensity(args: argparse.Namespace) -> int:
    doc = policy.propensity_for_store(get_engine(args.db))
    if args.json:
        _json(doc)
    else:
        print("\n".join(policy_text.propensity_lines(doc, top=args.top)))
    return 0


def rules_status_arguments(p: argparse.ArgumentParser) -> None:
    """``rules status RULE_ID --status … [--owner] [--note] [--action-value] --by USER``."""
    p.add_argument("action", nargs="?", choices=["status"], help="change a rule's lifecycle")
    p.add_argument("rule_id", nargs="?", help="the rule whose status changes")
    p.add_argument("--status", choices=["adopted", "dismissed", "watch", "candidate"])
    p.add_argument("--owner", help="who owns the adopted rule (required to adopt)")
    p.add_argument("--note", help="how to encode it / why dismissed (required for both)")
    p.add_argument(
        "--action-value",
        type=float,
        help="adjustment %% to adopt with (default: the rule's median adjustment)",
    )
    p.add_argument("--by", help="who changes the status")


def register(add: Add) -> None:
    """Add ``backtest``, ``policy`` and ``propensity`` to the parser through ``cli``'s ``add``."""
    p = add(
        "backtest",
        cmd_backtest,
        "What if this rule had been policy: its action replayed over history, 95% interval.",
    )
    p.add_argument("rule_id")
    p.add_argument("--json", action="store_true")
    p.add_argument(
        "--action-value", type=float, help="backtest this adjustment %% instead of the rule's"
    )
    p = add("policy", cmd_policy, "Export the adopted rules as a versioned policy document.")
    p.add_argument("action", choices=["export"])
    p.add_argument("--out", required=True, help="JSON file to write")
    p.add_argument("--by", help="who exports (default: the OS user, acting as admin)")
    p = add(
        "propensity",
        cmd_propensity,
        "Which open recommendations people will likely override, with the model's validation.",
    )
    p.add_argument("--json", action="store_true")
    p.add_argument("--top", type=int, default=30, help="rows to print without --json")
