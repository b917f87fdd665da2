"""Seeded generator of a realistic decision-log bundle, with its ground truth.

Writes one CSV per table of ``shared/DATA_CONTRACT.md`` plus ``truth/`` files that
say what was planted (override rules, reason themes, score drivers, dominant-driver
rows), so every analysis of the workbench can be tested against a known answer.

Usage::

    python sample_data/generate.py OUT --rows 20000 --seed 7

Everything is vectorised numpy/pandas; the only Python loops run over rec types,
rules, sites and small phrase pools, never over recommendations. This module is the
entry point and tells the story top to bottom (entities -> recommendations ->
features -> decisions -> reasons -> outcomes); each chapter lives in its own module:
``gen_world`` (constants), ``gen_entities``, ``gen_features``, ``gen_rules``,
``gen_reasons``, ``gen_outcomes``, ``gen_tables`` and ``gen_io`` (formatting, writers).
Every draw comes from the one generator, in the order below: reordering calls
changes the bundle.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

if not __package__:
    # Run as a script: make the sibling modules importable as ``sample_data.*``.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sample_data.gen_entities import (  # noqa: E402
    _calendar,
    _entities,
    _entity_masks,
    _quantities,
    _recommendations,
    _sla_hours,
    _timing,
)
from sample_data.gen_features import (  # noqa: E402
    DOMINANT_SHARE,
    FEATURE_BOUNDS,
    FEATURE_COLUMNS,
    INT_FEATURES,
    MIN_DOMINANT_LOGIT,
    NOISE_FEATURES,
    SCORE_MODEL,
    SKU_FEATURES,
    TYPE_FEATURES,
    _features_and_score,
)
from sample_data.gen_io import _codes, _offset_str, _write_csv, _write_json  # noqa: E402
from sample_data.gen_outcomes import _kpi_periods, _orders, _outcomes  # noqa: E402
from sample_data.gen_reasons import (  # noqa: E402
    ABBREVIATIONS,
    EMPTY_REASON_RATE,
    REASON_CODE_FILL,
    REASON_CODES,
    THEME_DECORATION,
    THEME_PHRASES,
    _reasons,
)
from sample_data.gen_rules import (  # noqa: E402
    NOISE_OVERRIDE_RATE,
    RULE_ADJ_SD_PCT,
    RULE_CONSISTENCY,
    RULES,
    _attribute_values,
    _decide,
    _draw_planners,
    _rule_masks,
    _rule_support,
    _rules_truth,
)
from sample_data.gen_tables import (  # noqa: E402
    _decisions_table,
    _outcomes_table,
    _recommendations_table,
)
from sample_data.gen_world import (  # noqa: E402
    ACTIONS,
    LINES_PER_SITE,
    MONTHS,
    N_CUSTOMERS,
    N_SUPPLIERS,
    OWNERS_ROWS,
    PLANNERS,
    QTY_TYPES,
    REC_TYPES,
    SECONDS_PER_DAY,
    SECONDS_PER_HOUR,
    SITE_OFFSET_MIN,
    SITE_PLANNERS,
    SITE_WEIGHTS,
    SITES,
    TYPE_RESPONSE_FACTOR,
    TYPE_WEIGHTS,
    UNOWNED_EXPIRY_HOURS,
    UNOWNED_TYPES,
    WEEKDAYS,
)

# The public names this module has always had, re-exported for its importers.
__all__ = [
    "ABBREVIATIONS",
    "ACTIONS",
    "DOMINANT_SHARE",
    "EMPTY_REASON_RATE",
    "FEATURE_BOUNDS",
    "FEATURE_COLUMNS",
    "GENERATOR_VERSION",
    "INT_FEATURES",
    "LINES_PER_SITE",
    "MIN_DOMINANT_LOGIT",
    "MONTHS",
    "NOISE_FEATURES",
    "NOISE_OVERRIDE_RATE",
    "N_CUSTOMERS",
    "N_SUPPLIERS",
    "OWNERS_ROWS",
    "PLANNERS",
    "QTY_TYPES",
    "REASON_CODES",
    "REASON_CODE_FILL",
    "REC_TYPES",
    "RULES",
    "RULE_ADJ_SD_PCT",
    "RULE_CONSISTENCY",
    "SCORE_MODEL",
    "SECONDS_PER_DAY",
    "SECONDS_PER_HOUR",
    "SITES",
    "SITE_OFFSET_MIN",
    "SITE_PLANNERS",
    "SITE_WEIGHTS",
    "SKU_FEATURES",
    "THEME_DECORATION",
    "THEME_PHRASES",
    "TYPE_FEATURES",
    "TYPE_RESPONSE_FACTOR",
    "TYPE_WEIGHTS",
    "UNOWNED_EXPIRY_HOURS",
    "UNOWNED_TYPES",
    "WEEKDAYS",
    "generate_bundle",
    "main",
]

GENERATOR_VERSION = "1.0"


def generate_bundle(
    out: Path,
    *,
    rows: int,
    seed: int = 0,
    start: str = "2024-10-01",
    end: str = "2026-10-31",
    go_live: str = "2025-10-01",
) -> dict[str, Any]:
    """Write a complete, seeded bundle and its ground truth to ``out``.

    Parameters
    ----------
    out : Path
        Folder to write; created if missing. Gets six contract CSVs and ``truth/``.
    rows : int
        Number of recommendations.
    seed : int
        Seed of the only random generator; same seed and arguments give byte-identical files.
    start, end, go_live : str
        ISO dates: first and last day of signals, and the go-live date (baseline before).

    Returns
    -------
    dict
        Summary: row counts per table, the planted-rule support and the meta record.
    """
    out = Path(out)
    (out / "truth").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    cal = _calendar(start, end, go_live)
    ent = _entities(rng, rows)
    rec = _recommendations(rng, rows, ent, cal)
    masks = _entity_masks(rec)
    has_qty = masks["qty"]
    qty, uom, mixed_skus = _quantities(rng, rec, ent, has_qty)
    feats, score, drivers, dominant = _features_and_score(rng, rec, ent)

    sla = _sla_hours(rec)
    timing = _timing(rng, rec, sla)
    rec["signal"] = timing["signal"]
    planner = _draw_planners(rng, rec)
    attrs = _attribute_values(rec, planner)
    # R1 and R5 could both match a j.nguyen stockout on SUP-017 in Q4; hand those to a
    # colleague at the same site so every planted rule is clean on its own matches.
    r1 = _rule_masks(attrs)[0] & (attrs["decided_by"] == "j.nguyen")
    planner[r1] = PLANNERS.index("m.garcia")
    attrs = _attribute_values(rec, planner)
    rule_masks = _rule_masks(attrs)
    dec = _decide(rng, rec, qty, has_qty, planner, rule_masks, timing["expired"])
    reason, code = _reasons(rng, dec, planner, rec["site"].to_numpy())
    outc = _outcomes(rng, rec, qty, has_qty, dec, rule_masks)

    n = rows
    # The newest ~3% are still open, as are those whose decision lies past the extract.
    open_ = (np.arange(n) >= n - int(np.ceil(0.03 * n))) | (timing["decided"] > cal["end_s"])
    horizon = rng.integers(7, 43, n) * SECONDS_PER_DAY + rng.integers(0, SECONDS_PER_DAY, n)
    observed = rec["created"].to_numpy() + horizon
    has_outcome = ~open_ & (observed <= cal["end_s"]) & (rng.random(n) > 0.03)
    naive = ~open_ & (rng.random(n) < 0.01)
    rec_id = _codes("REC-", np.arange(1, n + 1), 7)

    # Each table is written as soon as it is built and then dropped: keeps peak RAM low.
    counts: dict[str, int] = {}
    frame = _recommendations_table(rng, rec, ent, cal, rec_id, attrs, masks, qty, uom, feats, score)
    counts["recommendations"] = _write_csv(out / "recommendations.csv", frame)
    del frame
    frame = _decisions_table(rec, rec_id, ~open_, naive, timing, attrs, dec, reason, code)
    counts["decisions"] = _write_csv(out / "decisions.csv", frame)
    del frame
    frame = _outcomes_table(rec, rec_id, has_outcome, observed, masks, outc)
    counts["outcomes"] = _write_csv(out / "outcomes.csv", frame)
    del frame
    counts["orders"] = _write_csv(out / "orders.csv", _orders(rng, rows, cal, ent))
    counts["kpi_periods"] = _write_csv(out / "kpi_periods.csv", _kpi_periods(rng, cal))
    owners = pd.DataFrame(
        OWNERS_ROWS, columns=["rec_type", "site", "owner", "escalation_to", "sla_hours"]
    )
    counts["owners"] = _write_csv(out / "owners.csv", owners)

    decided = ~open_
    themed = decided & np.isin(dec["decision"], ["modified", "rejected"]) & (reason != "")
    _write_csv(
        out / "truth" / "override_themes.csv",
        pd.DataFrame({"rec_id": rec_id[themed], "theme": dec["theme"][themed]}),
    )
    _write_csv(
        out / "truth" / "dominant_driver.csv",
        pd.DataFrame(
            {"rec_id": rec_id[dominant["row"].to_numpy()], "feature": dominant["feature"]}
        ),
    )
    support = _rule_support(rule_masks, decided, dec)
    meta = {
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "rows": rows,
        "start": start,
        "end": end,
        "go_live": go_live,
        "bundle_tz": "UTC",
        "site_tz": {s: _offset_str(m) for s, m in zip(SITES, SITE_OFFSET_MIN, strict=True)},
        "counts": counts,
        "n_skus": len(ent["sku_code"]),
        "planted_data_health": {
            "mixed_uom_skus": mixed_skus,
            "decided_at_without_offset": int(naive.sum()),
            "rec_types_without_owner": list(UNOWNED_TYPES),
        },
        "rule_precedence": "rules are disjoint by construction (R1 matches never go to j.nguyen)",
    }
    _write_json(out / "truth" / "planted_rules.json", _rules_truth(support))
    _write_json(out / "truth" / "score_drivers.json", drivers)
    _write_json(out / "truth" / "meta.json", meta)
    return {"out": str(out), "meta": meta, "rules": support}


def main(argv: list[str] | None = None) -> int:
    """Command line entry point; prints the summary and elapsed time as JSON."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out", type=Path)
    p.add_argument("--rows", type=int, default=20000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--start", default="2024-10-01")
    p.add_argument("--end", default="2026-10-31")
    p.add_argument("--go-live", default="2025-10-01")
    a = p.parse_args(argv)
    t0 = time.perf_counter()
    summary = generate_bundle(
        a.out, rows=a.rows, seed=a.seed, start=a.start, end=a.end, go_live=a.go_live
    )
    summary["seconds"] = round(time.perf_counter() - t0, 2)
    json.dump(summary, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
