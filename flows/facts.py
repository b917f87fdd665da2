"""What pages ask of the log before anything else, as an artefact built on write
(``log_facts`` in ``flows/artefacts.py``): is it empty, its time span, types and owners."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd

from contract.frames import Frames


@dataclass(frozen=True)
class LogFacts:
    """What pages ask of the log before anything else (is it empty, its time span, its types,
    the ownership matrix), so that they need not read the whole log for it."""

    n_recs: int
    n_decisions: int
    first_created: pd.Timestamp | None
    last_created: pd.Timestamp | None
    last_decided: pd.Timestamp | None  # NaT-free: None without decisions
    rec_types: tuple[str, ...]
    sites: tuple[str, ...]
    owners: pd.DataFrame
    # The contract's default go-live (``store.settings.inferred_go_live``, same figure): the
    # day of the first recommendation with a model version; None if there is none.
    inferred_go_live: date | None = None


def log_facts(frames: Frames) -> LogFacts:
    """``LogFacts`` of ``frames`` (built on write; derived so only while the build runs)."""
    recs, decisions = frames.recommendations, frames.decisions

    def edge(values: pd.Series, how: str) -> pd.Timestamp | None:
        found = getattr(values, how)() if len(values) else None
        return None if found is None or pd.isna(found) else found

    return LogFacts(
        n_recs=len(recs),
        n_decisions=len(decisions),
        first_created=edge(recs["created_at"], "min"),
        last_created=edge(recs["created_at"], "max"),
        last_decided=edge(decisions["decided_at"], "max"),
        rec_types=tuple(sorted(map(str, recs["rec_type"].dropna().unique()))),
        sites=tuple(sorted(map(str, recs["site"].dropna().unique()))),
        owners=frames.owners.copy(),
        inferred_go_live=_first_model_day(recs),
    )


def _first_model_day(recs: pd.DataFrame) -> date | None:
    version = recs["model_version"]
    first = recs.loc[version.notna() & (version.astype("string") != ""), "created_at"].min()
    return None if pd.isna(first) else pd.Timestamp(first).tz_convert("UTC").date()
