"""Turn a recurrent encoder's outputs into one vector per sequence, ignoring padding."""

from __future__ import annotations

import torch
from torch import Tensor, nn

POOLINGS = ("last", "max", "mean", "attention", "concat")
# how many times the encoder's width each pooling returns (others: once)
POOLED_WIDTH = {"concat": 3}


def _mask(lengths: Tensor, steps: int) -> Tensor:
    """(B, T) True at real tokens."""
    return torch.arange(steps, device=lengths.device).unsqueeze(0) < lengths.unsqueeze(1)


class LastStatePooling(nn.Module):
    """The top layer's final states, both directions concatenated (the chapter's choice)."""

    def forward(self, output: Tensor, lengths: Tensor, h_n: Tensor, directions: int):
        return torch.cat(list(h_n[-directions:]), dim=1), None


class MaxPooling(nn.Module):
    """Element-wise max over real time steps."""

    def forward(self, output: Tensor, lengths: Tensor, h_n: Tensor, directions: int):
        mask = _mask(lengths, output.shape[1]).unsqueeze(-1)
        return output.masked_fill(~mask, float("-inf")).amax(dim=1), None


class MeanPooling(nn.Module):
    """Mean over real time steps."""

    def forward(self, output: Tensor, lengths: Tensor, h_n: Tensor, directions: int):
        mask = _mask(lengths, output.shape[1]).unsqueeze(-1)
        total = output.masked_fill(~mask, 0.0).sum(dim=1)
        return total / lengths.to(output.dtype).unsqueeze(1), None


class AttentionPooling(nn.Module):
    """Additive attention (Bahdanau-style, one learned query): a weighted mean of the outputs.

    Returns the weights (B, T) too, zero on padding, for inspection.
    """

    def __init__(self, features: int, attention_size: int = 128):
        super().__init__()
        self.project = nn.Linear(features, attention_size)
        self.query = nn.Linear(attention_size, 1, bias=False)

    def forward(self, output: Tensor, lengths: Tensor, h_n: Tensor, directions: int):
        scores = self.query(torch.tanh(self.project(output))).squeeze(-1)
        scores = scores.masked_fill(~_mask(lengths, output.shape[1]), float("-inf"))
        weights = torch.softmax(scores, dim=1)
        return torch.bmm(weights.unsqueeze(1), output).squeeze(1), weights


class ConcatPooling(nn.Module):
    """ULMFiT's concat pooling: the last state, the max and the mean over time, side by side
    (3 × the encoder's width). "Last" is each direction's final state, as LastStatePooling."""

    def __init__(self):
        super().__init__()
        self.parts = nn.ModuleList([LastStatePooling(), MaxPooling(), MeanPooling()])

    def forward(self, output: Tensor, lengths: Tensor, h_n: Tensor, directions: int):
        return torch.cat([part(output, lengths, h_n, directions)[0] for part in self.parts],
                         dim=1), None


def make_pooling(name: str, features: int) -> nn.Module:
    if name == "last":
        return LastStatePooling()
    if name == "max":
        return MaxPooling()
    if name == "mean":
        return MeanPooling()
    if name == "attention":
        return AttentionPooling(features)
    if name == "concat":
        return ConcatPooling()
    raise ValueError(f"pooling must be one of {', '.join(POOLINGS)}, got {name!r}")
