"""Sampled softmax (Jean et al. 2015), the alternative to an adaptive softmax for a large
output vocabulary on a CPU.

Each step scores the batch's own target words and ``num_sampled`` words drawn from a proposal
distribution ``q`` (typically the unigram distribution), instead of the whole vocabulary.
Scores of candidates are corrected by −log(expected count under q), so the loss is an unbiased
estimate of the full softmax's gradient direction as the sample grows; when the candidates
cover the whole vocabulary it is the full softmax's cross-entropy exactly (no correction).
Training only: evaluation needs the full softmax (``log_softmax(states @ weight.T + bias)``).

``python benchmarks/lm_pretraining.py --softmax`` times it against the full softmax and torch's
adaptive softmax for the awd preset's vocabulary (results/lm_pretraining.json, "softmax").
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def sampled_softmax_loss(states: Tensor, weight: Tensor, bias: Tensor | None, targets: Tensor,
                         proposal: Tensor, num_sampled: int,
                         generator: torch.Generator | None = None) -> Tensor:
    """Mean sampled-softmax cross-entropy of ``targets`` (N,) given ``states`` (N, D) and the
    output layer ``weight`` (V, D), ``bias`` (V,). ``proposal`` (V,): the sampling
    probabilities (need not sum to 1)."""
    vocab = weight.shape[0]
    if proposal.shape != (vocab,):
        raise ValueError(f"proposal must have one probability per word ({vocab}), got shape "
                         f"{tuple(proposal.shape)}")
    q = proposal.float() / proposal.float().sum()
    sampled = torch.multinomial(q, num_sampled, replacement=True, generator=generator)
    candidates, position = torch.unique(torch.cat([targets, sampled]), return_inverse=True)
    target_position = position[: targets.numel()]
    logits = states @ weight[candidates].t()
    if bias is not None:
        logits = logits + bias[candidates]
    if candidates.numel() < vocab:
        # each candidate's expected count among the draws (and the targets, which are in the
        # set anyway): the log-Q correction of sampled softmax
        expected = 1.0 - (1.0 - q[candidates]).pow(num_sampled)
        logits = logits - expected.clamp_min(1e-12).log().to(logits.dtype)
    return F.cross_entropy(logits.float(), target_position)


__all__ = ["sampled_softmax_loss"]
