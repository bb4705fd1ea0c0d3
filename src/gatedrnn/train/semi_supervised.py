"""Learning from unlabelled text: entropy minimisation and virtual adversarial training, the
two unlabelled terms of Sachan, Zaheer & Salakhutdinov's mixed objective (AAAI 2019; with
cross-entropy and adversarial training, train/adversarial.py, on the labelled batches).

Once per optimizer step, after the labelled batch's backward pass, ``UnlabelledLosses`` draws
one batch from an endless stream of unlabelled sequences and adds the gradients of

- **entropy minimisation** (Grandvalet & Bengio 2005): the mean entropy of the model's
  predicted distribution, weighted; it pushes decisions away from where unlabelled texts lie;
- **virtual adversarial training** (Miyato, Dai & Goodfellow, ICLR 2017): KL(p ‖ p̃), where p
  is the prediction on the clean text (a fixed target) and p̃ the one with the word embeddings
  pushed by r_vadv, the small push that changes the prediction most. r_vadv is found by power
  iteration: from a random unit direction d, the gradient of KL(p ‖ p(x + ξd)) over the
  push is the next d; then r_vadv = ε·d. No label is needed, so it smooths the model around
  every unlabelled text.

Sizes are relative, as adversarial training's are: a sequence's whole push has an L2 norm of
ε (or ξ) times the batch's mean norm of one token's embedding, so word2vec's vectors and random
ones get the same push (Miyato et al. normalise the embeddings instead). Cost per step: one
forward pass over the unlabelled batch (with its backward for entropy minimisation), plus one
forward and backward per power iteration and one for the virtual adversarial loss.

The unlabelled batches never enter the labelled loss, accuracy or token counts; their losses
are reported on their own (``train_entropy``, ``train_virtual_adversarial_loss``), per
labelled example like every other epoch figure. The stream's position is saved with the
training state, so a resumed run reads the same unlabelled batches as one never interrupted.
"""

from __future__ import annotations

import contextlib

import torch
from torch import Tensor, nn

from ..data.batching import Batch, bucket_batches, collate
from .adversarial import EmbeddingAdversary, real_positions, token_norm, unit_per_sequence
from .callback import Callback


def entropy(logits: Tensor) -> Tensor:
    """The mean entropy (nats) of the distributions ``logits`` (batch, classes) predict."""
    log_p = logits.float().log_softmax(-1)
    return -(log_p.exp() * log_p).sum(-1).mean()


def kl_divergence(target_logits: Tensor, logits: Tensor) -> Tensor:
    """Mean KL(p ‖ q) over the batch, p from ``target_logits`` (held fixed), q from ``logits``."""
    log_p = target_logits.detach().float().log_softmax(-1)
    return (log_p.exp() * (log_p - logits.float().log_softmax(-1))).sum(-1).mean()


def virtual_adversarial_direction(model: nn.Module, batch: Batch, clean_logits: Tensor,
                                  xi: float, iterations: int = 1,
                                  autocast=contextlib.nullcontext) -> Tensor:
    """A unit push per sequence (batch, time, features) of the word embeddings that raises
    KL(p ‖ p̃) the most, found by ``iterations`` rounds of power iteration from a random one.
    ``autocast``: makes the context the forward passes run in (the Trainer's precision)."""
    adversary = EmbeddingAdversary(model, max(xi, 1e-12))  # only its perturbed() is used
    tokens, lengths = batch.tokens, batch.lengths
    with torch.no_grad():
        embedded = model.embedding(tokens)
    scale = xi * token_norm(embedded, lengths)
    mask = real_positions(lengths, embedded.shape[1])[..., None].to(embedded.dtype)
    direction = unit_per_sequence(torch.randn_like(embedded, dtype=torch.float32) * mask)
    for _ in range(iterations):
        push = (scale * direction).to(embedded.dtype).requires_grad_()
        with autocast(), adversary.perturbed(push):
            divergence = kl_divergence(clean_logits, model(tokens, lengths))
        gradient, = torch.autograd.grad(divergence, push)
        direction = unit_per_sequence(gradient.float() * mask)
    return direction


def virtual_adversarial_loss(model: nn.Module, batch: Batch, clean_logits: Tensor,
                             epsilon: float, xi: float, iterations: int = 1,
                             autocast=contextlib.nullcontext) -> Tensor:
    """KL(p ‖ p̃) with the embeddings pushed ε along ``virtual_adversarial_direction``."""
    direction = virtual_adversarial_direction(model, batch, clean_logits, xi, iterations,
                                              autocast)
    with torch.no_grad():
        size = epsilon * token_norm(model.embedding(batch.tokens), batch.lengths)
    adversary = EmbeddingAdversary(model, epsilon)  # only its perturbed() is used
    with autocast(), adversary.perturbed((size * direction).to(clean_logits.device)):
        return kl_divergence(clean_logits, model(batch.tokens, batch.lengths))


class UnlabelledStream:
    """Batches of unlabelled sequences without end: each pass over them ("round") in a new
    seeded, length-bucketed order. Its position is (round, batch), saved and restored."""

    def __init__(self, sequences: list[list[int]], batch_size: int, seed: int = 0,
                 max_length: int | None = None):
        if not sequences:
            raise ValueError("the unlabelled stream needs at least one sequence")
        self.sequences = sequences
        self.batch_size = batch_size
        self.seed = seed
        self.max_length = max_length
        self.round, self.position = 0, 0
        self._order = None

    def _batches(self) -> list[list[int]]:
        if self._order is None:
            lengths = [min(len(s), self.max_length or len(s)) for s in self.sequences]
            self._order = bucket_batches(lengths, self.batch_size, shuffle=True,
                                         seed=self.seed * 1000 + 7919 + self.round)
        return self._order

    def next(self) -> Batch:
        batches = self._batches()
        indices = batches[self.position]
        self.position += 1
        if self.position == len(batches):
            self.round, self.position, self._order = self.round + 1, 0, None
        return collate([self.sequences[i] for i in indices], None, indices,
                       max_length=self.max_length)

    def state_dict(self) -> dict:
        return {"round": self.round, "position": self.position}

    def load_state_dict(self, state: dict) -> None:
        self.round, self.position, self._order = state["round"], state["position"], None


class UnlabelledLosses(Callback):
    """Entropy minimisation (weight ``entropy_weight``) and virtual adversarial training (size
    ``epsilon``, power-iteration size ``xi``) on one unlabelled batch per optimizer step, from
    the Trainer's ``unlabelled`` sequences (its training sequences when none are given)."""

    name = "unlabelled"

    def __init__(self, entropy_weight: float = 0.0, epsilon: float = 0.0, xi: float = 1e-3,
                 iterations: int = 1):
        if entropy_weight < 0 or epsilon < 0 or xi <= 0 or iterations < 1:
            raise ValueError(f"entropy weight and ε must be >= 0, ξ > 0 and iterations >= 1; "
                             f"got {entropy_weight}, {epsilon}, {xi}, {iterations}")
        self.entropy_weight, self.epsilon = entropy_weight, epsilon
        self.xi, self.iterations = xi, iterations
        self.stream: UnlabelledStream | None = None

    def setup(self, trainer) -> None:
        if trainer.dist.world > 1:
            raise ValueError("learning from unlabelled text adds backward passes that this "
                             "loop does not synchronise under DistributedDataParallel; run it "
                             "in one process")
        if not trainer.task.one_label_per_sequence:
            raise ValueError("entropy minimisation and virtual adversarial training apply to "
                             "classifiers with one label per text")
        if self.epsilon:
            EmbeddingAdversary(trainer.model, self.epsilon)  # says so when there is no embedding
        sequences = (trainer.unlabelled_data.sequences if trainer.unlabelled_data is not None
                     else trainer.train_data.sequences)
        c = trainer.config
        self.stream = UnlabelledStream(sequences, c.batch_size, c.seed, c.max_length)

    def before_step(self, trainer, batch_size: int) -> dict:
        model, device = trainer.model, trainer.config.device
        batch = self.stream.next()
        batch.tokens, batch.lengths = batch.tokens.to(device), batch.lengths.to(device)
        with trainer.autocast(), torch.set_grad_enabled(bool(self.entropy_weight)):
            clean = model(batch.tokens, batch.lengths)
        loss, shown = torch.zeros((), device=device), {}
        if self.entropy_weight:
            shown["entropy"] = entropy(clean)
            loss = loss + self.entropy_weight * shown["entropy"]
        if self.epsilon:
            shown["virtual_adversarial_loss"] = virtual_adversarial_loss(
                model, batch, clean.detach(), self.epsilon, self.xi, self.iterations,
                trainer.autocast)
            loss = loss + shown["virtual_adversarial_loss"]
        trainer.check_finite(loss)
        loss.backward()
        return {name: value.item() * batch_size for name, value in shown.items()}

    def state_dict(self):
        return self.stream.state_dict()

    def load_state_dict(self, state) -> None:
        if state is not None:
            self.stream.load_state_dict(state)
