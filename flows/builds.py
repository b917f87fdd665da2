"""How each derived artefact is built (``flows/artefacts.py`` registers them): one function per
artefact over a ``Source`` — the registry's ``Builder``, one pass over one data version.

The analyses' stacks (scipy, scikit-learn, the explanation fit) are imported by the builds
that use them, so a page that only reads artefacts through the registry does not load them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import pandas as pd
from sqlalchemy import Engine

from analytics.governance.ownership import decision_base
from contract.frames import Frames
from store.rule_status import read_rule_statuses

if TYPE_CHECKING:
    from analytics.overrides.analysis import OverrideAnalysis


class Source(Protocol):
    """What a build reads: the store, the frames an artefact declares, other artefacts."""

    engine: Engine

    def frames_for(self, name: str) -> Frames: ...

    def get(self, name: str) -> Any: ...


def explain() -> Any:
    # The explanation stack (shap, gradient boosting) is imported only by builds that need it,
    # so a process that reads other artefacts does not pay for loading it.
    from flows import explain

    return explain


def data_overview(b: Source) -> dict[str, Any]:
    from flows import governance

    now = pd.Timestamp.now(tz="UTC")
    return governance.data_overview(b.engine, b.frames_for("data_overview"), now=now)


def kpi_tables(b: Source) -> Any:
    from analytics.baseline.kpis import kpi_tables

    return kpi_tables(b.frames_for("kpi_tables"))


def value_tables(b: Source) -> dict[str, pd.DataFrame]:
    from flows import overrides

    return overrides.value_tables(b.get("override_analysis").log, random_state=0)


def governance() -> Any:
    from flows import governance  # imported by the builds that need it (see _explain)

    return governance


def ownership_base(b: Source) -> pd.DataFrame:
    frames = b.frames_for("ownership_base")
    return decision_base(frames.recommendations, frames.decisions, frames.owners)


def override_parts(b: Source) -> tuple[pd.DataFrame, pd.DataFrame]:
    # (decided log, rules at the default settings): what the themes and the propensity share.
    from flows import overrides

    log = overrides.override_log(b.frames_for("override_parts"))
    return log, overrides.default_rules(log)


def override_analysis(b: Source) -> OverrideAnalysis:
    # Built with the store: the themes keep the ids of the last fit (its theme memory, which
    # this build replaces). The memory is not a data version, so it keys nothing.
    from flows import overrides

    log, rules = b.get("override_parts")
    model, theme_id = overrides.themes(log, rules=rules, engine=b.engine, random_state=0)
    return overrides.analysis(log, model, theme_id, random_state=0, rules=rules)


def propensity(b: Source) -> tuple[Any, pd.DataFrame]:
    from flows import policy

    frames = b.frames_for("propensity")
    model = policy.propensity_model(frames)
    if model is None:
        return None, policy.no_scores()
    return model, policy.propensity_scores(frames, model, b.get("override_parts")[1])


def monitoring(b: Source) -> Any:
    # Acknowledgements are applied at view time: acknowledging an alert rebuilds nothing.
    from flows import monitoring

    return monitoring.monitor_for_store(
        b.engine, frames=b.frames_for("monitoring"), apply_acknowledgements=False
    )


@dataclass(frozen=True)
class RuleCards:
    """What the Why page takes of the override analysis: its candidate rules (``rules_payload``)
    and its themes, a few kilobytes instead of the whole decided log."""

    rules: list[dict[str, Any]]
    themes: pd.DataFrame


def rule_cards(b: Source) -> RuleCards:
    from analytics.overrides.analysis import rules_payload

    analysis = b.get("override_analysis")
    return RuleCards(rules=rules_payload(analysis)["rules"], themes=analysis.themes)


def gates(b: Source) -> dict[str, Any]:
    # At the saved go-live and the build's moment: the page uses it the same day and go-live.
    from analytics.overrides.analysis import rules_payload
    from flows import governance

    statuses = read_rule_statuses(b.engine)
    candidates = rules_payload(b.get("override_analysis"), statuses=statuses)["rules"]
    return governance.gates_for_store(b.engine, frames=b.frames_for("gates"), candidates=candidates)
