"""Run every experiment and write DIR/report.md, DIR/results.json and the figures."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import torch

from ..runinfo import environment
from ..data import ud
from . import (bidirectional, bidirectional_pos, gates, gradient_flow, long_dependency,
               lstm_vs_gru, params)
from .base import ExperimentResult, ensure_dir
from .claims import evaluate_claims

EXPERIMENTS = {module.NAME: module for module in
               (params, gradient_flow, long_dependency, lstm_vs_gru, bidirectional, gates,
                bidirectional_pos)}


def run_experiment(name: str, out_dir, quick: bool = False, seeds: int | None = None,
                   show_progress: bool = True, overrides: dict | None = None,
                   data=None) -> ExperimentResult:
    """Run one experiment; ``overrides`` replaces training fields (e.g. steps) in every run.
    ``data`` is the data set folder of an experiment on real data (bidirectional-pos)."""
    if name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}; choose one of {', '.join(EXPERIMENTS)}")
    torch.manual_seed(0)
    module = EXPERIMENTS[name]
    extra = {"data": data} if getattr(module, "NEEDS_DATA", None) else {}
    return module.run(out_dir, quick=quick, seeds=seeds, show_progress=show_progress,
                      overrides=overrides, **extra)


def default_experiments(quick: bool, data=None, log=print) -> list[str]:
    """Every synthetic experiment; in full mode also those on real data whose data is here."""
    names = [n for n, m in EXPERIMENTS.items() if not getattr(m, "NEEDS_DATA", None)]
    if quick:
        return names
    if ud.locate(data) is not None:
        return [*names, bidirectional_pos.NAME]
    log(f"skipping {bidirectional_pos.NAME}: UD English EWT not found (pass --data FOLDER or "
        "set GATEDRNN_UD_DIR)")
    return names


def reproduce(out_dir, quick: bool = False, seeds: int | None = None, show_progress: bool = True,
              only: list[str] | None = None, log=print, overrides: dict | None = None,
              data=None) -> dict:
    """Run the experiments (all, or ``only``), then write the report; returns the results dict.

    results.json is rewritten after each experiment, so an interrupted run keeps what finished.
    """
    out = ensure_dir(out_dir)
    names = only or default_experiments(quick, data, log)
    started = time.perf_counter()
    results: dict[str, ExperimentResult] = {}
    for index, name in enumerate(names, 1):
        log(f"[{index}/{len(names)}] {name} ...")
        result = run_experiment(name, out, quick=quick, seeds=seeds, show_progress=show_progress,
                                overrides=overrides, data=data)
        results[name] = result
        log(f"[{index}/{len(names)}] {name} done in {result.seconds:.0f} s")
        _write(out, results, quick, seeds, time.perf_counter() - started, overrides)
    return _write(out, results, quick, seeds, time.perf_counter() - started, overrides)


def _write(out: Path, results: dict, quick: bool, seeds, seconds: float,
           overrides: dict | None = None) -> dict:
    claims = evaluate_claims(results)
    payload = {
        "mode": "quick" if quick else "full", "seeds_override": seeds,
        "settings_overrides": overrides,
        "wall_seconds": seconds, "environment": environment(seed=0),
        "claims": [c.to_json() for c in claims],
        "experiments": {name: r.to_json() for name, r in results.items()},
    }
    _atomic_write(out / "results.json", json.dumps(payload, indent=2, default=str) + "\n")
    _atomic_write(out / "report.md", render_report(payload, results, claims, out))
    return payload


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def render_report(payload: dict, results: dict, claims, out: Path) -> str:
    env = payload["environment"]
    lines = [
        "# The chapter's claims, measured",
        "",
        f"`gatedrnn reproduce{' --quick' if payload['mode'] == 'quick' else ''}` — "
        f"{payload['mode']} mode, {payload['wall_seconds'] / 60:.1f} min wall time on "
        f"{env['cpu']} ({env['torch_threads']} threads), torch {env['torch']}, "
        f"seed 0 onwards, {env['date']}.",
        "",
        "Each claim of the chapter is set against what our runs measured. *holds*: the "
        "measurement agrees. *does not hold*: it contradicts the claim. *holds only when*: "
        "it agrees under the stated condition and not otherwise. Verdicts are computed from "
        "the tables below by `gatedrnn.experiments.claims`, not written by hand.",
    ]
    if payload["mode"] == "quick":
        lines += ["", "> Quick mode: fewer seeds, shorter sequences and shorter training than the "
                  "full run (`gatedrnn reproduce`). Read its verdicts as a smoke test."]
    lines += ["", "## Verdicts", "", "| claim | verdict | evidence | experiment |",
              "|---|---|---|---|"]
    for c in claims:
        lines.append(f"| {c.quote} | **{c.verdict_text()}** | {c.evidence} | {c.experiment} |")
    for name, result in results.items():
        lines += ["", f"## {name}", "", result.description, "", result.markdown()]
        for figure in result.figures:
            rel = os.path.relpath(figure, out)
            lines += ["", f"![{name}]({rel})"]
        lines += ["", f"_{result.seconds:.0f} s_"]
    return "\n".join(lines) + "\n"
