"""NB-weighted logistic regression over word n-grams (NBSVM, Wang & Manning 2012).

Each review becomes the set of its 1..max_n-grams (binarised). An n-gram's naive-Bayes
log-count ratio r = log((p / |p|₁) / (q / |q|₁)), with p and q its smoothed counts in positive
and negative reviews, scales its feature before a logistic regression; folding r into the
regression's coefficients leaves one weight per n-gram, so the model is a sum of weights over
the n-grams present. The strongest linear baseline on IMDb, and an ensemble member whose
errors differ from a recurrent model's.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .config import StoredConfig


@dataclass
class NgramConfig(StoredConfig):
    """Everything needed to rebuild an NgramClassifier (stored as config.json)."""

    KIND = "n-gram classifier"

    vocab_size: int
    max_n: int = 3
    num_classes: int = 2

    def __post_init__(self):
        for name in ("vocab_size", "max_n"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.num_classes != 2:
            raise ValueError(f"an n-gram classifier is binary: num_classes must be 2, "
                             f"got {self.num_classes}")


def gram_set(tokens: list[str], max_n: int) -> set[str]:
    """The distinct 1..max_n-grams of ``tokens``, words joined by a space (zip and map keep
    the loop in C: this is most of the cost of counting)."""
    found = set(tokens)
    for n in range(2, max_n + 1):
        found.update(map(" ".join, zip(*(tokens[k:] for k in range(n)))))
    return found


def ngrams(tokens: list[str], max_n: int) -> list[str]:
    """The distinct 1..max_n-grams of ``tokens``, sorted."""
    return sorted(gram_set(tokens, max_n))


class NgramClassifier(nn.Module):
    """logit(pos) − logit(neg) = Σ weight[g] over the review's n-grams g, + bias."""

    def __init__(self, config: NgramConfig):
        super().__init__()
        self.config = config
        self.weight = nn.EmbeddingBag(config.vocab_size, 1, mode="sum")
        self.bias = nn.Parameter(torch.zeros(1))
        nn.init.zeros_(self.weight.weight)

    def forward(self, ids: Tensor, offsets: Tensor) -> Tensor:
        """(B, 2) logits from the flat n-gram ids of B reviews and where each review starts."""
        score = self.weight(ids, offsets).squeeze(1) + self.bias
        return torch.stack([-score / 2, score / 2], dim=1)

    @torch.no_grad()
    def set_weights(self, weight: Tensor, bias: float) -> None:
        self.weight.weight.copy_(weight.reshape(-1, 1))
        self.bias.fill_(bias)


def _require_scikit_learn() -> None:
    try:
        import sklearn  # noqa: F401  (brings scipy)
    except ImportError:
        raise ImportError("fitting an n-gram model needs scikit-learn: pip install "
                          "'gatedrnn[ngram]' (predicting with one does not)") from None


def binary_counts(documents: list[list[str]], max_n: int, max_features: int | None):
    """(n-grams sorted, scipy CSR float32 (documents, n-grams) of 0/1): which of the
    ``max_features`` n-grams found in most documents (all if None) each document holds.
    Among n-grams tied at the cut, those with the lowest CRC-32 are kept: a choice that
    depends neither on the documents' order nor on the process.

    N-grams are counted by their Python hash in numpy (64 bits: a collision among millions
    of n-grams is about as likely as one in 10^6 runs, and would merge two rare features),
    so only making each review's n-gram set is a Python loop: 2.4x faster than scikit-learn's
    CountVectorizer, which loops in Python over every n-gram (benchmarks/ngram_counting.py),
    and without a vocabulary of every distinct n-gram (millions of strings) held at once.
    """
    import zlib

    import numpy as np
    from scipy import sparse

    def hashed(document):
        grams = list(gram_set(document, max_n))
        return grams, np.fromiter(map(hash, grams), dtype=np.int64, count=len(grams))

    empty = np.zeros(0, np.int64)
    hashes = [hashed(document)[1] for document in documents]
    candidates, frequency = np.unique(np.concatenate(hashes or [empty]), return_counts=True)
    if max_features is not None and len(candidates) > max_features:
        cut = -np.partition(-frequency, max_features - 1)[max_features - 1]
        candidates, frequency = candidates[frequency >= cut], frequency[frequency >= cut]
    if not len(candidates):  # no document holds a token
        return [], sparse.csr_matrix((len(documents), 0), dtype=np.float32)

    # Name the candidates: rebuilt from the same tokens in this process, a review's set
    # iterates in the same order as when it was hashed.
    names = np.empty(len(candidates), dtype=object)
    rows = []
    for document, row_hashes in zip(documents, hashes):
        position = np.minimum(np.searchsorted(candidates, row_hashes), len(candidates) - 1)
        found = candidates[position] == row_hashes
        rows.append(position[found])
        unnamed = found.copy()
        unnamed[found] = np.equal(names[rows[-1]], None)
        if unnamed.any():
            grams, again = hashed(document)
            if not np.array_equal(again, row_hashes):
                raise RuntimeError("an n-gram set iterated in another order when rebuilt; "
                                   "binary_counts relies on CPython's set order")
            names[position[unnamed]] = np.asarray(grams, dtype=object)[unnamed]

    selected = np.ones(len(candidates), dtype=bool)
    if max_features is not None and len(candidates) > max_features:
        tied = np.flatnonzero(frequency == frequency.min()).tolist()
        tied.sort(key=lambda i: (zlib.crc32(names[i].encode("utf-8")), names[i]))
        selected[tied[max_features - (len(candidates) - len(tied)):]] = False
    # columns in alphabetical order of their n-grams (not the process's string hashing)
    kept = np.flatnonzero(selected).tolist()
    kept.sort(key=names.__getitem__)
    order = np.asarray(kept, dtype=np.int64)
    new_column = np.full(len(candidates), -1, dtype=np.int64)
    new_column[order] = np.arange(len(order))
    columns = new_column[np.concatenate(rows)]
    row_of = np.repeat(np.arange(len(documents)), [len(r) for r in rows])
    keep = columns >= 0
    x = sparse.csr_matrix((np.ones(int(keep.sum()), dtype=np.float32),
                           (row_of[keep], columns[keep])), shape=(len(documents), len(order)))
    x.sort_indices()
    return names[order].tolist(), x


@dataclass
class NgramFeatures:
    """Binarised n-gram features of a training set, scaled by their naive-Bayes ratios."""

    grams: list[str]
    max_n: int
    scaled: object        # scipy sparse (documents, n-grams): x ⊙ r
    ratio: object         # numpy (n-grams,): r
    labels: object        # numpy (documents,)

    @classmethod
    def count(cls, documents: list[list[str]], labels: list[int], *, max_n: int = 3,
              max_features: int | None = 800_000, smoothing: float = 1.0,
              positive: list[float] | None = None) -> "NgramFeatures":
        """Binarised counts (``binary_counts``), ratios with add-``smoothing`` counts.

        ``positive``: each document's probability of being positive, where it is known better
        than its 0/1 label (a teacher's probability for an unlabelled review): a document then
        counts that much towards the positive and the rest towards the negative counts. The
        regression always fits the 0/1 ``labels``.
        """
        import numpy as np
        _require_scikit_learn()
        from scipy import sparse

        if len(set(labels)) != 2:
            raise ValueError("an n-gram classifier needs reviews of both labels to fit")
        y = np.asarray(labels)
        weight = np.asarray(labels if positive is None else positive, dtype=np.float32)
        if weight.shape != y.shape:
            raise ValueError(f"positive must hold one probability per document: "
                             f"{len(weight)} for {len(y)} documents")
        if not ((weight >= 0) & (weight <= 1)).all():  # also refuses NaN
            raise ValueError("positive must hold probabilities in [0, 1]; got values in "
                             f"[{np.nanmin(weight):g}, {np.nanmax(weight):g}]")
        grams, x = binary_counts(documents, max_n, max_features)
        p = np.asarray(x.T @ weight).ravel() + smoothing
        q = np.asarray(x.T @ (1 - weight)).ravel() + smoothing
        ratio = np.log((p / p.sum()) / (q / q.sum())).astype(np.float32)
        return cls(grams, max_n, (x @ sparse.diags(ratio)).tocsr(), ratio, y)

    def regress(self, C: float = 1.0) -> NgramClassifier:
        """L2-regularised logistic regression (liblinear) with the ratios folded in."""
        import numpy as np
        _require_scikit_learn()
        from sklearn.linear_model import LogisticRegression

        regression = LogisticRegression(C=C, solver="liblinear", dual=True, max_iter=1000)
        regression.fit(self.scaled, self.labels)
        model = NgramClassifier(NgramConfig(vocab_size=len(self.grams), max_n=self.max_n))
        weight = regression.coef_.ravel().astype(np.float32) * self.ratio
        model.set_weights(torch.from_numpy(weight), float(regression.intercept_[0]))
        return model


def fit(documents: list[list[str]], labels: list[int], *, max_n: int = 3,
        max_features: int | None = 800_000, C: float = 1.0):
    """(n-gram list, NgramClassifier) fitted on tokenised ``documents``."""
    features = NgramFeatures.count(documents, labels, max_n=max_n, max_features=max_features)
    return features.grams, features.regress(C)


class NgramIndex:
    """n-gram → row of the model's weights; unknown n-grams are skipped."""

    def __init__(self, grams: list[str], max_n: int):
        self.grams = grams
        self.max_n = max_n
        self.index = {g: i for i, g in enumerate(grams)}
        if len(self.index) != len(grams):
            raise ValueError("an n-gram vocabulary cannot hold the same n-gram twice")

    def encode(self, tokens: list[str]) -> list[int]:
        """The sorted ids of the review's known n-grams (sorted: a set's order changes with
        Python's string hashing, and the order of a float sum should not)."""
        found = map(self.index.get, gram_set(tokens, self.max_n))
        return sorted(i for i in found if i is not None)

    def batch(self, documents: list[list[int]]) -> tuple[Tensor, Tensor]:
        """Flat ids and offsets for NgramClassifier.forward."""
        offsets = torch.tensor([0] + [len(d) for d in documents[:-1]]).cumsum(0)
        ids = torch.tensor([i for d in documents for i in d], dtype=torch.long)
        return ids, offsets
