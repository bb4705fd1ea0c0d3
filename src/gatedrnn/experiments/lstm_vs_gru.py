"""lstm-vs-gru: parameters, speed, accuracy and convergence at T = 20, 50, 100 (exercise 2).

Both cells train on first-token recall with the same fair training and seeds. Speed is measured
twice, because it depends on the implementation more than on the cell: torch's fused kernels
(what a user of torch.nn gets) and gatedrnn's from-scratch path (the same Python loop for both,
so the difference is the cells' arithmetic: 4 vs 3 gate blocks).
"""

from __future__ import annotations

import statistics
import time

import numpy as np
import torch

from ..analysis import plots
from ..nn import GRU, LSTM
from .base import ExperimentResult, adjust, ensure_dir, fair_settings, mean_std, progress
from .runner import train_on_task

NAME = "lstm-vs-gru"
MODES = ("LSTM", "GRU")
LENGTHS = (20, 50, 100)
CONVERGED = 0.95  # training accuracy (moving average over 20 steps) that counts as converged


def steps_to_converge(accuracy: list[float], window: int = 20) -> int | None:
    """First step at which the moving-average training accuracy reaches CONVERGED."""
    values = np.asarray(accuracy)
    if len(values) < window:
        return None
    moving = np.convolve(values, np.ones(window) / window, mode="valid")
    hits = np.nonzero(moving >= CONVERGED)[0]
    return int(hits[0] + window) if len(hits) else None


def layer_step_time(mode: str, impl: str, length: int = 100, batch: int = 64,
                    input_size: int = 100, hidden_size: int = 256, repeats: int = 5) -> float:
    """Median seconds of one forward + backward pass of one layer."""
    torch.manual_seed(0)
    layer = (LSTM if mode == "LSTM" else GRU)(input_size, hidden_size, impl=impl)
    x = torch.randn(length, batch, input_size, requires_grad=True)

    def step():
        layer.zero_grad(set_to_none=True)
        out, _ = layer(x)
        out.sum().backward()

    step()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def run(out_dir, quick: bool = False, seeds: int | None = None, show_progress: bool = True,
        lengths=LENGTHS, overrides: dict | None = None,
        timing_repeats: int | None = None) -> ExperimentResult:
    started = time.perf_counter()
    out = ensure_dir(out_dir)
    seeds = seeds or (2 if quick else 3)
    training = adjust(fair_settings(quick), overrides)
    timing_repeats = timing_repeats or (3 if quick else 7)
    bar = progress(len(lengths) * len(MODES) * seeds + 4, NAME, show_progress)
    speed = {}
    for mode in MODES:
        for impl in ("fused", "scan"):
            bar.set_postfix_str(f"timing {mode} {impl}")
            speed[(mode, impl)] = layer_step_time(mode, impl, repeats=timing_repeats)
            bar.update()
    rows, curves = [], {}
    for length in lengths:
        curves[length] = {}
        for mode in MODES:
            runs = []
            for seed in range(seeds):
                bar.set_postfix_str(f"{mode} T={length} seed {seed}")
                runs.append(train_on_task(mode, "first-token-recall", length, training, seed=seed))
                bar.update()
            loss = np.mean([r["curve"]["loss"] for r in runs], axis=0)
            accuracy = np.mean([r["curve"]["accuracy"] for r in runs], axis=0)
            curves[length][mode] = (loss, accuracy)
            converged = [steps_to_converge(r["curve"]["accuracy"]) for r in runs]
            reached = [c for c in converged if c is not None]
            acc_mean, acc_std = mean_std([r["test_accuracy"] for r in runs])
            rows.append({
                "model": mode, "T": length, "seeds": seeds,
                "encoder params": runs[0]["encoder_params"],
                "ms/train step": 1e3 * statistics.fmean(r["seconds_per_step"] for r in runs),
                "accuracy mean": acc_mean, "accuracy std": acc_std,
                "converged runs": f"{len(reached)}/{seeds}",
                "steps to converge (mean of converged)":
                    statistics.fmean(reached) if reached else "never",
                "ms fwd+bwd fused (H=256)": 1e3 * speed[(mode, "fused")],
                "ms fwd+bwd scan (H=256)": 1e3 * speed[(mode, "scan")],
            })
    bar.close()
    figure = plots.convergence(curves, out / "lstm_vs_gru_convergence.png")
    return ExperimentResult(
        name=NAME,
        description=(f"First-token recall, {training.describe()}, {seeds} seeds. 'ms/train step' "
                     "is forward+backward+Adam at that size (hidden 64, batch 32); the two "
                     "'fwd+bwd' columns time one layer at batch 64, length 100, input 100, "
                     "hidden 256 on torch's fused kernels and on gatedrnn's from-scratch path. "
                     f"'Converged' = moving-average training accuracy ≥ {CONVERGED:.0%}."),
        columns=["model", "T", "seeds", "encoder params", "ms/train step", "accuracy mean",
                 "accuracy std", "converged runs", "steps to converge (mean of converged)",
                 "ms fwd+bwd fused (H=256)", "ms fwd+bwd scan (H=256)"],
        rows=rows, figures=[figure],
        settings={"lengths": list(lengths), "seeds": seeds, "training": training.__dict__},
        seconds=time.perf_counter() - started)
