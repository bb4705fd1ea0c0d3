"""Every checkpoint trained on one validation split, pooled into one ensemble.

    python benchmarks/ensemble_pool.py --data ../shared/data/aclImdb_v1.tar.gz \\
        /tmp/r0plain/member-0 /tmp/r0adv/member-0 /tmp/advall/student-0 ... [--out results]

Pipelines run with other options (plain or adversarial members, document vectors, students)
train models that err differently, and all of them hold out the same validation reviews
(seed 0, split by film), so they can be combined. Searching subsets of a dozen models on
2,500 reviews would reward luck, so nothing is chosen but the rule: every model's
probabilities averaged, their log-odds averaged, or stacked (a logistic regression over
their log-odds, fitted on validation). The rule is the one with the highest accuracy on
held-out validation folds (nested for the stack, whose weights are fitted on the other
folds; the two averages fit nothing); ties go to the simpler rule, in that order. Test is
read only to report. A checkpoint found twice (a pipeline's work folder copied into
another's, or a model retrained to the same predictions) counts once, and one trained on
another validation split is refused: its validation reviews were someone else's training
reviews. The compute the pool cost is the sum of the pipeline steps that trained its
models (WORK/*.step.json), each step counted once; a checkpoint trained outside a pipeline
adds none, so its training time must be added by hand.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import markdown_table, write_results  # noqa: E402

from gatedrnn.data import imdb  # noqa: E402
from gatedrnn.runinfo import environment  # noqa: E402
from gatedrnn.sentiment.pipeline import (  # noqa: E402
    accuracy,
    combined_accuracy,
    log_odds,
    model_probabilities,
)
from gatedrnn.sentiment.selection import RULES, nested_rule_estimates  # noqa: E402
from gatedrnn.train.checkpoint import read_config  # noqa: E402

SPLIT = {"validation_split_seed": 0, "validation_split_by": "film"}


def same_predictions(a: dict, b: dict, tolerance: float = 1e-4) -> bool:
    """Whether two models' probabilities agree on every review of every split: a copy, or
    the same model retrained (the NBSVM's fit differs by ~1e-6 between runs)."""
    return all(torch.allclose(a[split], b[split], rtol=0, atol=tolerance) for split in a)


def check_split(checkpoint: Path) -> None:
    config = read_config(checkpoint / "best")
    found = {key: config.get(key) for key in SPLIT}
    if found != SPLIT:
        raise SystemExit(f"{checkpoint} held out another validation split ({found}); the pool "
                         f"needs {SPLIT}: train it with --split-seed 0 --split-by film")


def training_steps(checkpoint: Path) -> list[dict]:
    """The pipeline steps (WORK/*.step.json) that made this checkpoint and the word vectors
    it started from: the records with a command that writes either."""
    config = read_config(checkpoint / "best")
    vectors = (config.get("initialised_from") or {}).get("vectors")
    made = {checkpoint.name, *([Path(vectors).name] if vectors else [])}
    found = []
    for record_file in sorted(checkpoint.parent.glob("*.step.json")):
        record = json.loads(record_file.read_text(encoding="utf-8"))
        outs = {Path(out).name for out in step_outputs(record)}
        if outs & made:
            found.append(record)
    return found


def step_outputs(record: dict) -> list[str]:
    """Where a step's trainings wrote: its calls' ``out`` (or, in records of older gatedrnn
    versions, whose steps ran commands, each command's --out)."""
    if "calls" in record:
        return [c["arguments"]["out"] for c in record["calls"].values()
                if "out" in c["arguments"]]
    return [c[c.index("--out") + 1] for c in record["commands"].values() if "--out" in c]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("checkpoints", nargs="+", type=Path)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)

    started = time.perf_counter()
    for checkpoint in args.checkpoints:
        check_split(checkpoint)
    data = imdb.load(args.data)
    _, valid_part = imdb.validation_split(data.train, 0.1, 0, by="film")
    splits = {"valid": valid_part, "test": data.test}
    labels = {name: torch.tensor([r.label for r in reviews]) for name, reviews in splits.items()}
    pool, probabilities = {}, {}
    for checkpoint in args.checkpoints:
        name = f"{checkpoint.parent.name}/{checkpoint.name}"
        found = model_probabilities(checkpoint, splits)[0]
        twin = next((kept for kept, p in probabilities.items() if same_predictions(found, p)),
                    None)
        if twin is not None:
            print(f"{name} predicts what {twin} does (to 1e-4 on every review): counted once")
            continue
        pool[name], probabilities[name] = checkpoint, found
    if len(pool) < 2:
        raise SystemExit("the pool needs two different checkpoints or more")
    rows = {name: {split: accuracy(p[split], labels[split]) for split in splits}
            for name, p in probabilities.items()}
    every = list(probabilities.values())
    rules = {rule: combined_accuracy(rule, every, labels) for rule in RULES}
    nested = nested_rule_estimates(
        torch.stack([log_odds(p["valid"]) for p in every], 1).numpy(), labels["valid"].numpy())
    steps = {}
    for checkpoint in pool.values():
        for record in training_steps(checkpoint):
            # a work folder copied into another keeps the step's record, paths rewritten:
            # the same timing of the same labels is the same step
            labels = record.get("calls") or record["commands"]
            steps[(record["seconds"], *sorted(labels))] = record["seconds"]
    results = {"environment": environment(seed=0), "models": {n: str(c) for n, c in pool.items()},
               "rows": rows, "rules": rules, "nested_valid": nested,
               "final": {"rule": nested["chosen"], **rules[nested["chosen"]]},
               "training_seconds": sum(steps.values()), "training_steps": len(steps),
               "evaluation_seconds": time.perf_counter() - started}
    path = write_results("ensemble_pool", results, args.out)
    print(markdown_table(["model", "validation (%)", "test (%)"],
                         [[n, f"{100 * r['valid']:.2f}", f"{100 * r['test']:.2f}"]
                          for n, r in rows.items()]))
    print(markdown_table(["all models, combined by", "validation (%)", "nested validation (%)",
                          "test (%)"],
                         [[rule, f"{100 * rules[rule]['valid']:.2f}",
                           f"{100 * nested[rule]:.2f}", f"{100 * rules[rule]['test']:.2f}"]
                          for rule in RULES]))
    print(f"final: all {len(pool)} models, {nested['chosen']}: test "
          f"{100 * rules[nested['chosen']]['test']:.2f}%; training {len(steps)} steps, "
          f"{sum(steps.values()) / 60:.1f} min")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
