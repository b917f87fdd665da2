"""SQLModel tables: the contract's six tables plus the workbench's own records.

Only tables live here. The engine is in ``store/db.py``; bulk loading in
``store/load.py``; reads into DataFrames in ``store/reads.py``.

Every contract table keeps ``row_hash`` (a hash of the row's contract values,
so a re-load can tell "same row again" from "conflicting row") and ``batch_id``
(the import batch that brought it, NULL for rows the app itself wrote).
Timestamps are stored in UTC (``TIMESTAMP WITH TIME ZONE`` on PostgreSQL).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, Column, DateTime, Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine
from sqlmodel import Field, SQLModel

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class UTCDateTime(TypeDecorator):
    """A UTC instant: ``TIMESTAMP WITH TIME ZONE`` on PostgreSQL; on SQLite, which has no
    time type, whole microseconds since 1970-01-01 UTC in an INTEGER — unambiguous, compact,
    and read or written in bulk without formatting text. ORM and Core code see aware datetimes."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | int | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return (value - _EPOCH) // timedelta(microseconds=1)
        return value

    def process_result_value(
        self, value: datetime | int | None, dialect: Dialect
    ) -> datetime | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            if isinstance(value, str):  # written as text by an older import_batch update
                parsed = datetime.fromisoformat(value)
                return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
            return _EPOCH + timedelta(microseconds=int(value))
        return value if value.tzinfo else value.replace(tzinfo=UTC)


# Contract tables are looked up and loaded by their key: on SQLite, storing rows in the
# key's B-tree (WITHOUT ROWID) halves the trees every insert has to update.
_KEYED = {"sqlite_with_rowid": False}


def _ts(nullable: bool = True, index: bool = False, primary_key: bool = False) -> Column:
    return Column(UTCDateTime(), nullable=nullable, index=index, primary_key=primary_key)


class Recommendation(SQLModel, table=True):
    __tablename__ = "recommendations"
    __table_args__ = _KEYED
    rec_id: str = Field(primary_key=True)
    rec_type: str
    signal_at: datetime = Field(sa_column=_ts(nullable=False))
    created_at: datetime = Field(sa_column=_ts(nullable=False))
    site: str
    sku: str | None = None
    supplier: str | None = None
    customer: str | None = None
    resource: str | None = None
    action: str | None = None
    recommended_qty: float | None = None
    uom: str | None = None
    confidence: float | None = None
    score: float | None = None
    est_impact_usd: float | None = None
    model_version: str | None = None
    # The f_* feature snapshot and any extra columns, as JSON objects (raw typed values).
    features: str | None = Field(default=None, sa_column=Column(Text))
    extra: str | None = Field(default=None, sa_column=Column(Text))
    row_hash: int = Field(sa_column=Column(BigInteger, nullable=False))
    batch_id: int | None = None


class Decision(SQLModel, table=True):
    __tablename__ = "decisions"
    __table_args__ = _KEYED
    rec_id: str = Field(primary_key=True, foreign_key="recommendations.rec_id")
    decided_at: datetime = Field(sa_column=_ts(nullable=False))
    decided_by: str
    decision: str
    final_qty: float | None = None
    reason: str | None = Field(default=None, sa_column=Column(Text))
    reason_code: str | None = None
    extra: str | None = Field(default=None, sa_column=Column(Text))
    # "import" for rows from a bundle, "app" for decisions recorded in the workbench.
    source: str = "import"
    row_hash: int = Field(sa_column=Column(BigInteger, nullable=False))
    batch_id: int | None = None
    # App decisions: the id and hash of their "decide" audit event (checked by audit verify).
    audit_event_id: int | None = None
    audit_hash: str | None = None


class Outcome(SQLModel, table=True):
    __tablename__ = "outcomes"
    __table_args__ = _KEYED
    rec_id: str = Field(primary_key=True, foreign_key="recommendations.rec_id")
    observed_at: datetime = Field(sa_column=_ts(nullable=False))
    actual_qty: float | None = None
    stockout: bool | None = None
    expedite_usd: float | None = None
    extra: str | None = Field(default=None, sa_column=Column(Text))
    row_hash: int = Field(sa_column=Column(BigInteger, nullable=False))
    batch_id: int | None = None


class Order(SQLModel, table=True):
    __tablename__ = "orders"
    __table_args__ = _KEYED
    order_id: str = Field(primary_key=True)
    # The contract's optional line number; "" when the file has none (a key cannot be NULL).
    line: str = Field(default="", primary_key=True)
    site: str
    customer: str | None = None
    sku: str | None = None
    qty_ordered: float
    promised_date: datetime = Field(sa_column=_ts(nullable=False))
    delivered_date: datetime | None = Field(default=None, sa_column=_ts())
    qty_delivered: float | None = None
    extra: str | None = Field(default=None, sa_column=Column(Text))
    row_hash: int = Field(sa_column=Column(BigInteger, nullable=False))
    batch_id: int | None = None


class KpiPeriod(SQLModel, table=True):
    __tablename__ = "kpi_periods"
    __table_args__ = _KEYED
    period_start: datetime = Field(sa_column=_ts(nullable=False, primary_key=True))
    site: str = Field(primary_key=True)
    cogs_usd: float | None = None
    expedite_usd: float | None = None
    stockout_events: int | None = None
    revenue_usd: float | None = None
    extra: str | None = Field(default=None, sa_column=Column(Text))
    row_hash: int = Field(sa_column=Column(BigInteger, nullable=False))
    batch_id: int | None = None


class OwnerRow(SQLModel, table=True):
    __tablename__ = "owners"
    __table_args__ = _KEYED
    rec_type: str = Field(primary_key=True)
    site: str = Field(primary_key=True)
    owner: str
    escalation_to: str | None = None
    sla_hours: float | None = None
    extra: str | None = Field(default=None, sa_column=Column(Text))
    row_hash: int = Field(sa_column=Column(BigInteger, nullable=False))
    batch_id: int | None = None


class ImportBatch(SQLModel, table=True):
    __tablename__ = "import_batch"
    id: int | None = Field(default=None, primary_key=True)
    started_at: datetime = Field(sa_column=_ts(nullable=False))
    finished_at: datetime | None = Field(default=None, sa_column=_ts())
    loaded_by: str
    source: str = Field(sa_column=Column(Text, nullable=False))
    tz: str
    # JSON objects: {file: rows read}, {table: n}, {table: n}, {"table.column": n}.
    files: str = Field(sa_column=Column(Text, nullable=False))
    loaded: str = Field(sa_column=Column(Text, nullable=False))
    unchanged: str = Field(sa_column=Column(Text, nullable=False))
    naive_timestamps: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    n_rejected: int = 0


class QuarantineRow(SQLModel, table=True):
    __tablename__ = "quarantine"
    id: int | None = Field(default=None, primary_key=True)
    batch_id: int = Field(index=True)
    table_name: str
    row_number: int | None = None
    row_key: str | None = None
    column_name: str | None = None
    reason: str = Field(sa_column=Column(Text, nullable=False))
    raw: str = Field(sa_column=Column(Text, nullable=False))


class AuditEvent(SQLModel, table=True):
    """Append-only and hash-chained: ``hash`` covers this event and ``prev_hash``."""

    __tablename__ = "audit_event"
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_column=_ts(nullable=False, index=True))
    actor: str
    action: str = Field(index=True)
    entity: str
    entity_id: str | None = None
    before: str | None = Field(default=None, sa_column=Column(Text))
    after: str | None = Field(default=None, sa_column=Column(Text))
    prev_hash: str
    hash: str


class DataVersion(SQLModel, table=True):
    """One counter per table, bumped by every write: keys caches and snapshots."""

    __tablename__ = "data_version"
    table_name: str = Field(primary_key=True)
    version: int = 0


class Setting(SQLModel, table=True):
    __tablename__ = "settings"
    key: str = Field(primary_key=True)
    value: str = Field(sa_column=Column(Text, nullable=False))  # JSON


class RuleStatus(SQLModel, table=True):
    """Lifecycle of a candidate rule: adopted / dismissed / watch."""

    __tablename__ = "rule_status"
    rule_key: str = Field(primary_key=True)
    conditions: str = Field(sa_column=Column(Text, nullable=False))  # JSON {attr: value}
    direction: str
    status: str
    owner: str | None = None
    note: str | None = Field(default=None, sa_column=Column(Text))
    updated_by: str
    updated_at: datetime = Field(sa_column=_ts(nullable=False))


class RuleAction(SQLModel, table=True):
    """The machine-readable action a lead confirmed for a rule (``contract.actions``).

    Its own table beside ``rule_status`` so that stores created before actions
    existed gain it from ``create_all`` without a migration.
    """

    __tablename__ = "rule_action"
    rule_key: str = Field(primary_key=True)
    action: str = Field(sa_column=Column(Text, nullable=False))  # JSON {"kind", "value"?}


class AppUser(SQLModel, table=True):
    __tablename__ = "app_user"
    name: str = Field(primary_key=True)
    role: str
    password_hash: str
    created_at: datetime = Field(sa_column=_ts(nullable=False))


class DigestPost(SQLModel, table=True):
    """One digest sent (or being sent) to one webhook."""

    __tablename__ = "digest_outbox"
    digest_id: str = Field(primary_key=True)
    target: str = Field(primary_key=True)  # sha256 of the webhook URL, 16 hex digits
    target_label: str  # scheme://host/… — never the secret path
    fmt: str
    state: str  # sending | sent | failed
    attempts: int = 0
    status_code: int | None = None
    error: str | None = Field(default=None, sa_column=Column(Text))
    actor: str
    claimed_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    sent_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))


class AuthSession(SQLModel, table=True):
    """A signed-in browser session; the token's secret part is kept only as a SHA-256."""

    __tablename__ = "auth_session"
    sid_hash: str = Field(primary_key=True)
    user_name: str = Field(index=True)
    created_at: datetime = Field(sa_column=_ts(nullable=False))
    expires_at: datetime = Field(sa_column=_ts(nullable=False))
    revoked_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))


class SignInThrottle(SQLModel, table=True):
    """Consecutive failed sign-ins per user name (known or not), until one succeeds."""

    __tablename__ = "sign_in_throttle"
    name: str = Field(primary_key=True)
    failures: int = 0
    last_failed_at: datetime = Field(sa_column=_ts(nullable=False))


class MonitorAck(SQLModel, table=True):
    """A model-health alert someone has acknowledged (it stays listed, marked as such)."""

    __tablename__ = "monitor_ack"
    alert_key: str = Field(primary_key=True)
    kind: str
    message: str = Field(sa_column=Column(Text, nullable=False))
    note: str = Field(sa_column=Column(Text, nullable=False))
    acknowledged_by: str
    role: str
    acknowledged_at: datetime = Field(sa_column=_ts(nullable=False))
