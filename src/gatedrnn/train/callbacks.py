"""The Trainer's extras, one small class each (the shape of fastai's and Lightning's
callbacks): the loop calls every callback's hook at its moment, and a callback with state
(``name`` set) saves it in training.pt under that name, so a resumed run continues it.

    hook               when                                    used by
    before_epoch       an epoch starts                         GradualUnfreezing, MidEpochSaves
    around_loss        the forward pass that computes a loss   AdversarialTraining (watches)
    after_backward     a part of a batch was backpropagated    AdversarialTraining (2nd pass)
    before_step        the whole batch was backpropagated      UnlabelledLosses
                                                               (train/semi_supervised.py)
    after_step         the optimizer stepped                   MovingAverage, Snapshots,
                                                               MidEpochSaves, MemoryRelease,
                                                               TimeLimit (trainer.stop)
    evaluated          which model validation reads and best/ saves   MovingAverage

``callbacks_for(config)`` builds the ones a FitConfig asks for.
"""

from __future__ import annotations

import time

import torch
from torch import nn

from ..runinfo import release_free_memory
from . import checkpoint
from .adversarial import EmbeddingAdversary
from .callback import Callback
from .semi_supervised import UnlabelledLosses


class MovingAverage(Callback):
    """An exponential moving average of the weights (Polyak averaging): what validation reads
    and best/ keeps; last/ keeps the live weights and the average (``ema_decay``)."""

    name = "ema"

    def __init__(self, decay: float):
        self.decay = decay
        self.average = None

    def setup(self, trainer) -> None:
        self.average = torch.optim.swa_utils.AveragedModel(
            trainer.model, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(self.decay),
            use_buffers=True)

    def after_step(self, trainer) -> None:
        self.average.update_parameters(trainer.model)

    def evaluated(self, model: nn.Module) -> nn.Module:
        return self.average.module

    def state_dict(self):
        return self.average.state_dict()

    def load_state_dict(self, state) -> None:
        if state is not None:
            self.average.load_state_dict(state)


class AdversarialTraining(Callback):
    """Also learn from each batch with its word embeddings pushed along the loss's gradient
    (Miyato et al. 2017; train/adversarial.py): one more forward and backward pass per batch."""

    metric = "adversarial_loss"

    def __init__(self, epsilon: float):
        self.epsilon = epsilon
        self.adversary = None

    def setup(self, trainer) -> None:
        if trainer.dist.world > 1:
            raise ValueError("adversarial training runs two backward passes per step, which "
                             "this loop does not synchronise under DistributedDataParallel; "
                             "run it in one process")
        self.adversary = EmbeddingAdversary(trainer.model, self.epsilon)

    def around_loss(self, trainer):
        return self.adversary.watching()

    def after_backward(self, trainer, model: nn.Module, batch, share: float) -> dict:
        perturbation = self.adversary.perturbation(batch.lengths)
        with trainer.autocast(), self.adversary.perturbed(perturbation):
            loss, _, n = trainer.task.loss(model, batch, trainer.config.device)
        trainer.check_finite(loss)
        (loss * share).backward()
        return {self.metric: loss.item() * n}


class GradualUnfreezing(Callback):
    """ULMFiT's gradual unfreezing: in epoch e (from 0) only the top e + 1 layer groups get
    gradients (the model's ``layer_groups``)."""

    def setup(self, trainer) -> None:
        if trainer.dist.world > 1:
            raise ValueError("gradual unfreezing changes which parameters get gradients, which "
                             "DistributedDataParallel does not allow; run it in one process")

    def before_epoch(self, trainer) -> None:
        groups = trainer.layer_groups
        trainable_from = max(0, len(groups) - 1 - trainer.epoch)
        for i, group in enumerate(groups):
            for p in group:
                p.requires_grad_(i >= trainable_from)


class Snapshots(Callback):
    """The weights (no optimizer) saved into OUT/snapshots/epoch-F after these fractions of the
    training epochs: what a shorter run would have given, for cost curves."""

    def __init__(self, fractions: list[float]):
        self.fractions = fractions

    def after_step(self, trainer) -> None:
        step = trainer.epoch * trainer.steps_per_epoch + trainer.batch_in_epoch
        for fraction in self.fractions:
            if step == max(1, round(fraction * trainer.steps_per_epoch)) and trainer.dist.main:
                checkpoint.save(trainer.out_dir / "snapshots" / f"epoch-{fraction:g}",
                                config=trainer.checkpoint_config,
                                state_dict=trainer.evaluated_model().state_dict(),
                                vocab_tokens=trainer.vocab_tokens,
                                metrics={"epochs": fraction, "steps": step},
                                files=trainer.checkpoint_files)


class MidEpochSaves(Callback):
    """last/ also saved within an epoch once ``minutes`` have passed since the last save, so a
    crash loses at most that much work; a resume continues from the batch after it."""

    def __init__(self, minutes: float):
        self.minutes = minutes
        self.last_save = time.perf_counter()

    def before_epoch(self, trainer) -> None:
        self.last_save = time.perf_counter()

    def after_step(self, trainer) -> None:
        if (trainer.batch_in_epoch < trainer.batches_this_epoch
                and time.perf_counter() - self.last_save >= 60 * self.minutes):
            trainer.save({"epoch": trainer.epoch, "batch_in_epoch": trainer.batch_in_epoch},
                         best=False)
            self.last_save = time.perf_counter()


class MemoryRelease(Callback):
    """The heap's free pages handed back after every batch: with batches run in parts of very
    different sizes, freed activations would otherwise pile up until the epoch's end (seed
    preset: 4.4 → 2.3 GB)."""

    def after_step(self, trainer) -> None:
        release_free_memory()


class TimeLimit(Callback):
    """Stops training once ``seconds`` have passed since the Trainer started: the batch under
    way ends, the epoch so far is validated and saved as any other, and fit returns (a
    budgeted recipe; the summary says ``stopped``)."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.deadline = None

    def setup(self, trainer) -> None:
        self.deadline = time.perf_counter() + self.seconds

    def after_step(self, trainer) -> None:
        if time.perf_counter() >= self.deadline:
            trainer.stop(f"the time limit of {self.seconds / 60:.1f} min is spent")


def callbacks_for(config) -> list[Callback]:
    """The callbacks a FitConfig asks for, in the order their hooks run."""
    callbacks: list[Callback] = []
    if config.ema_decay:
        callbacks.append(MovingAverage(config.ema_decay))
    if config.adversarial:
        callbacks.append(AdversarialTraining(config.adversarial))
    if config.entropy_minimisation or config.virtual_adversarial:
        callbacks.append(UnlabelledLosses(config.entropy_minimisation,
                                          config.virtual_adversarial,
                                          config.virtual_adversarial_xi))
    if config.gradual_unfreezing:
        callbacks.append(GradualUnfreezing())
    if config.snapshots:
        callbacks.append(Snapshots(config.snapshots))
    callbacks.append(MidEpochSaves(config.checkpoint_minutes))
    if config.step_max_tokens:
        callbacks.append(MemoryRelease())
    return callbacks
