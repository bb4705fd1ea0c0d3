"""Crash safety, measured: training killed with SIGKILL at random points, resumed, and compared
with a run that was never interrupted.

For each task (sentiment classifier, tagger, language model) a tiny training saves last/ after
every batch (--checkpoint-minutes 0), so saves fill much of its time and kills land inside them
too. One uninterrupted run is the reference. Then a chain: start the run, wait until it has
saved once, SIGKILL it at a random moment of the next stretch of training (every other kill at
the first save under way after that moment), check that what it
left loads (after the automatic recovery of a save cut between its two renames), start it again
with --resume, and so on; a last --resume runs to the end. The chain's final weights must equal
the reference's bit for bit (one thread, same seed: a resumed run replays the same batches with
the same random state). benchmarks/reliability.py runs many kills; tests/test_reliability.py a
few.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch

from gatedrnn.train import checkpoint

TASKS = {  # a small training per task; "{data}" is the IMDb archive or the treebank folder
    "sentiment": ["sentiment", "train", "--data", "{imdb}", "--preset", "tiny", "--epochs", "3",
                  "--batch-size", "4"],
    "tagger": ["tagger", "train", "--data", "{ud}", "--preset", "tiny", "--epochs", "3",
               "--batch-size", "8"],
    "lm": ["sentiment", "pretrain", "--data", "{imdb}", "--preset", "tiny", "--epochs", "4",
           "--batch-size", "1", "--bptt", "20"],
}


def command(task: str, data: dict, out: Path, resume: bool) -> list[str]:
    args = [a.format(**{k: str(v) for k, v in data.items()}) for a in TASKS[task]]
    return [sys.executable, "-m", "gatedrnn.cli", "--threads", "1", *args, "--out", str(out),
            "--checkpoint-minutes", "0", "--json", *(["--resume"] if resume else [])]


def saved_once(out: Path) -> bool:
    return out.is_dir() and any(p.name == "last" or p.name.startswith(".last.")
                                for p in out.iterdir())


def saving(out: Path) -> bool:
    """A save is under way: its temporary directory exists."""
    try:
        return any(p.name.startswith(".last.") and p.name.endswith(".tmp")
                   for p in out.iterdir())
    except FileNotFoundError:
        return False


def run(args: list[str], out: Path, log: Path, kill_after: float | None = None,
        in_save: bool = False) -> dict:
    """Run one training process; with ``kill_after``, SIGKILL it that many seconds after its
    first save (``in_save``: at the first save under way after that moment). Returns
    {"killed", "seconds_after_first_save", "returncode"}."""
    with open(log, "ab") as err:
        process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=err)
        first_save = None
        while process.poll() is None:
            if first_save is None and saved_once(out):
                first_save = time.perf_counter()
            if (kill_after is not None and first_save is not None
                    and time.perf_counter() - first_save >= kill_after
                    and (not in_save or saving(out))):
                os.kill(process.pid, signal.SIGKILL)
                process.wait()
                return {"killed": True, "returncode": process.returncode,
                        "seconds_after_first_save": time.perf_counter() - first_save}
            time.sleep(0.0005)
    span = time.perf_counter() - first_save if first_save else 0.0
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({process.returncode}); see {log}")
    return {"killed": False, "returncode": 0, "seconds_after_first_save": span}


def left_behind(out: Path) -> dict:
    """What a kill left: whether it came during a save, and whether last/ then loads."""
    names = [p.name for p in out.iterdir()] if out.is_dir() else []
    mid_save = any(n.startswith((".last.", ".best.")) for n in names) or (
        "last" not in names and saved_once(out))
    checkpoint.recover(out / "last")
    checkpoint.recover(out / "best")
    loadable = None
    if (out / "last").exists():
        checkpoint.read_config(out / "last")
        checkpoint.load_weights(out / "last")
        loadable = checkpoint.load_training_state(out / "last") is not None
    return {"mid_save": mid_save, "last_loadable": loadable}


def same_weights(a: Path, b: Path) -> bool:
    left, right = checkpoint.load_weights(a), checkpoint.load_weights(b)
    return left.keys() == right.keys() and all(torch.equal(left[k], right[k]) for k in left)


def kill_chain(task: str, data: dict, work: Path, kills: int, seed: int = 0) -> dict:
    """The reference run, then a chain with ``kills`` SIGKILLs and resumes; the record of every
    kill and whether the chain ended with the reference's weights."""
    rng = random.Random(seed)
    work = Path(work) / task
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    reference, chain = work / "reference", work / "chain"
    span = run(command(task, data, reference, False), reference, work / "reference.log")
    span = max(span["seconds_after_first_save"], 0.05)
    points, resume, attempts = [], False, 0
    while len(points) < kills and attempts < 4 * kills:
        attempts += 1
        # every other kill waits for a save to be under way: the moment a crash must not
        # turn into a lost or half-written checkpoint
        outcome = run(command(task, data, chain, resume), chain, work / "chain.log",
                      kill_after=rng.uniform(0, span), in_save=len(points) % 2 == 1)
        if not outcome["killed"]:  # it finished first: start the chain again
            shutil.rmtree(chain)
            resume = False
            continue
        points.append({**outcome, **left_behind(chain)})
        resume = True
    run(command(task, data, chain, resume), chain, work / "chain.log")
    last_equal = same_weights(chain / "last", reference / "last")
    best_equal = same_weights(chain / "best", reference / "best")
    return {"task": task, "kills": len(points), "mid_save": sum(p["mid_save"] for p in points),
            "kills_with_nothing_saved_yet": sum(p["last_loadable"] is None for p in points),
            "every_checkpoint_loadable": all(p["last_loadable"] is not False for p in points),
            "final_weights_bitwise_equal": last_equal and best_equal,
            "reference_training_seconds": span, "points": points}
