"""Reason themes: group override reasons by what they say *and* the context they were typed in.

People write the same practice in unrelated words and several languages ("SUP-017 slips
in Q4", "vendor never makes Christmas", "Lieferant zu spät"), so text alone cannot
join them; but those overrides share their context — the supplier, quarter, planner,
direction and size of the adjustment that a candidate rule names. Each override is a
**unit** ``(normalised reason, context key)``, where the context key is the candidate
rule the override supports (``analytics.overrides.analysis`` passes it; none for an
override no rule explains). A unit's vector is its text (TF-IDF of character n-grams,
words and short numbers, stop words of every language removed, reduced by truncated
SVD) beside a one-hot of its context, each half of unit weight: two paraphrases under
one rule are at cosine ≥ 0.5 whatever their words, while the same words under no rule
stay apart from it. Average-linkage clustering over cosine distance on a deterministic
sample of units is cut at an average distance (``CUT_DISTANCE``), not at a theme count.

A theme must be **established**: at least ``min_theme_size`` overrides (10, or 0.5% of
the overrides). Smaller clusters are dissolved: each unit joins the nearest established
theme when it is close enough (cosine ≥ ``JOIN_SIMILARITY``), else ``OTHER_ID``. So one
odd new reason never makes a theme, and a quick pick is never a one-off.

Theme ids are **stable** across data versions: given the previous version's units and
ids (``ThemeModel.memory``), each new theme takes the id of the previous theme it
overlaps most (at least half of its previously themed overrides); others get new ids.

Ids: ``NO_REASON_ID`` (0) holds overrides with no reason (its share is the capture
gap), ``OTHER_ID`` (1) reasons that belong to no established theme, themes from 2.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from analytics.overrides.stopwords import STOP_WORDS
from analytics.overrides.theme_ids import stable_ids
from analytics.overrides.theme_labels import picked_themes, theme_table

NO_REASON_ID = 0
NO_REASON_LABEL = "no reason given"
OTHER_ID = 1
OTHER_LABEL = "other (no established theme)"
MIN_THEME_OVERRIDES = 10
MIN_THEME_SHARE = 0.005
JOIN_SIMILARITY = 0.35
CUT_DISTANCE = 0.9
N_COMPONENTS = 100
_WORD_WEIGHT = 0.7  # words sharpen themes; character n-grams carry typos and codes
_NUMBER_WEIGHT = 0.5  # codes and numbers read the same in every language
_SHORT_NUMBER = re.compile(r"\d{1,3}")
_TOKEN = r"(?u)\w+(?:&\w+)*"  # keeps "s&op" whole
MEMORY_COLUMNS = ["reason", "context", "theme_id"]


@dataclass(frozen=True)
class ThemeModel:
    """Themes of a set of overrides.

    Attributes
    ----------
    theme_id : ndarray of int
        One theme per input row, in input order.
    themes : DataFrame
        One row per theme: ``NO_REASON_ID``, ``OTHER_ID`` (when used), then themes by
        id — ``theme_id``, ``label`` (representative reason without stop words, plus
        its context, e.g. ``"SUP-017 late Q4 · SUP-017 · Q4 · +25%"``), ``terms``,
        ``size``, ``share``, ``n_distinct``, ``representatives`` (up to 3 reasons as
        typed), ``by_language`` (``{language: [reasons]}``), ``context`` and
        ``established`` (a theme a planner may pick).
    k_scores : DataFrame
        ``k`` (clusters cut) and their count-weighted ``silhouette``.
    memory : DataFrame
        ``reason`` (normalised), ``context``, ``theme_id`` per unit: what the next data
        version maps its themes onto.
    min_size : int
        Overrides a theme needed to be established.
    """

    theme_id: np.ndarray
    themes: pd.DataFrame
    k_scores: pd.DataFrame
    memory: pd.DataFrame
    min_size: int

    def labels(self) -> dict[int, str]:
        """``{theme_id: label}``."""
        return dict(zip(self.themes["theme_id"], self.themes["label"], strict=True))


def min_theme_size(n_overrides: int) -> int:
    """Overrides a theme needs to exist: 10, or 0.5% of the overrides when that is more."""
    return max(MIN_THEME_OVERRIDES, math.ceil(MIN_THEME_SHARE * n_overrides))


def normalize_reasons(reasons: pd.Series) -> pd.Series:
    """Lower-cased, accent-free, punctuation-free reasons ("" when nothing is left).

    Runs of 4 or more digits (pasted order numbers) are dropped; short codes such
    as ``017`` or ``L07`` are kept because they name the supplier or line.
    """
    text = reasons.astype("string").fillna("")
    codes, uniq = pd.factorize(text, sort=False)
    u = pd.Series(uniq, dtype="string")
    u = u.str.normalize("NFKD").str.replace(r"[\u0300-\u036f]", "", regex=True).str.casefold()
    u = u.str.replace(r"\d{4,}", " ", regex=True).str.replace(r"[^\w&]+|_", " ", regex=True)
    u = u.str.split().str.join(" ").fillna("")
    out = u.to_numpy(dtype=object)[codes] if len(u) else np.array([], dtype=object)
    return pd.Series(out, index=reasons.index, dtype="string")


def strip_stop_words(doc: str) -> str:
    """A normalised reason without the function words of any language."""
    return " ".join(t for t in doc.split() if t not in STOP_WORDS)


def number_tokens(doc: str) -> list[str]:
    """The short numbers in a normalised reason, leading zeros dropped: ``"sup017 q4"`` → ``["#17", "#4"]``."""
    return [f"#{int(m)}" for m in _SHORT_NUMBER.findall(doc)]


def _text_vectors(docs: np.ndarray, random_state: int) -> np.ndarray:
    """Unit-length LSA vectors of stop-word-free docs (zero rows for empty docs)."""
    # Imported here: scikit-learn and scipy load for a fit, not on every page that reads one.
    import scipy.sparse as sp
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.preprocessing import normalize

    has = np.array([bool(d) for d in docs], dtype=bool)
    out = np.zeros((len(docs), 1))
    if has.sum() == 0:
        return out
    live = docs[has]
    blocks = [
        TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True).fit_transform(
            live
        ),
        TfidfVectorizer(analyzer="word", token_pattern=_TOKEN, sublinear_tf=True).fit_transform(
            live
        )
        * _WORD_WEIGHT,
    ]
    if any(_SHORT_NUMBER.search(d) for d in live):
        numbers = TfidfVectorizer(analyzer=number_tokens, binary=True, sublinear_tf=True)
        blocks.append(numbers.fit_transform(live) * _NUMBER_WEIGHT)
    x = sp.hstack(blocks).tocsr().astype(np.float64)
    # Reduce only when there are more distinct reasons than components: a handful of
    # reasons squeezed into fewer dimensions would all look alike.
    if x.shape[0] > N_COMPONENTS and x.shape[1] > N_COMPONENTS:
        z = TruncatedSVD(n_components=N_COMPONENTS, random_state=random_state).fit_transform(x)
    else:
        z = x.toarray()
    out = np.zeros((len(docs), z.shape[1]))
    out[has] = normalize(z)
    return out


def _unit_vectors(text: np.ndarray, context_code: np.ndarray, n_context: int) -> np.ndarray:
    """Text beside a one-hot of the context, each half of unit weight, rows unit length."""
    from sklearn.preprocessing import normalize  # here: see _text_vectors

    ctx = np.zeros((len(text), max(n_context, 1)))
    has = context_code >= 0
    ctx[np.flatnonzero(has), context_code[has]] = 1.0
    both = np.hstack([text, ctx])
    return normalize(both) if len(both) else both


def _sample(counts: np.ndarray, size: int, random_state: int) -> np.ndarray:
    """Indices of units to cluster: the most used half, then a seeded draw."""
    n = len(counts)
    if n <= size:
        return np.arange(n)
    by_use = np.lexsort((np.arange(n), -counts))
    top, rest = by_use[: size // 2], by_use[size // 2 :]
    drawn = np.random.default_rng(random_state).choice(rest, size - len(top), replace=False)
    return np.sort(np.concatenate([top, drawn]))


def _cluster(
    z: np.ndarray, counts: np.ndarray, *, max_themes: int, sample_size: int, random_state: int
) -> tuple[np.ndarray, pd.DataFrame]:
    """Average-linkage clusters (labels per unit, -1 none) and the silhouette of the cut.

    The tree is cut where the average cosine distance between two groups passes
    ``CUT_DISTANCE`` (at most ``max_themes`` groups): a theme's units are on average at
    least ``1 - CUT_DISTANCE`` similar. Paraphrases under one rule are at ≥ 0.5, two
    practices at about 0, so the cut does not depend on how many themes there are.
    """
    from scipy.cluster.hierarchy import fcluster, linkage  # here: see _text_vectors
    from scipy.spatial.distance import squareform
    from sklearn.metrics import silhouette_samples

    live = np.flatnonzero(np.abs(z).sum(axis=1) > 0)
    labels = np.full(len(z), -1, dtype=np.int64)
    table = pd.DataFrame({"k": pd.Series([], dtype=int), "silhouette": pd.Series([], dtype=float)})
    if len(live) < 3:
        labels[live] = 0
        return labels, table
    sample = live[_sample(counts[live], sample_size, random_state)]
    zs, ws = z[sample], counts[sample]
    dist = np.clip(1.0 - zs @ zs.T, 0.0, 2.0)
    np.fill_diagonal(dist, 0.0)
    tree = linkage(squareform(dist, checks=False), method="average")
    cut = fcluster(tree, t=CUT_DISTANCE, criterion="distance")
    if len(np.unique(cut)) > max_themes:
        cut = fcluster(tree, t=max_themes, criterion="maxclust")
    sample_labels = np.unique(cut, return_inverse=True)[1].astype(np.int64)
    k = int(sample_labels.max()) + 1
    score = float("nan")
    if 1 < k < len(zs):
        per = silhouette_samples(dist, sample_labels, metric="precomputed")
        score = float(np.average(per, weights=ws))
    table = pd.DataFrame({"k": [k], "silhouette": [score]})
    labels[sample] = sample_labels
    rest = np.setdiff1d(live, sample)
    if len(rest):
        cent = _centroids(zs, sample_labels, k)
        labels[rest] = np.argmax(z[rest] @ cent.T, axis=1)
    return labels, table


def _centroids(z: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    import scipy.sparse as sp  # here: see _text_vectors
    from sklearn.preprocessing import normalize

    member = sp.csr_matrix(
        (np.ones(len(labels)), (labels, np.arange(len(labels)))), shape=(k, len(labels))
    )
    return normalize(np.asarray(member @ z))


def _establish(z: np.ndarray, labels: np.ndarray, counts: np.ndarray, min_size: int) -> np.ndarray:
    """Dissolve clusters under ``min_size`` overrides into the nearest established one or -1."""
    k = int(labels.max()) + 1 if (labels >= 0).any() else 0
    sizes = np.bincount(labels[labels >= 0], weights=counts[labels >= 0], minlength=k)
    big = np.flatnonzero(sizes >= min_size)
    out = np.full(len(labels), -1, dtype=np.int64)
    if not len(big):
        return out
    keep = np.isin(labels, big)
    remap = np.full(k, -1, dtype=np.int64)
    remap[big] = np.arange(len(big))
    out[keep] = remap[labels[keep]]
    loose = np.flatnonzero(~keep & (np.abs(z).sum(axis=1) > 0))
    if len(loose):
        cent = _centroids(z[keep], out[keep], len(big))
        sim = z[loose] @ cent.T
        best = np.argmax(sim, axis=1)
        close = sim[np.arange(len(loose)), best] >= JOIN_SIMILARITY
        out[loose[close]] = best[close]
    return out


def fit_themes(
    reasons: pd.Series,
    *,
    context: pd.Series | None = None,
    context_labels: dict[str, str] | None = None,
    adjustment_pct: pd.Series | None = None,
    direction: pd.Series | None = None,
    previous: pd.DataFrame | None = None,
    picked: pd.Series | None = None,
    min_size: int | None = None,
    max_themes: int = 40,
    sample_size: int = 2000,
    random_state: int = 0,
) -> ThemeModel:
    """Themes of override reasons and their context; empty reasons go to ``NO_REASON_ID``.

    Parameters
    ----------
    reasons : Series of str
        Free-text reasons, one per override (NA or blank = no reason).
    context : Series of str, optional
        Aligned with ``reasons``: the context key of each override (the id of the
        candidate rule it supports; NA when none). Without it, themes are text only.
    context_labels : dict, optional
        ``{context key: words for a label}``, e.g. ``{"R1a2…": "SUP-017 · Q4"}``.
    adjustment_pct, direction : Series, optional
        Aligned with ``reasons``: the override's adjustment % and direction, for labels.
    previous : DataFrame, optional
        ``ThemeModel.memory`` of the previous data version: themes keep their ids.
    picked : Series, optional
        Aligned with ``reasons``: the decision's ``reason_code``. An override whose code
        names an established theme (``THEME-7``: a planner picked it) is filed there.
    min_size : int, optional
        Overrides a theme needs (default ``min_theme_size(len(reasons))``).
    max_themes : int
        Most clusters cut (before small ones are dissolved).
    sample_size : int
        Units clustered directly (a seeded sample); the rest join the nearest.
    random_state : int
        Seeds the SVD and the sample: same input, same themes.
    """
    # One thread: the work is small per call and the machine is shared; also reproducible.
    with threadpool_limits(limits=1):
        return _fit(
            reasons,
            context=context,
            context_labels=context_labels or {},
            adjustment_pct=adjustment_pct,
            direction=direction,
            previous=previous,
            picked=picked,
            min_size=min_theme_size(len(reasons)) if min_size is None else min_size,
            max_themes=max_themes,
            sample_size=sample_size,
            random_state=random_state,
        )


def _fit(
    reasons: pd.Series,
    *,
    context: pd.Series | None,
    context_labels: dict[str, str],
    adjustment_pct: pd.Series | None,
    direction: pd.Series | None,
    previous: pd.DataFrame | None,
    picked: pd.Series | None,
    min_size: int,
    max_themes: int,
    sample_size: int,
    random_state: int,
) -> ThemeModel:
    raw = reasons.astype("string").fillna("").reset_index(drop=True)
    n_rows = len(raw)
    norm = normalize_reasons(raw).to_numpy(dtype=object)
    ctx = (
        context.astype("string").fillna("").to_numpy(dtype=object)
        if context is not None
        else np.full(n_rows, "", dtype=object)
    )
    has_reason = norm != ""
    ctx = np.where(has_reason, ctx, "")
    # Units sorted by (reason, context): the result does not depend on the input order.
    r_code, r_uniq = pd.factorize(norm, sort=True)
    c_code, c_uniq = pd.factorize(ctx, sort=True)
    unit_of, pair = pd.factorize(r_code.astype(np.int64) * len(c_uniq) + c_code, sort=True)
    u_reason = np.asarray(r_uniq, dtype=object)[pair // len(c_uniq)]
    u_ctx = np.asarray(c_uniq, dtype=object)[pair % len(c_uniq)]
    units = pd.MultiIndex.from_arrays([u_reason, u_ctx], names=["reason", "context"])
    counts = np.bincount(unit_of, minlength=len(units)).astype(np.float64)
    live = u_reason != ""

    doc_of, docs = pd.factorize(u_reason[live], sort=True)
    text = _text_vectors(np.array([strip_stop_words(d) for d in docs], dtype=object), random_state)
    ctx_code, ctx_values = pd.factorize(u_ctx[live], sort=True)
    ctx_code = np.where(np.asarray(ctx_values, dtype=object)[ctx_code] == "", -1, ctx_code)
    z = _unit_vectors(text[doc_of], ctx_code, len(ctx_values))

    raw_labels, k_scores = _cluster(
        z, counts[live], max_themes=max_themes, sample_size=sample_size, random_state=random_state
    )
    est = _establish(z, raw_labels, counts[live], min_size)
    cluster_ids = stable_ids(est, counts[live], units[live], previous)

    unit_theme = np.full(len(units), NO_REASON_ID, dtype=np.int64)
    safe = cluster_ids[np.maximum(est, 0)] if len(cluster_ids) else np.zeros(len(est), np.int64)
    unit_theme[np.flatnonzero(live)] = np.where(est >= 0, safe, OTHER_ID)
    theme_id = unit_theme[unit_of]
    if picked is not None:
        pick = picked_themes(pd.Series(picked).reset_index(drop=True))
        theme_id = np.where(np.isin(pick, cluster_ids), pick, theme_id)
    themes = theme_table(
        raw=raw,
        norm=norm,
        theme_id=theme_id,
        context=ctx,
        context_labels=context_labels,
        adjustment_pct=_floats(adjustment_pct, n_rows),
        direction=_strings(direction, n_rows),
        unit_vectors=(z, np.asarray(u_reason[live]), np.asarray(u_ctx[live]), unit_theme[live]),
        no_reason=(NO_REASON_ID, NO_REASON_LABEL),
        other=(OTHER_ID, OTHER_LABEL),
    )
    memory = pd.DataFrame(
        {"reason": u_reason[live], "context": u_ctx[live], "theme_id": unit_theme[live]}
    )
    return ThemeModel(
        theme_id=theme_id, themes=themes, k_scores=k_scores, memory=memory, min_size=min_size
    )


def _floats(values: pd.Series | None, n: int) -> np.ndarray:
    if values is None:
        return np.full(n, np.nan)
    return pd.Series(values).to_numpy(dtype="float64", na_value=np.nan)


def _strings(values: pd.Series | None, n: int) -> np.ndarray:
    if values is None:
        return np.full(n, "", dtype=object)
    return pd.Series(values).astype("string").fillna("").to_numpy(dtype=object)
