"""The data contract's words, spelled once (``shared/DATA_CONTRACT.md``).

Every module that names a decision, a direction, a calendar label or a rule
attribute imports it from here, so a word the contract defines has one spelling.
"""

from __future__ import annotations

# decisions.csv
DECISIONS_ENUM: tuple[str, ...] = ("accepted", "modified", "rejected", "expired")
HUMAN_DECISIONS: tuple[str, ...] = ("accepted", "modified", "rejected")
OVERRIDES: tuple[str, ...] = ("modified", "rejected")
ANSWERED: tuple[str, ...] = HUMAN_DECISIONS  # decided by a person (not expired)

# "Attributes a rule may name"
ENTITY_ATTRIBUTES: tuple[str, ...] = ("rec_type", "site", "sku", "supplier", "customer", "resource")
CALENDAR_ATTRIBUTES: tuple[str, ...] = ("month", "quarter", "weekday")
RULE_ATTRIBUTES: tuple[str, ...] = ENTITY_ATTRIBUTES + ("decided_by",) + CALENDAR_ATTRIBUTES
MONTHS: tuple[str, ...] = (
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
)  # fmt: skip
QUARTERS: tuple[str, ...] = ("Q1", "Q2", "Q3", "Q4")
WEEKDAYS: tuple[str, ...] = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
DIRECTIONS: tuple[str, ...] = ("increase", "decrease", "reject")

# A candidate rule's lifecycle as an S&OP lead records it.
CANDIDATE = "candidate"
RULE_STATUSES: tuple[str, ...] = ("adopted", "dismissed", "watch")

# Timestamps in every frame handed to analytics/.
TS_DTYPE = "datetime64[us, UTC]"

# Saved settings that several journeys read.
KPI_TARGETS = "kpi_targets"
GO_LIVE = "go_live"
