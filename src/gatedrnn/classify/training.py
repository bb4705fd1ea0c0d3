"""Training a text classifier: the recurrent core every classification task shares
(``fit_recurrent``: vocabulary, optional pretrained vectors or language model, the Trainer,
calibration), and ``train`` on one's own labelled files in any language.

    from gatedrnn.classify import train
    train("questions.csv", out="runs/questions")                 # columns detected
    train("reviews/", out="runs/ja", tokenizer="japanese")       # DIR/<label>/*.txt
    train("train.jsonl", valid="dev.jsonl", test="test.jsonl", preset="bigru")

``gatedrnn.sentiment.train`` reads IMDb (and its unlabelled reviews for teachers and word
vectors), then hands the same core its tokens.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from ..data.labelled import (
    LabelledDataError,
    check_against_training,
    label_names,
    read_labelled,
    stratified_split,
)
from .. import registry
from ..data.text import Vocab
from ..data.tokenizers import Tokenizer, load_tokenizer, make_tokenizer
from ..data.vectors import embedding_matrix, load_vectors
from ..models.classifier import ClassifierConfig, SentimentClassifier
from ..runinfo import environment, rss_mb
from ..train import checkpoint
from ..train.callbacks import TimeLimit
from ..train.loop import Encoded, FitConfig, MultiLabelTask, Trainer
from .common import DEFAULT_OUT, TASK
from .evaluation import calibrate_checkpoint, evaluate, evaluate_multi_label
from .predict import encode_texts
from .presets import DEFAULT_PRESET, PRESETS


def fit_recurrent(train_tokens: list[list[str]], train_labels: list[int],
                  valid_texts: list[str], valid_labels: list[int], out: str | Path, *,
                  task: str, labels: list[str], preset, preset_name: str,
                  fit_config: FitConfig, tokenizer: Tokenizer, tokenizer_config=None,
                  model_overrides: dict | None = None, vocab_size: int | None = None,
                  vectors: str | Path | None = None, freeze_embeddings: bool = False,
                  pretrained: dict | None = None, targets: list | None = None,
                  resume: bool = False, extra_config: dict | None = None,
                  started: float | None = None, source: str = "", train_note: str = "",
                  noun: str = "examples", callbacks: list | None = None,
                  valid_targets: list | None = None, show_progress: bool = True,
                  log=print) -> dict:
    """Train a recurrent classifier of ``preset`` on tokenized training examples, select it on
    the validation texts, calibrate it there, and write OUT/best and OUT/last; the summary.

    ``pretrained``: a language model's {"directory", "vocab", "shape", "weights"} to start
    from; ``vectors``: a word-vector file for the embedding; ``targets``: soft labels (one
    distribution per training example, distillation; with ``valid_targets`` too, several labels
    per example: one 0/1 per class, trained with a sigmoid per class, and each class's
    threshold tuned on validation instead of a temperature). ``tokenizer_config``: what the
    checkpoint records of the tokenizer (default: its own config)."""
    multi_label = valid_targets is not None
    started = time.perf_counter() if started is None else started
    model_settings = {**preset.model, **(model_overrides or {})}
    if pretrained is not None:
        vocab = pretrained["vocab"]
        model_settings.update(pretrained["shape"])
        log(f"starting from the language model in {pretrained['directory']} (vocab "
            f"{len(vocab)}, encoder {pretrained['shape']})")
    else:
        vocab = Vocab.build(train_tokens, max_size=vocab_size or preset.vocab_size)
    train_set = Encoded([vocab.encode(t) for t in train_tokens], train_labels, targets)
    valid_set = Encoded(encode_texts(valid_texts, vocab, tokenizer), valid_labels, valid_targets)
    log(f"data: {len(train_set)} train{train_note} / {len(valid_set)} validation {noun} from "
        f"{source}, vocab {len(vocab)} ({time.perf_counter() - started:.1f} s)")

    embedding_stats = None
    if vectors is not None:
        if pretrained is not None:
            raise ValueError("give either vectors or init_from: a pretrained language model "
                             "already brings its embedding")
        word_vectors = load_vectors(vectors, keep=set(vocab.itos))
        model_settings["embedding_dim"] = word_vectors.dim
        counts = Counter(t for tokens in train_tokens for t in tokens)
        weights, embedding_stats = embedding_matrix(word_vectors, vocab.itos, counts=counts,
                                                    seed=fit_config.seed)
        log(f"word vectors {vectors}: dim {word_vectors.dim}, {embedding_stats['found']:,} of "
            f"{len(vocab):,} vocabulary words found ({embedding_stats['found_lowercased']:,} "
            f"lowercased), {embedding_stats['token_coverage']:.1%} of training tokens covered; "
            f"most frequent without a vector: "
            f"{', '.join(embedding_stats['most_frequent_missing'][:8]) or '-'}")
    model_config = ClassifierConfig(vocab_size=len(vocab), num_classes=len(labels),
                                    **model_settings)
    model = SentimentClassifier(model_config)
    if vectors is not None:
        model.load_embeddings(weights, freeze=freeze_embeddings)
    elif pretrained is not None:
        model.load_state_dict(pretrained["weights"], strict=False)
        if freeze_embeddings:
            model.embedding.weight.requires_grad_(False)
    elif freeze_embeddings:
        raise ValueError("freeze_embeddings needs pretrained vectors or init_from: frozen "
                         "random embeddings would not learn anything")
    checkpoint_config = {
        "task": task,
        "tokenizer": tokenizer.config() if tokenizer_config is None else tokenizer_config,
        "labels": list(labels), "model": model_config.to_dict(), "preset": preset_name,
        "fit": asdict(fit_config),
        "initialised_from": {"vectors": str(vectors) if vectors else None,
                             "language_model": str(pretrained["directory"]) if pretrained
                             else None, "frozen_embeddings": freeze_embeddings},
        "vocab_fingerprint": vocab.fingerprint(), "environment": environment(seed=fit_config.seed),
        **(extra_config or {}),
    }
    trainer = Trainer(model, fit_config, train_set, valid_set, out, checkpoint_config, vocab.itos,
                      show_progress=show_progress, log=log, callbacks=callbacks,
                      checkpoint_files=tokenizer.files(),
                      task=MultiLabelTask() if multi_label else None)
    if resume:
        if trainer.resume():
            log(f"resumed from {Path(out) / 'last'} after epoch {trainer.epoch}"
                + (f", batch {trainer.batch_in_epoch}" if trainer.batch_in_epoch else ""))
        else:
            log(f"nothing to resume in {out}; starting fresh")
    summary = trainer.fit()
    if trainer.dist.main and multi_label:
        summary["thresholds"] = tune_thresholds(out, valid_texts, valid_targets, log)
    elif trainer.dist.main:  # under torchrun, the process that wrote best/ calibrates it
        summary["calibration"] = calibrate_best(out, valid_texts, valid_labels, noun, log)
    summary["train_seconds"] = time.perf_counter() - started
    summary["params"] = sum(p.numel() for p in model.parameters())
    summary["peak_rss_mb"] = rss_mb()["peak_rss_mb"]
    summary["train_tokens_per_epoch"] = sum(
        min(n, fit_config.max_length) if fit_config.max_length else n for n in train_set.lengths)
    if embedding_stats is not None:
        summary["embeddings"] = embedding_stats
    return summary


def _kind_of(preset):
    """The registered model kind a preset trains (gatedrnn.registry)."""
    from ..registry import kind
    return kind(TASK, preset.kind)


def calibrate_best(out, texts: list[str], labels: list[int], noun: str = "examples",
                   log=print) -> dict:
    """Temperature scaling of OUT/best on the validation split, stored in its config."""
    record = calibrate_checkpoint(Path(out) / "best", texts, labels)
    log(f"calibration: temperature {record['temperature']:.3f} fitted on "
        f"{record['examples']:,} validation {noun} (ECE {record['ece_before']:.2%} → "
        f"{record['ece_after']:.2%}, NLL {record['nll_before']:.4f} → {record['nll_after']:.4f})")
    return record


def tune_thresholds(out, texts: list[str], targets: list[list[float]], log=print) -> dict:
    """Each class's decision threshold on OUT/best's probabilities, chosen on the validation
    examples to maximise that class's F1 (ties: the threshold nearest 0.5); stored in its
    config.json as ``thresholds``."""
    from .predict import load_classifier

    directory = checkpoint.resolve(out)
    probabilities = load_classifier(directory).probabilities(texts)
    truth = torch.tensor(targets) > 0.5
    grid = [round(0.05 * k, 2) for k in range(1, 20)]
    thresholds = []
    for k in range(truth.shape[1]):
        def f1(t):
            decided = probabilities[:, k] >= t
            tp = int((decided & truth[:, k]).sum())
            return 2 * tp / max(1, int(decided.sum()) + int(truth[:, k].sum()))
        thresholds.append(max(grid, key=lambda t: (f1(t), -abs(t - 0.5))))
    checkpoint.update_config(directory, thresholds=thresholds)
    log(f"thresholds tuned on {len(texts):,} validation examples: "
        + ", ".join(f"{t:.2f}" for t in thresholds))
    return {"thresholds": thresholds, "examples": len(texts)}


# The data sets built in: IMDb's reviews by polarity, and by star rating (1-4 and 7-10: eight
# classes). "imdb" reads the cached (or downloaded) archive, "imdb:PATH" the archive or folder
# at PATH.
BUILT_IN = ("imdb", "imdb-stars")


def built_in(data) -> tuple[str, str | None] | None:
    """(name, path) when ``data`` names a built-in data set (and is no file of that name)."""
    name, _, path = str(data).partition(":")
    if name in BUILT_IN and (path or not Path(str(data)).exists()):
        return name, path or None
    return None


def read_built_in(name: str, path: str | None) -> dict:
    """IMDb's train and test reviews as labelled examples (polarity or stars)."""
    from ..data import imdb
    from ..data.labelled import Example, ReadReport

    try:
        dataset = imdb.load(path)
    except imdb.DatasetError as exc:
        raise LabelledDataError(str(exc)) from exc

    def examples(reviews):
        return [Example(r.text, (str(r.stars) if name == "imdb-stars" else imdb.LABELS[r.label],))
                for r in reviews]

    return {split: (examples(reviews), ReadReport(f"{name} ({dataset.source}, {split})", name,
                                                  examples=len(reviews)))
            for split, reviews in (("train", dataset.train), ("test", dataset.test))}


def read_splits(data, valid=None, test=None, **reading) -> dict:
    """{"train", "valid", "test"}: (examples, report) or None. A folder with train/ (and test/)
    inside is Keras' text_dataset_from_directory layout: each is a folder per class. A
    built-in data set (BUILT_IN) brings its own test split."""
    named = built_in(data)
    if named is not None:
        read = read_built_in(*named)
        return {"train": read["train"],
                "valid": read_labelled(valid, **reading) if valid is not None else None,
                "test": read_labelled(test, **reading) if test is not None else read["test"]}
    data = Path(data)
    if valid is None and test is None and data.is_dir() and (data / "train").is_dir():
        test = data / "test" if (data / "test").is_dir() else None
        valid = data / "validation" if (data / "validation").is_dir() else None
        data = data / "train"
    return {"train": read_labelled(data, **reading),
            "valid": read_labelled(valid, **reading) if valid is not None else None,
            "test": read_labelled(test, **reading) if test is not None else None}


@dataclass
class Prepared:
    """Labelled files read and split: what every candidate of a recipe trains on alike."""

    train: list
    valid: list
    test: list | None
    report: object          # the training file's ReadReport
    validation: dict        # how the validation examples were chosen (recorded in the run)


def prepare(data, valid=None, test=None, *, validation_fraction: float = 0.1, seed: int = 0,
            log=print, **reading) -> Prepared:
    """Read the files (see read_splits), draw the validation split when none is given
    (stratified, seeded), and check validation and test against training."""
    read = read_splits(data, valid, test, **reading)
    examples, report = read["train"]
    log(report.summary())
    if read["valid"] is None:
        train_examples, valid_examples = stratified_split(examples, validation_fraction, seed)
        validation = {"from": "split", "fraction": validation_fraction, "seed": seed}
        log(f"validation: {len(valid_examples):,} examples drawn from the training data "
            f"(stratified, seed {seed}); give --valid FILE to use your own")
    else:
        train_examples, (valid_examples, valid_report) = examples, read["valid"]
        validation = {"from": str(valid_report.source)}
        log(valid_report.summary())
    test_examples = None
    if read["test"] is not None:
        test_examples, test_report = read["test"]
        log(test_report.summary())
    for name, other in (("validation", valid_examples), ("test", test_examples)):
        for warning in check_against_training(train_examples, other or [], name):
            log(f"warning: {warning}")
    return Prepared(train_examples, valid_examples, test_examples, report, validation)


def train(data, out: str | Path = DEFAULT_OUT, *, preset: str = DEFAULT_PRESET, valid=None,
          test=None, tokenizer: str = "auto", text_column: str | None = None,
          label_column: str | None = None, format: str | None = None,
          encoding: str | None = None, validation_fraction: float = 0.1, seed: int = 0,
          overrides: dict | None = None, model_overrides: dict | None = None,
          vocab_size: int | None = None, vectors: str | Path | None = None,
          class_weights: str | None = None, time_limit: float | None = None,
          multi_label: bool = False, label_separator: str = "|", resume: bool = False,
          score_test: bool = True, prepared: Prepared | None = None,
          show_progress: bool = True, log=print) -> dict:
    """Train a classifier on labelled files (``data``; ``valid`` and ``test`` optional; see
    gatedrnn.data.labelled for the formats). Without ``valid``, a seeded stratified
    ``validation_fraction`` of ``data`` is held out, and the run records it. ``tokenizer``:
    auto, word, subword or japanese (data.tokenizers). ``class_weights="balanced"``: each
    class weighs in the loss as much as any other, however few its examples. ``time_limit``
    (seconds): a recurrent preset stops there (its summary says ``stopped``).
    ``multi_label``: a text may have several labels (separated by ``label_separator`` in a
    CSV or TSV field, a list in JSON Lines, several ``__label__`` in fastText lines): one
    sigmoid per class, thresholds tuned on validation. With ``test`` (or a built-in data set's
    own test split), the summary has its accuracy and macro-F1 (multi-label: subset accuracy,
    micro- and macro-F1); ``score_test=False`` leaves it unscored (a recipe scores its
    candidates itself). ``prepared``: the files as ``prepare`` read and split them already
    (a recipe reads them once for all its candidates). Returns the training summary."""
    if class_weights not in (None, "balanced"):
        raise ValueError(f"class_weights must be 'balanced' or None, got {class_weights!r}")
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    chosen = PRESETS[preset]
    started = time.perf_counter()
    if multi_label and class_weights:
        raise ValueError("class weights are for one label per text; with multi_label each "
                         "class is its own yes/no decision")
    if prepared is None:
        prepared = prepare(data, valid, test, validation_fraction=validation_fraction,
                           seed=seed, log=log, format=format, text_column=text_column,
                           label_column=label_column, encoding=encoding,
                           multi_label=multi_label, label_separator=label_separator)
    train_examples, valid_examples = prepared.train, prepared.valid
    report, validation = prepared.report, prepared.validation
    evaluation_sets = ({"test": prepared.test} if prepared.test is not None and score_test
                       else {})
    labels = label_names(train_examples)
    joined = [label for label in labels if label_separator in label]
    if joined and not multi_label:
        log(f"warning: {len(joined)} labels look like several joined by "
            f"'{label_separator}' ({', '.join(map(repr, joined[:3]))}); each is a class of its "
            "own unless you give --multi-label")
    if len(labels) < 2:
        raise LabelledDataError(f"{report.source} has one class ({labels[0]!r}): a classifier "
                                "needs two or more")
    index = {label: i for i, label in enumerate(labels)}
    last = Path(out) / "last"
    if resume and (last / "config.json").exists():  # the same tokenizer, subword model and all
        made = load_tokenizer(checkpoint.read_config(last).get("tokenizer"), last)
    else:
        made = make_tokenizer(tokenizer, [e.text for e in train_examples], log=log)
    torch.manual_seed(seed)
    counts = Counter(e.label for e in train_examples)
    weights = ({"class_weights": [len(train_examples) / (len(labels) * counts[label])
                                  for label in labels]} if class_weights == "balanced" else {})
    fit_config = FitConfig(**{**chosen.fit, "seed": seed, **weights, **(overrides or {})})
    arguments = (
        [made(e.text) for e in train_examples], [index[e.label] for e in train_examples],
        [e.text for e in valid_examples], [index[e.label] for e in valid_examples], out)
    extra = {"data": {"train": report.source, "format": report.format,
                      "text_column": report.text_column, "label_column": report.label_column,
                      "encoding": encoding},
             "validation": validation, "class_counts": dict(counts),
             **({"multi_label": True, "label_separator": label_separator}
                if multi_label else {})}
    def multi_hot(examples):
        return [[float(label in e.labels) for label in labels] for e in examples]

    fitted = _kind_of(chosen).train
    if fitted is not None and multi_label:
        raise ValueError(f"preset {preset} takes one label per text; a recurrent preset "
                         "(bilstm, bigru) learns several")
    if fitted is not None:  # a kind fitted in one go by its own module (kinds/)
        if resume or overrides or class_weights or vectors:
            raise ValueError(f"preset {preset} is fitted in one go: resume, epochs and the "
                             "other training options, class weights and vectors apply to "
                             "recurrent presets only")
        summary = fitted(*arguments, labels=labels, preset=chosen, preset_name=preset,
                         tokenizer=made, seed=seed, extra_config=extra, source=report.source,
                         log=log)
    else:
        summary = fit_recurrent(
            *arguments, task=TASK, labels=labels, preset=chosen, preset_name=preset,
            fit_config=fit_config, tokenizer=made, model_overrides=model_overrides,
            vocab_size=vocab_size, vectors=vectors, resume=resume, started=started,
            source=report.source, extra_config=extra, show_progress=show_progress, log=log,
            callbacks=[TimeLimit(time_limit)] if time_limit else None,
            targets=multi_hot(train_examples) if multi_label else None,
            valid_targets=multi_hot(valid_examples) if multi_label else None)
    summary["labels"] = labels
    if "test" in evaluation_sets:
        from .predict import load_classifier
        tested_model, test = load_classifier(out, task=TASK), evaluation_sets["test"]
        if multi_label:
            tested = evaluate_multi_label(tested_model, [e.text for e in test],
                                          [e.labels for e in test])
        else:
            tested = evaluate(tested_model, [e.text for e in test], [index[e.label] for e in test])
        summary["test"] = {k: tested[k] for k in ("accuracy", "macro_f1", "count")}
        if multi_label:
            summary["test"]["micro_f1"] = tested["micro_f1"]
        log(f"test: accuracy {tested['accuracy']:.4f}, macro-F1 {tested['macro_f1']:.4f} "
            f"({tested['count']:,} examples)")
    return summary


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
        summary = train(data, directory, preset=preset, valid=valid, test=None,
                        tokenizer=tokenizer, validation_fraction=validation_fraction,
                        seed=seed + offset,  # the split stays the recipe's (prepared once)
                        vectors=None if fitted_in_one_go else vectors,  # for the recurrent
                        time_limit=share, score_test=False,  # the kept one: below
                        multi_label=multi_label, label_separator=label_separator,
                        prepared=prepared, show_progress=show_progress, log=log, **reading)
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
