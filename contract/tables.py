"""The data contract's tables as column specifications.

One place says, for every table of ``shared/DATA_CONTRACT.md``, which columns it has,
which are required, what type each holds and which columns make its key. The
validator, the loader, the readers and the tests all take their column lists
from here, so a column is spelled once.

Frames handed to ``analytics/`` use exactly these column names and these dtypes:

* ``str``       -> pandas string dtype (missing = ``<NA>``)
* ``category``  -> pandas ``category`` (codes: sites, types, people)
* ``float``     -> ``float64`` (missing = ``NaN``)
* ``int``       -> ``Int64`` (nullable)
* ``bool``      -> ``boolean`` (nullable)
* ``timestamp`` -> ``datetime64[us, UTC]``
* ``date``      -> ``datetime64[us, UTC]`` at midnight UTC of the given date
"""

from __future__ import annotations

from dataclasses import dataclass, field

from contract.vocabulary import DECISIONS_ENUM


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # str | category | float | int | bool | timestamp | date | enum
    required: bool = False
    enum: tuple[str, ...] = ()
    min_value: float | None = None
    max_value: float | None = None


@dataclass(frozen=True)
class TableSpec:
    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    event_time: str | None = None
    # Extra column prefixes kept from the file (recommendations' f_* feature snapshot).
    feature_prefix: str | None = None
    depends_on: tuple[str, ...] = field(default=())

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


RECOMMENDATIONS = TableSpec(
    name="recommendations",
    columns=(
        Column("rec_id", "str", required=True),
        Column("rec_type", "category", required=True),
        Column("signal_at", "timestamp", required=True),
        Column("created_at", "timestamp", required=True),
        Column("site", "category", required=True),
        Column("sku", "category"),
        Column("supplier", "category"),
        Column("customer", "category"),
        Column("resource", "category"),
        Column("action", "str"),
        Column("recommended_qty", "float", min_value=0),
        Column("uom", "category"),
        Column("confidence", "float", min_value=0, max_value=1),
        Column("score", "float"),
        Column("est_impact_usd", "float"),
        Column("model_version", "category"),
    ),
    key=("rec_id",),
    event_time="signal_at",
    feature_prefix="f_",
)

DECISIONS = TableSpec(
    name="decisions",
    columns=(
        Column("rec_id", "str", required=True),
        Column("decided_at", "timestamp", required=True),
        Column("decided_by", "category", required=True),
        Column("decision", "enum", required=True, enum=DECISIONS_ENUM),
        Column("final_qty", "float", min_value=0),
        Column("reason", "str"),
        Column("reason_code", "category"),
    ),
    key=("rec_id",),
    depends_on=("recommendations",),
)

OUTCOMES = TableSpec(
    name="outcomes",
    columns=(
        Column("rec_id", "str", required=True),
        Column("observed_at", "timestamp", required=True),
        Column("actual_qty", "float", min_value=0),
        Column("stockout", "bool"),
        Column("expedite_usd", "float", min_value=0),
    ),
    key=("rec_id",),
    depends_on=("recommendations",),
)

ORDERS = TableSpec(
    name="orders",
    columns=(
        Column("order_id", "str", required=True),
        Column("line", "str"),
        Column("site", "category", required=True),
        Column("customer", "category"),
        Column("sku", "category"),
        Column("qty_ordered", "float", required=True, min_value=0),
        Column("promised_date", "date", required=True),
        Column("delivered_date", "date"),
        Column("qty_delivered", "float", min_value=0),
    ),
    key=("order_id", "line"),
    event_time="promised_date",
)

KPI_PERIODS = TableSpec(
    name="kpi_periods",
    columns=(
        Column("period_start", "date", required=True),
        Column("site", "category", required=True),
        Column("cogs_usd", "float", min_value=0),
        Column("expedite_usd", "float", min_value=0),
        Column("stockout_events", "int", min_value=0),
        Column("revenue_usd", "float", min_value=0),
    ),
    key=("period_start", "site"),
    event_time="period_start",
)

OWNERS = TableSpec(
    name="owners",
    columns=(
        Column("rec_type", "category", required=True),
        Column("site", "category", required=True),
        Column("owner", "category", required=True),
        Column("escalation_to", "category"),
        Column("sla_hours", "float", min_value=0),
    ),
    key=("rec_type", "site"),
)

# Load order matters: decisions and outcomes refer to recommendations.
TABLES: dict[str, TableSpec] = {
    t.name: t for t in (RECOMMENDATIONS, DECISIONS, OUTCOMES, ORDERS, KPI_PERIODS, OWNERS)
}
TABLE_ORDER: tuple[str, ...] = tuple(TABLES)
