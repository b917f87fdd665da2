"""Candidate operational rules: conditions under which planners override one way.

A rule is 1 to 3 ``attribute = value`` conditions over the contract's rule
attributes plus a direction (``increase``, ``decrease``, ``reject``). Over the
decided recommendations it matches (its **coverage**), its **support** is the
overrides in that direction, its **confidence** support / coverage, and its
**lift** confidence over its **own base rate**: the direction's rate among decided
recommendations of the same type, averaged over the types it matches (a rule on
``rec_type = expedite`` is compared with expedites only; a rule that spans types
with the mix of types it covers). Its **p-value** is the one-sided binomial chance
of that much support at that base rate, and ``p_adjusted`` the Benjamini–Hochberg
adjustment over *every* candidate tested (``n_tested``): a rule is kept only when
``p_adjusted <= FDR``, so a coincidence among thousands of candidates does not
reach the list.

Mining is vectorised: every combination of attributes is one integer key per
row (mixed radix over the attribute codes), counted with ``bincount``; values
that cannot reach the minimum support on their own are pruned first (apriori),
so the million-row pass only counts keys that can qualify.

A planted pattern must come out as one rule, not a spray of fragments, so the
candidates are pruned in two steps:

1. **Nesting.** For a rule ``G`` and a more specific rule ``S`` (``S``'s conditions
   include ``G``'s; a month implies its quarter), compare ``S`` with the rest of
   ``G`` (``G`` minus ``S``'s matches). If ``S`` is not clearly sharper, ``S`` only
   adds a condition: drop ``S``. Otherwise, if the rest of ``G`` would not be a rule
   on its own, ``G`` is just ``S`` diluted: drop ``G``.
2. **Overlap.** Best first, a rule whose supporting overrides are mostly already
   explained by a better rule in the same direction is merged into it (kept as
   an alias in ``also``), which catches near-duplicates the nesting cannot see
   (a SKU that implies its supplier, a planner who works at one site).

Rules are ranked by ``score`` = excess overrides (support − coverage × base
rate) × confidence (``RANKING``): strong (many overrides beyond chance) and
specific (consistent) rules first. A pattern that spans types comes out as one
rule without a type condition (the nesting step drops the per-type copies that are
not sharper); ``analytics.overrides.evidence`` adds its per-type breakdown.
"""

from __future__ import annotations

import hashlib
import json
import math
from itertools import combinations

import numpy as np
import pandas as pd

from analytics.overrides.log import ATTRIBUTES, DIRECTIONS, MONTHS, QUARTERS
from analytics.overrides.significance import (  # noqa: F401  (rule_stats re-exported)
    FDR,
    benjamini_hochberg,
    binomial_p_value,
    coverage_by_type,
    direction_codes,
    rule_stats,
    type_rates,
)

MIN_CONFIDENCE = 0.2
MIN_LIFT = 2.0
MIN_Z = 3.0
SHARPER_RATIO = 1.2  # a more specific rule must be at least this much more consistent
OVERLAP = 0.5
_BINCOUNT_LIMIT = 20_000_000

RULE_COLUMNS = [
    "id",
    "conditions",
    "n_conditions",
    "direction",
    "support",
    "coverage",
    "confidence",
    "lift",
    "base_rate",
    "z",
    "score",
    "also",
    "p_value",
    "p_adjusted",
    "n_tested",
]
RANKING = (
    "Ranked by score = excess overrides (support − coverage × the rule's own base rate) × "
    "confidence: many overrides beyond chance, and consistent ones, first."
)


def rule_id(conditions: dict[str, str], direction: str) -> str:
    """Stable id of a rule: a hash of its sorted conditions and direction.

    The same rule gets the same id in every run and every store, so its
    lifecycle status (adopted, dismissed, watch) stays attached to it.
    """
    payload = json.dumps([sorted(conditions.items()), direction], separators=(",", ":"))
    return "R" + hashlib.sha1(payload.encode("utf-8")).hexdigest()[:10]


def default_min_support(n_overrides: int) -> int:
    """10 overrides, or 0.1% of the overrides when that is more."""
    return max(10, math.ceil(0.001 * n_overrides))


def _attribute_codes(
    log: pd.DataFrame, attrs: tuple[str, ...], ov: np.ndarray, dcode: np.ndarray, min_support: int
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Per attribute: row codes of values frequent enough to be in a rule (else -1), values."""
    codes: dict[str, np.ndarray] = {}
    values: dict[str, np.ndarray] = {}
    for a in attrs:
        col = log[a]
        if not isinstance(col.dtype, pd.CategoricalDtype):
            col = col.astype("string").astype("category")
        raw = col.cat.codes.to_numpy().astype(np.int64)
        cats = np.asarray(col.cat.categories.astype(str), dtype=object)
        oc = raw[ov]
        ok = oc >= 0
        counts = np.bincount(oc[ok] * 3 + dcode[ov][ok], minlength=len(cats) * 3).reshape(-1, 3)
        frequent = np.flatnonzero(counts.max(axis=1) >= min_support) if len(cats) else []
        remap = np.full(len(cats) + 1, -1, dtype=np.int64)  # index -1 maps missing to -1
        remap[frequent] = np.arange(len(frequent))
        codes[a] = remap[raw]
        values[a] = cats[frequent]
    return codes, values


def _keys(cols: list[np.ndarray], sizes: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Mixed-radix key of a combination and whether every attribute is present."""
    key = np.zeros(len(cols[0]), dtype=np.int64)
    valid = np.ones(len(cols[0]), dtype=bool)
    for c, m in zip(cols, sizes, strict=True):
        valid &= c >= 0
        key = key * m + c
    return key, valid


def _valid_combo(combo: tuple[str, ...]) -> bool:
    # A month already fixes its quarter: "month and quarter" is never a sharper rule.
    return not ("month" in combo and "quarter" in combo)


def _z_one(support: np.ndarray, coverage: np.ndarray, p0: np.ndarray) -> np.ndarray:
    """Binomial z of support against coverage × base rate."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return (support - coverage * p0) / np.sqrt(coverage * p0 * (1 - p0))


def _candidates(
    log: pd.DataFrame,
    *,
    attrs: tuple[str, ...],
    max_conditions: int,
    min_support: int,
    min_confidence: float,
    min_lift: float,
    min_z: float,
    fdr: float,
) -> tuple[pd.DataFrame, dict[str, np.ndarray], dict[str, np.ndarray], np.ndarray, np.ndarray]:
    dcode = direction_codes(log)
    n = len(log)
    ov = np.flatnonzero(dcode >= 0)
    base = np.bincount(dcode[ov], minlength=3) / max(n, 1)
    row_type, rates = type_rates(log, dcode)
    codes, values = _attribute_codes(log, attrs, ov, dcode, min_support)
    codes_ov = {a: c[ov] for a, c in codes.items()}
    dov = dcode[ov]
    found: set[tuple[str, ...]] = set()
    parts: list[pd.DataFrame] = []
    p_all: list[np.ndarray] = []  # every candidate tested, for the false-discovery control
    n_p = n_seen = 0
    for size in range(1, max_conditions + 1):
        for combo in combinations(attrs, size):
            if not _valid_combo(combo) or any(len(values[a]) == 0 for a in combo):
                continue
            # Apriori on combinations: a sub-combination without any frequent key rules it out.
            if size > 1 and any(sub not in found for sub in combinations(combo, size - 1)):
                continue
            sizes = [len(values[a]) for a in combo]
            space = int(np.prod(sizes, dtype=np.int64))
            okey, ovalid = _keys([codes_ov[a] for a in combo], sizes)
            k3 = okey[ovalid] * 3 + dov[ovalid]
            uniq, supp = np.unique(k3, return_counts=True)
            # Every (conditions, direction) seen is a candidate looked at, even one too
            # small to keep: the false-discovery control counts them all.
            n_seen += len(uniq)
            keep = supp >= min_support
            if not keep.any():
                continue
            found.add(combo)
            ckey, cdir = uniq // 3, uniq % 3
            akey, avalid = _keys([codes[a] for a in combo], sizes)
            wanted, at_key = np.unique(ckey, return_inverse=True)
            by_type = coverage_by_type(akey, avalid, space, wanted, row_type, len(rates))
            cov = by_type.sum(axis=1)[at_key]
            # Expected overrides: each type's coverage at that type's own rate.
            expected = (by_type @ rates)[at_key, cdir]
            conf = supp / cov
            p0 = np.clip(expected / cov, 1e-12, 1.0)  # the rule's own (type-mix) base rate
            lift = conf / p0
            z = _z_one(supp, cov, p0)
            pv = binomial_p_value(supp, cov, p0)
            p_all.append(pv)
            at_p = n_p + np.arange(len(pv))
            n_p += len(pv)
            ok = keep & (conf >= min_confidence) & (lift >= min_lift) & (z >= min_z)
            if not ok.any():
                continue
            part = {"combo": [combo] * int(ok.sum()), "dir": cdir[ok], "support": supp[ok]}
            part.update({"coverage": cov[ok], "confidence": conf[ok], "lift": lift[ok], "z": z[ok]})
            part.update({"base_rate": p0[ok], "p_value": pv[ok], "_p_at": at_p[ok]})
            rest = ckey[ok]
            vals: list[np.ndarray] = []
            for a, m in zip(reversed(combo), reversed(sizes), strict=True):
                vals.append(values[a][rest % m])
                rest = rest // m
            vals.reverse()
            part["items"] = [tuple(zip(combo, row, strict=True)) for row in zip(*vals, strict=True)]
            parts.append(pd.DataFrame(part))
    cols = ["combo", "dir", "support", "coverage", "confidence", "lift", "z", "items",
            "base_rate", "p_value", "p_adjusted", "n_tested"]  # fmt: skip
    if not parts:
        return pd.DataFrame(columns=cols), codes, values, dcode, base
    table = pd.concat(parts, ignore_index=True)
    # Combinations with no frequent key were not scored: they count as tested with p = 1.
    q = benjamini_hochberg(np.concatenate(p_all), n_tests=n_seen)
    table["p_adjusted"] = q[table.pop("_p_at").to_numpy(dtype=np.int64)]
    table["n_tested"] = n_seen
    table = table[table["p_adjusted"] <= fdr].reset_index(drop=True)
    return table[cols], codes, values, dcode, base


def _closure(items: tuple[tuple[str, str], ...]) -> frozenset[tuple[str, str]]:
    out = set(items)
    for attr, value in items:
        if attr == "month" and value in MONTHS:
            out.add(("quarter", QUARTERS[MONTHS.index(value) // 3]))
    return frozenset(out)


def _prune_nested(
    cand: pd.DataFrame,
    *,
    min_support: int,
    min_confidence: float,
    min_lift: float,
    min_z: float,
) -> np.ndarray:
    """Keep-mask after comparing every rule with the rules nested inside it."""
    pairs = zip(cand["items"], cand["dir"], strict=True)
    index = {(frozenset(it), d): i for i, (it, d) in enumerate(pairs)}
    supp = cand["support"].to_numpy(dtype=float)
    cov = cand["coverage"].to_numpy(dtype=float)
    p0 = cand["base_rate"].to_numpy(dtype=float)
    drop = np.zeros(len(cand), dtype=bool)
    for s, (items, d) in enumerate(zip(cand["items"], cand["dir"], strict=True)):
        own = frozenset(items)
        clos = _closure(items)
        for r in range(1, len(clos)):
            for sub in combinations(sorted(clos), r):
                sub_set = frozenset(sub)
                if sub_set == own:
                    continue
                g = index.get((sub_set, d))
                if g is None:
                    continue
                s_r, c_r = supp[g] - supp[s], cov[g] - cov[s]
                if c_r <= 0:
                    drop[s] = True  # the same recommendations: the extra condition says nothing
                    continue
                p_s, p_r = supp[s] / cov[s], s_r / c_r
                pooled = supp[g] / cov[g]
                se = math.sqrt(max(pooled * (1 - pooled), 1e-12) * (1 / cov[s] + 1 / c_r))
                sharper = p_s >= SHARPER_RATIO * p_r and (p_s - p_r) / se >= min_z
                if not sharper:
                    drop[s] = True
                    continue
                z_r = (s_r - c_r * p0[g]) / math.sqrt(c_r * p0[g] * (1 - p0[g]))
                rest_is_rule = (
                    s_r >= min_support
                    and p_r >= min_confidence
                    and p_r / p0[g] >= min_lift
                    and z_r >= min_z
                )
                if not rest_is_rule:
                    drop[g] = True
    return ~drop


def mine_rules(
    log: pd.DataFrame,
    *,
    min_support: int | None = None,
    max_conditions: int = 3,
    min_confidence: float = MIN_CONFIDENCE,
    min_lift: float = MIN_LIFT,
    min_z: float = MIN_Z,
    attributes: tuple[str, ...] = ATTRIBUTES,
    fdr: float = FDR,
) -> pd.DataFrame:
    """Candidate rules, pruned and ranked best first.

    Parameters
    ----------
    log : DataFrame
        ``analytics.overrides.log.decided_log`` output (attribute columns and
        ``direction``). Not modified.
    min_support : int, optional
        Fewest overrides a rule must explain (default ``default_min_support``).
    max_conditions : int
        Most conditions per rule (1–3).
    min_confidence, min_lift, min_z : float
        A rule must override at least this share of what it matches, this many
        times the base rate, and be this many binomial standard errors above chance.
    attributes : tuple of str
        Attributes a condition may name (columns of ``log``).
    fdr : float
        Largest Benjamini–Hochberg adjusted p-value kept (over every candidate tested).

    Returns
    -------
    DataFrame
        ``RULE_COLUMNS``: ``id``, ``conditions`` (dict attr → value), ``n_conditions``,
        ``direction``, ``support``, ``coverage``, ``confidence``, ``lift``,
        ``base_rate`` (the rule's own type's rate), ``z``, ``score``, ``also`` (dicts of
        near-duplicate rules merged into this one), ``p_value``, ``p_adjusted`` and
        ``n_tested``, best first (``RANKING``).
    """
    n_over = int(log["direction"].isin(DIRECTIONS).sum()) if len(log) else 0
    if min_support is None:
        min_support = default_min_support(n_over)
    attrs = tuple(a for a in attributes if a in log.columns)
    if n_over == 0 or not attrs:
        return pd.DataFrame(columns=RULE_COLUMNS)
    cand, codes, values, dcode, _ = _candidates(
        log,
        attrs=attrs,
        max_conditions=max(1, min(3, max_conditions)),
        min_support=min_support,
        min_confidence=min_confidence,
        min_lift=min_lift,
        min_z=min_z,
        fdr=fdr,
    )
    if cand.empty:
        return pd.DataFrame(columns=RULE_COLUMNS)
    cand = cand[
        _prune_nested(
            cand,
            min_support=min_support,
            min_confidence=min_confidence,
            min_lift=min_lift,
            min_z=min_z,
        )
    ].reset_index(drop=True)
    cand["n_conditions"] = cand["items"].map(len)
    cand["score"] = (cand["support"] - cand["coverage"] * cand["base_rate"]) * cand["confidence"]
    cand["direction"] = [DIRECTIONS[d] for d in cand["dir"]]
    cand["conditions"] = [dict(it) for it in cand["items"]]
    cand["id"] = [rule_id(c, d) for c, d in zip(cand["conditions"], cand["direction"], strict=True)]
    cand = cand.sort_values(
        ["score", "n_conditions", "id"], ascending=[False, True, True], kind="stable"
    ).reset_index(drop=True)
    cand = _merge_overlaps(cand, codes, values, dcode)
    return cand[RULE_COLUMNS].reset_index(drop=True)


def _merge_overlaps(
    cand: pd.DataFrame,
    codes: dict[str, np.ndarray],
    values: dict[str, np.ndarray],
    dcode: np.ndarray,
) -> pd.DataFrame:
    """Best first: fold a rule mostly explained by better ones into the best of them."""
    value_code = {a: {v: i for i, v in enumerate(values[a])} for a in values}
    rows_of = {d: np.flatnonzero(dcode == d) for d in range(3)}
    kept: list[int] = []
    kept_masks: dict[int, np.ndarray] = {}
    covered = {d: np.zeros(len(rows_of[d]), dtype=bool) for d in range(3)}
    also: dict[int, list[dict[str, str]]] = {}
    for i, (items, d) in enumerate(zip(cand["items"], cand["dir"], strict=True)):
        rows = rows_of[d]
        mask = np.ones(len(rows), dtype=bool)
        for attr, value in items:
            mask &= codes[attr][rows] == value_code[attr][value]
        n = mask.sum()
        if n and (mask & covered[d]).sum() >= OVERLAP * n:
            same_dir = [j for j in kept if cand.at[j, "dir"] == d]
            best = max(same_dir, key=lambda j: ((kept_masks[j] & mask).sum(), -j))
            also.setdefault(best, []).append(dict(items))
            continue
        kept.append(i)
        kept_masks[i] = mask
        covered[d] |= mask
    out = cand.loc[kept].copy()
    out["also"] = [also.get(i, []) for i in kept]
    return out
