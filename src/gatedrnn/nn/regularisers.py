"""The AWD-LSTM regularisers (Merity et al. 2018), as reusable pieces.

- :class:`LockedDropout` (variational dropout, Gal & Ghahramani 2016): one mask per sequence,
  shared by every time step, so a feature is either on or off for the whole sequence.
- :func:`embedding_dropout`: whole words dropped from the embedding matrix (every occurrence of
  a dropped word in the batch is zero), the kept rows scaled by 1 / (1 − p).
- :func:`tie_weights`: an output layer that uses the embedding matrix as its weight (Press &
  Wolf 2017; Inan et al. 2017): one tensor, one storage, one gradient.
- Weight dropout (DropConnect on the hidden-to-hidden matrices) lives in the recurrent layers
  themselves: ``LSTM(..., weight_dropout=0.5)``; see :mod:`.layers`.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn


class LockedDropout(nn.Module):
    """Dropout whose mask is drawn once per sequence and feature, and shared over time.

    Input (B, T, F) with ``batch_first`` (the default) or (T, B, F). Identity in eval mode.
    """

    def __init__(self, p: float = 0.5, batch_first: bool = True):
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropout probability must be in [0, 1), got {p!r}")
        self.p = p
        self.batch_first = batch_first

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0.0:
            return x
        if x.dim() != 3:
            raise ValueError(f"LockedDropout expects a 3-D sequence batch, got shape "
                             f"{tuple(x.shape)}")
        time_axis = 1 if self.batch_first else 0
        shape = list(x.shape)
        shape[time_axis] = 1
        mask = x.new_empty(shape).bernoulli_(1.0 - self.p) / (1.0 - self.p)
        return x * mask

    def extra_repr(self) -> str:
        return f"p={self.p}"


def embedding_dropout(embedding: nn.Embedding, tokens: Tensor, p: float,
                      training: bool = True) -> Tensor:
    """``embedding(tokens)`` with whole words dropped: each row of the matrix is zeroed with
    probability ``p`` (the same words everywhere in the batch), the others scaled by 1/(1 − p).
    Identity (a plain lookup) when not training or ``p == 0``."""
    if not 0.0 <= p < 1.0:
        raise ValueError(f"embedding dropout must be in [0, 1), got {p!r}")
    if not training or p == 0.0:
        return embedding(tokens)
    weight = embedding.weight
    keep = weight.new_empty(weight.shape[0], 1).bernoulli_(1.0 - p) / (1.0 - p)
    return F.embedding(tokens, weight * keep, embedding.padding_idx, embedding.max_norm,
                       embedding.norm_type, embedding.scale_grad_by_freq, embedding.sparse)


def tie_weights(output: nn.Linear, embedding: nn.Embedding) -> None:
    """Make ``output`` use ``embedding``'s matrix as its weight (the same Parameter)."""
    if tuple(output.weight.shape) != tuple(embedding.weight.shape):
        raise ValueError(f"tied weights need an output layer of shape (vocab, embedding_dim) = "
                         f"{tuple(embedding.weight.shape)}, got {tuple(output.weight.shape)}; "
                         f"project the encoder's output to the embedding size first")
    output.weight = embedding.weight


def dropped_weight(weight: Tensor, p: float, training: bool) -> Tensor:
    """DropConnect: ``weight`` with each entry zeroed with probability ``p`` (kept entries
    scaled by 1/(1 − p)) when training; the parameter itself is untouched."""
    if not training or p == 0.0:
        return weight
    return F.dropout(weight, p, training=True)


__all__ = ["LockedDropout", "dropped_weight", "embedding_dropout", "tie_weights"]

