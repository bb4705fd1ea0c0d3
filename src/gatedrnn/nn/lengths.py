"""Variable-length batches: checking lengths, masks, and reversing each sequence in place.

All functions work on time-major tensors ``(T, B, ...)``.
"""

from __future__ import annotations

import torch
from torch import Tensor


def check_lengths(lengths, batch: int, steps: int, device) -> Tensor:
    """Return ``lengths`` as a 1-D int64 tensor on ``device``, or raise a clear ValueError."""
    if not torch.is_tensor(lengths):
        lengths = torch.as_tensor(lengths)
    if lengths.dim() != 1 or lengths.shape[0] != batch:
        raise ValueError(f"lengths must be a 1-D tensor with one entry per sequence (batch={batch}), "
                         f"got shape {tuple(lengths.shape)}")
    if lengths.is_floating_point() or lengths.is_complex() or lengths.dtype == torch.bool:
        raise ValueError(f"lengths must hold integers, got dtype {lengths.dtype}")
    lengths = lengths.to(device="cpu", dtype=torch.int64)
    bad = (lengths < 1) | (lengths > steps)
    if bool(bad.any()):
        index = int(bad.nonzero()[0, 0])
        raise ValueError(f"lengths must be in 1..T={steps}, got {int(lengths[index])} at index "
                         f"{index}; pad the batch to the longest sequence or drop empty ones")
    return lengths.to(device)


def step_mask(lengths: Tensor, steps: int) -> Tensor:
    """Boolean (T, B) mask, True where step t is a real token of sequence b."""
    return torch.arange(steps, device=lengths.device).unsqueeze(1) < lengths.unsqueeze(0)


def reverse_within_lengths(x: Tensor, lengths: Tensor) -> Tensor:
    """Reverse each sequence of ``x`` (T, B, ...) within its own length; padding stays put.

    Running a forward recurrence over the result is the reverse direction that starts at each
    sequence's own last token. Applying it twice gives ``x`` back.
    """
    steps = x.shape[0]
    t = torch.arange(steps, device=x.device).unsqueeze(1)
    index = torch.where(t < lengths.unsqueeze(0), lengths.unsqueeze(0) - 1 - t, t)
    index = index.view(steps, -1, *([1] * (x.dim() - 2))).expand_as(x)
    return x.gather(0, index)
