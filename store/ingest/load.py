"""Loading a bundle into the store: checked, atomic, idempotent, never overwriting.

Good rows load; each bad row is reported (table, line, key, column, reason) and
kept in quarantine. A row whose key is already stored loads nothing: the same
content is counted ``unchanged``, other content is rejected as a conflict. The
whole load is one transaction, so an interrupted load leaves the store as it was.
"""

from __future__ import annotations

import getpass
import json
import logging
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from sqlalchemy import Engine, text
from sqlalchemy.engine import Connection

from contract.tables import TABLES, TableSpec
from store.audit import AuditedWrite
from store.db import utcnow
from store.ingest import staging
from store.ingest.bundle import RawTable, read_bundle
from store.ingest.references import check_references
from store.ingest.staging import Stage
from store.ingest.validate import Parsed, Problems, key_text, parse_table
from store.models import ImportBatch
from store.roles import require
from store.snapshots import snapshot_loaded_rows
from store.sqlio import bulk_insert, read_sql_frame, read_sql_matching


@dataclass
class LoadReport:
    loaded: dict[str, int] = field(default_factory=dict)
    unchanged: dict[str, int] = field(default_factory=dict)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    files: dict[str, int] = field(default_factory=dict)
    naive_timestamps: dict[str, int] = field(default_factory=dict)
    batch_id: int | None = None
    strict_failed: bool = False
    # Wall time of the checked, atomic load (to the commit) and of writing snapshots after.
    seconds: dict[str, float] = field(default_factory=dict)

    def text_lines(self, url: str) -> list[str]:
        """The report for a terminal: counts per table, then up to 50 rejected rows."""
        if self.strict_failed:
            lines = [f"--strict: {self.n_rejected_rows} bad rows; nothing was written."]
        else:
            lines = [f"Loaded into {url} (import batch {self.batch_id}):"]
        for table in self.loaded:
            lines.append(
                f"  {table:16s} loaded {self.loaded[table]:>9,}   unchanged {self.unchanged[table]:>9,}"
            )
        if self.rejected:
            lines.append(
                f"Rejected {self.n_rejected_rows:,} rows ({len(self.rejected):,} problems), kept in quarantine:"
            )
            for r in self.rejected[:50]:
                lines.append(
                    f"  {r['table']} row {r['row']} key={r['key']} {r['column'] or ''}: {r['reason']}"
                )
            if len(self.rejected) > 50:
                lines.append(f"  … {len(self.rejected) - 50:,} more (use --json for all)")
        return lines

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
    keys: np.ndarray  # key text per row
    bad: np.ndarray  # bool per row
    problems: pd.DataFrame  # _idx, column, reason
    new: np.ndarray  # bool per row: good and not stored yet
    unchanged: int = 0
    was_empty: bool = False  # the table held no rows before this load


def _stored(
    conn: Connection, spec: TableSpec, columns: list[str], frame: pd.DataFrame
) -> pd.DataFrame:
    """Stored rows that may share a key with ``frame``'s (all of them when the first key
    column is not text)."""
    first = spec.key[0]
    if spec.column(first).kind in ("timestamp", "date"):
        return read_sql_frame(conn, spec, columns)
    return read_sql_matching(conn, spec, columns, first, frame[first])


def _check_table(
    conn: Connection, spec: TableSpec, raw: RawTable, tz: str, checked: dict[str, _Checked]
) -> _Checked:
    parsed = parse_table(raw.table, spec, tz=tz, hash_rows=True)
    frame = parsed.frame
    probs = Problems()
    keys = key_text(frame, spec.key)

    if spec.name == "recommendations":
        probs.add(
            (frame["created_at"] < frame["signal_at"]).to_numpy(),
            "created_at",
            "created_at is before signal_at",
        )

    key_series = pd.Series(keys, dtype=object)
    dup = key_series.duplicated(keep="first").to_numpy()
    if dup.any():
        first_line = pd.Series(frame["_line"].to_numpy()).groupby(keys).transform("min").to_numpy()
        probs.add(
            dup,
            spec.key[0] if len(spec.key) == 1 else None,
            "duplicate key: first given at row ",
            first_line,
            quote=False,
        )

    if spec.depends_on:
        recs = checked.get("recommendations")
        check_references(
            conn,
            frame,
            probs,
            recs.parsed.frame if recs is not None else None,
            recs.bad if recs is not None else None,
        )

    all_problems = pd.concat([parsed.problems, probs.frame()], ignore_index=True)
    bad = np.zeros(len(frame), dtype=bool)
    bad[all_problems["_idx"].to_numpy(dtype="int64")] = True

    # Compare the good rows with what is stored under the same key.
    hashes = frame["row_hash"].to_numpy(dtype="int64")
    stored = _stored(conn, spec, list(spec.key) + ["row_hash", "batch_id"], frame)
    new = ~bad
    unchanged = 0
    if len(stored):
        stored_keys = pd.Index(key_text(stored, spec.key))
        pos = stored_keys.get_indexer(keys)
        present = (pos >= 0) & ~bad
        stored_hash = stored["row_hash"].to_numpy(dtype="int64", na_value=0)
        same = present & (stored_hash[pos] == hashes)
        conflict = present & ~same
        if conflict.any():
            batch = stored["batch_id"].to_numpy(dtype="float64", na_value=np.nan)[pos]
            where = np.where(
                np.isnan(batch),
                "the workbench",
                "import batch " + np.nan_to_num(batch).astype("int64").astype(str),
            )
            conflict_probs = Problems()
            conflict_probs.add(
                conflict,
                None,
                "conflicts with the stored row (from ",
                where,
                quote=False,
                suffix="); stored rows are never overwritten",
            )
            all_problems = pd.concat([all_problems, conflict_probs.frame()], ignore_index=True)
            bad |= conflict
        unchanged = int(same.sum())
        new = ~bad & ~present
    return _Checked(
        spec, raw, parsed, keys, bad, all_problems, new, unchanged, was_empty=_is_empty(conn, spec)
    )


def _is_empty(conn: Connection, spec: TableSpec) -> bool:
    """Whether the table holds no rows at all (``_stored`` reads only the matching ones)."""
    return conn.execute(text(f'SELECT 1 FROM "{spec.name}" LIMIT 1')).first() is None


log = logging.getLogger(__name__)


def _report_rows(c: _Checked) -> list[dict[str, Any]]:
    p = c.problems
    if p.empty:
        return []
    idx = p["_idx"].to_numpy(dtype="int64")
    out = pd.DataFrame(
        {
            "table": c.spec.name,
            "row": c.parsed.frame["_line"].to_numpy()[idx],
            "key": c.keys[idx],
            "column": p["column"].to_numpy(dtype=object),
            "reason": p["reason"].astype(str).to_numpy(),
        }
    ).sort_values(["row", "column"], na_position="first", kind="stable")
    return [
        {
            "table": t,
            "row": int(r),
            "key": (k or None),
            "column": (col if isinstance(col, str) else None),
            "reason": reason,
        }
        for t, r, k, col, reason in out.itertuples(index=False, name=None)
    ]


def load_bundle(
    source: str | Path | dict[str, bytes],
    *,
    engine: Engine,
    tz: str = "UTC",
    strict: bool = False,
    actor: str | None = None,
    role: str | None,
    progress: Callable[[str, float], None] | None = None,
    snapshot: bool = True,
    _after_table: Callable[[str], None] | None = None,
) -> LoadReport:
    """Check ``source`` against the contract and load its good rows in one transaction.

    Parameters
    ----------
    source
        A bundle (see ``store.ingest.bundle.read_bundle``).
    engine
        The store.
    tz
        Zone for timestamps written without an offset.
    strict
        If any row is bad, write nothing at all (the report still lists every problem).
    actor
        Who loads, for the batch record and audit trail (default: the OS user).
    role
        The loader's role, checked before anything is read (``import`` needs ``sop_lead``
        or ``admin``). The command line and scheduled loads run as the server's operator.
    progress
        Called with (step description, fraction done) as the load goes.
    snapshot
        After the commit, write the analysis snapshot of each table that was empty
        before (from the loaded rows; see ``store.snapshots.snapshot_loaded_rows``).

    Returns
    -------
    LoadReport
        Counts loaded and unchanged per table, every rejected row, the batch id.
    """
    require(role, "import")
    t0 = time.perf_counter()
    who = actor or getpass.getuser()
    notify = progress or (lambda _msg, _frac: None)
    raws = read_bundle(source)
    report = LoadReport(files={r.source: r.num_rows for r in raws.values()})
    started = utcnow()
    with engine.connect() as conn, _stage_for(conn) as stage, conn.begin():
        if conn.dialect.name == "sqlite":
            # Take the write lock now so the checks see the same store the insert writes to.
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        checked: dict[str, _Checked] = {}
        for i, (name, raw) in enumerate(raws.items()):
            notify(f"checking {raw.source}", i / (2 * len(raws)))
            c = checked[name] = _check_table(conn, TABLES[name], raw, tz, checked)
            # Only the rows this load stores: a re-load stores none (the finding sums batches).
            naive = {col: int((m & c.new).sum()) for col, m in c.parsed.naive_rows.items()}
            report.naive_timestamps.update({col: n for col, n in naive.items() if n})
            if stage is not None and not strict:
                # Staged in the background while the next table is checked.
                stage.put(name, c.spec, c.parsed.frame.loc[c.new])
        for name, c in checked.items():
            report.rejected.extend(_report_rows(c))
            report.unchanged[name] = c.unchanged
            report.loaded[name] = int(c.new.sum())
        if strict and report.rejected:
            report.loaded = {name: 0 for name in checked}
            report.strict_failed = True
            return report  # nothing was written: the transaction commits empty
        if stage is not None and strict:
            for name, c in checked.items():
                stage.put(name, c.spec, c.parsed.frame.loc[c.new])

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
            if stage is not None:
                stage.insert(name, c.spec, batch_id=report.batch_id)
            elif c.new.any():
                bulk_insert(conn, c.spec, c.parsed.frame.loc[c.new], batch_id=report.batch_id)
            _quarantine(conn, c, report.batch_id)
            if _after_table is not None:
                _after_table(name)
        changed = [name for name, n in report.loaded.items() if n]
        write = AuditedWrite(
            conn, who, (*changed, *(["quarantine"] if report.rejected else []), "import_batch")
        )
        write.bump()
        # Read after the bump, which holds each row's lock: a table's new version is the
        # one before it (version - 1) plus the rows loaded now, whoever wrote meanwhile.
        versions = dict(conn.execute(text("SELECT table_name, version FROM data_version")).all())
        batches = ImportBatch.__table__  # type: ignore[attr-defined]
        # Through the table: finished_at stored by its column type (like started_at), not as text.
        done = {"loaded": json.dumps(report.loaded), "unchanged": json.dumps(report.unchanged)}
        conn.execute(
            batches.update()
            .where(batches.c.id == report.batch_id)
            .values(finished_at=utcnow(), **done)
        )
        write.event(
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
    report.seconds["load"] = time.perf_counter() - t0
    # The new version of each changed table is the previous one plus the rows just loaded
    # (or only them, when the table was empty): its snapshot is written from them, so the
    # first read skips a pass over the database.
    t1 = time.perf_counter()
    for name in changed if snapshot else []:
        c = checked[name]
        notify(f"preparing fast reads of {name}", 0.99)
        try:
            snapshot_loaded_rows(
                engine,
                name,
                int(versions[name]),
                c.parsed.frame.loc[c.new],
                previous=None if c.was_empty else int(versions[name]) - 1,
            )
        except Exception as exc:  # only a cache: the first read builds it instead
            log.warning("snapshot of loaded %s not written: %s", name, exc)
    report.seconds["snapshot"] = time.perf_counter() - t1
    notify("done", 1.0)
    return report


def _stage_for(conn: Connection) -> AbstractContextManager[Stage | None]:
    """A scratch stage for SQLite loads when the ADBC driver is there, else nothing."""
    if conn.dialect.name == "sqlite" and staging.available():
        return Stage(conn)
    return nullcontext()


def _quarantine(conn: Connection, c: _Checked, batch_id: int) -> None:
    p = c.problems
    if p.empty:
        return
    idx = p["_idx"].to_numpy(dtype="int64")
    rows_idx = np.unique(idx)
    raw_rows = c.raw.table.take(pa.array(rows_idx)).to_pandas()
    raw_json = dict(
        zip(
            rows_idx.tolist(),
            raw_rows.to_json(orient="records", lines=True).splitlines(),
            strict=True,
        )
    )
    lines = c.parsed.frame["_line"].to_numpy()
    params = [
        {
            "batch_id": batch_id,
            "table_name": c.spec.name,
            "row_number": int(lines[i]),
            "row_key": c.keys[i] or None,
            "column_name": col if isinstance(col, str) else None,
            "reason": str(reason),
            "raw": raw_json[int(i)],
        }
        for i, col, reason in zip(
            idx.tolist(), p["column"].tolist(), p["reason"].tolist(), strict=True
        )
    ]
    conn.execute(
        text(
            "INSERT INTO quarantine (batch_id, table_name, row_number, row_key, column_name, reason, raw) "
            "VALUES (:batch_id, :table_name, :row_number, :row_key, :column_name, :reason, :raw)"
        ),
        params,
    )
