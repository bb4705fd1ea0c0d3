"""``gatedrnn classify``: text classification on your own labelled files, in any language."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from .options import (
    CHECKPOINT_MINUTES,
    NO_CALIBRATE,
    FilePath,
    echo_calibration,
    read_text_file,
    report_training,
    run_training,
)
from .root import main

FORMATS = ("csv", "tsv", "jsonl", "folder", "fasttext", "parquet", "label-first")
TOKENIZERS = ("auto", "word", "subword", "japanese")


def _presets():
    from ..classify.presets import PRESETS
    return list(PRESETS)


def _preset_help() -> str:
    from ..classify.presets import PRESETS
    return "; ".join(f"{name}: {p.description}" for name, p in PRESETS.items())


def _recipes():
    from ..classify.recipes import RECIPES
    return list(RECIPES)


def _recipe_help() -> str:
    from ..classify.recipes import recipe_help
    return "Build a system instead of one preset: " + recipe_help() + "."


class Budget(click.ParamType):
    """A time budget: 15m, 90s, 1h or a number of minutes."""

    name = "budget"

    def convert(self, value, param, ctx):
        if isinstance(value, (int, float)):
            return float(value)
        text = str(value).strip().lower()
        scale = {"s": 1 / 60, "m": 1.0, "h": 60.0}.get(text[-1:], None)
        try:
            minutes = float(text[:-1]) * scale if scale else float(text)
        except ValueError:
            self.fail(f"{value!r} is not a time budget; write e.g. 15m, 90s or 1h", param, ctx)
        if not minutes > 0:
            self.fail(f"the budget must be more than 0, got {value!r}", param, ctx)
        return minutes


def _reading_options(command):
    """The options that say how labelled files are read (train, evaluate)."""
    for option in reversed([
        click.option("--format", "file_format", type=click.Choice(FORMATS), default=None,
                     help="The files' format [default: from the name: .csv, .tsv, .jsonl, "
                          ".parquet, a folder per class, or __label__ lines]."),
        click.option("--text-column", default=None,
                     help="The column holding the text [default: detected, e.g. text, "
                          "sentence, review; the choice is printed]."),
        click.option("--label-column", default=None,
                     help="The column holding the label [default: detected, e.g. label, "
                          "category, class]."),
        click.option("--encoding", default=None,
                     help="The files' encoding [default: UTF-8, with or without a BOM]."),
    ]):
        command = option(command)
    return command


@main.group()
def classify():
    """Text classification on your own labelled files (CSV, TSV, JSON Lines, a folder per
    class, fastText lines, Parquet), any labels, any language: train, evaluate, predict.

    'gatedrnn sentiment' is the same classifier with IMDb's data and defaults.
    """


@classify.command("train")
@click.option("--data", required=True,
              help="The training examples: a file, a folder per class (DIR/<label>/*.txt), a "
                   "folder with train/ (and test/) in that layout, or a built-in data set: "
                   "imdb (polarity) or imdb-stars (8 star ratings), from the cache or "
                   "downloaded, or imdb:PATH for the archive at PATH (test is its test split).")
@click.option("--valid", type=FilePath(exists=True, path_type=Path), default=None,
              help="Validation examples [default: a seeded, stratified 10% of --data].")
@click.option("--test", type=FilePath(exists=True, path_type=Path), default=None,
              help="Test examples, scored once after training (never used to choose).")
@click.option("--out", type=FilePath(file_okay=False, path_type=Path),
              default=Path("runs/classify"), show_default=True)
@click.option("--preset", type=click.Choice(_presets()), default="bilstm", show_default=True,
              help=_preset_help())
@click.option("--recipe", type=click.Choice(_recipes()), default=None, help=_recipe_help())
@click.option("--budget", type=Budget(), default=None,
              help="With --recipe: the time the recipe may take, e.g. 15m [default: the "
                   "recipe's; auto: 15m]. A recurrent candidate stops when it is spent.")
@click.option("--tokenizer", type=click.Choice(TOKENIZERS), default="auto", show_default=True,
              help="auto: chosen from the texts' script (and said); word: spaced languages; "
                   "subword: a SentencePiece model learnt from your texts; japanese: MeCab "
                   "with UniDic.")
@_reading_options
@click.option("--vectors", type=FilePath(exists=True, dir_okay=False, path_type=Path),
              default=None, help="Start the embedding from a word-vector file (word2vec, "
              "GloVe or fastText text format; e.g. from 'gatedrnn embeddings train'); its "
              "dimension replaces the preset's.")
@click.option("--unlabelled", type=FilePath(exists=True, path_type=Path), default=None,
              help="Texts without labels to learn from too (a .txt file, one per line; a "
                   "folder of .txt files; or a CSV, TSV, JSON Lines or Parquet file's text "
                   "column): entropy minimisation and virtual adversarial training on them, "
                   "adversarial training on the labelled ones; about 5 times the time per "
                   "epoch. Recurrent presets.")
@click.option("--multi-label", is_flag=True,
              help="A text may have several labels (a CSV field 'a|b', a JSON list, several "
                   "__label__): one sigmoid per class, each class's threshold tuned on "
                   "validation; scored by micro- and macro-F1.")
@click.option("--label-separator", default="|", show_default=True,
              help="With --multi-label: what separates a CSV or TSV field's labels.")
@click.option("--class-weights", type=click.Choice(["balanced"]), default=None,
              help="balanced: each class weighs in the loss as much as any other, however few "
                   "its examples (for imbalanced data; macro-F1 is then the figure to watch).")
@click.option("--epochs", type=click.IntRange(min=1), default=None)
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=None)
@click.option("--batch-size", type=click.IntRange(min=1), default=None)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--resume", is_flag=True, help="Continue from OUT/last after an interruption.")
@CHECKPOINT_MINUTES
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def classify_train(data, valid, test, out, preset, recipe, budget, tokenizer, file_format,
                   text_column, label_column, encoding, vectors, unlabelled, multi_label,
                   label_separator, class_weights, epochs, lr, batch_size, seed, resume,
                   checkpoint_minutes, as_json):
    """Train a classifier on labelled files; Ctrl-C saves, and --resume continues.

    At the end a temperature is fitted on the validation examples, so that confidences mean
    what they say; with --test, its accuracy and macro-F1 are printed.
    """
    from ..classify import train
    from ..classify.training import built_in
    from ..data.labelled import LabelledDataError
    from ..data.tokenizers import TokenizerError
    from ..data.vectors import VectorsError
    from ..train.checkpoint import CheckpointError
    from ..train.loop import TrainingDiverged

    errors = (LabelledDataError, TokenizerError, CheckpointError, TrainingDiverged,
              VectorsError, ValueError, ImportError)
    if built_in(data) is None and not Path(data).exists():
        raise click.BadParameter(f"{data} does not exist (nor is it a built-in data set: imdb, "
                                 "imdb-stars)", param_hint="--data")
    data = data if built_in(data) else Path(data)
    if recipe:
        from ..classify.building import run_recipe
        fixed = {"--preset": preset != "bilstm", "--epochs": epochs, "--lr": lr,
                 "--batch-size": batch_size, "--class-weights": class_weights,
                 "--resume": resume, "--unlabelled": unlabelled}
        given = [flag for flag, value in fixed.items() if value]
        if given:
            raise click.UsageError(f"--recipe {recipe} chooses its own models and training; "
                                   f"drop {', '.join(given)}")
        report = run_training(
            lambda: run_recipe(recipe, data, out, budget_minutes=budget, valid=valid,
                               test=test, tokenizer=tokenizer, seed=seed, vectors=vectors,
                               format=file_format, text_column=text_column,
                               label_column=label_column, encoding=encoding,
                               multi_label=multi_label, label_separator=label_separator,
                               log=lambda m: click.echo(m, err=True)), out, errors)
        _echo_leaderboard(report, out, as_json)
        return
    if budget is not None:
        raise click.UsageError("--budget is for a recipe (--recipe auto)")
    overrides = {k: v for k, v in {"epochs": epochs, "lr": lr, "batch_size": batch_size,
                                   "checkpoint_minutes": checkpoint_minutes}.items()
                 if v is not None}
    summary = run_training(
        lambda: train(data, out, preset=preset, valid=valid, test=test, tokenizer=tokenizer,
                      text_column=text_column, label_column=label_column, format=file_format,
                      encoding=encoding, seed=seed, overrides=overrides,
                      vectors=vectors, class_weights=class_weights, multi_label=multi_label,
                      label_separator=label_separator, resume=resume, unlabelled=unlabelled,
                      log=lambda m: click.echo(m, err=True)),
        out, errors)
    report_training(summary, out, "validation accuracy", as_json)
    if not as_json and "test" in summary:
        micro = (f", micro-F1 {summary['test']['micro_f1']:.4f}" if "micro_f1" in summary["test"]
                 else "")
        click.echo(f"test accuracy {summary['test']['accuracy']:.4f}{micro}, macro-F1 "
                   f"{summary['test']['macro_f1']:.4f} ({summary['test']['count']:,} examples)")


def _echo_leaderboard(report: dict, out: Path, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(report, indent=2, ensure_ascii=False))
        return
    if "built_by" in report:  # a built-in data set's own recipe (IMDb's: sentiment's)
        click.echo(f"built the {report['built_by']} task's recipe {report['recipe']} in {out}: "
                   f"test accuracy {report['test']['accuracy']:.4f}, macro-F1 "
                   f"{report['test']['macro_f1']:.4f} ({report['train_seconds'] / 60:.1f} min)")
        return
    rows = report["leaderboard"]
    test = any("test_accuracy" in row for row in rows.values())
    micro = any("valid_micro_f1" in row for row in rows.values())
    width = max(8, *map(len, rows))
    click.echo(f"{'model':<{width}} {'valid acc':>9} {'macro-F1':>9}"
               + (f" {'micro-F1':>9}" if micro else "") + f" {'train s':>8} {'size MB':>8}"
               + (f" {'test acc':>9}" if test else ""))
    for name, row in rows.items():
        if "skipped" in row:
            click.echo(f"{name:<{width}} skipped: {row['skipped']}")
            continue
        click.echo(f"{name:<{width}} {row['valid_accuracy']:>9.4f} {row['valid_macro_f1']:>9.4f}"
                   + (f" {row['valid_micro_f1']:>9.4f}" if micro else "")
                   + f" {row['train_seconds']:>8.0f} {row['size_mb']:>8.1f}"
                   + (f" {row['test_accuracy']:>9.4f}" if "test_accuracy" in row else "")
                   + (f"  ({row['rule']} of {', '.join(row['members'])})" if "rule" in row
                      else "")
                   + (f"  (stopped: {row['stopped']})" if "stopped" in row else ""))
    click.echo(f"kept {report['chosen']} in {out / 'best'}: {report['why']} "
               f"({report['train_seconds'] / 60:.1f} min; {out / 'leaderboard.json'})")


def _load(run: Path, calibrated: bool = True):
    from ..classify.predict import load_classifier
    from ..train.checkpoint import CheckpointError

    try:
        return load_classifier(run, calibrated)
    except CheckpointError as exc:
        raise click.ClickException(str(exc)) from exc


@classify.command("evaluate")
@click.argument("run", type=FilePath(exists=True, path_type=Path))
@click.option("--data", type=FilePath(exists=True, path_type=Path), required=True,
              help="Labelled examples to score, read as training reads them.")
@_reading_options
@click.option("--json", "as_json", is_flag=True, help="Print the whole report as JSON.")
@click.option("--plot", type=FilePath(dir_okay=False, path_type=Path), default=None,
              help="Also draw the confusion matrix into this PNG.")
@NO_CALIBRATE
def classify_evaluate(run, data, file_format, text_column, label_column, encoding, as_json,
                      plot, no_calibrate):
    """Accuracy, macro-F1, per-class precision/recall/F1, the confusion matrix and
    calibration of RUN on labelled examples."""
    from ..classify.evaluation import evaluate, evaluate_multi_label
    from ..data.labelled import LabelledDataError, read_labelled
    from ..train.checkpoint import read_config, resolve

    predictor = _load(run, not no_calibrate)
    multi_label = getattr(predictor, "multi_label", False)
    separator = read_config(resolve(run)).get("label_separator", "|")
    try:
        examples, report = read_labelled(data, format=file_format, text_column=text_column,
                                         label_column=label_column, encoding=encoding,
                                         multi_label=multi_label, label_separator=separator)
    except LabelledDataError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(report.summary(), err=True)
    unknown = sorted({label for e in examples for label in e.labels} - set(predictor.labels))
    if unknown:
        raise click.ClickException(
            f"{data} has labels the model was not trained on: "
            f"{', '.join(map(repr, unknown[:5]))}; it predicts {', '.join(predictor.labels)}")
    index = {label: i for i, label in enumerate(predictor.labels)}
    if multi_label:
        result = evaluate_multi_label(predictor, [e.text for e in examples],
                                      [e.labels for e in examples])
    else:
        result = evaluate(predictor, [e.text for e in examples],
                          [index[e.label] for e in examples])
    if plot is not None and multi_label:
        raise click.ClickException("--plot draws a confusion matrix, which a multi-label model "
                                   "has none of; its per-class figures are printed")
    if plot is not None:
        from ..analysis.plots import confusion_matrix
        title = f"{run.name} on {data.name}: accuracy {result['accuracy']:.1%}"
        click.echo(f"confusion matrix: {confusion_matrix(result['confusion_matrix'], plot, title)}",
                   err=True)
    if as_json:
        click.echo(json.dumps(result, indent=2, ensure_ascii=False))
        return
    micro = f", micro-F1 {result['micro_f1']:.4f}" if multi_label else ""
    click.echo(f"{result['count']:,} examples: {'subset ' if multi_label else ''}accuracy "
               f"{result['accuracy']:.4f}{micro}, macro-F1 {result['macro_f1']:.4f}")
    width = max(8, *(len(name) for name in predictor.labels))
    click.echo(f"{'class':<{width}} {'precision':>9} {'recall':>7} {'f1':>7} {'support':>8}")
    for name, m in result["per_class"].items():
        click.echo(f"{name:<{width}} {m['precision']:>9.4f} {m['recall']:>7.4f} {m['f1']:>7.4f} "
                   f"{m['support']:>8}")
    if multi_label:  # no confusion matrix or calibration: each class is its own decision
        return
    matrix = result["confusion_matrix"]
    click.echo("confusion (rows true, columns predicted): " + ", ".join(matrix["labels"]))
    for name, row in zip(matrix["labels"], matrix["rows_true_cols_predicted"]):
        click.echo(f"  {name:<{width}} " + " ".join(f"{v:>7}" for v in row))
    echo_calibration(result, "examples")


@classify.command("predict")
@click.argument("run", type=FilePath(exists=True, path_type=Path))
@click.argument("texts", nargs=-1)
@click.option("--file", type=FilePath(exists=True, dir_okay=False, path_type=Path),
              default=None, help="Also label each line of this UTF-8 file.")
@click.option("--json", "as_json", is_flag=True,
              help="One JSON object per text: label, confidence, every class's probability.")
@click.option("--min-confidence", type=click.FloatRange(0, 1), default=None,
              help="Label a text 'uncertain' below this (calibrated) confidence.")
@NO_CALIBRATE
def classify_predict(run, texts, file, as_json, min_confidence, no_calibrate):
    """Label TEXTS (and the lines of --file, or standard input) with RUN."""
    predictor = _load(run, not no_calibrate)
    lines = list(texts)
    if file is not None:
        lines += read_text_file(file).splitlines()
    if not texts and file is None:
        lines = [line.rstrip("\n") for line in sys.stdin]
    for text, result in zip(lines, predictor.predict(lines, min_confidence=min_confidence)):
        if as_json:
            click.echo(json.dumps({"text": text, **result}, ensure_ascii=False))
        else:
            note = "  (empty text)" if result["empty"] else ""
            preview = text if len(text) <= 70 else text[:67] + "..."
            click.echo(f"{result['label']}\t{result['confidence']:.3f}\t{preview}{note}")
