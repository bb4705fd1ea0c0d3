"""gradient-flow: how much of the loss gradient reaches each input step (the chapter's first listing).

Untrained RNN, LSTM and GRU (same hidden size, torch's default initialisation) read a
first-token-recall batch; the loss at the last step is differentiated with respect to every
input x_t. A vanilla RNN's ‖∂L/∂x_t‖ should shrink geometrically with the distance T − t;
the gated cells' much less.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from ..analysis import plots
from ..analysis.gradients import decay_per_step, input_gradient_norms
from ..data.synthetic import first_token_recall
from ..models import SequenceModel
from .base import ExperimentResult, ensure_dir, mean_std, progress

NAME = "gradient-flow"
# (label, cell, initialisation): the chapter's models at torch's default initialisation, and the
# gated ones again with the initialisations meant to keep gradients alive.
VARIANTS = (
    ("RNN", "RNN", "default"),
    ("LSTM", "LSTM", "default"),
    ("GRU", "GRU", "default"),
    ("LSTM forget-bias 1", "LSTM", "forget_bias"),
    ("LSTM chrono", "LSTM", "chrono"),
    ("GRU chrono", "GRU", "chrono"),
)


def gradient_norms(mode: str, length: int, hidden_size: int = 64, batch: int = 32,
                   num_classes: int = 10, seed: int = 0, init: str = "default") -> np.ndarray:
    """‖∂L/∂x_t‖ over t for a freshly initialised model on a first-token-recall batch.

    Computed in float64: a vanilla RNN's gradient at T = 100 is below float32's smallest number.
    """
    torch.manual_seed(seed)
    extra = {"chrono_t_max": length} if init == "chrono" else {}
    model = SequenceModel(mode, num_classes, hidden_size, num_classes, init=init, **extra).double()
    task = first_token_recall(batch, length, num_classes, seed=seed)
    return input_gradient_norms(model, task.x.double(), task.y)


def run(out_dir, quick: bool = False, seeds: int | None = None, show_progress: bool = True,
        lengths=(50, 100), overrides: dict | None = None) -> ExperimentResult:
    started = time.perf_counter()
    hidden_size = (overrides or {}).get("hidden_size", 64)
    out = ensure_dir(out_dir)
    seeds = seeds or (3 if quick else 5)
    curves: dict = {}
    rows = []
    bar = progress(len(lengths) * len(VARIANTS) * seeds, NAME, show_progress)
    for length in lengths:
        curves[length] = {}
        for label, mode, init in VARIANTS:
            norms = []
            for seed in range(seeds):
                norms.append(gradient_norms(mode, length, hidden_size, seed=seed, init=init))
                bar.update()
            norms = np.stack(norms)
            curves[length][label] = (norms.mean(0), norms.std(0))
            ratios = list(norms[:, 0] / norms[:, -1])
            ratio_mean, ratio_std = mean_std([float(r) for r in ratios])
            rows.append({
                "model": label, "init": init, "T": length, "seeds": seeds,
                "grad at t=0": float(norms[:, 0].mean()),
                "grad at t=T-1": float(norms[:, -1].mean()),
                "ratio first/last": ratio_mean, "ratio std": ratio_std,
                "decay per step": decay_per_step(norms.mean(0)),
            })
    bar.close()
    figure = plots.gradient_flow(curves, out / "gradient_flow.png")
    return ExperimentResult(
        name=NAME,
        description=("‖∂L/∂x_t‖ of the last-step loss on first-token recall, untrained models, "
                     f"hidden {hidden_size}, batch 32, mean over {seeds} seeds. "
                     "'decay per step' is the factor by which the gradient shrinks per step "
                     "of distance (fitted on a log scale)."),
        columns=["model", "init", "T", "seeds", "grad at t=0", "grad at t=T-1", "ratio first/last",
                 "ratio std", "decay per step"],
        rows=rows, figures=[figure],
        settings={"lengths": list(lengths), "hidden_size": hidden_size, "seeds": seeds},
        seconds=time.perf_counter() - started)
