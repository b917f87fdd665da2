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
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from sqlalchemy import Engine, text
from sqlalchemy.engine import Connection

from contract.tables import TABLES, TableSpec
from store.audit import AuditedWrite, anchor_head
from store.db import utcnow
from store.ingest.batch import (
    check_tz,
    header_warnings,
    insert_batch,
    lock_for_load,
    record_refusal,
)
from store.ingest.bundle import RawTable, read_bundle_checked
from store.ingest.references import check_references
from store.ingest.report import LoadReport, report_rows, write_quarantine
from store.ingest.staging import release_memory, stage_for, write_rows
from store.ingest.validate import Parsed, Problems, key_text, parse_table
from store.models import ImportBatch
from store.roles import require
from store.snapshots import snapshot_loaded_rows
from store.sqlio import bulk_insert, read_sql_frame, read_sql_matching


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

    def new_rows(self) -> pd.DataFrame:
        """The rows this load stores (the frame itself when it is all of them: no copy)."""
        frame = self.parsed.frame
        return frame if self.new.all() else frame.loc[self.new]


def _stored(
    conn: Connection, spec: TableSpec, columns: list[str], frame: pd.DataFrame
) -> pd.DataFrame:
    """Stored rows that may share a key with ``frame``'s (all of them when the first key
    column is not text)."""
    first = spec.key[0]
    if spec.column(first).kind in ("timestamp", "date"):
        return read_sql_frame(conn, spec, columns)
    return read_sql_matching(conn, spec, columns, first, frame[first])


def _parse(spec: TableSpec, raw: RawTable, tz: str) -> Parsed:
    """The checks that need no database: types, ranges, row hashes."""
    return parse_table(
        raw.table,
        spec,
        tz=tz,
        hash_rows=True,
        lines=raw.lines,
        cell_problems=raw.cell_problems,
    )


def _check_table(
    conn: Connection, spec: TableSpec, raw: RawTable, parsed: Parsed, checked: dict[str, _Checked]
) -> _Checked:
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
    return report_rows(
        c.spec.name, c.problems, c.parsed.frame["_line"].to_numpy(), c.keys, c.raw.skipped
    )


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
    report = _load(
        source,
        engine=engine,
        tz=tz,
        strict=strict,
        actor=actor,
        role=role,
        progress=progress,
        snapshot=snapshot,
        _after_table=_after_table,
    )
    if report.batch_id is not None:
        anchor_head(engine)  # the committed head, outside the database
    return report


def _load(
    source: str | Path | dict[str, bytes],
    *,
    engine: Engine,
    tz: str,
    strict: bool,
    actor: str | None,
    role: str | None,
    progress: Callable[[str, float], None] | None,
    snapshot: bool,
    _after_table: Callable[[str], None] | None,
) -> LoadReport:
    require(role, "import")
    t0 = time.perf_counter()
    who = actor or getpass.getuser()
    notify = progress or (lambda _msg, _frac: None)
    check_tz(tz)
    raws, file_problems = read_bundle_checked(source)
    report = LoadReport(files={r.source: r.num_rows for r in raws.values()})
    report.file_problems = file_problems + header_warnings(raws)
    started = utcnow()
    with (
        engine.connect() as conn,
        stage_for(conn, tables=len(raws)) as stage,
        conn.begin(),
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="workbench-write") as writer,
    ):
        lock_for_load(conn, sorted({*raws, "recommendations"}))
        # Without --strict each table's good rows are written while the next table is
        # parsed: staging (ADBC) and SQLite's INSERT run with the GIL released, so the
        # two cores overlap. The connection is only ever used by one thread at a time:
        # the write is waited for before the next table's database checks.
        pipelined = stage is not None and not strict
        if pipelined:
            report.batch_id = insert_batch(
                conn, report, source=source, who=who, tz=tz, started=started
            )
        checked: dict[str, _Checked] = {}
        pending: Future[int] | None = None
        try:
            for i, (name, raw) in enumerate(raws.items()):
                notify(f"checking {raw.source}", i / (2 * len(raws)))
                parsed = _parse(TABLES[name], raw, tz)
                if pending is not None:
                    pending.result()
                    pending = None
                    release_memory()  # what staging the previous table took
                c = checked[name] = _check_table(conn, TABLES[name], raw, parsed, checked)
                # Only the bad rows' raw text is needed from here on (for quarantine).
                bad_rows = pa.array(np.unique(c.problems["_idx"].to_numpy(dtype="int64")))
                c.raw = replace(raw, table=raw.table.take(bad_rows))
                raws[name] = c.raw
                del raw, parsed
                release_memory()  # the file's text, freed just now
                # Only the rows this load stores: a re-load stores none (the finding sums batches).
                naive = {col: int((m & c.new).sum()) for col, m in c.parsed.naive_rows.items()}
                report.naive_timestamps.update({col: n for col, n in naive.items() if n})
                if pipelined:
                    pending = writer.submit(
                        write_rows, stage, name, c.spec, c.new_rows(), report.batch_id
                    )
            if pending is not None:
                pending.result()
        finally:
            if pending is not None:  # never leave the transaction with a write in flight
                wait([pending])
        for name, c in checked.items():
            report.rejected.extend(_report_rows(c))
            report.unchanged[name] = c.unchanged
            report.loaded[name] = int(c.new.sum())
        if strict and (report.rejected or report.file_problems):
            report.loaded = {name: 0 for name in checked}
            report.strict_failed = True
            record_refusal(
                conn,
                report,
                list(checked),
                lambda batch_id: [_quarantine(conn, c, batch_id) for c in checked.values()],
                source=source,
                who=who,
                tz=tz,
                started=started,
            )
            return report  # no data was written: only the refusal's record commits

        if not pipelined:
            report.batch_id = insert_batch(
                conn, report, source=source, who=who, tz=tz, started=started
            )
        for i, (name, c) in enumerate(checked.items()):
            notify(f"writing {name}", 0.5 + i / (2 * len(checked)))
            if pipelined:
                pass  # written while the next table was parsed
            elif stage is not None:
                stage.put(name, c.spec, c.new_rows())
                stage.insert(name, c.spec, batch_id=report.batch_id)
            elif c.new.any():
                bulk_insert(conn, c.spec, c.new_rows(), batch_id=report.batch_id)
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
        done = {
            "loaded": json.dumps(report.loaded),
            "unchanged": json.dumps(report.unchanged),
            # Known only after the checks (a pipelined load records its batch first).
            "naive_timestamps": json.dumps(report.naive_timestamps),
            "n_rejected": report.n_rejected_rows,
        }
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
    if stage is not None:
        stage.start_checkpoint()  # committed: its log goes into the file while snapshots write
    # The new version of each changed table is the previous one plus the rows just loaded
    # (or only them, when the table was empty): its snapshot is written from them, so the
    # first read skips a pass over the database.
    t1 = time.perf_counter()
    # Each table's rows are let go once its snapshot is written (a load of six tables at a
    # million rows would otherwise hold them all while the largest is snapshotted).
    # The largest goes last, when the others are gone.
    for name in [n for n in checked if n not in changed]:
        del checked[name]
    by_size = sorted(checked, key=lambda n: checked[n].parsed.frame.memory_usage(deep=False).sum())
    for name in by_size if snapshot else []:
        c = checked.pop(name)
        notify(f"preparing fast reads of {name}", 0.99)
        try:
            snapshot_loaded_rows(
                engine,
                name,
                int(versions[name]),
                c.new_rows(),
                previous=None if c.was_empty else int(versions[name]) - 1,
            )
        except Exception as exc:  # only a cache: the first read builds it instead
            log.warning("snapshot of loaded %s not written: %s", name, exc)
        del c
        release_memory()
    checked.clear()
    if stage is not None:
        stage.checkpointed()  # the rows are in the database file, not only in its log
    report.seconds["snapshot"] = time.perf_counter() - t1
    notify("done", 1.0)
    return report


def _quarantine(conn: Connection, c: _Checked, batch_id: int) -> None:
    write_quarantine(
        conn,
        batch_id=batch_id,
        table=c.spec.name,
        raw=c.raw.table,
        problems=c.problems,
        lines=c.parsed.frame["_line"].to_numpy(),
        keys=c.keys,
        skipped=c.raw.skipped,
    )
