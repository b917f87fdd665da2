"""Reason themes: cluster free-text override reasons into a few readable themes.

Reasons are messy (abbreviations, typos, pasted codes like ``sup017``, several
languages), so each distinct *normalised* reason is represented by TF-IDF over
character n-grams inside words (2–5, which survive typos and abbreviations)
beside whole words, reduced with truncated SVD (latent semantic analysis).
Short numbers are a third, language-free block: ``sup017``, ``SUP-017``,
``proveedor 017`` and ``Lieferant SUP017`` all carry the number 17, and
``L07`` / ``line 7`` / ``Linie 7`` the number 7, so the same rule written in
another language joins its theme instead of forming a theme of that language.
Average-linkage clustering over cosine distance runs on a deterministic sample
of distinct reasons and is cut at every theme count in a range; the cut with the
best silhouette (weighted by how many overrides use each reason) wins — the
smallest within ``SILHOUETTE_TOLERANCE`` of the best, so noise does not buy
extra themes. Reasons outside the sample join the nearest theme centroid.
Clustering distinct reasons rather than rows keeps a frequent phrase from
splitting into several themes and keeps the work proportional to the vocabulary
people use, not to the size of the log.

Overrides with no reason form their own visible theme, ``NO_REASON_ID`` (0): its
share is the reason capture gap.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import squareform
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer
from sklearn.metrics import silhouette_samples
from sklearn.preprocessing import normalize
from threadpoolctl import threadpool_limits

NO_REASON_ID = 0
NO_REASON_LABEL = "no reason given"
SILHOUETTE_TOLERANCE = 0.005
N_COMPONENTS = 100
_WORD_WEIGHT = 0.7  # words sharpen themes; character n-grams carry typos and codes
_NUMBER_WEIGHT = 0.5  # codes and numbers read the same in every language
_SHORT_NUMBER = re.compile(r"\d{1,3}")
_TOKEN = r"(?u)\w+(?:&\w+)*"  # keeps "s&op" whole


@dataclass(frozen=True)
class ThemeModel:
    """Themes of a set of reasons.

    Attributes
    ----------
    theme_id : ndarray of int
        One theme per input reason, in input order; ``NO_REASON_ID`` for empty ones.
    themes : DataFrame
        One row per theme, ``NO_REASON_ID`` first then by size: ``theme_id``,
        ``label`` (its most distinctive words), ``terms`` (list), ``size``,
        ``share`` (of all input rows), ``n_distinct`` (distinct normalised
        reasons) and ``representatives`` (up to 3 typical reasons as typed).
    k_scores : DataFrame
        ``k`` and ``silhouette`` for every theme count tried (empty when none was).
    """

    theme_id: np.ndarray
    themes: pd.DataFrame
    k_scores: pd.DataFrame

    def labels(self) -> dict[int, str]:
        """``{theme_id: label}``."""
        return dict(zip(self.themes["theme_id"], self.themes["label"], strict=True))


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


def number_tokens(doc: str) -> list[str]:
    """The short numbers in a normalised reason, leading zeros dropped: ``"sup017 q4"`` → ``["#17", "#4"]``.

    Longer digit runs (order numbers) are already gone (``normalize_reasons``).
    """
    return [f"#{int(m)}" for m in _SHORT_NUMBER.findall(doc)]


def _embed(docs: np.ndarray, random_state: int) -> tuple[np.ndarray, sp.csr_matrix, list[str]]:
    """LSA vectors (rows unit length), the word TF-IDF matrix and its vocabulary."""
    chars = TfidfVectorizer(
        analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, dtype=np.float32
    )
    words = TfidfVectorizer(
        analyzer="word", token_pattern=_TOKEN, sublinear_tf=True, dtype=np.float32
    )
    xc = chars.fit_transform(docs)
    xw = words.fit_transform(docs)
    blocks = [xc, xw * _WORD_WEIGHT]
    if any(_SHORT_NUMBER.search(d) for d in docs):
        numbers = TfidfVectorizer(
            analyzer=number_tokens, binary=True, sublinear_tf=True, dtype=np.float32
        )
        blocks.append(numbers.fit_transform(docs) * _NUMBER_WEIGHT)
    x = sp.hstack(blocks).tocsr()
    n_comp = min(N_COMPONENTS, x.shape[0] - 1, x.shape[1] - 1)
    if n_comp >= 2:
        z = TruncatedSVD(n_components=n_comp, random_state=random_state).fit_transform(x)
    else:
        z = x.toarray()
    return normalize(z).astype(np.float64), xw.tocsr(), list(words.get_feature_names_out())


def _sample(counts: np.ndarray, size: int, random_state: int) -> np.ndarray:
    """Indices of distinct reasons to cluster: the most used half, then a seeded draw."""
    n = len(counts)
    if n <= size:
        return np.arange(n)
    by_use = np.lexsort((np.arange(n), -counts))
    top = by_use[: size // 2]
    rest = by_use[size // 2 :]
    rng = np.random.default_rng(random_state)
    drawn = rng.choice(rest, size - len(top), replace=False)
    return np.sort(np.concatenate([top, drawn]))


def _cluster(
    z: np.ndarray,
    counts: np.ndarray,
    *,
    min_themes: int,
    max_themes: int,
    sample_size: int,
    random_state: int,
) -> tuple[np.ndarray, pd.DataFrame]:
    """Average-linkage clusters of the LSA vectors; the theme count by silhouette.

    Average linkage over cosine distance keeps a large, loosely phrased theme
    together where k-means would split it; the silhouette of each cut is
    weighted by how many overrides use each reason.
    """
    sample = _sample(counts, sample_size, random_state)
    zs, ws = z[sample], counts[sample]
    dist = np.clip(1.0 - zs @ zs.T, 0.0, 2.0)
    np.fill_diagonal(dist, 0.0)
    tree = linkage(squareform(dist, checks=False), method="average")
    ks = list(range(max(min_themes, 2), min(max_themes, len(zs) - 1) + 1))
    cuts: dict[int, np.ndarray] = {}
    scores: list[float] = []
    for k in ks:
        cut = fcluster(tree, t=k, criterion="maxclust")
        cuts[k] = cut
        if 1 < len(np.unique(cut)) < len(zs):
            per_reason = silhouette_samples(dist, cut, metric="precomputed")
            scores.append(float(np.average(per_reason, weights=ws)))
        else:
            scores.append(-1.0)
    table = pd.DataFrame({"k": ks, "silhouette": scores})
    if not ks:
        sample_labels = np.zeros(len(zs), dtype=np.int64)
    else:
        best = max(scores)
        chosen = next(
            k for k, s in zip(ks, scores, strict=True) if s >= best - SILHOUETTE_TOLERANCE
        )
        sample_labels = _compact(cuts[chosen])
    if len(sample) == len(z):
        return sample_labels, table
    # Reasons outside the sample join the theme whose centroid is nearest.
    k = int(sample_labels.max()) + 1
    member = sp.csr_matrix(
        (np.ones(len(sample)), (sample_labels, np.arange(len(sample)))), shape=(k, len(sample))
    )
    centroids = normalize(np.asarray(member @ zs))
    labels = np.argmax(z @ centroids.T, axis=1).astype(np.int64)
    labels[sample] = sample_labels
    return labels, table


def _distinctive_terms(
    xw: sp.csr_matrix, vocab: list[str], labels: np.ndarray, weights: np.ndarray, n_terms: int
) -> dict[int, list[str]]:
    """Per cluster, the words most over-represented against the other clusters."""
    k = int(labels.max()) + 1
    member = sp.csr_matrix((weights, (labels, np.arange(len(labels)))), shape=(k, len(labels)))
    sums = np.asarray((member @ xw).todense())
    sizes = np.bincount(labels, weights=weights, minlength=k)[:, None]
    mean_in = sums / np.maximum(sizes, 1e-12)
    rest = (sums.sum(axis=0, keepdims=True) - sums) / np.maximum(sizes.sum() - sizes, 1e-12)
    score = mean_in - rest
    # Labels name what a theme is about: skip stop words, bare numbers, two-letter
    # fragments ("im", "wk") unless they carry a digit ("q4").
    usable = np.array(
        [
            t not in ENGLISH_STOP_WORDS
            and not t.isdigit()
            and (len(t) > 2 or any(ch.isdigit() for ch in t))
            for t in vocab
        ],
        dtype=bool,
    )
    score[:, ~usable] = -np.inf
    out: dict[int, list[str]] = {}
    for c in range(k):
        order = np.lexsort((np.array(vocab), -score[c]))[:n_terms]
        out[c] = [vocab[i] for i in order if np.isfinite(score[c, i]) and score[c, i] > 0]
    return out


def fit_themes(
    reasons: pd.Series,
    *,
    min_themes: int = 2,
    max_themes: int = 12,
    sample_size: int = 2000,
    n_terms: int = 3,
    random_state: int = 0,
) -> ThemeModel:
    """Cluster override reasons into themes; empty reasons go to ``NO_REASON_ID``.

    Parameters
    ----------
    reasons : Series of str
        Free-text reasons, one per override (NA or blank = no reason).
    min_themes, max_themes : int
        Range of theme counts tried (fewer when there are fewer distinct reasons).
    sample_size : int
        Distinct reasons used to choose the theme count (a seeded sample).
    n_terms : int
        Words in each theme's label.
    random_state : int
        Seeds the SVD and the sample: same input, same themes.

    Returns
    -------
    ThemeModel
    """
    # One thread: the work is small per call and the machine is shared; also reproducible.
    with threadpool_limits(limits=1):
        return _fit_themes(
            reasons,
            min_themes=min_themes,
            max_themes=max_themes,
            sample_size=sample_size,
            n_terms=n_terms,
            random_state=random_state,
        )


def _fit_themes(
    reasons: pd.Series,
    *,
    min_themes: int,
    max_themes: int,
    sample_size: int,
    n_terms: int,
    random_state: int,
) -> ThemeModel:
    raw = reasons.astype("string").fillna("")
    norm = normalize_reasons(raw)
    codes, uniq = pd.factorize(norm, sort=True)  # sorted: independent of input order
    uniq_arr = np.asarray(uniq, dtype=object)
    n_rows = len(raw)
    has_text = uniq_arr != ""
    docs = uniq_arr[has_text]
    doc_index = np.full(len(uniq_arr), -1)
    doc_index[has_text] = np.arange(len(docs))
    counts = np.bincount(codes, minlength=len(uniq_arr))[has_text].astype(np.float64)

    k_scores = pd.DataFrame({"k": [], "silhouette": []})
    if len(docs) == 0:
        doc_labels = np.array([], dtype=np.int64)
        terms: dict[int, list[str]] = {}
    elif len(docs) < 3:
        doc_labels = np.zeros(len(docs), dtype=np.int64)
        _, xw, vocab = _embed(docs, random_state)
        terms = {0: [t for t in vocab if len(t) > 1][:n_terms]}
    else:
        z, xw, vocab = _embed(docs, random_state)
        doc_labels, k_scores = _cluster(
            z,
            counts,
            min_themes=min_themes,
            max_themes=max_themes,
            sample_size=sample_size,
            random_state=random_state,
        )
        doc_labels = _compact(doc_labels)
        terms = _distinctive_terms(xw, vocab, doc_labels, counts, n_terms)

    # Theme ids by size (overrides), largest first; ties by label for determinism.
    k = int(doc_labels.max()) + 1 if len(doc_labels) else 0
    sizes = np.bincount(doc_labels, weights=counts, minlength=k)
    names = [" · ".join(terms.get(c, [])) or f"theme {c + 1}" for c in range(k)]
    order = sorted(range(k), key=lambda c: (-sizes[c], names[c]))
    new_id = np.empty(k, dtype=np.int64)
    new_id[order] = np.arange(1, k + 1)

    theme_id = np.full(n_rows, NO_REASON_ID, dtype=np.int64)
    if len(doc_labels):
        row_doc = doc_index[codes]
        has = row_doc >= 0
        theme_id[has] = new_id[doc_labels[row_doc[has]]]
    themes = _theme_table(raw, norm, theme_id, names, new_id, doc_labels, docs, counts)
    return ThemeModel(theme_id=theme_id.astype(np.int64), themes=themes, k_scores=k_scores)


def _compact(labels: np.ndarray) -> np.ndarray:
    _, inverse = np.unique(labels, return_inverse=True)
    return inverse.astype(np.int64)


def _theme_table(
    raw: pd.Series,
    norm: pd.Series,
    theme_id: np.ndarray,
    names: list[str],
    new_id: np.ndarray,
    doc_labels: np.ndarray,
    docs: np.ndarray,
    counts: np.ndarray,
) -> pd.DataFrame:
    n_rows = len(raw)
    k = len(names)
    # The most frequent typed form of each normalised reason is what people recognise.
    typed = pd.DataFrame({"norm": norm.to_numpy(dtype=object), "raw": raw.to_numpy(dtype=object)})
    typed = typed[typed["norm"] != ""]
    top_raw = (
        typed.groupby(["norm", "raw"], sort=True).size().reset_index(name="n")
        .sort_values(["norm", "n", "raw"], ascending=[True, False, True], kind="stable")
        .drop_duplicates("norm")
        .set_index("norm")["raw"]
    )  # fmt: skip
    rows = [
        {
            "theme_id": NO_REASON_ID,
            "label": NO_REASON_LABEL,
            "terms": [],
            "size": int((theme_id == NO_REASON_ID).sum()),
            "n_distinct": 0,
            "representatives": [],
        }
    ]
    for c in range(k):
        members = np.flatnonzero(doc_labels == c)
        by_count = members[np.lexsort((docs[members], -counts[members]))][:3]
        rows.append(
            {
                "theme_id": int(new_id[c]),
                "label": names[c],
                "terms": names[c].split(" · "),
                "size": int(counts[members].sum()),
                "n_distinct": int(len(members)),
                "representatives": [str(top_raw.get(d, d)) for d in docs[by_count]],
            }
        )
    table = pd.DataFrame(rows).sort_values("theme_id", kind="stable").reset_index(drop=True)
    table["share"] = table["size"] / n_rows if n_rows else 0.0
    return table[["theme_id", "label", "terms", "size", "share", "n_distinct", "representatives"]]
