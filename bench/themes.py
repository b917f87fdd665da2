"""Our reason themes vs BERTopic's, on the same override reasons, in the same run.

For each generated bundle size: the override reasons (rows with a reason, as
``cli.py themes`` writes them) are clustered by ``analytics.overrides.themes.fit_themes``
and by BERTopic (its default UMAP + HDBSCAN, with a TF-IDF + SVD pipeline as the
embedding model, so no transformer is downloaded), as configured out of the box
and with its own automatic topic reduction (``nr_topics="auto"``; choosing the
number of themes is part of the task). Both are warmed up first, so numba's
compilation of UMAP is not timed. Prints the adjusted Rand
index of each against the planted themes (``truth/override_themes.csv``), the
number of themes found and the wall time.

    pip install -r bench/requirements.txt
    python bench/themes.py --rows 20000 100000

Bundles are generated once into ``bench/out/`` (git-ignored); 20,000 rows uses
the committed sample bundle.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import adjusted_rand_score

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analytics.overrides.themes import fit_themes  # noqa: E402
from sample_data.generate import generate_bundle  # noqa: E402

SAMPLE = ROOT / "sample_data" / "bundle"
OUT = ROOT / "bench" / "out"


def bundle_for(rows: int, seed: int) -> Path:
    """The committed sample at 20k (seed 7), else a generated bundle in bench/out/."""
    if rows == 20_000 and seed == 7 and (SAMPLE / "decisions.csv").exists():
        return SAMPLE
    path = OUT / f"bundle_{rows}_s{seed}"
    if not (path / "truth" / "override_themes.csv").exists():
        print(f"generating {rows:,} recommendations into {path} …", flush=True)
        generate_bundle(path, rows=rows, seed=seed)
    return path


def reasons_and_truth(bundle: Path) -> tuple[pd.Series, np.ndarray]:
    """Override reasons as typed (rows with a reason) and their planted theme."""
    truth = pd.read_csv(bundle / "truth" / "override_themes.csv", dtype=str)
    dec = pd.read_csv(
        bundle / "decisions.csv", dtype=str, keep_default_na=False, usecols=["rec_id", "reason"]
    )
    reason = dec.set_index("rec_id")["reason"]
    return reason.loc[truth["rec_id"]].reset_index(drop=True), truth["theme"].to_numpy()


def ours(reasons: pd.Series, random_state: int) -> tuple[np.ndarray, float]:
    t0 = time.perf_counter()
    model = fit_themes(reasons, random_state=random_state)
    return model.theme_id, time.perf_counter() - t0


def bertopic(
    reasons: pd.Series, random_state: int, *, nr_topics: str | None = None
) -> tuple[np.ndarray, float]:
    """BERTopic's default pipeline (UMAP + HDBSCAN + c-TF-IDF) on TF-IDF + SVD embeddings."""
    from bertopic import BERTopic
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_pipeline
    from umap import UMAP

    t0 = time.perf_counter()
    embedder = make_pipeline(
        TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True),
        TruncatedSVD(n_components=100, random_state=random_state),
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
    topics, _ = model.fit_transform(reasons.tolist())
    return np.asarray(topics), time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, nargs="+", default=[20_000, 100_000])
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--random-state", type=int, default=0)
    a = p.parse_args(argv)
    # Warm up (numba compiles UMAP on first use): neither method is timed compiling.
    warm = pd.Series(["supplier late", "customer cancels", "line 7 behind", "manual adj"] * 60)
    ours(warm, a.random_state)
    bertopic(warm, a.random_state)
    methods = {
        "ours": ours,
        "bertopic": bertopic,
        "bertopic-auto": lambda r, s: bertopic(r, s, nr_topics="auto"),
    }
    results = []
    for rows in a.rows:
        reasons, truth = reasons_and_truth(bundle_for(rows, a.seed))
        for name, fit in methods.items():
            labels, seconds = fit(reasons, a.random_state)
            results.append(
                {
                    "recommendations": rows,
                    "reasons": len(reasons),
                    "distinct": reasons.str.strip().str.lower().nunique(),
                    "method": name,
                    "themes": len(np.unique(labels[labels >= 0])),
                    "outliers": int((labels < 0).sum()),
                    "ari": adjusted_rand_score(truth, labels),
                    "seconds": seconds,
                }
            )
            r = results[-1]
            print(
                f"{rows:>9,} recs · {r['reasons']:>6,} reasons · {name:<13} "
                f"ARI {r['ari']:.3f} · {r['themes']:>3} themes · {r['outliers']:>5,} outliers · "
                f"{seconds:6.2f} s",
                flush=True,
            )
    table = pd.DataFrame(results)
    print()
    print(table.to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    wide = table.pivot(index="recommendations", columns="method", values=["ari", "seconds"])
    theirs = [m for m in methods if m != "ours"]
    ok = (wide["ari"]["ours"] >= wide["ari"][theirs].max(axis=1)) & (
        wide["seconds"]["ours"] < wide["seconds"][theirs].min(axis=1)
    )
    print()
    for rows, good in ok.items():
        print(
            f"{rows:>9,} recs: ours {'faster and at least as accurate' if good else 'NOT better'}"
        )
    return 0 if ok.all() else 1


if __name__ == "__main__":
    raise SystemExit(main())
