"""NBSVM's n-gram counting: ours (models.ngram.binary_counts, hashes counted in numpy) against
scikit-learn's CountVectorizer with the same analyzer, same reviews, one process.

    python benchmarks/ngram_counting.py --data ../shared/data/aclImdb_v1.tar.gz \\
        [--reviews 25000] [--max-n 3] [--max-features 800000] [--repeats 2] [--out results]

Both make the binarised (reviews, n-grams) matrix of the ``max_features`` n-grams found in most
reviews; the two are timed round-robin (common.time_interleaved), and the report gives how many
of the kept n-grams agree (they may differ only among n-grams tied at the cut) and whether the
matrices agree on those.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import markdown_table, time_interleaved, write_results  # noqa: E402

from gatedrnn.data import imdb  # noqa: E402
from gatedrnn.data.text import basic_english  # noqa: E402
from gatedrnn.models import ngram  # noqa: E402
from gatedrnn.runinfo import environment  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--reviews", type=int, default=25_000,
                        help="Training then unlabelled reviews, shuffled (seed 0).")
    parser.add_argument("--max-n", type=int, default=3)
    parser.add_argument("--max-features", type=int, default=800_000)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    from sklearn.feature_extraction.text import CountVectorizer

    data = imdb.load(args.data, unsup=True)
    reviews = data.train + data.unsup
    random.Random(0).shuffle(reviews)
    documents = [basic_english(r.text) for r in reviews[:args.reviews]]
    made = {}

    def ours():
        made["ours"] = ngram.binary_counts(documents, args.max_n, args.max_features)

    def scikit_learn():
        vectorizer = CountVectorizer(analyzer=lambda t: ngram.ngrams(t, args.max_n),
                                     binary=True, max_features=args.max_features,
                                     dtype=np.float32)
        x = vectorizer.fit_transform(documents)
        made["scikit-learn"] = (vectorizer.get_feature_names_out().tolist(), x)

    times = time_interleaved({"ours": (ours, None), "scikit-learn": (scikit_learn, None)},
                             args.repeats, warmup=0)
    (our_grams, our_x), (their_grams, their_x) = made["ours"], made["scikit-learn"]
    shared = sorted(set(our_grams) & set(their_grams))
    ours_at = {g: i for i, g in enumerate(our_grams)}
    theirs_at = {g: i for i, g in enumerate(their_grams)}
    same_matrix = (our_x[:, [ours_at[g] for g in shared]]
                   != their_x[:, [theirs_at[g] for g in shared]]).nnz == 0
    ratio = times["scikit-learn"]["median_s"] / times["ours"]["median_s"]
    results = {"environment": environment(seed=0), "reviews": len(documents),
               "max_n": args.max_n, "max_features": args.max_features, "times": times,
               "speedup": ratio, "kept": {"ours": len(our_grams),
                                          "scikit-learn": len(their_grams),
                                          "shared": len(shared)},
               "same_matrix_on_shared_ngrams": bool(same_matrix)}
    path = write_results("ngram_counting", results, args.out)
    print(markdown_table(
        ["counting", "median (s)", "n-grams kept", "kept by both", "same counts on those"],
        [[label, f"{times[label]['median_s']:.1f}", f"{len(made[label][0]):,}",
          f"{len(shared):,}", "yes" if same_matrix else "NO"] for label in times]))
    print(f"{len(documents):,} reviews, 1..{args.max_n}-grams: ours {ratio:.2f}x faster; "
          f"wrote {path}")


if __name__ == "__main__":
    main()
