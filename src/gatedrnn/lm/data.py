"""The text a language model learns from: IMDb's unlabelled and training reviews in a seeded
order (never the test set), 1% of them held out, each cut into windows of ``bptt`` tokens."""

from __future__ import annotations

import random

from ..data import imdb
from ..data.text import Vocab
from ..train.loop import Encoded


def windows(sequences: list[list[int]], bptt: int) -> list[list[int]]:
    """Each sequence cut into consecutive windows of at most ``bptt`` tokens (≥ 2 tokens each:
    a window of one word predicts nothing)."""
    if bptt < 2:
        raise ValueError(f"bptt must be >= 2, got {bptt}")
    out = []
    for sequence in sequences:
        for start in range(0, len(sequence), bptt):
            window = sequence[start:start + bptt]
            if len(window) >= 2:
                out.append(window)
    return out


def windows_set(token_lists: list[list[str]], vocab: Vocab, bptt: int) -> Encoded:
    sequences = windows([vocab.encode(t) for t in token_lists], bptt)
    return Encoded(sequences, [0] * len(sequences))


def pretraining_texts(dataset: imdb.Imdb, seed: int, max_reviews: int | None) -> list[str]:
    """The unlabelled and training reviews in a seeded order (never the test set); the first
    ``held_out_count`` of them are held out."""
    texts = [r.text for r in dataset.unsup] + [r.text for r in dataset.train]
    random.Random(seed).shuffle(texts)
    return texts[:max_reviews] if max_reviews else texts


def held_out_count(reviews: int) -> int:
    return max(1, reviews // 100)
