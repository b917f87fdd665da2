"""The ``Frames`` type: the whole log as one typed DataFrame per contract table.

``store.reads.load_frames`` builds it; every analytics function takes it (or one of
its frames). Columns and dtypes follow ``contract.tables``.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from contract.tables import TABLES


def frames_version(versions: dict[str, int]) -> str:
    """``Frames.version`` for the store's table versions (``store.db.data_versions``): the
    contract tables' counters as one string, the cache key of everything read from them."""
    return ".".join(f"{k}{versions.get(k, 0)}" for k in TABLES)


@dataclass(frozen=True)
class Frames:
    """The whole log, one DataFrame per contract table (empty with its columns when absent)."""

    recommendations: pd.DataFrame
    decisions: pd.DataFrame
    outcomes: pd.DataFrame
    orders: pd.DataFrame
    kpi_periods: pd.DataFrame
    owners: pd.DataFrame
    version: str

    @property
    def feature_columns(self) -> list[str]:
        return [c for c in self.recommendations.columns if c.startswith("f_")]

    def present(self, table: str) -> bool:
        return len(getattr(self, table)) > 0
