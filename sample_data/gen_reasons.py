"""Free-text override reasons and picklist codes, typed the way people type them.

Each planted rule has its own theme of phrasings, the noise overrides one more, so
clustering the reasons can be tested against the planted themes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sample_data.gen_rules import RULES
from sample_data.gen_world import PLANNERS

# Share of a planner's overrides typed without a reason: the early-warning signal.
EMPTY_REASON_RATE = {
    "a.schmidt": 0.10, "d.kowalski": 0.30, "e.martin": 0.40, "f.dubois": 0.40,
    "h.yilmaz": 0.18, "j.nguyen": 0.35, "k.weber": 0.25, "l.chen": 0.15,
    "m.garcia": 0.20, "p.novak": 0.30, "r.silva": 0.20, "t.ito": 0.12,
}  # fmt: skip
REASON_CODE_FILL = np.array([0.7, 0.6, 0.1, 0.1, 0.1])  # per site: picklist in use?
REASON_CODES = ("SUPPLY", "DEMAND", "CAPACITY", "OTHER")

# Phrasings per theme: each theme shares codes and words (017/Q4/slip, 042/cancel,
# line 7/backlog, S&OP/call, inv/target, manual/adj) so a char+word TF-IDF
# clustering can recover it, as people really repeat themselves.
THEME_PHRASES: dict[str, tuple[str, ...]] = {
    "R1": (
        "vendor always late in winter, sup017", "pad the PO, sup 017 slips every Dec",
        "sup017 late again Q4", "SUP-017 slips in Q4, order extra",
        "017 always late before xmas, add buffer", "supplier 017 late every winter - pad qty",
        "Q4 slip sup017, order extra", "SUP-017 late in Q4, ordering 25% more",
        "Lieferant SUP017 liefert im Q4 immer zu spät", "proveedor SUP-017 siempre tarde en invierno Q4",
        "sup 017 winter delays, extra buffer", "they slip every Q4 (sup017), pad the order",
    ),
    "R2": (
        "customer inflates first order, cancels in wk 6", "CUST-042 always cancels wk6",
        "cust042 overorders then cancels", "cust 042 inflates initial order, cut 20%",
        "cust 42 cancels the difference in week 6", "first order from cust042 is inflated",
        "customer 042 over-forecasts, cancels later", "Kunde CUST-042 storniert immer in KW6",
        "cliente CUST-042 cancela en la semana 6", "cust042 inflated qty - cancels wk 6",
        "they always cancel wk6, cust 042", "inflated order cust-042, cancels",
    ),
    "R3": (
        "line 7 always behind, release early", "L07 maint backlog - released early",
        "line7 behind schedule, keep early release", "L07 maintenance backlog, line 7 behind",
        "line 7 running behind again", "L07 behind, need early release",
        "maint backlog on line 7", "Linie 7 (L07) immer im Rückstand, früher freigeben",
        "línea 7 L07 atrasada, liberar antes", "L07 always behind - release early",
        "line 7 backlog, no reschedule",
    ),
    "R4": (
        "decided in monday S&OP call", "per S&OP call mon", "S&OP mon call - no expedite",
        "snop call said hold", "monday S&OP call: not expediting",
        "agreed in S&OP call monday", "S&OP call decision", "mon S&OP call - reject",
        "in der S&OP call am Montag entschieden", "decidido en la llamada S&OP del lunes",
        "per monday snop call",
    ),
    "R5": (
        "trim to hit inventory target", "inv target - trim qty", "too much inventory, trim to target",
        "trim, inventory target month end", "cut to hit inv target", "over inventory target, trim",
        "trim qty for inventory target", "inventory target!!", "Bestandsziel (inv target) - gekürzt",
        "objetivo de inventario, trim", "trimmed - inv target", "need to hit inventory target, trim",
    ),
    "noise": (
        "manual adj", "manual adj.", "manual adjustment", "manual adj per planner judgement",
        "manual adj - per planner judgement", "manual adj, see email", "manual adj - see email",
        "manual adj override", "planner manual adj", "adjusted manually", "manual adj (manuell)",
        "ajuste manual adj", "man. adj", "manual adj as discussed",
    ),
}  # fmt: skip
THEME_DECORATION = {"R1": " PO#", "R2": " SO-", "R3": " WO-"}  # codes people paste in
ABBREVIATIONS = {
    "always": "alwys", "inventory": "inv", "customer": "cust", "supplier": "supp",
    "maintenance": "maint", "schedule": "sched", "week": "wk", "monday": "mon",
    "release": "rel", "order": "ord",
}  # fmt: skip


def _typo(rng: np.random.Generator, s: str) -> str:
    if len(s) < 4:
        return s
    i = int(rng.integers(1, len(s) - 1))
    if rng.random() < 0.5:
        return s[:i] + s[i + 1] + s[i] + s[i + 2 :]
    return s[:i] + s[i + 1 :]


def _reason_pool(rng: np.random.Generator, phrases: tuple[str, ...], size: int) -> np.ndarray:
    """Noisy variants of a theme's phrasings, as people type them."""
    out = []
    for _ in range(size):
        s = phrases[int(rng.integers(len(phrases)))]
        for word, short in ABBREVIATIONS.items():
            if word in s and rng.random() < 0.3:
                s = s.replace(word, short)
        case = rng.random()
        if case < 0.45:
            s = s.lower()
        elif case < 0.55:
            s = s.upper()
        if rng.random() < 0.25:
            s = _typo(rng, s)
        if rng.random() < 0.15:
            s = s + str(rng.choice([".", "!", " ..", " - ok"]))
        out.append(s)
    return np.array(out, dtype=object)


def _reasons(
    rng: np.random.Generator, dec: dict[str, np.ndarray], planner: np.ndarray, site: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Free-text reason and picklist code for every override."""
    n = len(planner)
    theme = dec["theme"]
    reason = np.full(n, "", dtype=object)
    for name, phrases in THEME_PHRASES.items():
        idx = np.flatnonzero(theme == name)
        pool = _reason_pool(rng, phrases, 400)
        text = pool[rng.integers(0, len(pool), len(idx))]
        if name in THEME_DECORATION:
            deco = rng.random(len(idx)) < 0.15
            num = pd.Series(rng.integers(10000, 99999, deco.sum())).astype(str).to_numpy(object)
            text[deco] = text[deco] + THEME_DECORATION[name] + num
        reason[idx] = text
    empty_p = np.array([EMPTY_REASON_RATE[p] for p in PLANNERS])[planner]
    reason[rng.random(n) < empty_p] = ""
    reason[theme == ""] = ""

    code = np.full(n, "", dtype=object)
    fill = (theme != "") & (rng.random(n) < REASON_CODE_FILL[site])
    for rule in RULES:
        code[fill & (theme == rule["id"])] = rule["reason_code"]
    nz = fill & (theme == "noise")
    code[nz] = np.array(REASON_CODES, dtype=object)[rng.integers(0, 4, nz.sum())]
    return reason, code
