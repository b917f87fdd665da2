"""Readable theme labels and representatives: what a person would say, not a bag of stems.

A theme's label is its most representative reason as typed (the one nearest the
theme's centre, among the most used), without function words or pasted order
numbers, followed by the context its overrides share: the values of the candidate
rule most of them support and their median adjustment — ``"SUP-017 slips Q4, order
extra · SUP-017 · Q4 · +25%"``. Representatives are also given per language.
"""

from __future__ import annotations

import re
import unicodedata

import numpy as np
import pandas as pd

from analytics.overrides.stopwords import STOP_WORDS, guess_language

THEME_CODE_PREFIX = "THEME-"
MAX_LABEL_WORDS = 7
DOMINANT_SHARE = 0.5
_LONG_NUMBER = re.compile(r"\d{4,}")
_EDGE_PUNCT = re.compile(r"^[^\w&#+%]+|[^\w%)]+$")


def _core(token: str) -> str:
    folded = unicodedata.normalize("NFKD", token).encode("ascii", "ignore").decode().casefold()
    return re.sub(r"[^\w&]+|_", "", folded)


def label_phrase(reason: str, *, max_words: int = MAX_LABEL_WORDS) -> str:
    """A typed reason as a headline: no function words, no pasted order numbers."""
    words = []
    for token in reason.split():
        core = _core(token)
        if not core or core in STOP_WORDS or _LONG_NUMBER.search(token):
            continue
        words.append(token)
        if len(words) == max_words:
            break
    text = " ".join(words)
    return _EDGE_PUNCT.sub("", text)


def adjustment_words(direction: np.ndarray, adjustment_pct: np.ndarray) -> str:
    """``"+25%"`` / ``"-20%"`` (median adjustment of the dominant direction), ``"rejected"``, or ""."""
    d = direction[direction != ""]
    if not len(d):
        return ""
    values, counts = np.unique(d, return_counts=True)
    top = values[np.argmax(counts)]
    if counts.max() < DOMINANT_SHARE * len(direction):
        return ""
    if top == "reject":
        return "rejected"
    adj = adjustment_pct[(direction == top) & ~np.isnan(adjustment_pct)]
    return f"{np.median(adj):+.0f}%" if len(adj) else ""


def theme_table(
    *,
    raw: pd.Series,
    norm: np.ndarray,
    theme_id: np.ndarray,
    context: np.ndarray,
    context_labels: dict[str, str],
    adjustment_pct: np.ndarray,
    direction: np.ndarray,
    unit_vectors: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    no_reason: tuple[int, str],
    other: tuple[int, str],
) -> pd.DataFrame:
    """One row per theme (see ``analytics.overrides.themes.ThemeModel.themes``)."""
    n_rows = len(raw)
    z, u_reason, u_ctx, u_theme = unit_vectors
    typed = _typed_forms(raw, norm)
    uses = pd.Series(norm[norm != ""]).value_counts()
    rows = []
    for tid in sorted(set(theme_id.tolist()) | {no_reason[0]}):
        in_theme = theme_id == tid
        row: dict[str, object] = {"theme_id": int(tid), "size": int(in_theme.sum())}
        if tid == no_reason[0]:
            row.update(label=no_reason[1], terms=[], n_distinct=0, representatives=[],
                       by_language={}, context="", established=False)  # fmt: skip
            rows.append(row)
            continue
        members = np.flatnonzero(u_theme == tid)
        reps = _representatives(z[members], u_reason[members], uses)
        shown = [typed.get(r, r) for r in reps]
        ctx_words = _context_words(
            context[in_theme], context_labels, direction[in_theme], adjustment_pct[in_theme]
        )
        if tid == other[0]:
            label = other[1]
        else:
            phrase = label_phrase(shown[0]) if shown else ""
            label = " · ".join(x for x in (phrase, ctx_words) if x) or f"theme {tid}"
        row.update(
            label=label,
            terms=[_core(w) for w in label_phrase(shown[0]).split()] if shown else [],
            n_distinct=int(len(np.unique(u_reason[members]))),
            representatives=shown[:3],
            by_language=_by_language(u_reason[members], uses, typed),
            context=ctx_words,
            established=tid != other[0],
        )
        rows.append(row)
    table = pd.DataFrame(rows)
    table["share"] = table["size"] / n_rows if n_rows else 0.0
    cols = ["theme_id", "label", "terms", "size", "share", "n_distinct", "representatives",
            "by_language", "context", "established"]  # fmt: skip
    return table[cols].reset_index(drop=True)


def _typed_forms(raw: pd.Series, norm: np.ndarray) -> dict[str, str]:
    """The most frequent typed form of each normalised reason (ties: alphabetical)."""
    frame = pd.DataFrame({"norm": norm, "raw": raw.to_numpy(dtype=object)})
    frame = frame[frame["norm"] != ""]
    if frame.empty:
        return {}
    top = frame.groupby(["norm", "raw"], sort=True).size().reset_index(name="n")
    top["shout"] = top["raw"].str.isupper()  # "SLIP EVERY Q4" reads worse than its usual case
    top = top.sort_values(
        ["norm", "shout", "n", "raw"], ascending=[True, True, False, True], kind="stable"
    ).drop_duplicates("norm")
    return dict(zip(top["norm"], top["raw"].str.strip(), strict=True))


def _representatives(z: np.ndarray, reasons: np.ndarray, uses: pd.Series, n: int = 3) -> list[str]:
    """Distinct reasons nearest the theme's centre, among its well-used ones."""
    if not len(reasons):
        return []
    frame = pd.DataFrame({"reason": reasons, "i": np.arange(len(reasons))})
    frame = frame.drop_duplicates("reason")
    used = uses.reindex(frame["reason"]).to_numpy(dtype=float)
    centre = z.mean(axis=0)
    sim = z[frame["i"].to_numpy()] @ centre
    # Among the most used quarter of its reasons, nearest the centre first: a frequent
    # wording, not a one-off typo, and typical of the theme rather than of one corner.
    ok = used >= np.quantile(used, 0.75)
    frame = frame.assign(sim=np.where(ok, sim, sim - 10.0), used=used)
    frame = frame.sort_values(["sim", "used", "reason"], ascending=[False, False, True])
    return frame["reason"].head(n).tolist()


def _by_language(
    reasons: np.ndarray, uses: pd.Series, typed: dict[str, str]
) -> dict[str, list[str]]:
    """Up to two reasons as typed per guessed language, most used first, no near-repeats.

    A retyped copy of a reason (a dropped letter, other case) is not a second example:
    a candidate sharing most of its letter trigrams with one already shown is skipped.
    """
    distinct = pd.unique(reasons)
    frame = pd.DataFrame({"reason": distinct, "used": uses.reindex(distinct).to_numpy()})
    frame["lang"] = [guess_language(r.split(), typed.get(r, r)) for r in frame["reason"]]
    frame = frame.sort_values(["lang", "used", "reason"], ascending=[True, False, True])
    out: dict[str, list[str]] = {}
    for lang, group in frame.groupby("lang", sort=True):
        shown: list[set[str]] = []
        picks: list[str] = []
        for r in group["reason"]:
            grams = {r[i : i + 3] for i in range(max(len(r) - 2, 1))}
            if any(len(grams & g) > 0.5 * min(len(grams), len(g)) for g in shown):
                continue
            shown.append(grams)
            picks.append(typed.get(r, r))
            if len(picks) == 2:
                break
        out[str(lang)] = picks
    return out


def _context_words(
    context: np.ndarray, labels: dict[str, str], direction: np.ndarray, adjustment: np.ndarray
) -> str:
    """The dominant context's words and the adjustment, ``"SUP-017 · Q4 · +25%"``."""
    keyed = context[context != ""]
    if not len(keyed):
        return ""  # no shared context: an adjustment alone would be a coincidence
    values, counts = np.unique(keyed, return_counts=True)
    if counts.max() < DOMINANT_SHARE * len(context):
        return ""
    top = values[np.argmax(counts)]
    mine = context == top
    parts = [labels.get(str(top), ""), adjustment_words(direction[mine], adjustment[mine])]
    return " · ".join(p for p in parts if p)


def theme_code(theme_id: int) -> str:
    """The ``reason_code`` a decision carries when a planner picks theme ``theme_id``."""
    return f"{THEME_CODE_PREFIX}{int(theme_id)}"


def picked_themes(reason_codes: pd.Series) -> np.ndarray:
    """Theme id named by each ``reason_code`` (``THEME-7`` → 7), -1 for any other code."""
    text = reason_codes.astype("string").fillna("").str.strip()
    number = text.str.extract(rf"^{THEME_CODE_PREFIX}(\d+)$", expand=False)
    return pd.to_numeric(number, errors="coerce").fillna(-1).to_numpy(dtype=np.int64)


def theme_picks(themes: pd.DataFrame, *, limit: int = 8) -> dict[str, str]:
    """``{reason_code: label}`` of the established themes, largest first: the quick picks.

    Only established themes (``themes["established"]``) are offered, so a one-off
    reason never becomes a chip for every planner.
    """
    if themes is None or themes.empty or "established" not in themes.columns:
        return {}
    ok = themes[themes["established"].astype(bool)]
    ok = ok.sort_values(["size", "theme_id"], ascending=[False, True], kind="stable").head(limit)
    return {theme_code(t): str(lab) for t, lab in zip(ok["theme_id"], ok["label"], strict=True)}
