"""Building a recipe (classify.recipes) into one directory: its candidates trained within
the budget, scored on one validation split, their ensemble, the leaderboard, the one kept.

    from gatedrnn.classify.building import run_recipe
    run_recipe("auto", "questions.csv", out="runs/questions", budget_minutes=15)
"""

from __future__ import annotations

import time
from pathlib import Path

from .. import registry
from ..data.labelled import LabelledDataError, label_names
from ..runinfo import environment
from ..train import checkpoint
from . import training
from .common import DEFAULT_OUT, TASK
from .evaluation import evaluate, evaluate_multi_label
from .presets import PRESETS
from .training import _kind_of, built_in, prepare, read_built_in


def run_recipe(name: str, data, out: str | Path = DEFAULT_OUT, *, budget_minutes=None,
               valid=None, test=None, tokenizer: str = "auto", validation_fraction: float = 0.1,
               seed: int = 0, vectors=None, multi_label: bool = False,
               label_separator: str = "|", show_progress: bool = True, log=print,
               **reading) -> dict:
    """Build recipe ``name`` (classify.recipes) into OUT: each candidate trained into
    OUT/candidates/NAME while the budget lasts (those trained by epochs share what is left
    of it alike, and stop at the end of their share), then, for a recipe with an ensemble and
    time left, their ensemble (OUT/candidates/ensemble); every one scored on the same
    validation examples (accuracy, macro-F1, training time, size) and the leaderboard written
    to OUT/leaderboard.json. The ensemble is kept in OUT/best when it was built; otherwise
    the most accurate candidate (macro-F1 breaks ties; then the earlier, simpler one). Test,
    when given, is scored once, for the model kept, and chooses nothing. ``multi_label``: the
    candidates that learn several labels per text (the recurrent ones), ranked by micro-F1.
    On a built-in data set whose task owns a recipe of this name (IMDb: sentiment's fast and
    best), that task builds it."""
    from .predict import load_classifier
    from .recipes import RECIPES, candidate_preset

    named = built_in(data)
    owner = registry.data_set_recipes(named[0]) if named else None
    if owner is not None and name in owner.names:
        unused = {"valid": valid, "test": test, "tokenizer": tokenizer != "auto",
                  "vectors": vectors, "multi_label": multi_label, "budget": budget_minutes,
                  "validation_fraction": validation_fraction != 0.1,
                  **{k: v for k, v in reading.items() if v is not None}}
        return _owned_recipe(owner, name, named, out, [k for k, v in unused.items() if v],
                             seed=seed, show_progress=show_progress, log=log)
    if name not in RECIPES:
        raise ValueError(f"unknown recipe {name!r}; choose one of {', '.join(RECIPES)}")
    recipe = RECIPES[name]
    budget = budget_minutes if budget_minutes is not None else recipe.budget_minutes
    if budget is not None and not budget > 0:
        raise ValueError(f"the budget must be more than 0 minutes, got {budget}")
    out = Path(out)
    started = time.perf_counter()
    # training stops a tenth of the budget early: scoring the candidates on validation,
    # building their ensemble and writing the one kept happen after it, and are inside the
    # budget too (IMDb stars, 20 min without this reserve: 21.6 min in all)
    deadline = started + 0.9 * 60 * budget if budget else None
    end = started + 60 * budget if budget else None
    prepared = prepare(data, valid, test, validation_fraction=validation_fraction, seed=seed,
                       log=log, multi_label=multi_label, label_separator=label_separator,
                       **reading)
    labels = label_names(prepared.train)
    score = _scorer(labels, multi_label)
    rows, trained = {}, []
    # what is left of the budget is shared alike by the candidates trained by epochs that are
    # still to come, so that the first does not leave the others nothing ("try both")
    by_epochs = [c for c in recipe.candidates
                 if _kind_of(PRESETS[candidate_preset(c)[0]]).train is None]
    for candidate in recipe.candidates:
        preset, offset = candidate_preset(candidate)
        left = None if deadline is None else deadline - time.perf_counter()
        fitted_in_one_go = _kind_of(PRESETS[preset]).train is not None
        share = (left if left is None or fitted_in_one_go
                 else left / (len(by_epochs) - by_epochs.index(candidate)))
        if multi_label and fitted_in_one_go:
            rows[candidate] = {"skipped": "it takes one label per text"}
            log(f"recipe {name}: {candidate} skipped: it takes one label per text")
            continue
        if left is not None and left <= 0:
            rows[candidate] = {"skipped": "the budget was spent before it could start"}
            log(f"recipe {name}: {candidate} skipped: the budget is spent")
            continue
        log(f"recipe {name}: {candidate} ({PRESETS[preset].description}"
            + (f"; seed {seed + offset}" if offset else "") + ")"
            + (f"; {left / 60:.1f} min of the budget left" if left is not None else "")
            + (f", {share / 60:.1f} min for it" if share is not None and share != left else ""))
        directory = out / "candidates" / candidate
        summary = training.train(data, directory, preset=preset, valid=valid, test=None,
                                 tokenizer=tokenizer,
                                 validation_fraction=validation_fraction,
                                 seed=seed + offset,  # the split stays the recipe's (prepared)
                                 vectors=None if fitted_in_one_go else vectors,  # recurrent
                                 time_limit=share, score_test=False,  # the kept one: below
                                 multi_label=multi_label, label_separator=label_separator,
                                 prepared=prepared, show_progress=show_progress, log=log,
                                 **reading)
        rows[candidate] = {
            **score(load_classifier(directory, task=TASK), prepared.valid, "valid"),
            "train_seconds": summary["train_seconds"], "params": summary["params"],
            "size_mb": _size_mb(directory / "best"),
            **({"stopped": summary["stopped"]} if summary.get("stopped") else {})}
        trained.append(candidate)
    if not trained:
        raise LabelledDataError(f"recipe {name}: no candidate could be trained ("
                                + "; ".join(f"{c}: {r['skipped']}" for c, r in rows.items())
                                + ")")
    if recipe.ensemble and not multi_label:
        # the ensemble is built in the reserve: it trains nothing, and only reads validation
        # (IMDb, 2,500 reviews: seconds), where waiting for the training deadline skipped it
        if len(trained) < 2:
            rows["ensemble"] = {"skipped": "fewer than two candidates were trained"}
        elif end is not None and time.perf_counter() >= end:
            rows["ensemble"] = {"skipped": "the budget was spent before it could start"}
        else:
            rows["ensemble"] = _ensemble_row(out, trained, rows, prepared, labels, score, log)
    metric = "valid_micro_f1" if multi_label else "valid_accuracy"
    order = list(rows)
    ranked = sorted((c for c in rows if metric in rows[c]),
                    key=lambda c: (rows[c][metric], rows[c]["valid_macro_f1"], -order.index(c)),
                    reverse=True)
    what = "micro-F1" if multi_label else "accuracy"
    if "ensemble" in ranked:
        # Each member's validation figure is its best epoch's, chosen on these very examples,
        # so it flatters the member; the ensemble's is not such a maximum. On SST-5 (from
        # word vectors) validation ranked the BiGRU first (47.05% against the ensemble's
        # 46.14%), and on test the ensemble of five was 3.1 points ahead of it (49.19%).
        chosen = "ensemble"
        single = max(trained, key=lambda c: rows[c][metric])
        why = (f"the ensemble of {len(trained)} is kept ({RULE_WORDS[rows[chosen]['rule']]}: "
               f"{rows[chosen][metric]:.2%} on the {len(prepared.valid):,} validation "
               f"examples; the best single model there, {single}, scored "
               f"{rows[single][metric]:.2%} at its best epoch, chosen on those examples)")
    else:
        chosen = ranked[0]
        why = (f"the highest {what} on the {len(prepared.valid):,} validation examples "
               f"({rows[chosen][metric]:.2%}"
               + (f", {100 * (rows[chosen][metric] - rows[ranked[1]][metric]):.2f} points "
                  f"ahead of {ranked[1]}" if len(ranked) > 1 else "") + ")")
    if chosen == "ensemble":  # its members stay in OUT/candidates, named relative to OUT/best
        from .ensemble import save_ensemble
        built = checkpoint.read_config(out / "candidates" / "ensemble")
        with checkpoint.staged(out / "best") as staging:
            save_ensemble(staging, [out / "candidates" / c / "best" for c in trained],
                          built["rule"], built["weights"], built["bias"],
                          built["calibration"], {"selection": built["selection"]},
                          task=TASK, labels=labels)
    else:
        checkpoint.copy_directory(out / "candidates" / chosen / "best", out / "best")
    train_seconds = time.perf_counter() - started
    if prepared.test is not None:  # once, for the model kept (the others: its candidates/)
        rows[chosen].update(score(load_classifier(out / "best", task=TASK), prepared.test,
                                  "test"))
    report = {"recipe": name, "budget_minutes": budget, "labels": labels,
              "validation": prepared.validation, "leaderboard": rows, "chosen": chosen,
              "why": why, "best_valid_accuracy": rows[chosen]["valid_accuracy"],
              "train_seconds": train_seconds,
              **({"test": {k[5:]: v for k, v in rows[chosen].items() if k.startswith("test_")}}
                 if prepared.test is not None else {}),
              "environment": environment(seed=seed)}
    checkpoint.write_json_atomic(out / "leaderboard.json", report)
    log(f"recipe {name}: kept {chosen}: {why}")
    return report


def _owned_recipe(owner, name: str, named: tuple, out, unused: list[str], *, seed: int,
                  show_progress: bool, log) -> dict:
    """Recipe ``name`` of the task that owns the built-in data set (IMDb's defaults: the
    sentiment task's fast and best), built by that task into OUT; its test split scored once,
    as every recipe's is."""
    data_set, path = named
    if unused:
        raise ValueError(f"on {data_set}, recipe {name} is the {owner.task} task's own, "
                         f"measured as it is: it takes no {', '.join(unused)} (drop them, or "
                         "choose --recipe auto)")
    started = time.perf_counter()
    log(f"recipe {name} on {data_set}: the {owner.task} task's own")
    report = owner.build(name, path, out, seed=seed, show_progress=show_progress, log=log)
    from .predict import load_classifier
    model = load_classifier(out)
    test, _ = read_built_in(data_set, path)["test"]
    index = {label: i for i, label in enumerate(model.labels)}
    scored = evaluate(model, [e.text for e in test], [index[e.label] for e in test])
    summary = {"recipe": name, "built_by": owner.task, "data": data_set,
               "test": {k: scored[k] for k in ("accuracy", "macro_f1", "count")},
               "train_seconds": time.perf_counter() - started, "report": report}
    checkpoint.write_json_atomic(Path(out) / "leaderboard.json", summary)
    log(f"test: accuracy {scored['accuracy']:.4f}, macro-F1 {scored['macro_f1']:.4f} "
        f"({scored['count']:,} examples)")
    return summary


class _Scored:
    """Scores already computed, read through the Predictor interface ``evaluate`` uses."""

    def __init__(self, labels: list[str], temperature: float, scores, source: str):
        self.labels, self.temperature, self._scores, self.source = (labels, temperature,
                                                                    scores, source)

    def scores(self, texts: list[str], *ignored, **options):
        return self._scores


RULE_WORDS = {"mean": "their probabilities averaged",
              "log-odds": "their log-probabilities averaged",
              "stacked": "a weight per model fitted on validation"}


def _size_mb(directory: Path) -> float:
    return sum(f.stat().st_size for f in directory.iterdir()) / 2**20


def _scorer(labels: list[str], multi_label: bool):
    """(model, examples, split name) → a leaderboard row's figures on those examples."""
    index = {label: i for i, label in enumerate(labels)}

    def figures(model, examples, split):
        texts = [e.text for e in examples]
        if multi_label:
            scored = evaluate_multi_label(model, texts, [e.labels for e in examples])
        else:
            scored = evaluate(model, texts, [index[e.label] for e in examples])
        keys = ("accuracy", "macro_f1", "micro_f1") if multi_label else ("accuracy", "macro_f1")
        return {f"{split}_{key}": scored[key] for key in keys}

    return figures


def _ensemble_row(out: Path, members: list[str], rows: dict, prepared, labels: list[str],
                  score, log) -> dict:
    """Build the members' ensemble in OUT/candidates/ensemble; its leaderboard row (its
    validation accuracy is the chosen rule's: cross-validated when the rule is the stack)."""
    from .ensemble import build_ensemble

    started = time.perf_counter()
    index = {label: i for i, label in enumerate(labels)}
    directory = out / "candidates" / "ensemble"
    selection, scores = build_ensemble(
        directory, [out / "candidates" / m / "best" for m in members],
        [e.text for e in prepared.valid], [index[e.label] for e in prepared.valid], task=TASK,
        log=log)
    # scored from the scores build_ensemble computed: loading it would run every member again
    saved = checkpoint.read_config(directory)
    row = score(_Scored(labels, saved["calibration"]["temperature"], scores, str(directory)),
                prepared.valid, "valid")
    row["valid_accuracy"] = selection["validation_accuracy"][selection["rule"]]
    return {**row, "rule": selection["rule"], "members": members,
            "train_seconds": sum(rows[m]["train_seconds"] for m in members)
            + time.perf_counter() - started,
            "params": sum(rows[m]["params"] for m in members),
            "size_mb": sum(rows[m]["size_mb"] for m in members)}
