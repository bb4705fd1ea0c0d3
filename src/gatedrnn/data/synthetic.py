"""Synthetic sequence tasks that isolate one property of a recurrent network, seeded.

Every generator takes ``n`` (sequences), ``length`` (T) and a ``seed`` and returns a
:class:`Task` batch: float inputs ``x`` (n, T, features) and integer or float targets ``y``.
Same seed, same data. Experiments train on fresh batches (seed = step) and test on a fixed set
drawn from a seed range no training batch uses.

- first-token recall (the chapter's): a one-hot class at t = 0, zeros (or noise) after; predict
  the class at the last step. Needs memory over exactly T − 1 steps.
- adding problem (Hochreiter & Schmidhuber 1997): values in [0, 1] and two markers; predict the
  sum of the two marked values. Chance level (predicting 1.0) has MSE ≈ 0.167.
- copy memory: 10 symbols, T blanks, a delimiter; reproduce the symbols at the end.
- future context: tag each symbol by whether it appears again later, which a left-to-right
  reader cannot know when it sees the symbol: the case for bidirectional networks.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

# torch's CPU generator keeps only the low 32 bits of a seed; training batches use seeds below
# 2**31 (see gatedrnn.experiments.runner.train_seed) and evaluation sets the ones above.
TEST_SEED_OFFSET = 2**31


@dataclass
class Task:
    """A batch of a synthetic task.

    ``target`` says how ``y`` is read: ``"last_class"`` (n,) class at the last step,
    ``"last_value"`` (n,) a real number at the last step, ``"step_class"`` (n, T) a class per step
    (``ignore_index`` −100 where nothing is asked).
    """

    name: str
    x: Tensor
    y: Tensor
    target: str
    num_outputs: int

    @property
    def input_size(self) -> int:
        return self.x.shape[2]


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(int(seed))


def _check(n: int, length: int, minimum: int = 1) -> None:
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if length < minimum:
        raise ValueError(f"length must be >= {minimum}, got {length}")


def first_token_recall(n: int, length: int, num_classes: int = 10, noise: float = 0.0,
                       seed: int = 0) -> Task:
    """One-hot class at t = 0, zeros after (plus N(0, noise²) at t ≥ 1); target: that class."""
    _check(n, length)
    if num_classes < 2:
        raise ValueError(f"num_classes must be >= 2, got {num_classes}")
    g = _generator(seed)
    y = torch.randint(num_classes, (n,), generator=g)
    x = torch.zeros(n, length, num_classes)
    if noise > 0 and length > 1:
        x[:, 1:] = noise * torch.randn(n, length - 1, num_classes, generator=g)
    x[:, 0] = F.one_hot(y, num_classes).float()
    return Task("first-token-recall", x, y, "last_class", num_classes)


def adding_problem(n: int, length: int, seed: int = 0) -> Task:
    """Channel 0: values U[0, 1]; channel 1: markers on one step of each half; target: their sum."""
    _check(n, length, minimum=2)
    g = _generator(seed)
    values = torch.rand(n, length, generator=g)
    half = length // 2
    first = torch.randint(half, (n,), generator=g)
    second = half + torch.randint(length - half, (n,), generator=g)
    markers = torch.zeros(n, length)
    rows = torch.arange(n)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    y = values[rows, first] + values[rows, second]
    return Task("adding", torch.stack([values, markers], dim=2), y, "last_value", 1)


def copy_memory(n: int, length: int, num_symbols: int = 8, copy_length: int = 10,
                seed: int = 0) -> Task:
    """Symbols, ``length`` blanks, a delimiter, then reproduce the symbols.

    Inputs are one-hot over ``num_symbols + 2`` tokens (0 blank, 1..num_symbols, delimiter last);
    the sequence has ``copy_length + length + copy_length`` steps; targets are −100 except at the
    last ``copy_length`` steps, where they are the symbols.
    """
    _check(n, length, minimum=1)
    g = _generator(seed)
    delimiter = num_symbols + 1
    total = 2 * copy_length + length
    symbols = torch.randint(1, num_symbols + 1, (n, copy_length), generator=g)
    tokens = torch.zeros(n, total, dtype=torch.long)
    tokens[:, :copy_length] = symbols
    tokens[:, copy_length + length - 1] = delimiter
    y = torch.full((n, total), -100, dtype=torch.long)
    y[:, -copy_length:] = symbols
    x = F.one_hot(tokens, num_symbols + 2).float()
    return Task("copy-memory", x, y, "step_class", num_symbols + 1)


def future_context(n: int, length: int, num_symbols: int = 16, seed: int = 0) -> Task:
    """Random symbols; tag each 1 if the same symbol occurs again later in the sequence, else 0."""
    _check(n, length)
    g = _generator(seed)
    tokens = torch.randint(num_symbols, (n, length), generator=g)
    one_hot = F.one_hot(tokens, num_symbols).float()
    # Occurrences strictly after t: reverse cumulative sum minus the symbol itself.
    later = one_hot.flip(1).cumsum(1).flip(1) - one_hot
    y = (later * one_hot).sum(2).gt(0).long()
    return Task("future-context", one_hot, y, "step_class", 2)


TASKS = {
    "first-token-recall": first_token_recall,
    "adding": adding_problem,
    "copy-memory": copy_memory,
    "future-context": future_context,
}


def make_task(name: str, n: int, length: int, seed: int = 0, **kwargs) -> Task:
    """Build a task batch by name (see :data:`TASKS`)."""
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; choose one of {', '.join(TASKS)}")
    return TASKS[name](n, length, seed=seed, **kwargs)


def evaluation_set(name: str, n: int, length: int, seed: int = 0, **kwargs) -> Task:
    """The fixed evaluation set of a task: seeds disjoint from every training step."""
    return make_task(name, n, length, seed=TEST_SEED_OFFSET + seed, **kwargs)
