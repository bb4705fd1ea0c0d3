"""long-dependency: accuracy against the distance to remember, RNN vs LSTM vs GRU (exercise 4).

First-token recall at T ∈ {10, …, 1000}: the class shown at t = 0 must be reported at t = T − 1.
Run twice: with the chapter's exact setting, and with a setting that gives each model its best
fair chance (see :func:`gatedrnn.experiments.base.fair_settings`). Chance is 1 / classes = 10%.
"""

from __future__ import annotations

import time

from ..analysis import plots
from .base import (CHAPTER, ExperimentResult, adjust, ensure_dir, fair_settings, for_mode,
                   mean_std, progress)
from .runner import Settings, train_on_task

NAME = "long-dependency"
MODES = ("RNN", "LSTM", "GRU")
FULL_LENGTHS = (10, 20, 50, 100, 200, 500, 1000)
QUICK_LENGTHS = (10, 20, 50, 100)
NUM_CLASSES = 10
SOLVED = 0.95  # a run with test accuracy at or above this counts as having learnt the task


def settings(quick: bool, overrides: dict | None = None) -> dict[str, Settings]:
    return {"chapter": adjust(CHAPTER, overrides), "fair": adjust(fair_settings(quick), overrides)}


def run(out_dir, quick: bool = False, seeds: int | None = None, show_progress: bool = True,
        lengths=None, overrides: dict | None = None) -> ExperimentResult:
    started = time.perf_counter()
    out = ensure_dir(out_dir)
    seeds = seeds or (2 if quick else 3)
    lengths = tuple(lengths or (QUICK_LENGTHS if quick else FULL_LENGTHS))
    by_setting = settings(quick, overrides)
    rows, series = [], {}
    bar = progress(len(by_setting) * len(lengths) * len(MODES) * seeds, NAME, show_progress)
    for setting, training in by_setting.items():
        panel = f"{setting}: {training.describe()}"
        series[panel] = {}
        for mode in MODES:
            means, stds = [], []
            for length in lengths:
                runs = []
                for seed in range(seeds):
                    bar.set_postfix_str(f"{setting} {mode} T={length} seed {seed}")
                    runs.append(train_on_task(mode, "first-token-recall", length,
                                              for_mode(training, mode), seed=seed))
                    bar.update()
                accuracies = [r["test_accuracy"] for r in runs]
                mean, std = mean_std(accuracies)
                means.append(mean)
                stds.append(std)
                rows.append({
                    "setting": setting, "model": mode, "T": length,
                    "init": for_mode(training, mode).init, "seeds": seeds,
                    "accuracy mean": mean, "accuracy std": std,
                    "solved runs": f"{sum(a >= SOLVED for a in accuracies)}/{seeds}",
                    "accuracies": accuracies,
                    "s per run": sum(r["seconds_per_step"] for r in runs) * training.steps / seeds,
                })
            series[panel][mode] = (list(lengths), means, stds)
    bar.close()
    figure = plots.accuracy_vs_length(series, 1 / NUM_CLASSES, out / "long_dependency.png",
                                      "First-token recall: test accuracy vs distance "
                                      f"(mean ± std over {seeds} seeds)")
    return ExperimentResult(
        name=NAME,
        description=("First-token recall (10 classes, chance 10%), test accuracy on "
                     f"{by_setting['fair'].test_size} fixed sequences, {seeds} seeds per cell. Settings: "
                     + "; ".join(f"**{k}** = {v.describe()}" for k, v in by_setting.items())
                     + ". The vanilla RNN keeps torch's default init in every setting."),
        columns=["setting", "model", "T", "init", "seeds", "accuracy mean", "accuracy std",
                 "solved runs", "s per run"],
        rows=rows, figures=[figure],
        settings={"lengths": list(lengths), "seeds": seeds,
                  "settings": {k: v.__dict__ for k, v in by_setting.items()}},
        seconds=time.perf_counter() - started)
