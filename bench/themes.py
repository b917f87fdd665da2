"""Our reason themes vs BERTopic's, on the same overrides, in the same run, on two sets.

1. **generated** — the bundles of ``sample_data`` (the committed 20k sample, larger ones
   generated into ``bench/out/``): wordings our generator writes.
2. **paraphrased** — ``tests/overrides/paraphrase_set.py``, written by hand: six practices in ten
   unrelated wordings each and six languages, noise sharing their words. This is the set
   that says whether themes hold on words nobody predicted.

Methods: ``ours`` is what the workbench runs (``analytics.overrides.analysis.override_themes``:
candidate rules mined from the log give each override its context, then text + context
are clustered), timed including the rule mining. ``ours-text`` is the same clustering on
the reason text alone, to show what the context adds. BERTopic (its default UMAP +
HDBSCAN + c-TF-IDF, with a TF-IDF + SVD pipeline as embedding model so no transformer is
downloaded) sees the text only — it has no notion of the override's context — as
configured out of the box and with its automatic topic reduction (``nr_topics="auto"``).
All are warmed up first, so numba's compilation of UMAP is not timed. Prints the
adjusted Rand index against the planted themes on the planted practices (``ari``) and
on every override with a reason (``ari_all``, where noise counts as one theme), the
number of themes and the wall time.

    pip install --no-deps -r bench/requirements.txt
    python bench/themes.py --rows 20000 100000
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import adjusted_rand_score

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analytics.overrides.analysis import override_themes  # noqa: E402
from analytics.overrides.log import decided_log  # noqa: E402
from analytics.overrides.themes import fit_themes  # noqa: E402
from sample_data.generate import generate_bundle  # noqa: E402
from tests.overrides.paraphrase_set import paraphrase_log  # noqa: E402

SAMPLE = ROOT / "sample_data" / "bundle"
OUT = ROOT / "bench" / "out"
Method = Callable[[pd.DataFrame, int], tuple[np.ndarray, float]]


def bundle_for(rows: int, seed: int) -> Path:
    """The committed sample at 20k (seed 7), else a generated bundle in bench/out/."""
    if rows == 20_000 and seed == 7 and (SAMPLE / "decisions.csv").exists():
        return SAMPLE
    path = OUT / f"bundle_{rows}_s{seed}"
    if not (path / "truth" / "override_themes.csv").exists():
        print(f"generating {rows:,} recommendations into {path} …", flush=True)
        generate_bundle(path, rows=rows, seed=seed)
    return path


def bundle_log(bundle: Path) -> tuple[pd.DataFrame, pd.Series]:
    """The decided log of a bundle's CSVs (no store needed) and the planted theme per rec_id."""
    cols = ["rec_id", "rec_type", "site", "sku", "supplier", "customer", "resource",
            "created_at", "recommended_qty"]  # fmt: skip
    recs = pd.read_csv(bundle / "recommendations.csv", usecols=cols, dtype=str)
    recs["created_at"] = pd.to_datetime(recs["created_at"], utc=True, format="ISO8601").astype(
        "datetime64[us, UTC]"
    )
    recs["recommended_qty"] = pd.to_numeric(recs["recommended_qty"])
    dec = pd.read_csv(bundle / "decisions.csv", dtype=str, keep_default_na=False)
    dec["final_qty"] = pd.to_numeric(dec["final_qty"].replace("", np.nan))
    dec["decided_at"] = pd.to_datetime(dec["decided_at"], utc=True, format="ISO8601")
    dec["reason"] = dec["reason"].replace("", pd.NA).astype("string")
    dec["reason_code"] = dec["reason_code"].replace("", pd.NA).astype("string")
    # the contract's defaults, as the store applies them on load
    rq = recs.set_index("rec_id")["recommended_qty"].reindex(dec["rec_id"]).to_numpy()
    acc = (dec["decision"] == "accepted") & dec["final_qty"].isna()
    dec.loc[acc, "final_qty"] = rq[acc.to_numpy()]
    dec.loc[(dec["decision"] == "rejected") & dec["final_qty"].isna(), "final_qty"] = 0.0
    outcomes = pd.DataFrame({"rec_id": pd.array([], dtype="string")})
    frames = type("Frames", (), {"recommendations": recs, "decisions": dec, "outcomes": outcomes})
    truth = pd.read_csv(bundle / "truth" / "override_themes.csv", dtype=str)
    return decided_log(frames), truth.set_index("rec_id")["theme"]


def paraphrased_log(seed: int) -> tuple[pd.DataFrame, pd.Series]:
    frames, truth = paraphrase_log(seed=seed)
    return decided_log(frames), truth


def _with_reason(log: pd.DataFrame) -> np.ndarray:
    said = log["reason"].astype("string").str.strip().fillna("") != ""
    return (log["is_override"] & said).to_numpy(dtype=bool)


def ours(log: pd.DataFrame, random_state: int) -> tuple[np.ndarray, float]:
    t0 = time.perf_counter()
    _, theme_id = override_themes(log, random_state=random_state)  # mines its rules too
    return theme_id[_with_reason(log)], time.perf_counter() - t0


def ours_text(log: pd.DataFrame, random_state: int) -> tuple[np.ndarray, float]:
    t0 = time.perf_counter()
    model = fit_themes(log.loc[_with_reason(log), "reason"], random_state=random_state)
    return model.theme_id, time.perf_counter() - t0


def bertopic(
    log: pd.DataFrame, random_state: int, *, nr_topics: str | None = None
) -> tuple[np.ndarray, float]:
    """BERTopic's default pipeline (UMAP + HDBSCAN + c-TF-IDF) on TF-IDF + SVD embeddings."""
    from bertopic import BERTopic
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_pipeline
    from umap import UMAP

    reasons = log.loc[_with_reason(log), "reason"].astype(str).tolist()
    t0 = time.perf_counter()
    embedder = make_pipeline(
        TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True),
        TruncatedSVD(n_components=min(100, len(reasons) - 1), random_state=random_state),
    )
    umap = UMAP(
        n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine", random_state=random_state
    )
    model = BERTopic(
        embedding_model=embedder,
        umap_model=umap,
        nr_topics=nr_topics,
        calculate_probabilities=False,
    )
    topics, _ = model.fit_transform(reasons)
    return np.asarray(topics), time.perf_counter() - t0


def run_set(name: str, log: pd.DataFrame, truth: pd.Series, methods: dict[str, Method],
            random_state: int) -> list[dict[str, object]]:  # fmt: skip
    keep = _with_reason(log)
    labels_true = truth.reindex(log.loc[keep, "rec_id"]).fillna("noise").to_numpy()
    planted = labels_true != "noise"
    out = []
    for method, fit in methods.items():
        labels, seconds = fit(log, random_state)
        r = {
            "set": name,
            "reasons": int(keep.sum()),
            "method": method,
            "themes": len(
                np.unique(labels[labels >= 2 if method.startswith("ours") else labels >= 0])
            ),
            "ari": adjusted_rand_score(labels_true[planted], labels[planted]),
            "ari_all": adjusted_rand_score(labels_true, labels),
            "seconds": seconds,
        }
        out.append(r)
        print(
            f"{name:<22} {r['reasons']:>7,} reasons · {method:<13} ARI {r['ari']:.3f} "
            f"(all {r['ari_all']:.3f}) · {r['themes']:>3} themes · {seconds:6.2f} s",
            flush=True,
        )
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, nargs="+", default=[20_000, 100_000])
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--paraphrase-seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--random-state", type=int, default=0)
    p.add_argument("--no-bertopic", action="store_true", help="ours only")
    a = p.parse_args(argv)
    methods: dict[str, Method] = {"ours": ours, "ours-text": ours_text}
    if not a.no_bertopic:
        methods["bertopic"] = bertopic
        methods["bertopic-auto"] = lambda log, s: bertopic(log, s, nr_topics="auto")
    # Warm up (numba compiles UMAP on first use): no method is timed compiling.
    warm, _ = paraphrased_log(99)
    for fit in methods.values():
        fit(warm, a.random_state)
    results = []
    for seed in a.paraphrase_seeds:
        log, truth = paraphrased_log(seed)
        results += run_set(f"paraphrased seed {seed}", log, truth, methods, a.random_state)
    for rows in a.rows:
        log, truth = bundle_log(bundle_for(rows, a.seed))
        results += run_set(f"generated {rows:,}", log, truth, methods, a.random_state)
    table = pd.DataFrame(results)
    print()
    print(table.to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    print()
    ok = True
    for name, rows in table.groupby("set", sort=False):
        best = rows.set_index("method")
        theirs = [m for m in best.index if m.startswith("bertopic")]
        mine = best.loc["ours"]
        better = not theirs or mine["ari"] >= best.loc[theirs, "ari"].max()
        ok &= bool(better)
        print(f"{name:<22} ours ARI {mine['ari']:.3f} in {mine['seconds']:.2f} s: "
              f"{'at least as accurate as BERTopic' if better else 'NOT as accurate'}")  # fmt: skip
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
