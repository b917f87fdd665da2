"""Explanations in the planner's words: feature names, units, typical values, the sentence.

A snapshot column such as ``f_supplier_otd_pct`` is shown as "supplier on-time
delivery" with its value as a percentage; every driver sits beside the typical
value (median, or most common category) among recommendations of the same type
at the same site, and the value's percentile among them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from analytics.explain.peers import one_group

# Abbreviations planners read in feature names, spelled out.
_WORDS = {
    "otd": "on-time delivery",
    "otif": "OTIF",
    "po": "PO",
    "pm": "PM",
    "oee": "OEE",
    "abc": "ABC",
    "cv": "CV",
    "qty": "quantity",
    "sku": "SKU",
    "moq": "MOQ",
    "wip": "WIP",
    "usd": "USD",
    "eta": "ETA",
    "mtbf": "MTBF",
    "mttr": "MTTR",
}
_PHRASES = {("on", "hand"): "on-hand"}
# Name endings that are units: (tokens, unit appended to the value).
_UNITS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("mm", "s"), " mm/s"),
    (("pct",), "%"),
    (("usd",), " USD"),
    (("days",), " days"),
    (("hours",), " h"),
    (("h",), " h"),
    (("kg",), " kg"),
)
TYPE_FEATURE = "rec_type"
_NO_PLURAL_ENDINGS = ("ance", "ence", "ing", "s")


def _split_unit(name: str) -> tuple[list[str], str]:
    tokens = name.removeprefix("f_").split("_")
    for ending, unit in _UNITS:
        if len(tokens) > len(ending) and tuple(tokens[-len(ending) :]) == ending:
            return tokens[: -len(ending)], unit
    return tokens, ""


def feature_label(name: str) -> str:
    """A feature column as words: ``f_supplier_otd_pct`` → ``supplier on-time delivery``."""
    if name == TYPE_FEATURE:
        return "recommendation type"
    tokens, _unit = _split_unit(name)
    words: list[str] = []
    i = 0
    while i < len(tokens):
        pair = tuple(tokens[i : i + 2])
        if pair in _PHRASES:
            words.append(_PHRASES[pair])  # type: ignore[index]
            i += 2
            continue
        words.append(_WORDS.get(tokens[i].lower(), tokens[i]))
        i += 1
    return " ".join(w for w in words if w)


def feature_unit(name: str) -> str:
    """The unit implied by a feature name's ending (``"%"``, ``" days"``, ``""``…)."""
    return "" if name == TYPE_FEATURE else _split_unit(name)[1]


def type_label(rec_type: str, *, plural: bool = False) -> str:
    """``stockout_risk`` → ``stockout risk`` (``stockout risks`` when plural)."""
    words = str(rec_type).replace("_", " ")
    if not plural:
        return words
    if words.endswith(_NO_PLURAL_ENDINGS):
        return words + " recommendations"
    return words + "s"


def format_number(x: float) -> str:
    """A short planner-friendly number: 2.1, 11.4, 62, 1,250, 0.042."""
    if x is None or not math.isfinite(x):
        return "n/a"
    ax = abs(x)
    if ax >= 1000:
        return f"{x:,.0f}"
    if ax >= 100:
        return f"{x:.0f}"
    if ax >= 1:
        text = f"{x:.1f}"
        return text[:-2] if text.endswith(".0") and ax >= 10 else text
    if ax == 0:
        return "0"
    return f"{x:.2g}"


def format_output(x: float) -> str:
    """A model output (probability, risk score): two decimals below 10, else as a number."""
    if x is None or not math.isfinite(x):
        return "n/a"
    return f"{x:.2f}" if abs(x) < 10 else format_number(x)


def format_value(name: str, value: Any, *, pct_fraction: bool = False) -> str:
    """A raw snapshot value in the feature's unit (``62%``, ``2.1``, ``A``); ``n/a`` if missing.

    ``pct_fraction`` says a ``*_pct`` column holds fractions (0.62), shown ×100.
    """
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, str):
        return value.replace("_", " ") if name == TYPE_FEATURE else value
    x = float(value)
    unit = feature_unit(name)
    if unit == "%":
        x = x * 100 if pct_fraction else x
        return (f"{x:.0f}" if abs(x) >= 10 else format_number(x)) + "%"
    if unit == " USD":
        return "$" + format_number(x)
    return format_number(x) + unit


def typical_values(
    recommendations: pd.DataFrame, rec: pd.Series, features: Sequence[str]
) -> pd.DataFrame:
    """Each feature's typical value among recommendations of the rec's type at its site.

    Parameters
    ----------
    recommendations : pd.DataFrame
        The log (``rec_type``, ``site`` and the ``features`` columns); read only.
    rec : pd.Series
        The recommendation (one row of ``recommendations``).
    features : sequence of str
        Columns to describe; ``rec_type`` is described as itself.

    Returns
    -------
    pd.DataFrame
        One row per feature, in the order given: ``feature``, ``value`` (raw),
        ``typical`` (median; most common value for text), ``percentile`` (share of
        peers at or below the value, 0–100; NaN for text or missing), ``n_peers``
        (peers with a value), ``pct_fraction`` (a ``*_pct`` column holding fractions).
        ``analytics.explain.peers.PeerValues.typical`` gives the same from a summary
        built on write.
    """
    peers = one_group(recommendations, rec["rec_type"], rec["site"], features)
    return peers.typical(rec, features)


def _driver_phrase(row: pd.Series, typical_prefix: str) -> str:
    name = str(row["feature"])
    frac = bool(row.get("pct_fraction", False))
    value = format_value(name, row["value"], pct_fraction=frac)
    typical = format_value(name, row["typical"], pct_fraction=frac)
    return f"{feature_label(name)} is {value} ({typical_prefix}{typical})"


def _pick(drivers: pd.DataFrame, *, sign: int) -> pd.DataFrame:
    """The one or two contributions that carry the push in direction ``sign``."""
    shap = drivers["shap"].to_numpy(dtype="float64")
    names = drivers["feature"].to_numpy(dtype=object)
    cand = np.flatnonzero((np.sign(shap) == sign) & (names != TYPE_FEATURE))
    if len(cand) == 0:
        return drivers.iloc[:0]
    cand = cand[np.argsort(-np.abs(shap[cand]), kind="stable")]
    top = abs(shap[cand[0]])
    # Name the runner-up only if it carries a real share of the push.
    keep = cand[:1] if len(cand) < 2 or abs(shap[cand[1]]) < 0.25 * top else cand[:2]
    return drivers.iloc[keep]


def explain_sentence(
    contributions: pd.DataFrame,
    *,
    rec_type: str,
    site: Any,
    prediction: float,
    base_value: float,
) -> str:
    """One or two sentences naming the drivers, in the planner's units.

    Parameters
    ----------
    contributions : pd.DataFrame
        ``feature``, ``value``, ``typical``, ``shap`` (and optionally ``pct_fraction``).
    rec_type, site
        Where "typical" comes from (same type and site).
    prediction, base_value : float
        The surrogate's output for this rec and on average, in the model's units.

    Examples
    --------
    "Fired mainly because days of cover is 2.1 (typical for P100 stockout risks: 11.4)
    and supplier on-time delivery is 62% (typical: 81%)."
    """
    if contributions.empty:
        return "No feature snapshot to explain this recommendation."
    where = f"{site} " if site is not None and site is not pd.NA else ""
    first_prefix = f"typical for {where}{type_label(rec_type, plural=True)}: "
    up = prediction >= base_value
    main = _pick(contributions, sign=1 if up else -1)
    other = _pick(contributions, sign=-1 if up else 1)
    if main.empty:
        return (
            f"The model output ({format_output(prediction)}) is about what is typical for "
            f"{type_label(rec_type, plural=True)} ({format_output(base_value)}); no single "
            "driver stands out."
        )
    phrases = [
        _driver_phrase(row, first_prefix if i == 0 else "typical: ")
        for i, (_, row) in enumerate(main.iterrows())
    ]
    lead = (
        "Fired mainly because "
        if up
        else (
            f"Scored below a typical {type_label(rec_type)} ({format_output(prediction)} vs "
            f"{format_output(base_value)}) mainly because "
        )
    )
    text = lead + " and ".join(phrases) + "."
    if not other.empty:
        top_main = abs(float(main["shap"].iloc[0]))
        row = other.iloc[0]
        if abs(float(row["shap"])) >= 0.25 * top_main:
            label = "Holding it back: " if up else "Pushing it up: "
            text += " " + label + _driver_phrase(row, "typical: ") + "."
    return text


def pick_label(row: Any) -> str:
    """How a recommendation reads in a picker: ``REC-1 · stockout risk · P100 · SKU-9 · $1,234``.

    ``row`` has ``rec_id``, ``rec_type``, ``site``, ``sku``, ``est_impact_usd``, ``decision``.
    """
    parts = [str(row.rec_id), type_label(row.rec_type), str(row.site)]
    if pd.notna(row.sku):
        parts.append(str(row.sku))
    if pd.notna(row.est_impact_usd):
        parts.append(f"${row.est_impact_usd:,.0f}")
    if pd.notna(row.decision):
        parts.append(str(row.decision))
    return " · ".join(parts)


def quick_pick_themes(themes: pd.DataFrame, *, limit: int = 8) -> list[str]:
    """Reason-theme labels to offer as quick picks (no "no reason" bucket, no unnamed theme)."""
    if themes is None or themes.empty:
        return []
    out = [
        str(label)
        for label, tid in zip(themes["label"], themes["theme_id"], strict=True)
        if int(tid) != 0 and not str(label).startswith("theme ")
    ]
    return out[:limit]


def fidelity_text(r2: float | None) -> str:
    """How well the surrogate reproduces the model, in one phrase."""
    return f"surrogate fidelity R² {'—' if r2 is None else f'{r2:.2f}'}"


def explain_report_lines(report: dict[str, Any]) -> list[str]:
    """``cli.py explain`` in words: the sentence, the top contributions, the precedents."""
    lines = [
        f"{report['rec_id']}: {report['sentence']}",
        f"prediction {report['prediction']:.4g} = base {report['base_value']:.4g} + contributions"
        f"  ({fidelity_text(report['fidelity_r2'])})",
    ]
    for c in report["contributions"][:8]:
        lines.append(
            f"  {c['shap']:+10.4g}  {c['feature']:28s} {c['value']!s:>12s}  typical {c['typical']!s}"
        )
    if report["precedents"]:
        lines.append("precedents:")
        for p in report["precedents"]:
            lines.append(f"  {p['rec_id']:14s} {p['decision'] or 'open':9s} {p['reason'] or ''}")
    return lines


def drivers_report_lines(report: dict[str, Any]) -> list[str]:
    """``cli.py drivers`` in words: mean |SHAP| per feature."""
    lines = [fidelity_text(report["fidelity_r2"])]
    lines += [f"  {d['mean_abs_shap']:10.4g}  {d['feature']}" for d in report["drivers"]]
    return lines
