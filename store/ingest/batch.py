"""The bookkeeping around a load: its zone, its header warnings, its locks, its batch row."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import text
from sqlalchemy.engine import Connection

from contract.tables import TABLES
from store.audit import AuditedWrite
from store.db import utcnow
from store.ingest.bundle import BundleError, FileProblem, RawTable
from store.ingest.file_problems import near_miss_headers
from store.ingest.report import LoadReport
from store.models import ImportBatch


def check_tz(tz: str) -> str:
    """``tz`` if it names an IANA time zone; else ``BundleError`` (a usage error)."""
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise BundleError(
            f"unknown time zone {tz!r}: give an IANA name such as UTC or Europe/Berlin"
        ) from None
    return tz


def header_warnings(raws: dict[str, RawTable]) -> list[FileProblem]:
    out = []
    for name, raw in raws.items():
        for header, meant in near_miss_headers(raw.table.column_names, TABLES[name]):
            out.append(
                FileProblem(
                    raw.source,
                    f"column {header!r} is not in the contract (did you mean {meant}?); "
                    f"its values are kept in extra, not read as {meant}",
                    name,
                    header,
                )
            )
    return out


def lock_for_load(conn: Connection, names: list[str]) -> None:
    """Hold, until the load commits, what its checks read: a decision written meanwhile
    waits and then meets the loaded row, instead of breaking the load's insert."""
    if conn.dialect.name == "sqlite":
        # The write lock now, so the checks see the same store the insert writes to.
        conn.exec_driver_sql("BEGIN IMMEDIATE")
        return
    # The audit chain's lock first, in the order every writer takes them (no deadlock).
    conn.execute(text("SELECT pg_advisory_xact_lock(727274)"))
    tables = ", ".join(f'"{n}"' for n in names)
    conn.execute(text(f"LOCK TABLE {tables} IN SHARE ROW EXCLUSIVE MODE"))


def source_text(source: str | Path | dict[str, bytes]) -> str:
    return str(source if not isinstance(source, dict) else "upload: " + ", ".join(sorted(source)))


def insert_batch(
    conn: Connection,
    report: LoadReport,
    *,
    source: str | Path | dict[str, bytes],
    who: str,
    tz: str,
    started: object,
) -> int:
    batch_id = conn.execute(
        ImportBatch.__table__.insert().values(  # type: ignore[attr-defined]
            started_at=started,
            loaded_by=who,
            source=source_text(source),
            tz=tz,
            files=json.dumps(report.files),
            loaded="{}",
            unchanged="{}",
            naive_timestamps=json.dumps(report.naive_timestamps),
            n_rejected=report.n_rejected_rows,
        )
    ).inserted_primary_key[0]
    return int(batch_id)


def record_refusal(
    conn: Connection,
    report: LoadReport,
    tables: list[str],
    quarantine: Callable[[int], None],
    *,
    source: str | Path | dict[str, bytes],
    who: str,
    tz: str,
    started: object,
) -> None:
    """A strict load that wrote nothing still leaves its trace: an import batch that
    loaded nothing, its bad rows in quarantine, and an audit event saying why."""
    report.batch_id = insert_batch(conn, report, source=source, who=who, tz=tz, started=started)
    quarantine(report.batch_id)
    conn.execute(
        text("UPDATE import_batch SET finished_at = :f, loaded = :l, unchanged = :u WHERE id = :i"),
        {
            "f": utcnow(),
            "l": json.dumps(report.loaded),
            "u": json.dumps({name: 0 for name in tables}),
            "i": report.batch_id,
        },
    )
    write = AuditedWrite(conn, who, (*(["quarantine"] if report.rejected else []), "import_batch"))
    write.bump()
    write.event(
        action="import_refused",
        entity="import_batch",
        entity_id=str(report.batch_id),
        after={
            "source": str(source) if not isinstance(source, dict) else "upload",
            "strict": True,
            "rejected_rows": report.n_rejected_rows,
            "file_problems": [p.to_json() for p in report.file_problems],
            "tz": tz,
        },
    )
