"""Override learning in one pass: themes, rules with evidence, and the CLI payloads.

``analyse_overrides`` runs the whole analysis once (the page caches it per data
version); ``rules_report`` and ``theme_assignments`` are the pure functions behind
``cli.py rules --json`` and ``cli.py themes --out FILE.csv``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from analytics.overrides.evidence import add_evidence
from analytics.overrides.log import LogFrames, decided_log, match_mask
from analytics.overrides.rules import MIN_CONFIDENCE, MIN_LIFT, default_min_support, mine_rules
from analytics.overrides.themes import NO_REASON_ID, ThemeModel, fit_themes
from analytics.policy.action import add_actions
from contract.vocabulary import CANDIDATE, RULE_ATTRIBUTES, WEEKDAYS

REPORT_KEYS = (
    "id",
    "conditions",
    "direction",
    "median_adjustment_pct",
    "support",
    "coverage",
    "confidence",
    "lift",
    "value_added",
    "win_rate",
    "theme_id",
    "theme_label",
    "example_reasons",
    "status",
    # added by issue 13 (fields are only ever added): how honest the rule is
    "base_rate",
    "p_value",
    "p_adjusted",
    "n_tested",
    "score",
    "verdict",
    "costs_more",
    "by_type",
    "action",
)

Progress = Callable[[str, float], None]


@dataclass(frozen=True)
class OverrideAnalysis:
    """Everything the override-patterns page and the CLI show, computed once.

    Attributes
    ----------
    log : DataFrame
        ``decided_log`` output plus ``theme_id`` (``NO_REASON_ID`` for an override
        without a reason, -1 for rows that are not overrides).
    theme_model : ThemeModel
        The reason themes.
    rules : DataFrame
        ``mine_rules`` output with ``add_evidence`` columns and ``action``
        (``analytics.policy.action``), best first.
    min_support : int
        The minimum support the rules were mined with.
    """

    log: pd.DataFrame
    theme_model: ThemeModel
    rules: pd.DataFrame
    min_support: int

    @property
    def themes(self) -> pd.DataFrame:
        return self.theme_model.themes

    def theme_labels(self) -> dict[int, str]:
        return self.theme_model.labels()


_WEEKDAY_NAMES = dict(zip(WEEKDAYS, ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday",
                                       "Saturday", "Sunday"), strict=True))  # fmt: skip


def context_label(conditions: Mapping[str, str]) -> str:
    """A rule's condition values as a theme's context words: ``"SUP-017 · Q4"``.

    The recommendation type is left out (the theme table shows it); weekdays are
    spelled out so a label never reads as a word of another language ("mon").
    """
    order = {a: i for i, a in enumerate(RULE_ATTRIBUTES)}
    items = sorted(conditions.items(), key=lambda kv: order.get(kv[0], len(order)))
    return " · ".join(
        _WEEKDAY_NAMES.get(v, v) if k == "weekday" else str(v) for k, v in items if k != "rec_type"
    )


def rule_context(log: pd.DataFrame, rules: pd.DataFrame) -> tuple[pd.Series, dict[str, str]]:
    """Per row of ``log``, the id of the best-ranked rule it supports ("" when none); labels."""
    key = np.full(len(log), "", dtype=object)
    labels: dict[str, str] = {}
    if rules is not None and len(rules):
        is_dir = {d: match_mask(log, {"direction": d}) for d in set(rules["direction"])}
        for rid, cond, direction in zip(
            rules["id"], rules["conditions"], rules["direction"], strict=True
        ):
            pos = np.flatnonzero(match_mask(log, cond) & is_dir[direction])
            free = pos[key[pos] == ""]
            key[free] = rid
            labels[str(rid)] = context_label(cond)
    return pd.Series(key, index=log.index, dtype="string"), labels


def override_themes(
    log: pd.DataFrame,
    *,
    rules: pd.DataFrame | None = None,
    previous: pd.DataFrame | None = None,
    min_size: int | None = None,
    random_state: int = 0,
) -> tuple[ThemeModel, np.ndarray]:
    """Themes of the overrides' reasons and context, and a ``theme_id`` per row of ``log``.

    Rows that are not overrides get -1; overrides without a reason ``NO_REASON_ID``.
    ``rules`` are the candidate rules whose support is each override's context
    (default: ``mine_rules`` with its default settings); ``previous`` is the previous
    data version's ``ThemeModel.memory``, so themes keep their ids; ``min_size`` the
    overrides a theme needs (default ``analytics.overrides.themes.min_theme_size``).
    """
    is_override = log["is_override"].to_numpy(dtype=bool)
    if rules is None:
        rules = mine_rules(log)
    context, labels = rule_context(log, rules)
    ov = log.loc[is_override]
    model = fit_themes(
        ov["reason"],
        context=context[is_override],
        context_labels=labels,
        adjustment_pct=ov["adjustment_pct"],
        direction=ov["direction"],
        previous=previous,
        picked=ov["reason_code"] if "reason_code" in ov.columns else None,
        min_size=min_size,
        random_state=random_state,
    )
    theme_id = np.full(len(log), -1, dtype=np.int64)
    theme_id[is_override] = model.theme_id
    return model, theme_id


def analyse_log(
    log: pd.DataFrame,
    *,
    theme_model: ThemeModel,
    theme_id: np.ndarray,
    min_support: int | None = None,
    max_conditions: int = 3,
    min_confidence: float = MIN_CONFIDENCE,
    min_lift: float = MIN_LIFT,
    random_state: int = 0,
    progress: Progress | None = None,
    rules: pd.DataFrame | None = None,
) -> OverrideAnalysis:
    """Rules and their evidence over a decided log whose themes are already known.

    The second half of ``analyse_overrides``, for callers that cache the log and
    the themes separately (the page does, so changing a rule setting does not
    re-cluster the reasons). ``rules``: already mined with these settings.
    """
    step = progress or (lambda _msg, _frac: None)
    log = log.assign(theme_id=theme_id)
    step("Mining candidate rules", 0.55)
    n_over = int(log["is_override"].sum())
    support = min_support if min_support is not None else default_min_support(n_over)
    if rules is None:  # else: already mined with these settings
        rules = mine_rules(
            log,
            min_support=support,
            max_conditions=max_conditions,
            min_confidence=min_confidence,
            min_lift=min_lift,
        )
    step("Weighing each rule's evidence and value added", 0.8)
    rules = add_evidence(log, rules, theme_labels=theme_model.labels(), random_state=random_state)
    rules = add_actions(rules)
    step("Done", 1.0)
    return OverrideAnalysis(log=log, theme_model=theme_model, rules=rules, min_support=support)


def analyse_overrides(
    frames: LogFrames,
    *,
    min_support: int | None = None,
    max_conditions: int = 3,
    min_confidence: float = MIN_CONFIDENCE,
    min_lift: float = MIN_LIFT,
    random_state: int = 0,
    progress: Progress | None = None,
    previous: pd.DataFrame | None = None,
) -> OverrideAnalysis:
    """Themes, rules and their evidence over the whole log.

    Parameters
    ----------
    frames
        ``.recommendations``, ``.decisions``, ``.outcomes`` (read-only).
    min_support, max_conditions, min_confidence, min_lift
        Passed to ``analytics.overrides.rules.mine_rules``.
    random_state : int
        Seeds the themes and the bootstrap: same data and settings, same answer.
    progress : callable, optional
        Called with (step, fraction done) between steps.
    previous : DataFrame, optional
        The previous version's ``ThemeModel.memory``: themes keep their ids.
    """
    step = progress or (lambda _msg, _frac: None)
    step("Joining recommendations, decisions and outcomes", 0.05)
    log = decided_log(frames)
    step("Mining candidate rules for the themes' context", 0.15)
    default_rules = mine_rules(log)
    step("Clustering override reasons and their context into themes", 0.35)
    model, theme_id = override_themes(
        log, rules=default_rules, previous=previous, random_state=random_state
    )
    defaults = (min_support, max_conditions, min_confidence, min_lift) == (
        None, 3, MIN_CONFIDENCE, MIN_LIFT,
    )  # fmt: skip
    return analyse_log(
        log,
        theme_model=model,
        theme_id=theme_id,
        min_support=min_support,
        max_conditions=max_conditions,
        min_confidence=min_confidence,
        min_lift=min_lift,
        random_state=random_state,
        progress=progress,
        rules=default_rules if defaults else None,
    )


def status_map(statuses: pd.DataFrame | Mapping[str, Any] | None) -> dict[str, str]:
    """``{rule id: status}`` from the lifecycle table or a plain mapping."""
    if statuses is None:
        return {}
    if isinstance(statuses, pd.DataFrame):
        if statuses.empty:
            return {}
        key = "rule_key" if "rule_key" in statuses.columns else "id"
        return dict(zip(statuses[key].astype(str), statuses["status"].astype(str), strict=True))
    out = {}
    for rid, value in statuses.items():
        out[str(rid)] = str(value["status"] if isinstance(value, Mapping) else value)
    return out


def _clean(value: Any, digits: int | None = None) -> Any:
    """Plain JSON value: numpy scalars to Python, NaN to None, optional rounding."""
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        if math.isnan(value):
            return None
        return round(value, digits) if digits is not None else value
    return value


def rules_payload(
    analysis: OverrideAnalysis,
    *,
    top: int | None = None,
    statuses: pd.DataFrame | Mapping[str, Any] | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """The ``cli.py rules --json`` document from a finished analysis (see ``rules_report``)."""
    status = status_map(statuses)
    rules = analysis.rules if top is None else analysis.rules.head(max(top, 0))
    out = []
    for r in rules.itertuples(index=False):
        out.append(
            {
                "id": r.id,
                "conditions": {str(k): str(v) for k, v in r.conditions.items()},
                "direction": r.direction,
                "median_adjustment_pct": _clean(r.median_adjustment_pct, 2),
                "support": int(r.support),
                "coverage": int(r.coverage),
                "confidence": _clean(float(r.confidence), 4),
                "lift": _clean(float(r.lift), 3),
                "value_added": _clean(r.value_added, 3),
                "win_rate": _clean(r.win_rate, 4),
                "theme_id": int(r.theme_id),
                "theme_label": str(r.theme_label),
                "example_reasons": [str(x) for x in r.example_reasons],
                "status": status.get(r.id, CANDIDATE),
                "base_rate": _clean(float(r.base_rate), 4),
                "p_value": _clean(float(r.p_value)),
                "p_adjusted": _clean(float(r.p_adjusted)),
                "n_tested": int(r.n_tested),
                "score": _clean(float(r.score), 3),
                "verdict": str(r.verdict),
                "costs_more": bool(r.costs_more),
                "by_type": [
                    {k: _clean(v, 4) if isinstance(v, float) else v for k, v in t.items()}
                    for t in r.by_type
                ],
                "action": r.action,
            }
        )
    return {"rules": out}


def rules_report(
    frames: LogFrames,
    *,
    top: int | None = None,
    statuses: pd.DataFrame | Mapping[str, Any] | None = None,
    random_state: int = 0,
) -> dict[str, list[dict[str, Any]]]:
    """Candidate rules, best first, as the JSON document of ``cli.py rules --json``.

    Parameters
    ----------
    frames
        The log (``.recommendations``, ``.decisions``, ``.outcomes``).
    top : int, optional
        Keep only the best ``top`` rules.
    statuses : DataFrame or mapping, optional
        Lifecycle rows (``store.rule_status.read_rule_statuses``: ``rule_key``,
        ``status``) or ``{rule id: status}``; rules without one are ``"candidate"``.
    random_state : int
        Seed of the themes and bootstrap.

    Returns
    -------
    dict
        ``{"rules": [{"id", "conditions", "direction", "median_adjustment_pct",
        "support", "coverage", "confidence", "lift", "value_added", "win_rate",
        "theme_id", "theme_label", "example_reasons", "status", "base_rate", "p_value",
        "p_adjusted", "n_tested", "score", "verdict", "costs_more", "by_type", "action"}]}``:
        lift is over ``base_rate``, the rule's own type's rate; ``p_adjusted`` is
        Benjamini–Hochberg over the ``n_tested`` candidates; ``costs_more`` marks a rule
        whose overrides cost more than they saved; conditions use the contract's
        attribute names and spellings (``"Q4"``, ``"Mon"``); ``action`` is the rule's
        derived action (``analytics.policy.action``) or null.
    """
    analysis = analyse_overrides(frames, random_state=random_state)
    return rules_payload(analysis, top=top, statuses=statuses)


def theme_rows(analysis: OverrideAnalysis) -> pd.DataFrame:
    """``rec_id, theme_id, theme_label`` for every override with a reason or a picked theme."""
    log = analysis.log
    reason = log["reason"].astype("string").str.strip()
    said = (reason.fillna("") != "").to_numpy(dtype=bool)
    said |= log["theme_id"].to_numpy(dtype=np.int64) > NO_REASON_ID
    keep = log["is_override"].to_numpy(dtype=bool) & said
    labels = {NO_REASON_ID: "no reason given", **analysis.theme_labels()}
    ids = log["theme_id"].to_numpy(dtype=np.int64)[keep]
    return pd.DataFrame(
        {
            "rec_id": log["rec_id"].to_numpy(dtype=object)[keep],
            "theme_id": ids,
            "theme_label": [labels[int(t)] for t in ids],
        }
    )


def theme_assignments(
    frames: LogFrames, *, previous: pd.DataFrame | None = None, random_state: int = 0
) -> pd.DataFrame:
    """One row per override with a reason: ``rec_id``, ``theme_id``, ``theme_label``.

    The rows ``cli.py themes --out FILE.csv`` writes; theme ids and labels are
    the ones the page and ``rules_report`` show for the same data, seed and
    ``previous`` (the last ``ThemeModel.memory``, so ids persist across versions).
    """
    log = decided_log(frames)
    model, theme_id = override_themes(log, previous=previous, random_state=random_state)
    log = log.assign(theme_id=theme_id)
    analysis = OverrideAnalysis(log=log, theme_model=model, rules=pd.DataFrame(), min_support=0)
    return theme_rows(analysis)
