"""What a load tells its caller and keeps in quarantine: every bad row, every file finding."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from sqlalchemy import text
from sqlalchemy.engine import Connection

from store.ingest.file_problems import FileProblem
from store.ingest.validate import printable


@dataclass
class LoadReport:
    loaded: dict[str, int] = field(default_factory=dict)
    unchanged: dict[str, int] = field(default_factory=dict)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    files: dict[str, int] = field(default_factory=dict)
    naive_timestamps: dict[str, int] = field(default_factory=dict)
    # Files not read (warnings) or refused as a whole, reported once each, not per row.
    file_problems: list[FileProblem] = field(default_factory=list)
    batch_id: int | None = None
    strict_failed: bool = False
    # Wall time of the checked, atomic load (to the commit) and of writing snapshots after.
    seconds: dict[str, float] = field(default_factory=dict)

    def text_lines(self, url: str) -> list[str]:
        """The report for a terminal: counts per table, file findings, then up to 50
        rejected rows."""
        if self.strict_failed:
            lines = [
                f"--strict: {self.n_rejected_rows} bad rows, {len(self.file_problems)} file "
                "problems; nothing was written."
            ]
        else:
            lines = [f"Loaded into {url} (import batch {self.batch_id}):"]
        for table in self.loaded:
            lines.append(
                f"  {table:16s} loaded {self.loaded[table]:>9,}   unchanged {self.unchanged[table]:>9,}"
            )
        for p in self.file_problems:
            word = "refused" if p.refused else "warning"
            lines.append(f"  {word}: {p.file}{' ' + p.column if p.column else ''}: {p.reason}")
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
        """The CLI's ``--json`` shape: ``{"loaded", "rejected", "unchanged", "file_problems"}``
        (``file_problems``: file, table, column, reason, level ``refused`` or ``warning``)."""
        return {
            "loaded": self.loaded,
            "rejected": self.rejected,
            "unchanged": self.unchanged,
            "file_problems": [p.to_json() for p in self.file_problems],
        }

    @property
    def n_rejected_rows(self) -> int:
        return len({(r["table"], r["row"]) for r in self.rejected})


def report_rows(
    table: str,
    problems: pd.DataFrame,
    lines: np.ndarray,
    keys: np.ndarray,
    skipped: list[tuple[int | None, str, str]],
) -> list[dict[str, Any]]:
    """One report entry per problem (``_idx``, ``column``, ``reason`` rows of ``problems``),
    with the rows set aside while reading the file, in file order."""
    out: list[dict[str, Any]] = [
        {"table": table, "row": line, "key": None, "column": None, "reason": reason}
        for line, reason, _text in skipped
    ]
    if not problems.empty:
        idx = problems["_idx"].to_numpy(dtype="int64")
        frame = pd.DataFrame(
            {
                "row": lines[idx],
                "key": keys[idx],
                "column": problems["column"].to_numpy(dtype=object),
                "reason": problems["reason"].astype(str).to_numpy(),
            }
        )
        out += [
            {
                "table": table,
                "row": int(r),
                "key": (printable(k) if k else None),
                "column": (col if isinstance(col, str) else None),
                "reason": reason,
            }
            for r, k, col, reason in frame.itertuples(index=False, name=None)
        ]
    out.sort(key=lambda r: (r["row"] if r["row"] is not None else 0, r["column"] or ""))
    return out


def write_quarantine(
    conn: Connection,
    *,
    batch_id: int,
    table: str,
    raw: pa.Table,
    problems: pd.DataFrame,
    lines: np.ndarray,
    keys: np.ndarray,
    skipped: list[tuple[int | None, str, str]],
) -> None:
    """Keep every bad row with its raw text and reasons under ``batch_id``."""
    params: list[dict[str, Any]] = [
        {
            "batch_id": batch_id,
            "table_name": table,
            "row_number": line,
            "row_key": None,
            "column_name": None,
            "reason": reason,
            "raw": json.dumps({"line": printable(row_text)}, ensure_ascii=True),
        }
        for line, reason, row_text in skipped
    ]
    if not problems.empty:
        idx = problems["_idx"].to_numpy(dtype="int64")
        rows_idx = np.unique(idx)
        # ``raw`` holds the whole file or only the bad rows (in row order), which a load
        # keeps once a table is checked so the full text does not stay in memory.
        raw_rows = (
            raw if raw.num_rows == len(rows_idx) else raw.take(pa.array(rows_idx))
        ).to_pandas()
        raw_json = dict(
            zip(
                rows_idx.tolist(),
                raw_rows.to_json(orient="records", lines=True).splitlines(),
                strict=True,
            )
        )
        params += [
            {
                "batch_id": batch_id,
                "table_name": table,
                "row_number": int(lines[i]),
                "row_key": printable(keys[i]) if keys[i] else None,
                "column_name": col if isinstance(col, str) else None,
                "reason": str(reason),
                "raw": raw_json[int(i)],
            }
            for i, col, reason in zip(
                idx.tolist(), problems["column"].tolist(), problems["reason"].tolist(), strict=True
            )
        ]
    if params:
        conn.execute(
            text(
                "INSERT INTO quarantine (batch_id, table_name, row_number, row_key, column_name, "
                "reason, raw) VALUES (:batch_id, :table_name, :row_number, :row_key, "
                ":column_name, :reason, :raw)"
            ),
            params,
        )
