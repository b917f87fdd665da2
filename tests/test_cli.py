"""The command line's interfaces: exact JSON shapes, exit codes and errors, run in-process."""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import pandas as pd
import pytest

import cli
from sample_data.generate import generate_bundle


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    root = tmp_path_factory.mktemp("cli")
    bundle = root / "bundle"
    generate_bundle(bundle, rows=4000, seed=5)
    db = f"sqlite:///{root / 'wb.db'}"
    assert cli.main(["load", str(bundle), "--db", db, "--json"]) == 0
    recs = pd.read_csv(bundle / "recommendations.csv")
    decided = set(pd.read_csv(bundle / "decisions.csv")["rec_id"])
    open_ids = [r for r in recs["rec_id"] if r not in decided]
    return {"db": db, "bundle": bundle, "open": open_ids, "decided": sorted(decided)}


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_rules_json_shape_and_top(store, capsys) -> None:
    code, out, _ = run(capsys, "rules", "--db", store["db"], "--top", "3", "--json")
    assert code == 0
    doc = json.loads(out)
    assert list(doc) == ["rules"]
    assert 1 <= len(doc["rules"]) <= 3
    keys = [
        "id", "conditions", "direction", "median_adjustment_pct", "support", "coverage",
        "confidence", "lift", "value_added", "win_rate", "theme_id", "theme_label",
        "example_reasons", "status",
    ]  # fmt: skip
    for rule in doc["rules"]:
        assert list(rule)[: len(keys)] == keys  # fields may be added, never removed or renamed
        assert rule["direction"] in {"increase", "decrease", "reject"}
        assert rule["status"] == "candidate"
        assert "action" in rule and "p_adjusted" in rule  # added by issues 14 and 13
        assert rule["action"]["kind"] == (
            "reject" if rule["direction"] == "reject" else "adjust_pct"
        )
        assert rule["support"] <= rule["coverage"]
        assert all(isinstance(v, str) for v in rule["conditions"].values())


def test_themes_csv_has_one_row_per_override_with_a_reason(store, capsys, tmp_path) -> None:
    out_file = tmp_path / "themes.csv"
    code, _, err = run(capsys, "themes", "--db", store["db"], "--out", str(out_file))
    assert code == 0 and "wrote" in err
    with out_file.open() as fh:
        rows = list(csv.DictReader(fh))
    assert rows and list(rows[0]) == ["rec_id", "theme_id", "theme_label"]
    dec = pd.read_csv(store["bundle"] / "decisions.csv")
    overrides = dec[dec["decision"].isin(["modified", "rejected"])]
    with_reason = overrides[overrides["reason"].fillna("").str.strip() != ""]
    assert sorted(r["rec_id"] for r in rows) == sorted(with_reason["rec_id"])


def test_explain_json_shape_and_additivity(store, capsys) -> None:
    rec = store["open"][0]
    code, out, _ = run(capsys, "explain", rec, "--db", store["db"], "--json")
    assert code == 0
    doc = json.loads(out)
    assert list(doc) == [
        "rec_id", "base_value", "prediction", "fidelity_r2", "contributions", "sentence",
        "precedents", "policy",
    ]  # fmt: skip
    assert doc["policy"] is None  # nothing adopted
    assert doc["rec_id"] == rec
    shap_sum = sum(c["shap"] for c in doc["contributions"])
    assert doc["base_value"] + shap_sum == pytest.approx(doc["prediction"], abs=1e-6)
    mags = [abs(c["shap"]) for c in doc["contributions"]]
    assert mags == sorted(mags, reverse=True)
    assert all(
        list(p) == ["rec_id", "decision", "reason", "value_added"] for p in doc["precedents"]
    )


def test_explain_unknown_id_exits_2(store, capsys) -> None:
    code, out, err = run(capsys, "explain", "NO-SUCH-REC", "--db", store["db"], "--json")
    assert code == 2 and out == "" and "NO-SUCH-REC" in err


def test_drivers_json_descending_and_unknown_type(store, capsys) -> None:
    code, out, _ = run(capsys, "drivers", "--db", store["db"], "--json")
    assert code == 0
    doc = json.loads(out)
    assert list(doc) == ["fidelity_r2", "drivers"]
    values = [d["mean_abs_shap"] for d in doc["drivers"]]
    assert values and values == sorted(values, reverse=True)
    code, _, err = run(capsys, "drivers", "--db", store["db"], "--rec-type", "nope", "--json")
    assert code == 2 and "nope" in err


def test_decide_checks_then_records_once(store, capsys) -> None:
    db, rec = store["db"], store["open"][1]
    code, _, err = run(capsys, "decide", rec, "--decision", "rejected", "--by", "ana", "--db", db)
    assert code == 2 and "reason" in err
    code, _, err = run(
        capsys, "decide", "NO-SUCH", "--decision", "accepted", "--by", "ana", "--db", db
    )
    assert code == 2
    code, out, _ = run(
        capsys, "decide", rec, "--decision", "modified", "--qty", "7", "--reason", "pad for Q4",
        "--by", "ana", "--db", db,
    )  # fmt: skip
    assert code == 0
    row = json.loads(out)
    assert (row["rec_id"], row["decision"], row["final_qty"], row["decided_by"]) == (
        rec, "modified", 7.0, "ana",
    )  # fmt: skip
    code, _, err = run(capsys, "decide", rec, "--decision", "accepted", "--by", "ana", "--db", db)
    # ran and found a problem (exit 1), in words: who decided it
    assert code == 1 and f"not recorded: {rec} is already decided by ana (modified at" in err


def test_decide_with_users_needs_a_known_user_with_the_role(tmp_path, capsys, store) -> None:
    db = f"sqlite:///{tmp_path / 'roles.db'}"
    assert cli.main(["load", str(store["bundle"]), "--db", db, "--json"]) == 0
    capsys.readouterr()
    assert cli.main(["users", "add", "vic", "--role", "exec", "--no-password", "--db", db]) == 0
    rec = store["open"][2]
    code, _, err = run(
        capsys, "decide", rec, "--decision", "accepted", "--by", "stranger", "--db", db
    )
    assert code == 1 and "not a user" in err
    code, _, err = run(capsys, "decide", rec, "--decision", "accepted", "--by", "vic", "--db", db)
    assert code == 1 and "exec" in err


def test_users_add_reads_the_password_from_stdin_and_asks_for_a_first_admin(
    tmp_path, capsys, monkeypatch
) -> None:
    import io

    from store.db import get_engine
    from store.users import verify_user

    db = f"sqlite:///{tmp_path / 'users.db'}"
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    code, _, err = run(capsys, "users", "add", "ana", "--role", "planner", "--password-stdin",
                       "--db", db)  # fmt: skip
    assert code == 2 and "at least 8 characters" in err
    monkeypatch.setattr("sys.stdin", io.StringIO("a long passphrase\n"))
    code, out, err = run(capsys, "users", "add", "ana", "--role", "planner", "--password-stdin",
                         "--db", db)  # fmt: skip
    assert code == 0 and json.loads(out)["created"] is True
    assert "create the first admin explicitly" in err
    assert verify_user(get_engine(db), "ana", "a long passphrase") == "planner"
    monkeypatch.setattr("sys.stdin", io.StringIO("another long one\n"))
    code, _, err = run(capsys, "users", "add", "root", "--role", "admin", "--password-stdin",
                       "--db", db)  # fmt: skip
    assert code == 0 and "first admin" not in err


def test_every_command_is_documented_in_the_readme() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    parser = cli.build_parser()
    (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    assert len(commands.choices) >= 12
    for name in commands.choices:
        assert f"python cli.py {name}" in readme, name


def test_load_builds_the_analysis_snapshot_unless_told_not_to(store, tmp_path, capsys) -> None:
    from store.db import get_engine
    from store.snapshots import snapshot_dir

    for flag, expect in (([], True), (["--no-snapshot"], False)):
        db = f"sqlite:///{tmp_path / f'snap{len(flag)}.db'}"
        assert cli.main(["load", str(store["bundle"]), "--db", db, "--json", *flag]) == 0
        err = capsys.readouterr().err
        folder = snapshot_dir(get_engine(db))
        built = sorted(p.name.split("-s")[0] for p in folder.glob("*-v*.parquet"))
        assert ("analysis snapshot ready" in err) is expect
        assert (built[:2] == ["decisions", "kpi_periods"]) is expect, built
