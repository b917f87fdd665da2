"""The ``Frames`` type: the whole log as one typed DataFrame per contract table.

``store.reads.load_frames`` builds it; every analytics function takes it (or one of
its frames). Columns and dtypes follow ``contract.tables``.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd


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
