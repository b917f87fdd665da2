"""The workbench headless: the same analyses as the pages, JSON out, for schedulers and scripts.

Every command takes ``--db URL`` (default: ``WORKBENCH_DB``, then the embedded
SQLite file). Exit codes: 0 success; 1 the command ran but found a problem
(rows quarantined, audit chain broken, a gate failed where asked; a write the
acting user's role may not make; too few decisions to learn propensity from); 2 bad
usage or input that could not be processed at all (an unknown rule id, an action
outside −100..+500%, an adoption without owner and note).
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from analytics.baseline import text as baseline_text
from analytics.explain import text as explain_text
from analytics.explain.explanation import NotExplainable, RecNotFound
from analytics.governance import text as governance_text
from analytics.overrides import text as overrides_text
from analytics.policy import text as policy_text
from analytics.shared.safe_text import safe_csv
from flows import baseline, explain, governance, overrides, policy
from flows.cli import digests as digest_commands
from flows.cli import monitoring as monitor_commands
from flows.cli import policy as policy_commands
from flows.cli import prepare as prepare_commands
from store.db import get_engine, resolve_url
from store.decisions import AlreadyDecided, DecisionError, record_decision
from store.ingest.bundle import BundleError
from store.ingest.load import load_bundle
from store.ingest.staging import clean_stale_scratch
from store.reads import load_frames
from store.roles import ROLES, PermissionDenied
from store.users import UserError, add_user, list_users, role_of, user_count

Handler = Callable[[argparse.Namespace], int]
# Whoever runs the command line on the server is its operator: an admin.
OPERATOR_ROLE = "admin"


def _print_json(payload: Any) -> None:
    print(json.dumps(payload, indent=2, default=str, ensure_ascii=False))


def _print_lines(lines: list[str]) -> None:
    print("\n".join(lines))


def _engine(args: argparse.Namespace) -> Engine:
    clean_stale_scratch()  # killed loads' scratch (70-100 MB each), whatever the command
    return get_engine(args.db)


def cmd_load(args: argparse.Namespace) -> int:
    engine = _engine(args)
    try:
        report = load_bundle(
            args.bundle,
            engine=engine,
            tz=args.tz,
            strict=args.strict,
            actor=args.by,
            snapshot=not args.no_snapshot,
            role=OPERATOR_ROLE,
        )
    except BundleError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        _print_json(report.to_json())
    else:
        _print_lines(report.text_lines(resolve_url(args.db)))
    if report.strict_failed:
        return 1
    if any(report.loaded.values()) and not args.no_snapshot:
        # The snapshots and derived artefacts of the new version now, while the operator
        # expects to wait: no page view after a nightly load reads the database or fits.
        t0 = time.perf_counter()
        load_frames(engine)
        print(f"analysis snapshot ready in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        prepare_commands.prepare(engine)
    return 1 if report.rejected else 0


def cmd_info(args: argparse.Namespace) -> int:
    payload = governance.info_for_store(_engine(args))
    if args.json:
        _print_json(payload)
        return 0
    _print_lines(governance_text.info_lines(payload))
    return 0


def cmd_kpis(args: argparse.Namespace) -> int:
    go = date.fromisoformat(args.go_live) if args.go_live else None
    try:
        report = baseline.kpis_for_store(_engine(args), go_live_date=go, site=args.site)
    except baseline.NoGoLive as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        _print_json(report)
        return 0
    _print_lines(baseline_text.kpi_report_lines(report, site=args.site))
    return 0


def cmd_gates(args: argparse.Namespace) -> int:
    go = date.fromisoformat(args.go_live) if args.go_live else None
    report = governance.gates_for_store(_engine(args), go_live_date=go)
    if args.json:
        _print_json(report)
    else:
        _print_lines(governance_text.gates_lines(report))
    return 1 if args.fail_if_not_ready and not report.get("ready") else 0


def cmd_audit(args: argparse.Namespace) -> int:
    result = governance.audit_verify(_engine(args), expect=args.expect)
    if args.json:
        _print_json(result)
    if not result["ok"]:
        ev = result.get("event") or {}
        detail = f" ({ev.get('action')} by {ev.get('actor')} at {ev.get('at')})" if ev else ""
        print(
            f"audit chain broken at event #{result['first_broken_id']}: {result['problem']}{detail}",
            file=sys.stderr,
        )
        return 1
    if not args.json:
        print(
            f"audit chain intact: {result['n_events']:,} events; head hash {result['head_hash']}"
            f" ({result['anchors_checked']:,} anchored heads checked, "
            f"{result['decisions_checked']:,} app decisions matched their events)"
        )
    return 0


def cmd_users(args: argparse.Namespace) -> int:
    engine = _engine(args)
    if args.action == "list":
        users = list_users(engine)
        if args.json:
            _print_json(users.to_dict("records"))
        else:
            print(
                users.to_string(index=False)
                if len(users)
                else "no local users (the app runs in open local mode)"
            )
        return 0
    if not args.name or not args.role:
        print("error: users add needs NAME and --role", file=sys.stderr)
        return 2
    if args.no_password:
        password = None
    elif args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass(f"Password for {args.name}: ")
        if getpass.getpass("Repeat: ") != password:
            print("error: the passwords differ", file=sys.stderr)
            return 2
    try:
        change = add_user(
            engine,
            args.name,
            role=args.role,
            password=password,
            actor=getpass.getuser(),
            actor_role=OPERATOR_ROLE,
        )
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    _print_json(change.to_json())
    if not (list_users(engine)["role"] == "admin").any():
        # Users exist, so open mode is over: without an admin nobody can manage the workbench.
        print(
            "note: no user has the admin role yet; create the first admin explicitly with "
            "cli.py users add NAME --role admin",
            file=sys.stderr,
        )
    return 0


def cmd_rules(args: argparse.Namespace) -> int:
    if args.action == "status":
        return policy_commands.cmd_rule_status(args)
    report = overrides.rules_for_store(_engine(args), top=args.top)
    if args.json:
        _print_json(report)
        return 0
    _print_lines(overrides_text.rules_report_lines(report))
    return 0


def cmd_themes(args: argparse.Namespace) -> int:
    rows = overrides.themes_for_store(_engine(args))
    if args.out in (None, "-"):
        sys.stdout.write(safe_csv(rows))
        return 0
    Path(args.out).write_text(safe_csv(rows), encoding="utf-8")
    counts = rows.groupby(["theme_id", "theme_label"], sort=True).size()
    print(f"wrote {len(rows):,} overrides in {len(counts)} themes to {args.out}", file=sys.stderr)
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    engine = _engine(args)
    try:
        report = explain.explain_for_store(engine, args.rec_id)
    except (RecNotFound, NotExplainable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    report["policy"] = policy.policy_for_store(engine, args.rec_id)
    if args.json:
        _print_json(report)
        return 0
    _print_lines(explain_text.explain_report_lines(report))
    if report["policy"]:
        _print_lines(policy_text.policy_lines(report["policy"]))
    return 0


def cmd_drivers(args: argparse.Namespace) -> int:
    try:
        report = explain.drivers_for_store(_engine(args), rec_type=args.rec_type)
    except NotExplainable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        _print_json(report)
        return 0
    _print_lines(explain_text.drivers_report_lines(report))
    return 0


def cmd_decide(args: argparse.Namespace) -> int:
    engine = _engine(args)
    # With local users set up, the decider must be one of them and act in their role;
    # with none (open local mode) the operator of the command line acts as admin, as in the app.
    role = role_of(engine, args.by) if user_count(engine) else OPERATOR_ROLE
    if role is None:
        print(
            f"error: {args.by!r} is not a user of this workbench (see: cli.py users list)",
            file=sys.stderr,
        )
        return 1
    try:
        row = record_decision(
            engine,
            args.rec_id,
            decision=args.decision,
            final_qty=args.qty,
            reason=args.reason,
            actor=args.by,
            role=role,
        )
    except (PermissionDenied, AlreadyDecided) as exc:
        # Ran, found a problem: the recommendation is already decided (never overwritten).
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except DecisionError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    _print_json(row)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cli.py", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name: str, handler: Handler, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--db", help="database URL (default: WORKBENCH_DB or data/workbench.db)")
        p.set_defaults(handler=handler)
        return p

    p = add("load", cmd_load, "Check a bundle against the data contract and load its good rows.")
    p.add_argument("bundle", help="folder of CSV files, .zip or .xlsx")
    p.add_argument(
        "--tz", default="UTC", help="zone for timestamps without an offset (default UTC)"
    )
    p.add_argument("--strict", action="store_true", help="write nothing if any row is bad")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--by", default=None, help="who loads (default: the OS user)")
    p.add_argument(
        "--no-snapshot",
        action="store_true",
        help="skip the analysis snapshots and artefacts (build them with `cli.py prepare`)",
    )
    prepare_commands.register(add)

    p = add("info", cmd_info, "Row counts, date ranges and data-health findings.")
    p.add_argument("--json", action="store_true")

    p = add(
        "kpis",
        cmd_kpis,
        "Decision latency, SLA, overrides, OTIF, expedite and stockouts vs the baseline.",
    )
    p.add_argument("--go-live", help="YYYY-MM-DD (default: the saved or inferred go-live)")
    p.add_argument("--site", help="only this site")
    p.add_argument("--json", action="store_true")

    p = add("rules", cmd_rules, "Candidate rules mined from overrides; `rules status RULE_ID`.")
    p.add_argument("--top", type=int, help="only the best N rules")
    p.add_argument("--json", action="store_true")
    policy_commands.rules_status_arguments(p)
    policy_commands.register(add)

    p = add(
        "themes", cmd_themes, "Write each override's reason theme: rec_id,theme_id,theme_label."
    )
    p.add_argument("--out", help="CSV file to write (default: standard output)")

    p = add(
        "explain", cmd_explain, "Why one recommendation fired: SHAP contributions and precedent."
    )
    p.add_argument("rec_id")
    p.add_argument("--json", action="store_true")

    p = add("drivers", cmd_drivers, "What drives recommendations overall: mean |SHAP| per feature.")
    p.add_argument("--rec-type", help="one recommendation type (default: all, weighted by volume)")
    p.add_argument("--json", action="store_true")

    p = add("decide", cmd_decide, "Record a decision on an open recommendation (the app's checks).")
    p.add_argument("rec_id")
    p.add_argument("--decision", required=True, choices=["accepted", "modified", "rejected"])
    p.add_argument("--qty", type=float, help="the new quantity (required for modified)")
    p.add_argument("--reason", help="why (required for modified and rejected)")
    p.add_argument("--by", required=True, help="who decides")

    p = add("gates", cmd_gates, "The five readiness gates before go-live, with evidence.")
    p.add_argument("--go-live", help="YYYY-MM-DD (default: the saved or inferred go-live)")
    p.add_argument("--json", action="store_true")
    p.add_argument(
        "--fail-if-not-ready", action="store_true", help="exit 1 when a hard gate is not passed"
    )

    p = add(
        "audit",
        cmd_audit,
        "Check the hash-chained audit trail: exit 1 and name the first broken event.",
    )
    p.add_argument("action", choices=["verify"])
    p.add_argument("--json", action="store_true")
    p.add_argument(
        "--expect",
        metavar="HEAD",
        help="a head hash (or COUNT:HASH) noted earlier: exit 1 unless it is still in the chain",
    )

    p = add("users", cmd_users, "Manage local users (sign-in without an identity provider).")
    p.add_argument("action", choices=["add", "list"])
    p.add_argument("name", nargs="?")
    p.add_argument("--role", choices=list(ROLES))
    p.add_argument(
        "--password-stdin", action="store_true", help="read the password from one line of stdin"
    )
    p.add_argument(
        "--no-password",
        action="store_true",
        help="user signs in only through the identity provider",
    )
    p.add_argument("--json", action="store_true")

    monitor_commands.register(add)

    digest_commands.register(add)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except policy_commands.REFUSED as exc:  # the loop's commands raise; see flows/cli/policy.py
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except policy_commands.BAD_INPUT as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
