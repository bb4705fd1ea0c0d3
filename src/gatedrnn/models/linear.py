"""TF-IDF over word n-grams with a (multinomial) logistic regression: the linear baseline of
text classification, for any number of classes, stored and run as a torch module.

A text becomes the counts of its 1..max_n-grams; each count c becomes (1 + log c) × idf of its
n-gram (sublinear tf), the vector is scaled to unit length (L2), and the classes' logits are
its dot products with their weights, plus a bias. scikit-learn fits it (TfidfVectorizer on our
tokens, LogisticRegression); the fitted idf, weights and bias move into an EmbeddingBag, which
computes the same logits without scikit-learn (tested against it to 1e-5).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .config import StoredConfig
from .ngram import _require_scikit_learn


@dataclass
class LinearConfig(StoredConfig):
    """Everything needed to rebuild a TfidfLogistic (stored as config.json)."""

    KIND = "TF-IDF logistic regression"

    vocab_size: int
    num_classes: int = 2
    max_n: int = 2

    def __post_init__(self):
        for name in ("vocab_size", "max_n"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not isinstance(self.num_classes, int) or self.num_classes < 2:
            raise ValueError(f"num_classes must be an integer >= 2, got {self.num_classes!r}")


def ngram_counts(tokens: list[str], max_n: int) -> Counter:
    """How often each 1..max_n-gram (words joined by a space) occurs in ``tokens``."""
    counts = Counter(tokens)
    for n in range(2, max_n + 1):
        counts.update(map(" ".join, zip(*(tokens[k:] for k in range(n)))))
    return counts


class TfidfLogistic(nn.Module):
    """logits = W · l2normalise((1 + log counts) × idf) + b."""

    def __init__(self, config: LinearConfig):
        super().__init__()
        self.config = config
        self.weight = nn.EmbeddingBag(config.vocab_size, config.num_classes, mode="sum")
        self.bias = nn.Parameter(torch.zeros(config.num_classes))
        self.register_buffer("idf", torch.ones(config.vocab_size))
        nn.init.zeros_(self.weight.weight)

    def forward(self, ids: Tensor, counts: Tensor, offsets: Tensor) -> Tensor:
        """(B, classes) logits from the flat n-gram ids of B texts, each one's count and where
        each text starts in them."""
        values = (1 + counts.log()) * self.idf[ids]
        owner = torch.repeat_interleave(torch.arange(len(offsets)),
                                        torch.diff(offsets, append=torch.tensor([len(ids)])))
        norms = torch.zeros(len(offsets)).index_add_(0, owner, values * values).sqrt()
        values = values / norms.clamp_min(1e-12)[owner]
        return self.weight(ids, offsets, per_sample_weights=values) + self.bias

    @torch.no_grad()
    def set_weights(self, idf: Tensor, weight: Tensor, bias: Tensor) -> None:
        """idf (V,), weight (classes, V) and bias (classes,) as scikit-learn fitted them."""
        self.idf.copy_(idf)
        self.weight.weight.copy_(weight.T)
        self.bias.copy_(bias)


class NgramVocabulary:
    """The model's n-grams in its order: tokens → (ids, counts) of the n-grams it knows."""

    def __init__(self, grams: list[str], max_n: int):
        self.grams = grams
        self.max_n = max_n
        self.index = {gram: i for i, gram in enumerate(grams)}

    def encode(self, tokens: list[str]) -> tuple[list[int], list[float]]:
        known = [(self.index[g], c) for g, c in ngram_counts(tokens, self.max_n).items()
                 if g in self.index]
        return [i for i, _ in known], [float(c) for _, c in known]

    def batch(self, documents: list[tuple[list[int], list[float]]]
              ) -> tuple[Tensor, Tensor, Tensor]:
        """(ids, counts, offsets) for TfidfLogistic.forward."""
        offsets, position = [], 0
        for ids, _ in documents:
            offsets.append(position)
            position += len(ids)
        return (torch.tensor([i for ids, _ in documents for i in ids], dtype=torch.long),
                torch.tensor([c for _, counts in documents for c in counts]),
                torch.tensor(offsets, dtype=torch.long))


def fit(train_tokens: list[list[str]], train_labels: list[int], num_classes: int, *,
        max_n: int = 2, min_df: int = 1, max_features: int | None = None,
        C: float = 1.0, vectorizer=None):
    """(model, vocabulary, vectorizer) fitted by scikit-learn on tokenized texts; give the
    ``vectorizer`` of an earlier fit to try another C on the same features."""
    _require_scikit_learn()
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    if vectorizer is None:
        vectorizer = TfidfVectorizer(analyzer=lambda tokens: list(ngram_counts(tokens, max_n)
                                                                  .elements()),
                                     sublinear_tf=True, min_df=min_df,
                                     max_features=max_features)
        vectorizer.features_ = vectorizer.fit_transform(train_tokens)
    regression = LogisticRegression(C=C, max_iter=3000).fit(vectorizer.features_, train_labels)
    grams = [None] * len(vectorizer.vocabulary_)
    for gram, index in vectorizer.vocabulary_.items():
        grams[index] = gram
    coefficients = torch.tensor(regression.coef_, dtype=torch.float32)
    intercept = torch.tensor(regression.intercept_, dtype=torch.float32)
    if num_classes == 2 and coefficients.shape[0] == 1:  # binary: one score for class 1
        coefficients = torch.cat([-coefficients / 2, coefficients / 2])
        intercept = torch.cat([-intercept / 2, intercept / 2])
    model = TfidfLogistic(LinearConfig(vocab_size=len(grams), num_classes=num_classes,
                                       max_n=max_n))
    model.set_weights(torch.tensor(vectorizer.idf_, dtype=torch.float32), coefficients,
                      intercept)
    return model, NgramVocabulary(grams, max_n), vectorizer
