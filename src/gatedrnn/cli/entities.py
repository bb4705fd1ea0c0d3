"""``gatedrnn entities``: named entities in your own column files (IOB2), any language."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from .options import CHECKPOINT_MINUTES, FilePath, read_text_file, report_training, run_training
from .root import main


@main.group()
def entities():
    """Named entities (a BiLSTM-CRF) from IOB2 column files: train, evaluate, predict."""


def _presets():
    from ..entities.presets import PRESETS
    return list(PRESETS)


def _data_sets():
    from ..entities.data import DATA_SETS
    return list(DATA_SETS)


def _errors() -> tuple:
    from ..data.columns import ColumnsError
    from ..data.download import DownloadError
    from ..train.checkpoint import CheckpointError
    from ..train.loop import TrainingDiverged
    return (ColumnsError, DownloadError, CheckpointError, TrainingDiverged, FileNotFoundError,
            ValueError)


FILE = FilePath(exists=True, dir_okay=False, path_type=Path)


@entities.command("train")
@click.option("--train", "train_file", type=FILE, default=None,
              help="The training file: one token a line with its IOB2 tag (UNER's .iob2, "
                   "CoNLL-2003's columns), a blank line between sentences.")
@click.option("--dev", "dev_file", type=FILE, default=None,
              help="The dev file, which chooses the best epoch [default: a seeded 10% of "
                   "train, held out].")
@click.option("--test", "test_file", type=FILE, default=None,
              help="A test file: read now (so that a bad one fails before training) and "
                   "scored at the end.")
@click.option("--dataset", type=click.Choice(_data_sets()), default=None,
              help="Instead of --train: a public data set, downloaded to the cache.")
@click.option("--preset", type=click.Choice(_presets()), default="bilstm-crf",
              show_default=True)
@click.option("--out", type=FilePath(file_okay=False, path_type=Path),
              default=Path("runs/entities"), show_default=True,
              help="Writes OUT/best, OUT/last and OUT/metrics.jsonl.")
@click.option("--char-encoder", type=click.Choice(["lstm", "cnn", "none"]), default=None,
              help="How words are read by their characters (none: the word embedding only).")
@click.option("--hidden-size", type=click.IntRange(min=1), default=None)
@click.option("--epochs", type=click.IntRange(min=1), default=None,
              help="[default: the preset's steps over the data's size]")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=None)
@click.option("--batch-size", type=click.IntRange(min=1), default=None)
@click.option("--limit", type=click.IntRange(min=1), default=None,
              help="Use only the first LIMIT training sentences (quick trials).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--resume", is_flag=True, help="Continue from OUT/last after an interruption.")
@CHECKPOINT_MINUTES
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def entities_train(train_file, dev_file, test_file, dataset, preset, out, char_encoder,
                   hidden_size, epochs, lr, batch_size, limit, seed, resume, checkpoint_minutes,
                   as_json):
    """Train an entity tagger on train, keep the epoch of the best dev entity F1; Ctrl-C
    saves, and --resume continues. With --test, its scores end the run."""
    from ..entities import evaluate, load_files, read_splits, train
    from ..entities.predict import EntityRecognizer

    if (train_file is None) == (dataset is None):
        raise click.UsageError("give your training file with --train FILE (and --dev, --test), "
                               "or a public data set with --dataset NAME")
    if dataset is not None and (dev_file or test_file):
        raise click.UsageError("--dev and --test come with --train FILE, not --dataset")
    if train_file is None and (dev_file or test_file):
        raise click.UsageError("--dev and --test come with --train FILE")
    log = lambda m: click.echo(m, err=True)  # noqa: E731
    overrides = {k: v for k, v in {"epochs": epochs, "lr": lr, "batch_size": batch_size,
                                   "checkpoint_minutes": checkpoint_minutes}.items()
                 if v is not None}
    model_overrides = {k: v for k, v in {"char_encoder": char_encoder,
                                         "hidden_size": hidden_size}.items() if v is not None}

    def run():
        splits = (read_splits(dataset) if dataset else
                  load_files(train_file, dev_file, test_file, seed=seed))
        summary = train(splits, preset, out, seed=seed, resume=resume, overrides=overrides,
                        model_overrides=model_overrides, limit=limit, log=log)
        if splits.test:
            report = evaluate(EntityRecognizer.load(out), splits.test)
            summary["test"] = {k: report[k] for k in ("micro", "macro_f1", "per_type")}
            m = report["micro"]
            log(f"test: entity precision {m['precision']:.4f} recall {m['recall']:.4f} "
                f"F1 {m['f1']:.4f} ({m['support']} entities)")
        return summary

    summary = run_training(run, out, _errors())
    report_training(summary, out, "dev entity F1", as_json)


@entities.command("evaluate")
@click.argument("checkpoint", type=FilePath(path_type=Path))
@click.argument("file", type=FILE)
@click.option("--json", "as_json", is_flag=True)
def entities_evaluate(checkpoint, file, as_json):
    """Entity precision, recall and F1 of CHECKPOINT on FILE (IOB2 columns): per type, micro
    and macro, with the recall of entities holding a word unseen in training."""
    from ..data.columns import read_columns
    from ..entities import EntityRecognizer, evaluate

    try:
        sentences, _ = read_columns(file)
        report = evaluate(EntityRecognizer.load(checkpoint), sentences)
    except _errors() as exc:
        raise click.ClickException(str(exc)) from exc
    report["file"] = str(file)
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    m = report["micro"]
    click.echo(f"{file}: {report['sentences']} sentences, {report['tokens']} tokens, "
               f"{m['support']} entities")
    click.echo(f"{'type':<10} {'precision':>9} {'recall':>7} {'f1':>7} {'support':>8}")
    for kind, s in [*report["per_type"].items(), ("micro", m)]:
        click.echo(f"{kind:<10} {s['precision']:>9.4f} {s['recall']:>7.4f} {s['f1']:>7.4f} "
                   f"{s['support']:>8}")
    click.echo(f"macro F1 {report['macro_f1']:.4f}; token accuracy "
               f"{report['token_accuracy']:.4f}")
    if report["unseen_entity_recall"] is not None:
        click.echo(f"entities with a word unseen in training: {report['unseen_entities']}, "
                   f"recall {report['unseen_entity_recall']:.4f}")


@entities.command("predict")
@click.argument("checkpoint", type=FilePath(path_type=Path))
@click.argument("texts", nargs=-1)
@click.option("--file", "file", type=FILE, default=None,
              help="Raw text (one text a line), or with --tokenized one sentence a line.")
@click.option("--tokenized", is_flag=True,
              help="Input is pre-tokenised: one sentence per line, tokens separated by spaces.")
@click.option("--language", type=click.Choice(["auto", "english", "japanese", "words"]),
              default=None, help="How raw text is cut into tokens [default: as the training "
                                 "text looked].")
@click.option("--format", "output_format", type=click.Choice(["json", "conll"]),
              default="json", show_default=True,
              help="json: a line per text, each entity with its character offsets and "
                   "confidence; conll: a token and its tag a line.")
def entities_predict(checkpoint, texts, file, tokenized, language, output_format):
    """Find the entities in TEXTS, --file or standard input."""
    from ..entities import EntityRecognizer, to_conll

    try:
        recognizer = EntityRecognizer.load(checkpoint)
    except _errors() as exc:
        raise click.ClickException(str(exc)) from exc
    if language is not None:
        recognizer.language = language
    if file is not None:
        content = read_text_file(file)
    elif texts:
        content = "\n".join(texts)
    else:
        content = sys.stdin.read()
    lines = [line for line in content.splitlines() if line.strip()]
    if not lines:
        raise click.UsageError("no text: give TEXTS, --file, or text on stdin")
    if tokenized or output_format == "conll":
        from ..data.segment import segment
        sentences = ([line.split() for line in lines] if tokenized else
                     [[t.text for t in s] for line in lines
                      for s in segment(line, recognizer.language)])
        tagged = recognizer.tag(sentences)
        if output_format == "conll":
            click.echo(to_conll(tagged), nl=False)
        else:
            for result in tagged:
                click.echo(json.dumps(result, ensure_ascii=False))
        return
    for result in recognizer.entities(lines):
        click.echo(json.dumps(result, ensure_ascii=False))
