"""params: the chapter's parameter tables, counted from real modules rather than typed.

torch.nn.LSTM vs torch.nn.GRU, 2 layers, input 10, hidden 20, uni- and bidirectional; the
gatedrnn layers are counted too and must agree. Per layer and direction: LSTM 4H(I + H + 2),
GRU 3H(I + H + 2), so GRU / LSTM = 3/4 exactly; a bidirectional stack has twice the first
layer's parameters and more than twice the next ones' (their input is 2H wide).
"""

from __future__ import annotations

import time

from torch import nn

import gatedrnn

from .base import ExperimentResult

NAME = "params"


def count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def run(out_dir=None, quick: bool = False, seeds: int | None = None, show_progress: bool = True,
        overrides: dict | None = None, input_size: int = 10, hidden_size: int = 20,
        num_layers: int = 2) -> ExperimentResult:
    started = time.perf_counter()
    del out_dir, quick, seeds, show_progress, overrides  # counting needs no training or files
    rows = []
    for bidirectional in (False, True):
        counts = {}
        for mode in ("RNN", "LSTM", "GRU"):
            ref = getattr(nn, mode)(input_size, hidden_size, num_layers, bidirectional=bidirectional)
            ours = getattr(gatedrnn, mode)(input_size, hidden_size, num_layers,
                                           bidirectional=bidirectional)
            counts[mode] = count(ref)
            uni = getattr(nn, mode)(input_size, hidden_size, num_layers)
            rows.append({
                "model": f"nn.{mode}", "bidirectional": bidirectional,
                "layers": num_layers, "input": input_size, "hidden": hidden_size,
                "params (torch.nn)": counts[mode], "params (gatedrnn)": count(ours),
                "vs LSTM": None, "vs unidirectional": count(ref) / count(uni),
            })
        for row in rows[-3:]:
            row["vs LSTM"] = row["params (torch.nn)"] / counts["LSTM"]
    return ExperimentResult(
        name=NAME,
        description=(f"Parameter counts of {num_layers}-layer stacks, input {input_size}, hidden "
                     f"{hidden_size}, with biases, counted from torch.nn and gatedrnn modules."),
        columns=["model", "bidirectional", "layers", "input", "hidden", "params (torch.nn)",
                 "params (gatedrnn)", "vs LSTM", "vs unidirectional"],
        rows=rows, settings={"input_size": input_size, "hidden_size": hidden_size,
                             "num_layers": num_layers},
        seconds=time.perf_counter() - started)
