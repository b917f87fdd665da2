"""Loading a bundle into the store: checked, atomic, idempotent, never overwriting.

Good rows load; each bad row is reported (table, line, key, column, reason) and
kept in quarantine. A row whose key is already stored loads nothing: the same
content is counted ``unchanged``, other content is rejected as a conflict. The
whole load is one transaction, so an interrupted load leaves the store as it was.
"""

from __future__ import annotations

import getpass
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine, text
from sqlalchemy.engine import Connection

from store.audit import record_event, utcnow
from store.bundle import RawTable, read_bundle
from store.db import bump_versions
from store.models import ImportBatch
from store.schema import TABLES, TableSpec
from store.sqlio import bulk_insert, read_sql_frame
from store.validate import Parsed, _json_column, key_text, parse_table, row_hashes


@dataclass
class LoadReport:
    loaded: dict[str, int] = field(default_factory=dict)
    unchanged: dict[str, int] = field(default_factory=dict)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    files: dict[str, int] = field(default_factory=dict)
    naive_timestamps: dict[str, int] = field(default_factory=dict)
    batch_id: int | None = None
    strict_failed: bool = False

    def to_json(self) -> dict[str, Any]:
        """The CLI's ``--json`` shape: ``{"loaded", "rejected", "unchanged"}``."""
        return {"loaded": self.loaded, "rejected": self.rejected, "unchanged": self.unchanged}

    @property
    def n_rejected_rows(self) -> int:
        return len({(r["table"], r["row"]) for r in self.rejected})


@dataclass
class _Checked:
    spec: TableSpec
    raw: RawTable
    parsed: Parsed
    bad: pd.Series  # bool per row
    problems: pd.DataFrame  # _idx, column, reason
    new: pd.Series  # bool per row: good and not stored yet
    unchanged: int = 0


def _add(
    problems: list[pd.DataFrame], mask: pd.Series, column: str | None, reason: str | pd.Series
) -> None:
    mask = mask.fillna(False).astype(bool)
    if mask.any():
        idx = mask.index[mask.to_numpy()]
        reasons = reason.loc[idx].to_numpy() if isinstance(reason, pd.Series) else reason
        problems.append(pd.DataFrame({"_idx": idx, "column": column, "reason": reasons}))


def _stored(conn: Connection, spec: TableSpec, extra_cols: tuple[str, ...] = ()) -> pd.DataFrame:
    cols = list(spec.key) + ["row_hash", "batch_id"] + [c for c in extra_cols if c not in spec.key]
    df = read_sql_frame(conn, spec, cols)
    df["_key"] = key_text(df, spec.key) if len(df) else pd.Series(dtype=object)
    return df


def _check_table(
    conn: Connection, spec: TableSpec, raw: RawTable, tz: str, checked: dict[str, _Checked]
) -> _Checked:
    parsed = parse_table(raw.frame, spec, tz=tz)
    frame = parsed.frame
    problems = [parsed.problems]
    keys = key_text(frame, spec.key)

    if spec.name == "recommendations":
        _add(
            problems,
            frame["created_at"] < frame["signal_at"],
            "created_at",
            "created_at is before signal_at",
        )

    first_line = frame["_line"].groupby(keys.to_numpy()).transform("min")
    dup = keys.duplicated(keep="first")
    _add(
        problems,
        dup,
        spec.key[-1] if len(spec.key) == 1 else None,
        "duplicate key: first given at row " + first_line.astype(str),
    )

    if spec.depends_on:
        _check_references(
            conn,
            frame,
            problems,
            checked["recommendations"] if "recommendations" in checked else None,
        )

    all_problems = pd.concat(problems, ignore_index=True)
    bad = pd.Series(False, index=frame.index)
    bad[all_problems["_idx"].unique()] = True

    # Compare the good rows with what is stored under the same key.
    hashes = row_hashes(frame, spec)
    frame["row_hash"] = hashes
    stored = _stored(conn, spec)
    new = ~bad
    unchanged = 0
    if len(stored):
        lookup = stored.drop_duplicates("_key").set_index("_key")
        stored_hash = keys.map(lookup["row_hash"])
        present = stored_hash.notna() & ~bad
        same = present & (stored_hash == hashes)
        conflict = present & ~same
        batch = keys.map(lookup["batch_id"]).astype("object")
        where = batch.map(lambda b: f"import batch {int(b)}" if pd.notna(b) else "the workbench")
        reason = (
            "conflicts with the stored row (from "
            + where.astype(str)
            + "); stored rows are never overwritten"
        )
        conflict_df: list[pd.DataFrame] = []
        _add(conflict_df, conflict, None, reason)
        if conflict_df:
            all_problems = pd.concat([all_problems, *conflict_df], ignore_index=True)
            bad |= conflict
        unchanged = int(same.sum())
        new = ~bad & ~present
    return _Checked(spec, raw, parsed, bad, all_problems, new, unchanged)


def _check_references(
    conn: Connection, frame: pd.DataFrame, problems: list[pd.DataFrame], recs: _Checked | None
) -> None:
    """rec_id must name a recommendation that loads now or is stored; time order and
    ``final_qty`` rules that need the recommendation are checked here too."""
    rec_cols = ["rec_id", "created_at", "recommended_qty"]
    parts = []
    rejected_line = pd.Series(dtype="int64")
    if recs is not None:
        rf = recs.parsed.frame
        parts.append(rf.loc[~recs.bad, rec_cols])
        rejected = rf.loc[recs.bad, ["rec_id", "_line"]].dropna(subset=["rec_id"])
        rejected_line = rejected.drop_duplicates("rec_id").set_index("rec_id")["_line"]
    from store.schema import RECOMMENDATIONS

    stored = read_sql_frame(conn, RECOMMENDATIONS, rec_cols)
    if len(stored):
        parts.append(stored)
    known = (
        pd.concat(parts, ignore_index=True).drop_duplicates("rec_id")
        if parts
        else pd.DataFrame(columns=rec_cols)
    )
    known = known.set_index("rec_id")
    rec_id = frame["rec_id"]
    has_id = rec_id.notna()
    found = rec_id.isin(known.index)
    dep_line = rec_id.map(rejected_line)
    _add(
        problems,
        has_id & ~found & dep_line.notna(),
        "rec_id",
        "depends on rejected recommendations row " + dep_line.astype("Int64").astype(str),
    )
    _add(
        problems,
        has_id & ~found & dep_line.isna(),
        "rec_id",
        "rec_id " + "'" + rec_id.astype(str) + "'" + " not found in recommendations",
    )
    created = rec_id.map(known["created_at"])
    if "decided_at" in frame.columns:
        _add(
            problems,
            found & (frame["decided_at"] < created),
            "decided_at",
            "decided_at is before the recommendation's created_at",
        )
        rec_qty = rec_id.map(known["recommended_qty"])
        _add(
            problems,
            found & (frame["decision"] == "modified") & rec_qty.notna() & frame["final_qty"].isna(),
            "final_qty",
            "final_qty required for a modified decision when recommended_qty is set",
        )


def _report_rows(c: _Checked, key_series: pd.Series) -> list[dict[str, Any]]:
    p = c.problems
    if p.empty:
        return []
    lines = c.parsed.frame["_line"].to_numpy()[p["_idx"].to_numpy()]
    keys = key_series.to_numpy()[p["_idx"].to_numpy()]
    out = pd.DataFrame(
        {
            "table": c.spec.name,
            "row": lines.astype(int),
            "key": [None if (k is None or k != k or k == "") else str(k) for k in keys],
            "column": p["column"].to_numpy(),
            "reason": p["reason"].astype(str).to_numpy(),
        }
    ).sort_values(["row", "column"], na_position="first", kind="stable")
    return [
        {
            "table": r[0],
            "row": int(r[1]),
            "key": r[2],
            "column": (r[3] if isinstance(r[3], str) else None),
            "reason": r[4],
        }
        for r in out.itertuples(index=False, name=None)
    ]


def load_bundle(
    source: str | Path | dict[str, bytes],
    *,
    engine: Engine,
    tz: str = "UTC",
    strict: bool = False,
    loaded_by: str | None = None,
    progress: Callable[[str, float], None] | None = None,
    _after_table: Callable[[str], None] | None = None,
) -> LoadReport:
    """Check ``source`` against the contract and load its good rows in one transaction.

    Parameters
    ----------
    source
        A bundle (see ``store.bundle.read_bundle``).
    engine
        The store.
    tz
        Zone for timestamps written without an offset.
    strict
        If any row is bad, write nothing at all (the report still lists every problem).
    loaded_by
        Who loads, for the batch record and audit trail (default: the OS user).
    progress
        Called with (step description, fraction done) as the load goes.

    Returns
    -------
    LoadReport
        Counts loaded and unchanged per table, every rejected row, the batch id.
    """
    who = loaded_by or getpass.getuser()
    notify = progress or (lambda _msg, _frac: None)
    raws = read_bundle(source)
    report = LoadReport(files={r.source: len(r.frame) for r in raws.values()})
    started = utcnow()
    with engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            # Take the write lock now so the checks see the same store the insert writes to.
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        checked: dict[str, _Checked] = {}
        for i, (name, raw) in enumerate(raws.items()):
            notify(f"checking {raw.source}", i / (2 * len(raws)))
            checked[name] = _check_table(conn, TABLES[name], raw, tz, checked)
            report.naive_timestamps.update(checked[name].parsed.naive_timestamps)
        for name, c in checked.items():
            report.rejected.extend(_report_rows(c, key_text(c.parsed.frame, c.spec.key)))
            report.unchanged[name] = c.unchanged
            report.loaded[name] = int(c.new.sum())
        if strict and report.rejected:
            report.loaded = {name: 0 for name in checked}
            report.strict_failed = True
            return report  # nothing was written: the transaction commits empty

        batch_id = conn.execute(
            ImportBatch.__table__.insert().values(  # type: ignore[attr-defined]
                started_at=started,
                loaded_by=who,
                source=str(
                    source
                    if not isinstance(source, dict)
                    else "upload: " + ", ".join(sorted(source))
                ),
                tz=tz,
                files=json.dumps(report.files),
                loaded="{}",
                unchanged="{}",
                naive_timestamps=json.dumps(report.naive_timestamps),
                n_rejected=report.n_rejected_rows,
            )
        ).inserted_primary_key[0]
        report.batch_id = int(batch_id)
        for i, (name, c) in enumerate(checked.items()):
            notify(f"writing {name}", 0.5 + i / (2 * len(checked)))
            rows = c.parsed.frame.loc[c.new]
            if len(rows):
                bulk_insert(conn, c.spec, rows, batch_id=report.batch_id)
            _quarantine(conn, c, report.batch_id)
            if _after_table is not None:
                _after_table(name)
        changed = [name for name, n in report.loaded.items() if n]
        bump_versions(
            conn, changed + (["quarantine"] if report.rejected else []) + ["import_batch"]
        )
        conn.execute(
            text(
                "UPDATE import_batch SET finished_at = :f, loaded = :l, unchanged = :u WHERE id = :i"
            ),
            {
                "f": utcnow(),
                "l": json.dumps(report.loaded),
                "u": json.dumps(report.unchanged),
                "i": report.batch_id,
            },
        )
        record_event(
            conn,
            actor=who,
            action="import",
            entity="import_batch",
            entity_id=str(report.batch_id),
            after={
                "source": str(source) if not isinstance(source, dict) else "upload",
                "loaded": report.loaded,
                "unchanged": report.unchanged,
                "rejected_rows": report.n_rejected_rows,
                "tz": tz,
            },
        )
    notify("done", 1.0)
    return report


def _quarantine(conn: Connection, c: _Checked, batch_id: int) -> None:
    p = c.problems
    if p.empty:
        return
    idx = p["_idx"].to_numpy()
    raw = c.raw.frame.reset_index(drop=True)
    raw_json = _json_column(raw.iloc[np.unique(idx)])
    keys = key_text(c.parsed.frame, c.spec.key)
    rows = pd.DataFrame(
        {
            "batch_id": batch_id,
            "table_name": c.spec.name,
            "row_number": c.parsed.frame["_line"].to_numpy()[idx],
            "row_key": keys.to_numpy()[idx],
            "column_name": p["column"].to_numpy(),
            "reason": p["reason"].astype(str).to_numpy(),
            "raw": raw_json.reindex(idx).to_numpy(),
        }
    )
    rows["row_key"] = rows["row_key"].where(rows["row_key"].astype(str) != "", None)
    conn.execute(
        text(
            "INSERT INTO quarantine (batch_id, table_name, row_number, row_key, column_name, reason, raw) "
            "VALUES (:batch_id, :table_name, :row_number, :row_key, :column_name, :reason, :raw)"
        ),
        [
            {
                k: (
                    None
                    if isinstance(v, float) and v != v
                    else (int(v) if isinstance(v, np.integer) else v)
                )
                for k, v in r.items()
            }
            for r in rows.to_dict("records")
        ],
    )
