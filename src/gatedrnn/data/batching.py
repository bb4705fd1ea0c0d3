"""Length-bucketed batches of token-id sequences, padded, with their lengths.

Padding every batch to its longest review wastes most of the compute on IMDb (73% with the
chapter's batching, measured). Bucketing sorts sequences by length inside large shuffled pools, so
each batch holds near-equal lengths, then shuffles the order of the batches.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass
class Batch:
    tokens: Tensor        # (B, T) int64, padded with pad_index
    lengths: Tensor       # (B,) int64
    labels: Tensor | None  # (B,) int64 or None
    indices: list[int]    # positions of these sequences in the data set
    targets: Tensor | None = None  # (B, classes) float: soft targets (a teacher's), or None

    @property
    def num_tokens(self) -> int:
        return int(self.lengths.sum())


def collate(sequences: Sequence[Sequence[int]], labels: Sequence[int] | None = None,
            indices: list[int] | None = None, pad_index: int = 0,
            max_length: int | None = None) -> Batch:
    """Pad ``sequences`` to the longest (after truncation to ``max_length``) into one Batch.

    Empty sequences become one pad token with length 1: a model must see at least one step, and
    every prediction must still come out (the caller decides what an empty text means).
    """
    if max_length is not None and max_length < 1:
        raise ValueError(f"max_length must be >= 1, got {max_length}")
    cut = [list(s[:max_length]) if max_length else list(s) for s in sequences]
    lengths = [max(1, len(s)) for s in cut]
    tokens = torch.full((len(cut), max(lengths)), pad_index, dtype=torch.long)
    for row, seq in enumerate(cut):
        if seq:
            tokens[row, : len(seq)] = torch.tensor(seq, dtype=torch.long)
    return Batch(tokens, torch.tensor(lengths, dtype=torch.long),
                 None if labels is None else torch.tensor(list(labels), dtype=torch.long),
                 list(indices) if indices is not None else list(range(len(cut))))


def bucket_batches(lengths: Sequence[int], batch_size: int, shuffle: bool = True, seed: int = 0,
                   pool_batches: int = 50, max_tokens: int | None = None) -> list[list[int]]:
    """Index batches of near-equal length.

    With ``shuffle``, indices are shuffled, cut into pools of ``pool_batches`` batches, sorted by
    length inside each pool, batched, and the batches shuffled. Without, sequences are sorted by
    length once (for evaluation: the least padding, deterministic).

    ``max_tokens`` also caps a batch's padded size (rows × longest length), so the batches of the
    longest reviews hold fewer of them: without it, evaluating 256 reviews of 2,500 tokens at
    once took most of a 4 GB memory budget. A sequence longer than the cap gets a batch alone.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if max_tokens is not None and max_tokens < 1:
        raise ValueError(f"max_tokens must be >= 1, got {max_tokens}")
    order = list(range(len(lengths)))
    if not shuffle:
        order.sort(key=lambda i: lengths[i])
        return _cut(order, lengths, batch_size, max_tokens)
    rng = random.Random(seed)
    rng.shuffle(order)
    pool = batch_size * pool_batches
    batches = []
    for start in range(0, len(order), pool):
        chunk = sorted(order[start:start + pool], key=lambda i: lengths[i])
        batches += _cut(chunk, lengths, batch_size, max_tokens)
    rng.shuffle(batches)
    return batches


def _cut(sorted_indices: list[int], lengths: Sequence[int], batch_size: int,
         max_tokens: int | None) -> list[list[int]]:
    """Consecutive batches of ``sorted_indices`` (ascending length) within both limits."""
    if max_tokens is None:
        return [sorted_indices[i:i + batch_size]
                for i in range(0, len(sorted_indices), batch_size)]
    batches, current = [], []
    for i in sorted_indices:
        longest = max(1, lengths[i])  # ascending order: the newcomer is the longest
        if current and (len(current) == batch_size or (len(current) + 1) * longest > max_tokens):
            batches.append(current)
            current = []
        current.append(i)
    if current:
        batches.append(current)
    return batches


def split_by_tokens(indices: Sequence[int], lengths: Sequence[int],
                    max_tokens: int) -> list[list[int]]:
    """Cut one batch into parts of at most ``max_tokens`` padded tokens (rows × longest), the
    shortest sequences first; a sequence longer than the cap is a part alone."""
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be >= 1, got {max_tokens}")
    ordered = sorted(indices, key=lambda i: lengths[i])
    return _cut(ordered, lengths, len(ordered), max_tokens)


def length_groups(sorted_lengths: Sequence[int], max_groups: int) -> list[tuple[int, int]]:
    """Cut lengths sorted ascending into at most ``max_groups`` runs ``[start, end)`` that
    minimise the padded cells (each run padded to its own longest): the exact optimum, by
    dynamic programming over the distinct lengths. Equal lengths never straddle a cut."""
    if max_groups < 1:
        raise ValueError(f"max_groups must be >= 1, got {max_groups}")
    n = len(sorted_lengths)
    if n == 0:
        return []
    ends = [i + 1 for i in range(n) if i + 1 == n or sorted_lengths[i + 1] != sorted_lengths[i]]
    # best[k][j]: fewest cells covering the first ends[j - 1] items with k runs
    inf = float("inf")
    best = [[inf] * (len(ends) + 1) for _ in range(max_groups + 1)]
    cut = [[0] * (len(ends) + 1) for _ in range(max_groups + 1)]
    best[0][0] = 0
    for k in range(1, max_groups + 1):
        for j in range(1, len(ends) + 1):
            longest = sorted_lengths[ends[j - 1] - 1]
            for i in range(j):
                start = ends[i - 1] if i else 0
                cost = best[k - 1][i] + (ends[j - 1] - start) * longest
                if cost < best[k][j]:
                    best[k][j], cut[k][j] = cost, i
    k = min(range(1, max_groups + 1), key=lambda g: (best[g][-1], g))
    runs, j = [], len(ends)
    while j:
        i = cut[k][j]
        runs.append((ends[i - 1] if i else 0, ends[j - 1]))
        j, k = i, k - 1
    return runs[::-1]


def padded_batches(lengths: Sequence[int], batch_size: int, seed: int = 0) -> list[list[int]]:
    """Shuffled batches with no bucketing: the chapter's batching (pads to each batch's longest)."""
    order = list(range(len(lengths)))
    random.Random(seed).shuffle(order)
    return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]


def iterate(encoded: Sequence[Sequence[int]], labels: Sequence[int] | None,
            batches: list[list[int]], pad_index: int = 0,
            max_length: int | None = None) -> Iterator[Batch]:
    for index_batch in batches:
        yield collate([encoded[i] for i in index_batch],
                      None if labels is None else [labels[i] for i in index_batch],
                      index_batch, pad_index, max_length)


def padding_share(lengths: Sequence[int], batches: list[list[int]],
                  max_length: int | None = None) -> float:
    """Fraction of the padded positions in ``batches`` that are padding."""
    real = padded = 0
    for batch in batches:
        sizes = [min(lengths[i], max_length) if max_length else lengths[i] for i in batch]
        real += sum(sizes)
        padded += max(sizes) * len(sizes)
    return 1 - real / padded if padded else 0.0
