"""Adversarial training on the word embeddings (Goodfellow et al. 2015; Miyato, Dai &
Goodfellow 2017, "Adversarial training methods for semi-supervised text classification").

After each batch's clean forward and backward pass, every embedded review is pushed a small
step along the gradient of its loss, the direction in which a small change of the embedding
hurts most, and the model also learns from the pushed reviews (same targets; soft ones for
teacher-labelled reviews). Words are discrete, so the push acts on the continuous embedding,
never on the text. It costs one more forward and backward pass per batch.

The size ε is relative: each review's perturbation (over all its tokens) has an L2 norm of ε
times the batch's mean norm of one token's embedding. That makes it independent of how large
the embedding vectors happen to be (word2vec's or random ones); Miyato et al.'s ε = 5 on
embeddings normalised to unit variance in 256 dimensions (one token's norm ≈ 16) is ε ≈ 0.3
here.
"""

from __future__ import annotations

import contextlib

import torch
from torch import Tensor, nn


class EmbeddingAdversary:
    """Watches ``model.embedding`` in the clean pass and perturbs it in the adversarial one.

    The model must embed its input with an ``nn.Embedding`` attribute named ``embedding`` whose
    output is (batch, time, features), as the sentiment classifier's is.
    """

    def __init__(self, model: nn.Module, epsilon: float):
        embedding = getattr(model, "embedding", None)
        if not isinstance(embedding, nn.Embedding):
            raise ValueError(f"adversarial training perturbs word embeddings, and "
                             f"{type(model).__name__} has no nn.Embedding named 'embedding'; "
                             "train it without adversarial")
        if epsilon <= 0:
            raise ValueError(f"the adversarial perturbation's size must be > 0, got {epsilon}")
        self.embedding = embedding
        self.epsilon = epsilon
        self._embedded: Tensor | None = None

    @contextlib.contextmanager
    def watching(self):
        """The clean pass: keep the embedding's output, and its gradient once backward runs
        (also with a frozen embedding, whose output would otherwise need no gradient)."""
        def keep(module, inputs, output):
            if not torch.is_grad_enabled():
                return output
            if not output.requires_grad:
                output = output.detach().requires_grad_()
            output.retain_grad()
            self._embedded = output
            return output
        handle = self.embedding.register_forward_hook(keep)
        try:
            yield
        finally:
            handle.remove()

    def perturbation(self, lengths: Tensor) -> Tensor:
        """ε-sized steps along the gradient of the clean pass (call after its backward)."""
        embedded, self._embedded = self._embedded, None
        if embedded is None or embedded.grad is None:
            raise RuntimeError("no gradient reached the embedding in the clean pass: run its "
                               "forward inside watching() and its backward before this")
        step = unit_per_sequence(embedded.grad.detach().float())
        norm = token_norm(embedded.detach(), lengths)
        return (self.epsilon * norm * step).to(embedded.dtype)

    @contextlib.contextmanager
    def perturbed(self, perturbation: Tensor):
        """The adversarial pass: the embedding's output plus ``perturbation``."""
        def push(module, inputs, output):
            if output.shape != perturbation.shape:
                raise RuntimeError(f"the adversarial pass embedded {tuple(output.shape)}, the "
                                   f"clean pass {tuple(perturbation.shape)}: run both on the "
                                   "same batch")
            return output + perturbation
        handle = self.embedding.register_forward_hook(push)
        try:
            yield
        finally:
            handle.remove()


def real_positions(lengths: Tensor, steps: int) -> Tensor:
    """(batch, steps) True where a sequence has a token, False on its padding."""
    return torch.arange(steps, device=lengths.device)[None, :] < lengths[:, None]


def token_norm(embedded: Tensor, lengths: Tensor) -> Tensor:
    """The mean L2 norm of one (non-padding) token's embedding: the unit of a perturbation."""
    real = real_positions(lengths.to(embedded.device), embedded.shape[1])
    return embedded.float().norm(dim=-1)[real].mean()


def unit_per_sequence(direction: Tensor) -> Tensor:
    """``direction`` (batch, time, features) scaled to an L2 norm of 1 per sequence."""
    return direction / direction.flatten(1).norm(dim=1).clamp_min(1e-12)[:, None, None]
