"""The contract is declared twice — as column specs (contract.tables) and as SQL tables
(store.models): these tests keep the two in agreement, column by column."""

from __future__ import annotations

import pytest
from sqlalchemy import BigInteger, Boolean, Float, Integer, String
from sqlalchemy.types import TypeDecorator
from sqlmodel import SQLModel

import store.models  # noqa: F401  (registers the tables)
from contract.tables import TABLES, Column, TableSpec
from contract.vocabulary import DECISIONS_ENUM, HUMAN_DECISIONS, OVERRIDES, RULE_ATTRIBUTES
from store.models import UTCDateTime

# The SQL type each contract kind is stored as.
SQL_TYPES: dict[str, tuple[type, ...]] = {
    "str": (String,),
    "category": (String,),
    "enum": (String,),
    "float": (Float,),
    "int": (Integer, BigInteger),
    "bool": (Boolean,),
    "timestamp": (UTCDateTime,),
    "date": (UTCDateTime,),
}


@pytest.mark.parametrize("spec", list(TABLES.values()), ids=list(TABLES))
def test_every_contract_column_is_a_stored_column_of_its_kind(spec: TableSpec) -> None:
    table = SQLModel.metadata.tables[spec.name]
    for col in spec.columns:
        assert col.name in table.c, f"{spec.name}.{col.name} missing from store.models"
        stored = table.c[col.name]
        sql_type = stored.type
        if isinstance(sql_type, TypeDecorator) and not isinstance(sql_type, UTCDateTime):
            sql_type = sql_type.impl  # e.g. SQLModel's AutoString over String
        assert isinstance(sql_type, SQL_TYPES[col.kind]), (
            f"{spec.name}.{col.name}: contract says {col.kind}, store.models has {stored.type!r}"
        )
        if col.required:
            assert not stored.nullable, f"{spec.name}.{col.name} is required but nullable"


@pytest.mark.parametrize("spec", list(TABLES.values()), ids=list(TABLES))
def test_the_key_is_the_primary_key(spec: TableSpec) -> None:
    table = SQLModel.metadata.tables[spec.name]
    assert tuple(c.name for c in table.primary_key.columns) == spec.key


@pytest.mark.parametrize("spec", list(TABLES.values()), ids=list(TABLES))
def test_stored_columns_beyond_the_contract_are_the_bookkeeping_ones(spec: TableSpec) -> None:
    table = SQLModel.metadata.tables[spec.name]
    extra = set(table.c.keys()) - set(spec.column_names)
    bookkeeping = {"features", "extra", "row_hash", "batch_id", "source"}
    # App decisions name their audit event (store/audit_decisions.py).
    bookkeeping |= {"audit_event_id", "audit_hash"}
    assert extra <= bookkeeping, extra


def test_vocabulary_is_consistent() -> None:
    assert set(OVERRIDES) < set(HUMAN_DECISIONS) < set(DECISIONS_ENUM)
    assert "expired" not in HUMAN_DECISIONS
    assert TABLES["decisions"].column("decision") == Column(
        "decision", "enum", required=True, enum=DECISIONS_ENUM
    )
    assert len(RULE_ATTRIBUTES) == len(set(RULE_ATTRIBUTES)) == 10
