"""Library calls run side by side, each in its own process with its share of the cores and
its own log: how a recipe trains several models at once (recurrent layers at these sizes use
two cores poorly, so two one-thread runs beat one two-thread run; see tagging.training).

    calls = {"member-0": Call("gatedrnn.sentiment.training:train",
                              {"data": "aclImdb_v1.tar.gz", "preset": "fast", "seed": 0,
                               "out": "work/member-0"})}
    summaries = run_side_by_side(calls, threads=1, log_dir=Path("work"))

A call is a function named by its module and name and plain keyword arguments, so a step can
be recorded as JSON and compared with the next run's (a recipe reuses the steps it finished).
Each process writes its ``log`` lines and progress bars to LOG_DIR/LABEL.log.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import importlib
import multiprocessing
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Call:
    """``function`` ("package.module:name") called with ``arguments`` (and ``log``)."""

    function: str
    arguments: dict = field(default_factory=dict)

    def record(self) -> dict:
        return {"function": self.function, "arguments": self.arguments}

    def resumed(self) -> "Call":
        """The call continuing where an interruption stopped it: its ``out`` holds last/
        with a training state, so it runs with ``resume=True``."""
        out = self.arguments.get("out")
        if out is not None and not self.arguments.get("resume") and (
                Path(out) / "last" / "training.pt").exists():
            return Call(self.function, {**self.arguments, "resume": True})
        return self


class CallFailed(RuntimeError):
    """A call raised; the message names it, its error and its log."""


def run_side_by_side(calls: dict[str, Call], threads: int, log_dir: Path) -> dict[str, object]:
    """Run every call at once, each in a spawned process with ``threads`` torch threads;
    their results by label. The first failure raises CallFailed after all have ended; Ctrl-C
    lets every call save its progress before it is raised."""
    pool = concurrent.futures.ProcessPoolExecutor(
        max_workers=max(1, len(calls)), mp_context=multiprocessing.get_context("spawn"))
    try:
        futures = {label: pool.submit(_run, call.function, call.arguments, threads,
                                      str(Path(log_dir) / f"{label}.log"))
                   for label, call in calls.items()}
        concurrent.futures.wait(futures.values())
    except KeyboardInterrupt:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown()
    results = {}
    for label, future in futures.items():
        error = future.exception()
        if error is not None:
            raise CallFailed(f"{label} ({calls[label].function}) failed: "
                             f"{type(error).__name__}: {error}; see "
                             f"{Path(log_dir) / (label + '.log')}") from error
        results[label] = future.result()
    return results


def _run(function: str, arguments: dict, threads: int, log_path: str):
    import torch

    torch.set_num_threads(threads)
    module, name = function.split(":")
    target = getattr(importlib.import_module(module), name)
    with open(log_path, "a", encoding="utf-8") as log_file, \
            contextlib.redirect_stderr(log_file):  # progress bars too
        return target(**arguments, log=lambda m: print(m, file=log_file, flush=True))
