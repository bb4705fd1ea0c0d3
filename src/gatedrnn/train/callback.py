"""A training extra's hooks (the shape of fastai's and Lightning's callbacks): the base class
of every callback (train/callbacks.py lists the hooks and when the loop calls them)."""

from __future__ import annotations

import contextlib

from torch import nn


class Callback:
    """A training extra; every hook does nothing unless overridden."""

    name = ""  # set: state_dict() is saved under this name in training.pt

    def setup(self, trainer) -> None:
        """The Trainer is built (model, optimizer, layer groups); check what applies."""

    def before_epoch(self, trainer) -> None:
        pass

    def around_loss(self, trainer):
        return contextlib.nullcontext()

    def after_backward(self, trainer, model: nn.Module, batch, share: float) -> dict:
        """Extra training done on this part of the batch: {metric: sum over its items}."""
        return {}

    def before_step(self, trainer, batch_size: int) -> dict:
        """Extra training once per step (the batch had ``batch_size`` items): {metric: its
        mean × batch_size}, so that the epoch's figure is per labelled item."""
        return {}

    def after_step(self, trainer) -> None:
        pass

    def evaluated(self, model: nn.Module) -> nn.Module:
        return model

    def state_dict(self):
        return None

    def load_state_dict(self, state) -> None:
        pass
