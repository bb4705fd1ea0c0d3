"""gates: what the gates do on first-token recall (exercise 1, gate visualisation).

An LSTM and a GRU are trained on first-token recall (T = 50, fair settings); then every gate's
activation is recorded on evaluation sequences. Units are ranked by how well their final state
separates the ten classes (between-class variance / total variance of that unit's final c for the
LSTM, h for the GRU): the top units are the ones holding the first token. The heatmaps show one
sequence with units in that order; the table compares memory units with the rest.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from ..analysis import plots
from ..analysis.gates import class_separation
from .base import ExperimentResult, adjust, ensure_dir, fair_settings
from .runner import train_on_task

NAME = "gates"
LENGTH = 50
TOP_UNITS = 8


def run(out_dir, quick: bool = False, seeds: int | None = None, show_progress: bool = True,
        overrides: dict | None = None) -> ExperimentResult:
    started = time.perf_counter()
    out = ensure_dir(out_dir)
    training = adjust(fair_settings(quick), overrides)
    shown = {"LSTM": ("f", "i", "o", "c"), "GRU": ("r", "z", "h")}
    memory_state = {"LSTM": "c", "GRU": "h"}
    rows, figures = [], []
    for mode in ("LSTM", "GRU"):
        trained = train_on_task(mode, "first-token-recall", LENGTH, training, seed=0,
                                keep_model=True)
        model, evaluation = trained["model"], trained["evaluation"]
        model.eval()
        with torch.no_grad():
            _, gates = model(evaluation.x, return_gates=True)
        layer = {k: v.numpy() for k, v in gates["l0"].items()}  # each (B, T, H)
        labels = evaluation.y.numpy()
        score = class_separation(layer[memory_state[mode]][:, -1], labels)
        order = np.argsort(-score)
        keep = max(1, min(TOP_UNITS, len(order) // 4))
        top, rest = order[:keep], order[keep:]
        for gate in shown[mode]:
            values = layer[gate]
            if gate in ("c", "h"):
                continue
            rows.append({
                "model": mode, "test accuracy": trained["test_accuracy"], "gate": gate,
                "mean at t=0": float(values[:, 0].mean()),
                "mean over t≥1, memory units": float(values[:, 1:, top].mean()),
                "mean over t≥1, other units": float(values[:, 1:, rest].mean()),
                "share of memory units with gate > 0.9 for all t≥1":
                    float((values[:, 1:, top] > 0.9).all(axis=1).mean()),
            })
        sequence = {g: _unit_range(layer[g][0][:, order], g) for g in shown[mode]}
        figures.append(plots.gate_heatmaps(
            sequence, out / f"gates_{mode.lower()}.png",
            f"{mode} on first-token recall (T={LENGTH}, test accuracy "
            f"{trained['test_accuracy']:.0%}): one sequence, units ranked by how much their "
            f"final {memory_state[mode]} tells the class (top = memory)", units=32))
    return ExperimentResult(
        name=NAME,
        description=(f"LSTM and GRU (hidden 64) trained on first-token recall T={LENGTH} with "
                     f"{training.describe()}, seed 0; gate statistics over {training.test_size} evaluation "
                     f"sequences. Memory units: the {TOP_UNITS} units whose final state best "
                     "separates the classes."),
        columns=["model", "test accuracy", "gate", "mean at t=0", "mean over t≥1, memory units",
                 "mean over t≥1, other units",
                 "share of memory units with gate > 0.9 for all t≥1"],
        rows=rows, figures=figures, settings={"length": LENGTH, "training": training.__dict__},
        seconds=time.perf_counter() - started)


def _unit_range(values: np.ndarray, gate: str) -> np.ndarray:
    """Gates live in (0, 1); states (c, h) are squashed there for one colour scale."""
    if gate in ("c", "h"):
        return (np.tanh(values) + 1) / 2
    return values
