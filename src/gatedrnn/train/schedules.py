"""Learning-rate schedules: which torch scheduler a FitConfig's ``scheduler`` names, and when
it steps (every batch, or after each validation for "plateau")."""

from __future__ import annotations

import torch

SCHEDULERS = ("none", "plateau", "onecycle", "cosine", "slanted")


def make_scheduler(name: str, optimizer: torch.optim.Optimizer, epochs: int,
                   steps_per_epoch: int):
    """The scheduler for ``name`` (None for "none"); each group's peak is its own lr."""
    peaks = [g["lr"] for g in optimizer.param_groups]
    if name == "plateau":  # halve the rate after an epoch whose validation loss did not fall
        return torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=0)
    if name == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=peaks, epochs=epochs, steps_per_epoch=steps_per_epoch,
            pct_start=0.2)
    if name == "slanted":  # Howard & Ruder 2018: a linear rise over 10% from lr/32, then a fall
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=peaks, epochs=epochs, steps_per_epoch=steps_per_epoch,
            pct_start=0.1, anneal_strategy="linear", div_factor=32.0, final_div_factor=1.0,
            cycle_momentum=False)
    if name == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer,
                                                          T_max=epochs * steps_per_epoch)
    return None


def steps_per_batch(scheduler) -> bool:
    """Does this scheduler step after every batch (all but the plateau rule)?"""
    return scheduler is not None and not isinstance(
        scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)


def after_validation(scheduler, valid_loss: float) -> None:
    if scheduler is not None and not steps_per_batch(scheduler):
        scheduler.step(valid_loss)
