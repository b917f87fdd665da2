"""cli.py digest per person and kpis' money figures: JSON shapes and exit codes, in-process."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

import cli
from store.db import get_engine
from store.webhooks import set_routes
from tests.conftest import write_bundle
from tests.governance.test_digest import Hook
from tests.governance.test_page_ownership import DECS, OWNERS, RECS


@pytest.fixture
def db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'wb.db'}"
    bundle = write_bundle(
        tmp_path / "b", {"recommendations": RECS, "decisions": DECS, "owners": OWNERS}
    )
    assert cli.main(["load", str(bundle), "--db", url, "--json"]) == 0
    return url


@pytest.fixture
def hooks() -> Iterator[tuple[Hook, Hook]]:
    a, b = Hook(), Hook()
    yield a, b
    a.close()
    b.close()


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_owner_digest_json_with_deep_links(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "digest", "--db", db, "--owner", "ana", "--app-url",
                       "https://wb.example/")  # fmt: skip
    assert code == 0
    d = json.loads(out)["digest"]
    assert (d["kind"], d["recipient"]) == ("owner", "ana")
    # Judged now (long after the log): r4 ($100) and r3 ($30) are open and past SLA.
    assert [i["rec_id"] for i in d["top_open"]] == ["r4", "r3"]
    assert [i["url"] for i in d["top_open"]] == [
        "https://wb.example/why?rec=r4",
        "https://wb.example/why?rec=r3",
    ]
    assert d["due_soon"] == [] and all("url" in i for i in d["breaches"])
    assert "r7" not in out  # bea's


def test_plant_digest_items_get_urls(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "digest", "--db", db, "--app-url", "http://h:8501")
    assert code == 0
    d = json.loads(out)["digest"]
    assert d["top_open"][0]["url"] == "http://h:8501/why?rec=r4"
    assert "due_soon" in d
    code, out, _ = run(capsys, "digest", "--db", db, "--format", "teams", "--app-url", "http://h")
    assert code == 0 and '"Action.OpenUrl"' in out and "why?rec=r7" in out


def test_usage_errors_exit_2(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "digest", "--db", db, "--owner", "zed")
    assert code == 2 and "not an owner" in err and "ana, bea, cy" in err
    code, _, err = run(capsys, "digest", "--db", db, "--app-url", "wb.example")
    assert code == 2 and "http(s)" in err


def test_escalations_print_one_entry_per_contact(
    db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "digest", "--db", db, "--escalations")
    assert code == 0
    doc = json.loads(out)
    assert [(x["kind"], x["recipient"]) for x in doc["digests"]] == [
        ("escalation", "boss"), ("escalation", "boss2"),
    ]  # fmt: skip
    boss = doc["digests"][0]["payload"]["digest"]
    assert [i["rec_id"] for i in boss["breaches"]] == ["r4", "r3"]


def test_all_owners_exit_codes_and_once_per_digest(
    db: str, hooks: tuple[Hook, Hook], capsys: pytest.CaptureFixture[str]
) -> None:
    own, default = hooks
    set_routes(get_engine(db), {"people": {"ana": own.url}}, actor="a", role="admin")
    own.script = [403]
    code, out, err = run(capsys, "digest", "--db", db, "--all-owners", "--format", "slack",
                         "--webhook", default.url)  # fmt: skip
    doc = json.loads(out)
    assert code == 1 and doc["n_failed"] == 1 and "digest for ana" in err
    assert [r["recipient"] for r in doc["results"]] == ["ana", "bea", "boss", "boss2"]
    assert len(default.bodies) == 3 and len(own.bodies) == 1
    code, out, _ = run(capsys, "digest", "--db", db, "--all-owners", "--format", "slack",
                       "--webhook", default.url)  # fmt: skip
    doc = json.loads(out)
    assert code == 0 and (doc["n_posted"], doc["n_already_sent"]) == (1, 3)
    assert len(default.bodies) == 3 and len(own.bodies) == 2
    assert "SECRET" not in out


def test_kpis_json_has_late_decisions_and_money_at_risk(
    db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "kpis", "--db", db, "--go-live", "2025-01-03", "--json")
    assert code == 0
    doc = json.loads(out)
    # Baseline (signal before 01-03): r1 met, r2 late ($20), r5 expired ($5), r6 unowned.
    assert doc["baseline"]["late_decision_usd"] == 25.0
    assert doc["baseline"]["late_decision_n"] == 2
    assert doc["current"]["late_decision_usd"] is None  # r3, r4, r7 are all still open
    assert list(doc["change"]["late_decision_usd"]) == ["delta", "ci_low", "ci_high", "verdict"]
    assert doc["by_type"]["stockout_risk"]["baseline"]["late_decision_usd"] == 20.0
    assert doc["by_type"]["maintenance"]["baseline"]["late_decision_usd"] is None
    causes = [r["cause"] for r in doc["money_at_risk"]]
    assert sorted(causes) == sorted(
        ["late_decisions", "expedite_above_target", "expedite_above_baseline", "unowned_waiting"]
    )
    assert all({"usd_per_year", "bps_of_revenue", "ci_low", "ci_high", "page"} <= set(r)
               for r in doc["money_at_risk"])  # fmt: skip
