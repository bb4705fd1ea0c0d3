"""What language-model pretraining buys the classifier, against the compute it costs: the cost
curve of benchmarks/lm_pretraining.py.

The forward language model of the ulmfit recipe's pipeline (WORK/lm-forward) is taken part way
(its snapshots), untrained (its shape and vocabulary at initial weights: the 0-epoch point)
or trained longer on its own (more than one epoch: its schedule spans them all); each is
fine-tuned into a classifier as the recipe fine-tunes (preset ulmfit), two side by side, and
read on validation and test with the held-out perplexity of the LM it started from.
Pretraining compute is counted in core-minutes: the LM's wall time × its threads × the
fraction of its epochs.
"""

from __future__ import annotations

from pathlib import Path

import torch

from ..data import imdb
from ..lm.evaluation import evaluate_lm
from ..models.language_model import LanguageModel, LanguageModelConfig
from ..train import checkpoint
from ..train.side_by_side import Call
from .pipeline import PRETRAIN_LM, accuracy, classifier, model_probabilities, run_steps


def untrained_language_model(trained: Path, out: Path, seed: int = 0) -> Path:
    """OUT: a language model shaped like TRAINED, with its vocabulary, at its initial weights
    (the cost curve's 0-epoch point)."""
    if (out / "config.json").exists():
        return out
    directory = checkpoint.resolve(trained)
    config = checkpoint.read_config(directory)
    torch.manual_seed(seed)
    model = LanguageModel(LanguageModelConfig.from_dict(config["model"]))
    checkpoint.save(out, config=config, state_dict=model.state_dict(),
                    vocab_tokens=checkpoint.load_vocab_tokens(directory),
                    metrics={"epochs": 0, "steps": 0})
    return out


def language_model_minutes(step: dict) -> dict:
    """Core-minutes of each LM of a language-model step (its own training time × the threads
    it had), its speed, peak RSS, held-out perplexity and epochs."""
    out = {}
    for label, summary in step["summaries"].items():
        rss = max((h.get("peak_rss_mb") or 0) for h in summary["history"])
        out[label] = {"wall_minutes": summary["train_seconds"] / 60,
                      "core_minutes": summary["train_seconds"] * step["threads_each"] / 60,
                      "tokens_per_s": summary["history"][-1].get("tokens_per_s"),
                      "peak_rss_mb": rss, "valid_perplexity": summary["valid_perplexity"],
                      "epochs": len(summary["history"])}
    return out


def cost_curve(data: str, work: Path, preset: str, fractions: list[float], recipe: dict,
               log=print) -> dict:
    """The curve's points (and the recipe's backward classifier) from ``recipe``, the report of
    the ulmfit pipeline run in WORK: {"rows", "curve", "language_models",
    "perplexity_vocabulary"}. Every step is recorded in WORK, so a rerun reuses it."""
    language_models = language_model_minutes(recipe["steps"]["language models"])
    sources, longer = {}, {}
    for fraction in fractions:
        label = f"ulmfit-forward-{fraction:g}"
        if fraction == 0:
            sources[label] = untrained_language_model(work / "lm-forward",
                                                      work / "lm-forward-untrained")
        elif fraction < 1:
            sources[label] = work / "lm-forward" / "snapshots" / f"epoch-{fraction:g}"
        elif fraction > 1:
            name = f"lm-forward-{round(fraction)}ep"
            longer[label] = run_steps(name, {name: Call(PRETRAIN_LM, {
                "data": data, "preset": preset, "direction": "forward",
                "overrides": {"epochs": round(fraction)}, "out": str(work / name)})},
                work, 2, log)
            sources[label] = work / name
    fine_tunes, labels = {}, list(sources)
    for start in range(0, len(labels), 2):  # two side by side, one thread each
        pair = labels[start:start + 2]
        step = run_steps("curve-" + "-".join(pair), {label: classifier(
            data, "ulmfit", work / label, init_from=str(sources[label]), split_seed=0,
            split_by="film") for label in pair}, work, 1 if len(pair) > 1 else 2, log)
        fine_tunes.update({label: step for label in pair})

    dataset = imdb.load(data)
    _, valid_part = imdb.validation_split(dataset.train, 0.1, 0, by="film")
    splits = {"valid": valid_part, "test": dataset.test}
    truth = {name: torch.tensor([r.label for r in reviews]) for name, reviews in splits.items()}
    forward = language_models["lm-forward"]
    points = {1.0: ("ulmfit-forward", work / "lm-forward", recipe["steps"]["ulmfit"])}
    points.update({f: (label, sources[label], fine_tunes[label])
                   for f, label in zip(fractions, labels)})
    rows = {}
    for fraction, (name, lm_directory, step) in sorted(points.items()):
        log(f"evaluating {name}")
        if name in longer:  # its own LM run: its own time
            own = language_model_minutes(longer[name])[f"lm-forward-{round(fraction)}ep"]
            epochs, core_minutes = own["epochs"], own["core_minutes"]
        else:
            epochs, core_minutes = fraction * forward["epochs"], fraction * forward["core_minutes"]
        rows[name] = _row(work / name, lm_directory, data, splits, truth, step, epochs,
                          core_minutes)
    curve = dict(rows)
    backward = language_models["lm-backward"]
    rows["ulmfit-backward"] = _row(work / "ulmfit-backward", work / "lm-backward", data, splits,
                                   truth, recipe["steps"]["ulmfit"], backward["epochs"],
                                   backward["core_minutes"])
    vocabulary = len(checkpoint.load_vocab_tokens(checkpoint.resolve(work / "lm-forward")))
    return {"rows": rows, "curve": curve, "language_models": language_models,
            "perplexity_vocabulary": vocabulary}


def _row(classifier_directory: Path, lm_directory: Path, data: str, splits: dict, truth: dict,
         step: dict, epochs: float, core_minutes: float) -> dict:
    probabilities, _ = model_probabilities(classifier_directory, splits)
    perplexity = evaluate_lm(lm_directory, data, show_progress=False)
    summary = step["summaries"][classifier_directory.name]
    return {"lm_epochs": epochs, "lm_core_minutes": core_minutes,
            "lm_perplexity": perplexity["perplexity"],
            "lm_next_word_accuracy": perplexity["next_word_accuracy"],
            "fine_tune_minutes": step["seconds"] / 60, "fine_tune_threads": step["threads_each"],
            "fine_tune_peak_rss_mb": max((h.get("peak_rss_mb") or 0)
                                         for h in summary["history"]),
            **{f"{split}_accuracy": accuracy(probabilities[split], truth[split])
               for split in splits}}
