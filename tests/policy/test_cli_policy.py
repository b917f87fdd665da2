"""The loop on the command line: backtest, rules status, policy export, explain's policy, propensity."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

import cli
from analytics.overrides.rules import rule_id
from sample_data.generate import generate_bundle


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    root = tmp_path_factory.mktemp("cli_policy")
    bundle = root / "bundle"
    generate_bundle(bundle, rows=12000, seed=5)
    db = f"sqlite:///{root / 'wb.db'}"
    assert cli.main(["load", str(bundle), "--db", db, "--json"]) == 0
    planted = json.loads((bundle / "truth" / "planted_rules.json").read_text())
    ids = {p["id"]: rule_id(p["conditions"], p["direction"]) for p in planted}
    return {"db": db, "bundle": bundle, "root": root, "ids": ids, "planted": planted}


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_backtest_shape_and_planted_signs(store, capsys) -> None:  # type: ignore[no-untyped-def]
    ids = store["ids"]
    # R3 (line 7 reschedules rejected) was right; R5 (j.nguyen trims stockout recs) was wrong.
    code, out, _ = run(capsys, "backtest", ids["R3"], "--db", store["db"], "--json")
    assert code == 0
    doc = json.loads(out)
    assert list(doc) == [
        "rule_id", "action", "n_matched", "n_evaluated", "value_added", "ci_low", "ci_high",
        "verdict", "vs_people", "by_quarter",
    ]  # fmt: skip
    assert list(doc["vs_people"]) == ["value_added", "ci_low", "ci_high"]
    assert all(list(q) == ["quarter", "n", "value_added"] for q in doc["by_quarter"])
    assert doc["rule_id"] == ids["R3"] and doc["action"] == {"kind": "reject"}
    assert doc["verdict"] == "helps" and doc["ci_low"] > 0
    assert doc["n_evaluated"] <= doc["n_matched"]
    assert sum(q["n"] for q in doc["by_quarter"]) == doc["n_evaluated"]
    code, out, _ = run(capsys, "backtest", ids["R5"], "--db", store["db"], "--json")
    bad = json.loads(out)
    assert code == 0 and bad["verdict"] == "hurts" and bad["ci_high"] < 0
    assert bad["action"]["kind"] == "adjust_pct" and -35 < bad["action"]["value"] < -25
    # Text output says what a backtest cannot know.
    code, out, _ = run(capsys, "backtest", ids["R3"], "--db", store["db"])
    assert code == 0 and "cannot know" in out


def test_bad_input_exit_codes(store, capsys) -> None:  # type: ignore[no-untyped-def]
    code, out, err = run(capsys, "backtest", "R0000000000", "--db", store["db"], "--json")
    assert (code, out) == (2, "") and "no rule with id 'R0000000000'" in err
    rid = store["ids"]["R1"]
    code, _, err = run(
        capsys, "backtest", rid, "--db", store["db"], "--json", "--action-value", "501"
    )
    assert code == 2 and "between -100% and +500%" in err
    code, _, err = run(
        capsys, "rules", "status", rid, "--status", "adopted", "--by", "lead", "--db", store["db"]
    )
    assert code == 2 and "owner and a note" in err
    code, _, err = run(
        capsys, "rules", "status", rid, "--status", "adopted", "--owner", "o", "--note", "n",
        "--action-value", "-150", "--by", "lead", "--db", store["db"],
    )  # fmt: skip
    assert code == 2 and "between -100% and +500%" in err
    code, _, err = run(
        capsys, "rules", "status", "R0000000000", "--status", "watch", "--by", "lead",
        "--db", store["db"],
    )  # fmt: skip
    assert code == 2 and "no rule with id" in err
    code, _, err = run(capsys, "rules", "status", rid, "--db", store["db"])
    assert code == 2 and "needs RULE_ID, --status and --by" in err


def test_dismissed_rule_is_backtested_and_says_so(store, capsys) -> None:  # type: ignore[no-untyped-def]
    rid = store["ids"]["R4"]
    code, out, _ = run(
        capsys, "rules", "status", rid, "--status", "dismissed", "--note", "Monday call habit",
        "--by", "lead", "--db", store["db"],
    )  # fmt: skip
    assert code == 0 and json.loads(out)["status"] == "dismissed"
    code, out, err = run(capsys, "backtest", rid, "--db", store["db"], "--json")
    assert code == 0 and "dismissed" in err
    assert json.loads(out)["verdict"] == "hurts"
    code, out, _ = run(
        capsys, "rules", "status", rid, "--status", "candidate", "--by", "lead", "--db", store["db"]
    )
    assert code == 0 and json.loads(out) == {
        "rule_key": rid,
        "status": "candidate",
        "changed": True,
    }


def test_adopt_export_then_explain_proposes_the_rules_quantity(store, capsys, tmp_path) -> None:  # type: ignore[no-untyped-def]
    db, rid = store["db"], store["ids"]["R1"]
    empty = tmp_path / "empty.json"
    code, out, _ = run(capsys, "policy", "export", "--out", str(empty), "--db", db)
    assert code == 0
    doc = json.loads(empty.read_text())
    assert doc["rules"] == [] and isinstance(doc["version"], int) and doc["exported_at"]
    code, out, _ = run(
        capsys, "rules", "status", rid, "--status", "adopted", "--owner", "m.garcia",
        "--note", "Q4 uplift for SUP-017", "--action-value", "25", "--by", "s.okafor", "--db", db,
    )  # fmt: skip
    assert code == 0 and json.loads(out)["action"] == {"kind": "adjust_pct", "value": 25.0}
    path = tmp_path / "policy.json"
    code, out, _ = run(capsys, "policy", "export", "--out", str(path), "--db", db)
    summary = json.loads(out)
    assert code == 0 and summary["version"] == doc["version"] + 1
    assert summary["changes"] == {"added": [rid], "removed": [], "changed": []}
    exported = json.loads(path.read_text())
    assert list(exported) == ["version", "exported_at", "rules"]
    (rule,) = exported["rules"]
    assert rule["rule_id"] == rid and rule["action"] == {"kind": "adjust_pct", "value": 25.0}
    assert (rule["owner"], rule["adopted_by"]) == ("m.garcia", "s.okafor")
    # An open recommendation the rule matches: SUP-017 stockout risk created in Q4.
    recs = pd.read_csv(store["bundle"] / "recommendations.csv")
    recs["created_at"] = pd.to_datetime(recs["created_at"], utc=True, format="ISO8601")
    decided = set(pd.read_csv(store["bundle"] / "decisions.csv")["rec_id"])
    match = recs[
        (recs["supplier"] == "SUP-017")
        & (recs["rec_type"] == "stockout_risk")
        & (recs["created_at"].dt.quarter == 4)
        & ~recs["rec_id"].isin(decided)
        & recs["recommended_qty"].notna()
    ]
    assert len(match), "the generated bundle has an open SUP-017 Q4 stockout recommendation"
    target = match.iloc[0]
    code, out, _ = run(capsys, "explain", target["rec_id"], "--db", db, "--json")
    assert code == 0
    pol = json.loads(out)["policy"]
    assert pol["rule_id"] == rid and pol["action"] == {"kind": "adjust_pct", "value": 25.0}
    assert pol["proposed_qty"] == pytest.approx(target["recommended_qty"] * 1.25)
    other = recs[(recs["supplier"] != "SUP-017") & ~recs["rec_id"].isin(decided)].iloc[0]
    code, out, _ = run(capsys, "explain", other["rec_id"], "--db", db, "--json")
    assert code == 0 and json.loads(out)["policy"] is None


def test_propensity_json(store, capsys) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run(capsys, "propensity", "--db", store["db"], "--json")
    assert code == 0
    doc = json.loads(out)
    assert list(doc) == ["evaluation", "open"]
    assert list(doc["evaluation"]) == ["auc", "brier", "n", "from", "to"]
    assert doc["evaluation"]["auc"] > 0.5
    recs = pd.read_csv(store["bundle"] / "recommendations.csv")
    decided = set(pd.read_csv(store["bundle"] / "decisions.csv")["rec_id"])
    assert {r["rec_id"] for r in doc["open"]} == set(recs["rec_id"]) - decided
    first = doc["open"][0]
    assert list(first) == [
        "rec_id",
        "p_override",
        "likely_decision",
        "expected_adjustment_pct",
        "rules",
    ]
    p = [r["p_override"] for r in doc["open"]]
    assert p == sorted(p, reverse=True) and all(0 <= x <= 1 for x in p)
    assert {r["likely_decision"] for r in doc["open"]} <= {"accepted", "modified", "rejected"}


def test_roles_on_every_write(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    bundle = tmp_path / "bundle"
    generate_bundle(bundle, rows=3000, seed=9)
    db = f"sqlite:///{tmp_path / 'roles.db'}"
    assert cli.main(["load", str(bundle), "--db", db, "--json"]) == 0
    for name, role in (("pat", "planner"), ("eve", "exec"), ("sam", "sop_lead")):
        assert cli.main(["users", "add", name, "--role", role, "--no-password", "--db", db]) == 0
    capsys.readouterr()
    planted = json.loads((bundle / "truth" / "planted_rules.json").read_text())
    rid = rule_id(planted[2]["conditions"], planted[2]["direction"])
    args = [
        "rules",
        "status",
        rid,
        "--status",
        "adopted",
        "--owner",
        "o",
        "--note",
        "n",
        "--db",
        db,
    ]
    for who in ("pat", "eve"):
        code, _, err = run(capsys, *args, "--by", who)
        assert code == 1 and "may not rule status" in err
    code, _, err = run(capsys, *args, "--by", "nobody")
    assert code == 1 and "not a user" in err
    out_file = tmp_path / "p.json"
    code, _, err = run(
        capsys, "policy", "export", "--out", str(out_file), "--db", db, "--by", "pat"
    )
    assert code == 1 and "may not policy export" in err and not out_file.exists()
    code, out, _ = run(capsys, *args, "--by", "sam")
    assert code == 0 and json.loads(out)["action"] == {"kind": "reject"}
    code, _, _ = run(capsys, "policy", "export", "--out", str(out_file), "--db", db, "--by", "sam")
    assert code == 0 and [r["rule_id"] for r in json.loads(out_file.read_text())["rules"]] == [rid]
