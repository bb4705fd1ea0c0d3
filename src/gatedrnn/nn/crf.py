"""A linear-chain conditional random field over per-token scores (Lafferty et al. 2001), the
output layer of a BiLSTM-CRF tagger (Huang et al. 2015; Lample et al. 2016).

A tag sequence y_1..y_n of a sentence whose encoder gave emission scores E (n × K) scores

    s(y) = start[y_1] + sum_t E[t, y_t] + sum_{t>1} A[y_{t-1}, y_t] + end[y_n]

and the CRF's probability of it is exp s(y) / Z, Z = sum over all K^n sequences of exp s(y').
Training minimises -log p(gold) = log Z - s(gold). Z comes from the forward algorithm:

    alpha_1(k) = start[k] + E[1, k]
    alpha_t(k) = E[t, k] + logsumexp_j (alpha_{t-1}(j) + A[j, k])
    log Z      = logsumexp_k (alpha_n(k) + end[k])

and the best sequence from Viterbi (the same recursion with max instead of logsumexp, and
back-pointers). Each token's marginal p(y_t = k) is d log Z / d E[t, k]: one backward pass
through the forward algorithm is the forward-backward algorithm.

Transitions a scheme forbids (IOB2: ``O → I-PER``, ``B-LOC → I-PER``, a sentence starting
with ``I-X``) are kept out of every sum and every max, not merely discouraged: see
:func:`bio_allowed`.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

# What a forbidden transition scores: far below any real score, yet finite, so that
# logsumexp and its gradient stay free of NaN (exp(-1e4) is exactly 0 in float32).
FORBIDDEN = -1e4


def bio_allowed(tags: list[str]) -> tuple[Tensor, Tensor]:
    """(allowed transitions (K, K) [from, to], allowed first tags (K,)) of the IOB2 scheme:
    ``I-X`` only after ``B-X`` or ``I-X``, never first. Other tags (``O``, ``B-X``) may
    follow anything."""
    allowed = torch.ones(len(tags), len(tags), dtype=torch.bool)
    first = torch.ones(len(tags), dtype=torch.bool)
    for k, tag in enumerate(tags):
        if tag.startswith("I-"):
            kind = tag[2:]
            first[k] = False
            for j, previous in enumerate(tags):
                allowed[j, k] = previous in (f"B-{kind}", f"I-{kind}")
    return allowed, first


class CRF(nn.Module):
    """Linear-chain CRF over K tags: transitions ``A`` (K, K) [from, to], ``start`` and
    ``end`` scores (K,), learnt; ``allowed`` (K, K) and ``first`` (K,) boolean masks of
    transitions and first tags that may occur at all (default: every one).

    Inputs are batched: emissions (B, T, K), lengths (B,) with 1 ≤ length ≤ T (positions at
    or past a sentence's length are ignored), tags (B, T).
    """

    def __init__(self, num_tags: int, allowed: Tensor | None = None,
                 first: Tensor | None = None):
        super().__init__()
        if num_tags < 1:
            raise ValueError(f"num_tags must be at least 1, got {num_tags}")
        self.num_tags = num_tags
        self.transitions = nn.Parameter(torch.zeros(num_tags, num_tags))
        self.start = nn.Parameter(torch.zeros(num_tags))
        self.end = nn.Parameter(torch.zeros(num_tags))
        allowed = torch.ones(num_tags, num_tags, dtype=torch.bool) if allowed is None else allowed
        first = torch.ones(num_tags, dtype=torch.bool) if first is None else first
        if allowed.shape != (num_tags, num_tags) or first.shape != (num_tags,):
            raise ValueError(f"allowed must be ({num_tags}, {num_tags}) and first ({num_tags},), "
                             f"got {tuple(allowed.shape)} and {tuple(first.shape)}")
        # buffers: saved with the model, moved with it, never trained
        self.register_buffer("allowed", allowed.bool().clone())
        self.register_buffer("first", first.bool().clone())

    def _scores(self) -> tuple[Tensor, Tensor]:
        """The transition and start scores with the forbidden ones set to FORBIDDEN."""
        forbidden = torch.tensor(FORBIDDEN, dtype=self.transitions.dtype)
        return (torch.where(self.allowed, self.transitions, forbidden),
                torch.where(self.first, self.start, forbidden))

    def _check(self, emissions: Tensor, lengths: Tensor) -> None:
        if emissions.dim() != 3 or emissions.shape[2] != self.num_tags:
            raise ValueError(f"emissions must be (B, T, {self.num_tags}), got "
                             f"{tuple(emissions.shape)}")
        if lengths.shape != (emissions.shape[0],):
            raise ValueError(f"lengths must be ({emissions.shape[0]},), got "
                             f"{tuple(lengths.shape)}")
        bad = (lengths < 1) | (lengths > emissions.shape[1])
        if bad.any():
            i = int(bad.nonzero()[0])
            raise ValueError(f"lengths must be in 1..T={emissions.shape[1]}, got "
                             f"{int(lengths[i])} at index {i}")

    def log_partition(self, emissions: Tensor, lengths: Tensor) -> Tensor:
        """log Z of each sentence (B,), by the forward algorithm."""
        self._check(emissions, lengths)
        transitions, start = self._scores()
        alpha = start + emissions[:, 0]                                        # (B, K)
        for t in range(1, emissions.shape[1]):
            step = torch.logsumexp(alpha.unsqueeze(2) + transitions, dim=1) + emissions[:, t]
            alpha = torch.where((t < lengths).unsqueeze(1), step, alpha)
        return torch.logsumexp(alpha + self.end, dim=1)

    def score(self, emissions: Tensor, tags: Tensor, lengths: Tensor) -> Tensor:
        """s(tags) of each sentence (B,): start, emissions, transitions and end along it."""
        self._check(emissions, lengths)
        transitions, start = self._scores()
        steps = torch.arange(emissions.shape[1], device=emissions.device)
        inside = steps.unsqueeze(0) < lengths.unsqueeze(1)                      # (B, T)
        emitted = emissions.gather(2, tags.unsqueeze(2)).squeeze(2)             # (B, T)
        moved = transitions[tags[:, :-1], tags[:, 1:]]                          # (B, T-1)
        last = tags.gather(1, (lengths - 1).unsqueeze(1)).squeeze(1)
        return (start[tags[:, 0]] + (emitted * inside).sum(1)
                + (moved * inside[:, 1:]).sum(1) + self.end[last])

    def nll(self, emissions: Tensor, tags: Tensor, lengths: Tensor,
            reduction: str = "mean") -> Tensor:
        """-log p(tags) = log Z - s(tags); "mean" over sentences, "sum", or "none" (B,)."""
        losses = self.log_partition(emissions, lengths) - self.score(emissions, tags, lengths)
        if reduction == "none":
            return losses
        if reduction == "sum":
            return losses.sum()
        if reduction == "mean":
            return losses.mean()
        raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")

    def marginals(self, emissions: Tensor, lengths: Tensor) -> Tensor:
        """p(y_t = k) for every token (B, T, K), zero past each sentence's end: the gradient
        of log Z with respect to the emissions (forward-backward by autograd)."""
        with torch.enable_grad():
            scores = emissions.detach().requires_grad_()
            (gradient,) = torch.autograd.grad(self.log_partition(scores, lengths).sum(), scores)
        return gradient

    def decode(self, emissions: Tensor, lengths: Tensor) -> list[list[int]]:
        """The highest-scoring tag sequence of each sentence (Viterbi), as lists of tag ids."""
        self._check(emissions, lengths)
        transitions, start = self._scores()
        with torch.no_grad():
            best = start + emissions[:, 0]
            pointers = []
            for t in range(1, emissions.shape[1]):
                candidates = best.unsqueeze(2) + transitions                    # (B, from, to)
                top, came_from = candidates.max(dim=1)
                step = top + emissions[:, t]
                inside = (t < lengths).unsqueeze(1)
                best = torch.where(inside, step, best)
                # past the end a tag points to itself, so the walk back passes through unchanged
                pointers.append(torch.where(inside, came_from, torch.arange(
                    self.num_tags, device=emissions.device).expand_as(came_from)))
            tag = (best + self.end).argmax(1)
            path = [tag]
            for came_from in reversed(pointers):
                tag = came_from.gather(1, tag.unsqueeze(1)).squeeze(1)
                path.append(tag)
            path = torch.stack(path[::-1], 1)                                   # (B, T)
        return [path[b, : int(n)].tolist() for b, n in enumerate(lengths)]
