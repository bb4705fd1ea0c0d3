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
    read_unlabelled,
    stratified_split,
)
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
from .presets import DEFAULT_PRESET, PRESETS, UNLABELLED_FIT


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
                  valid_targets: list | None = None,
                  unlabelled_tokens: list[list[str]] | None = None, show_progress: bool = True,
                  log=print) -> dict:
    """Train a recurrent classifier of ``preset`` on tokenized training examples, select it on
    the validation texts, calibrate it there, and write OUT/best and OUT/last; the summary.

    ``pretrained``: a language model's {"directory", "vocab", "shape", "weights"} to start
    from; ``vectors``: a word-vector file for the embedding; ``targets``: soft labels (one
    distribution per training example, distillation; with ``valid_targets`` too, several labels
    per example: one 0/1 per class, trained with a sigmoid per class, and each class's
    threshold tuned on validation instead of a temperature). ``tokenizer_config``: what the
    checkpoint records of the tokenizer (default: its own config). ``unlabelled_tokens``:
    tokenized texts without labels, which the fit config's semi-supervised losses read (words
    outside the training vocabulary are unknown there too)."""
    multi_label = valid_targets is not None
    started = time.perf_counter() if started is None else started
    model_settings = {**preset.model, **(model_overrides or {})}
    if pretrained is not None:
        # the encoder's weights come from the language model, so its shape cannot change
        shape = pretrained["shape"]
        clashing = [f"{k}={shape[k]}" for k, v in sorted((model_overrides or {}).items())
                    if k in shape and v != shape[k]]
        if clashing:
            raise ValueError(f"the language model in {pretrained['directory']} fixes "
                             f"{', '.join(clashing)}; drop that option or pretrain a language "
                             f"model of that shape")
        vocab = pretrained["vocab"]
        model_settings.update(shape)
        log(f"starting from the language model in {pretrained['directory']} (vocab "
            f"{len(vocab)}, encoder {pretrained['shape']})")
    else:
        vocab = Vocab.build(train_tokens, max_size=vocab_size or preset.vocab_size)
    train_set = Encoded([vocab.encode(t) for t in train_tokens], train_labels, targets)
    valid_set = Encoded(encode_texts(valid_texts, vocab, tokenizer), valid_labels, valid_targets)
    unlabelled_set = None
    if unlabelled_tokens is not None:
        unlabelled_set = Encoded([vocab.encode(t) for t in unlabelled_tokens],
                                 [0] * len(unlabelled_tokens))
        train_note += f", {len(unlabelled_set):,} unlabelled"
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
                      task=MultiLabelTask() if multi_label else None, unlabelled=unlabelled_set)
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


def _unlabelled_tokens(path, tokenizer, encoding, text_column, multi_label, log):
    """The unlabelled texts at ``path`` (None: none), tokenized as the labelled ones."""
    if path is None:
        return None
    if multi_label:
        raise ValueError("learning from unlabelled texts applies to one label per text; "
                         "drop --unlabelled or --multi-label")
    texts = read_unlabelled(path, text_column=text_column, encoding=encoding)
    log(f"unlabelled: {len(texts):,} texts from {path}")
    return [tokenizer(text) for text in texts]


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
          unlabelled: str | Path | None = None, show_progress: bool = True,
          log=print) -> dict:
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
    (a recipe reads them once for all its candidates). ``unlabelled``: texts without labels
    (a .txt file, one per line; a folder of .txt files; a CSV, TSV, JSON Lines or Parquet
    file's text column) that a recurrent preset also learns from, by entropy minimisation and
    virtual adversarial training (presets.UNLABELLED_FIT; ``overrides`` change them). Returns
    the training summary."""
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
    unlabelled_fit = UNLABELLED_FIT if unlabelled is not None else {}
    fit_config = FitConfig(**{**chosen.fit, **unlabelled_fit, "seed": seed, **weights,
                              **(overrides or {})})
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
        if resume or overrides or class_weights or vectors or unlabelled is not None:
            raise ValueError(f"preset {preset} is fitted in one go: resume, epochs and the "
                             "other training options, class weights, vectors and unlabelled "
                             "texts apply to recurrent presets only")
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
            valid_targets=multi_hot(valid_examples) if multi_label else None,
            unlabelled_tokens=_unlabelled_tokens(unlabelled, made, encoding, text_column,
                                                 multi_label, log))
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
