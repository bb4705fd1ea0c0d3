"""A budgeted random search of sentiment hyperparameters, judged on the validation split only.

    gatedrnn sentiment search --data aclImdb_v1.tar.gz --budget-minutes 60 --out runs/search

Each trial trains the base preset with some settings drawn at random (seeded) and is scored by
its best validation accuracy — the split carved from the training reviews, never the test set.
A new trial starts only while the budget is expected to hold it (judged by the slowest trial so
far). Results go to OUT/trials.jsonl as they finish (a rerun with the same OUT skips the trials
already done) and the best settings to OUT/best.json, as the overrides to pass to ``train``.
"""

from __future__ import annotations

import json
import math
import random
import time
from pathlib import Path

from .train import checkpoint

# Where each setting is drawn from. Model settings go to the classifier, the rest to training.
MODEL_SPACE = {
    "hidden_size": [64, 128, 192, 256],
    "embedding_dim": [64, 128, 200],
    "dropout": [0.3, 0.4, 0.5],
    "embedding_dropout": [0.0, 0.1, 0.2, 0.3],
    "word_dropout": [0.0, 0.05, 0.1, 0.2],
    "pooling": ["attention", "max", "mean"],
}
FIT_SPACE = {
    "lr": ("log", 5e-4, 5e-3),
    "batch_size": [16, 32, 64],
    "max_length": [256, 400, 600],
}


def draw(rng: random.Random) -> tuple[dict, dict]:
    """(model settings, fit settings) for one trial."""
    def pick(space):
        out = {}
        for name, options in space.items():
            if isinstance(options, tuple) and options[0] == "log":
                low, high = math.log(options[1]), math.log(options[2])
                out[name] = float(f"{math.exp(rng.uniform(low, high)):.2e}")
            else:
                out[name] = rng.choice(options)
        return out
    return pick(MODEL_SPACE), pick(FIT_SPACE)


def search(data=None, out: str | Path = "runs/search", *, preset: str = "fast",
           budget_minutes: float = 60.0, max_trials: int = 50, seed: int = 0,
           limit: int | None = None, epochs: int | None = None, show_progress: bool = True,
           log=print) -> dict:
    """Run trials until the budget or ``max_trials`` is spent; returns the best trial."""
    from .sentiment import train

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    journal = out / "trials.jsonl"
    done = checkpoint.read_lines(journal)  # a trial cut by a crash runs again
    rng = random.Random(seed)
    started = time.perf_counter()
    slowest = max((t["seconds"] for t in done), default=0.0)
    for number in range(max_trials):
        model_settings, fit_settings = draw(rng)  # drawn even when done, to keep the sequence
        if number < len(done):
            continue
        spent = time.perf_counter() - started
        if done and spent + slowest > budget_minutes * 60:
            log(f"budget: {spent / 60:.1f} of {budget_minutes:g} min spent, the next trial "
                f"would need ~{slowest / 60:.1f}; stopping after {number} trials")
            break
        if epochs:
            fit_settings["epochs"] = epochs
        log(f"trial {number + 1}: {model_settings} {fit_settings}")
        trial_started = time.perf_counter()
        summary = train(data, preset, out / f"trial-{number + 1:03d}", seed=seed,
                        overrides=fit_settings, model_overrides=model_settings, limit=limit,
                        show_progress=show_progress, log=lambda m: None)
        seconds = time.perf_counter() - trial_started
        slowest = max(slowest, seconds)
        record = {"trial": number + 1, "valid_accuracy": summary["best_valid_accuracy"],
                  "model": model_settings, "fit": fit_settings, "seconds": seconds}
        done.append(record)
        checkpoint.append_line(journal, json.dumps(record))
        log(f"trial {number + 1}: validation accuracy {record['valid_accuracy']:.4f} "
            f"({seconds / 60:.1f} min)")
    if not done:
        raise ValueError("no trial ran: the budget is smaller than one trial")
    best = max(done, key=lambda t: t["valid_accuracy"])
    checkpoint.write_json_atomic(out / "best.json", best)
    return {"best": best, "trials": done}


__all__ = ["FIT_SPACE", "MODEL_SPACE", "draw", "search"]
