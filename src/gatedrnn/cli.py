"""The ``gatedrnn`` command. Subcommands map onto the package's modules.

This module imports only click and the standard library at the top: torch, numpy and the
package's heavy modules are imported inside the commands that run them, so that --help,
--version, shell completion and argument errors answer at once (a test checks that importing
this module and asking every command for --help loads no torch).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from . import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="gatedrnn")
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="CPU threads for torch (default: torch's choice).")
def main(threads):
    """Gated recurrent networks (RNN, LSTM, GRU) from their equations, measured."""
    if threads:
        import torch
        torch.set_num_threads(threads)


def _experiment_names():
    from .experiments.catalog import NAMES
    return list(NAMES)


@main.command()
@click.argument("name", type=click.Choice(_experiment_names()))
@click.option("--quick", is_flag=True, help="Fewer seeds, lengths and steps (minutes, not tens).")
@click.option("--seeds", type=click.IntRange(min=1), default=None,
              help="Seeds per setting (default: 2-3 quick, 3-5 full).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              default=Path("runs/experiments"), show_default=True,
              help="Directory for the figures and NAME.json.")
@click.option("--data", type=click.Path(exists=True, file_okay=False, path_type=Path),
              default=None, help="Treebank folder for bidirectional-pos [default: "
              "$GATEDRNN_UD_DIR or the cached download].")
@click.option("--json", "as_json", is_flag=True, help="Print the result table as JSON.")
def experiment(name, quick, seeds, out, data, as_json):
    """Run one of the chapter's experiments and print its table."""
    from .experiments.reproduce import run_experiment
    from .runinfo import environment

    try:
        result = run_experiment(name, out, quick=quick, seeds=seeds, show_progress=True,
                                data=data)
    except FileNotFoundError as exc:
        raise click.ClickException(str(exc)) from exc
    payload = {**result.to_json(), "environment": environment(seed=0)}
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")
    if as_json:
        click.echo(json.dumps(payload, indent=2, default=str))
        return
    click.echo(result.description)
    click.echo(result.markdown())
    for figure in result.figures:
        click.echo(f"figure: {figure}")
    click.echo(f"table: {path}  ({result.seconds:.0f} s)")


@main.command()
@click.option("--quick", is_flag=True, help="The ≤ 5-minute version: fewer seeds, lengths, steps.")
@click.option("--seeds", type=click.IntRange(min=1), default=None, help="Override seeds per setting.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Output directory [default: reproduce/quick or reproduce/full].")
@click.option("--only", multiple=True, type=click.Choice(_experiment_names()),
              help="Run only these experiments (repeatable).")
@click.option("--data", type=click.Path(exists=True, file_okay=False, path_type=Path),
              default=None, help="UD English EWT folder: adds bidirectional-pos to the full run "
              "[default: $GATEDRNN_UD_DIR or the cached download, skipped if neither].")
def reproduce(quick, seeds, out, only, data):
    """Run every experiment; write report.md, results.json and the figures."""
    from .experiments.reproduce import reproduce as run_all

    out = out or Path("reproduce") / ("quick" if quick else "full")
    try:
        payload = run_all(out, quick=quick, seeds=seeds, show_progress=True,
                          only=list(only) or None, log=lambda m: click.echo(m, err=True),
                          data=data)
    except KeyboardInterrupt:
        click.echo(f"\ninterrupted: finished experiments are in {out}/results.json and "
                   f"{out}/report.md", err=True)
        sys.exit(130)
    click.echo("")
    for claim in payload["claims"]:
        verdict = f"{claim['verdict']} {claim['condition']}".strip()
        click.echo(f"- {claim['quote']}: {verdict}")
    click.echo(f"\nreport: {out / 'report.md'}  ({payload['wall_seconds'] / 60:.1f} min)")


# ---- sentiment -------------------------------------------------------------------------------


@main.group()
def sentiment():
    """IMDb sentiment analysis: train, evaluate, predict."""


def _preset_names():
    from .sentiment_presets import PRESETS
    return list(PRESETS)


def _preset_help() -> str:
    from .sentiment_presets import CHAPTER_PRESET, DEFAULT_PRESET
    return (f"The recipe. Default: {DEFAULT_PRESET} (one BiLSTM layer, 3 epochs: ~7 min on 2 "
            f"cores, 90.4% test). {CHAPTER_PRESET}: the chapter's own BiLSTM recipe (~45 min). "
            "best: fast from word vectors it trains first (~12 min). nbsvm, dv-ngram, "
            "dv-trigram: linear models over n-grams or document vectors. best-practice: the "
            "chapter's BestPracticeLSTM. tiny: for tests.")


_NO_CALIBRATE = click.option(
    "--no-calibrate", is_flag=True,
    help="Raw scores: ignore the temperature fitted on the validation split at the end of "
         "training.")


@sentiment.command("train")
@click.option("--data", type=click.Path(exists=True, path_type=Path), default=None,
              help="aclImdb_v1.tar.gz or the aclImdb/ folder [default: download to the cache].")
@click.option("--preset", type=click.Choice(_preset_names()), default="fast", show_default=True,
              help=_preset_help())
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              default=Path("runs/sentiment"), show_default=True,
              help="Writes OUT/best, OUT/last and OUT/metrics.jsonl.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--resume", is_flag=True, help="Continue from OUT/last after an interruption.")
@click.option("--epochs", type=click.IntRange(min=1), default=None)
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=None)
@click.option("--batch-size", type=click.IntRange(min=1), default=None)
@click.option("--max-length", type=click.IntRange(min=1), default=None,
              help="Truncate training reviews to this many tokens.")
@click.option("--clip", type=click.FloatRange(min=0), default=None)
@click.option("--bf16", is_flag=True, default=None, help="bfloat16 autocast (CPU AVX-512 BF16).")
@click.option("--limit", type=click.IntRange(min=2), default=None,
              help="Use only this many training reviews (quick trials).")
@click.option("--vectors", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="Initialise the embedding from word vectors (word2vec text or "
              ".bin, GloVe, fastText .vec; see 'gatedrnn embeddings').")
@click.option("--freeze-embeddings", is_flag=True,
              help="Keep the pretrained embedding fixed (with --vectors or --init-from).")
@click.option("--init-from", type=click.Path(exists=True, file_okay=False, path_type=Path),
              default=None, help="Start from a language model made by 'gatedrnn sentiment "
              "pretrain' (its vocabulary, embedding and encoder).")
@click.option("--pooling", type=click.Choice(["last", "max", "mean", "attention"]), default=None,
              help="How the encoder's outputs become one vector [default: the preset's].")
@click.option("--word-dropout", type=click.FloatRange(0, 1, max_open=True), default=None,
              help="Replace each training word by <unk> with this probability.")
@click.option("--random-crop", is_flag=True, default=None,
              help="With --max-length: train on a random window of long reviews, not the head.")
@click.option("--adversarial", type=click.FloatRange(min=0, min_open=True), default=None,
              metavar="EPS",
              help="Adversarial training: also learn from each batch with its word embeddings "
              "pushed along the loss's gradient, by EPS times one token's embedding norm per "
              "review (Miyato et al.'s setting is about 0.3); twice the time per epoch.")
@click.option("--discriminative-lr", type=click.FloatRange(min=1), default=None,
              help="Each lower layer group learns this many times slower (ULMFiT: 2.6).")
@click.option("--gradual-unfreezing", is_flag=True, default=None,
              help="Epoch 1 trains the top layer group only, epoch 2 the top two, ...")
@click.option("--step-max-tokens", type=click.IntRange(min=1), default=None,
              help="Run a batch of more padded tokens than this in parts whose gradients add "
              "up before the step (same update, bounded memory).")
@click.option("--split-seed", type=int, default=None,
              help="Seed of the validation split [default: --seed]; fix it to train ensemble "
                   "members with different seeds on the same split.")
@click.option("--split-by", type=click.Choice(["review", "film"]), default="review",
              show_default=True,
              help="Draw the validation split by review or by whole film (IMDb's test shares "
                   "one film with train; a split by review flatters models that learn films).")
@click.option("--teacher", multiple=True, type=click.Path(exists=True, path_type=Path),
              help="Distillation: a sentiment checkpoint (repeat for an ensemble) whose "
                   "probabilities on the unlabelled reviews become extra soft-labelled "
                   "training data. Keep --split-seed and --split-by the teacher's, so its "
                   "validation reviews stay unseen.")
@click.option("--unlabelled", type=click.IntRange(min=1), default=None,
              help="With --teacher: use this many of the 50,000 unlabelled reviews [default: all].")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def sentiment_train(data, preset, out, seed, resume, epochs, lr, batch_size, max_length, clip,
                    bf16, limit, vectors, freeze_embeddings, init_from, pooling, word_dropout,
                    random_crop, adversarial, discriminative_lr, gradual_unfreezing,
                    step_max_tokens, split_seed, split_by, teacher, unlabelled, as_json):
    """Train a classifier; Ctrl-C saves, and --resume continues.

    At the end, a temperature is fitted on the validation split (calibration) and saved in
    OUT/best/config.json; predict, evaluate, serve, explain and export apply it.
    """
    from .data.imdb import DatasetError
    from .data.vectors import VectorsError
    from .sentiment import train
    from .train.checkpoint import CheckpointError
    from .train.loop import TrainingDiverged

    overrides = {k: v for k, v in {"epochs": epochs, "lr": lr, "batch_size": batch_size,
                                   "max_length": max_length, "clip": clip, "bf16": bf16,
                                   "random_crop": random_crop, "adversarial": adversarial,
                                   "discriminative_lr": discriminative_lr,
                                   "gradual_unfreezing": gradual_unfreezing,
                                   "step_max_tokens": step_max_tokens}.items()
                 if v is not None}
    model_overrides = {k: v for k, v in {"word_dropout": word_dropout,
                                         "pooling": pooling}.items() if v is not None}
    summary = _run_training(
        lambda: train(data, preset, out, seed=seed, resume=resume, overrides=overrides,
                      model_overrides=model_overrides, limit=limit, vectors=vectors,
                      freeze_embeddings=freeze_embeddings, init_from=init_from,
                      split_seed=split_seed, split_by=split_by,
                      teacher=list(teacher) or None,
                      unlabelled=unlabelled, log=lambda m: click.echo(m, err=True)),
        out, (DatasetError, CheckpointError, TrainingDiverged, VectorsError, ValueError,
              ImportError))
    _report_training(summary, out, "validation accuracy", as_json)


@sentiment.command("search")
@click.option("--data", type=click.Path(exists=True, path_type=Path), default=None)
@click.option("--preset", type=click.Choice(_preset_names()), default="fast", show_default=True,
              help="The recipe whose settings the trials vary.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              default=Path("runs/search"), show_default=True,
              help="OUT/trials.jsonl, OUT/best.json, one run folder per trial; rerunning "
                   "continues.")
@click.option("--budget-minutes", type=click.FloatRange(min=0, min_open=True), default=60.0,
              show_default=True)
@click.option("--max-trials", type=click.IntRange(min=1), default=50, show_default=True)
@click.option("--epochs", type=click.IntRange(min=1), default=None,
              help="Epochs per trial [default: the preset's].")
@click.option("--limit", type=click.IntRange(min=2), default=None,
              help="Train each trial on this many reviews (cheaper trials).")
@click.option("--seed", type=int, default=0, show_default=True)
def sentiment_search(data, preset, out, budget_minutes, max_trials, epochs, limit, seed):
    """Random search of hyperparameters scored on the validation split (never the test set)."""
    from .data.imdb import DatasetError
    from .search import search

    try:
        result = search(data, out, preset=preset, budget_minutes=budget_minutes,
                        max_trials=max_trials, seed=seed, limit=limit, epochs=epochs,
                        log=lambda m: click.echo(m, err=True))
    except (DatasetError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    ranked = sorted(result["trials"], key=lambda t: -t["valid_accuracy"])
    for trial in ranked[:10]:
        click.echo(f"{trial['valid_accuracy']:.4f}  trial {trial['trial']:>3}  "
                   f"{trial['seconds'] / 60:5.1f} min  {trial['model']} {trial['fit']}")
    click.echo(f"best settings: {out / 'best.json'}")


@sentiment.command("pretrain")
@click.option("--data", type=click.Path(exists=True, path_type=Path), default=None,
              help="aclImdb_v1.tar.gz or the aclImdb/ folder [default: download to the cache].")
@click.option("--preset", type=click.Choice(_preset_names()), default="fast", show_default=True,
              help="The sentiment preset whose encoder shape the language model takes.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              default=Path("runs/lm"), show_default=True)
@click.option("--epochs", type=click.IntRange(min=1), default=None)
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=None)
@click.option("--batch-size", type=click.IntRange(min=1), default=None)
@click.option("--bptt", type=click.IntRange(min=2), default=200, show_default=True,
              help="Tokens per window (gradients are truncated between windows).")
@click.option("--max-reviews", type=click.IntRange(min=2), default=None,
              help="Use only this many reviews (quick trials).")
@click.option("--bf16", is_flag=True, default=None, help="bfloat16 autocast.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--resume", is_flag=True, help="Continue from OUT/last after an interruption.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def sentiment_pretrain(data, preset, out, epochs, lr, batch_size, bptt, max_reviews, bf16, seed,
                       resume, as_json):
    """Pretrain a bidirectional language model on the unlabelled + training reviews.

    The forward direction predicts each next word, the backward one each previous word; then
    'gatedrnn sentiment train --preset PRESET --init-from OUT' fine-tunes a classifier from it.
    """
    from .data.imdb import DatasetError
    from .pretrain import pretrain
    from .train.checkpoint import CheckpointError
    from .train.loop import TrainingDiverged

    overrides = {k: v for k, v in {"epochs": epochs, "lr": lr, "batch_size": batch_size,
                                   "bf16": bf16}.items() if v is not None}
    summary = _run_training(
        lambda: pretrain(data, out, preset=preset, seed=seed, bptt=bptt, max_reviews=max_reviews,
                         overrides=overrides, resume=resume,
                         log=lambda m: click.echo(m, err=True)),
        out, (DatasetError, CheckpointError, TrainingDiverged, ValueError))
    if as_json:
        click.echo(json.dumps(summary, indent=2))
    else:
        click.echo(f"held-out perplexity {summary['valid_perplexity']:.1f}; checkpoint: "
                   f"{out / 'best'} ({summary['train_seconds'] / 60:.1f} min)")


def _run_training(run, out: Path, errors: tuple):
    """Run a training call: Ctrl-C says how to resume, known errors become clean messages."""
    try:
        return run()
    except KeyboardInterrupt:
        saved = out / "last" if (out / "last").exists() else out
        click.echo(f"\ninterrupted: progress saved in {saved}; continue with the same "
                   "command and --resume", err=True)
        sys.exit(130)
    except errors as exc:
        raise click.ClickException(str(exc)) from exc


def _report_training(summary: dict, out: Path, metric: str, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(summary, indent=2))
    else:
        where = (f"{out} (ensemble of {len(summary['ensemble'])})" if "ensemble" in summary
                 else out / "best")
        click.echo(f"best {metric} {summary['best_valid_accuracy']:.4f}; "
                   f"checkpoint: {where} ({summary['train_seconds'] / 60:.1f} min)")


def _load_predictor(checkpoint_paths, calibrated: bool = True):
    """One checkpoint → a Predictor; several → an Ensemble averaging their probabilities."""
    from .sentiment import Ensemble, Predictor
    from .train.checkpoint import CheckpointError

    paths = [checkpoint_paths] if isinstance(checkpoint_paths, (str, Path)) else checkpoint_paths
    try:
        return (Predictor.load(paths[0], calibrated) if len(paths) == 1
                else Ensemble.load(paths, calibrated))
    except (CheckpointError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc


def _is_checkpoint(argument: str) -> bool:
    path = Path(argument)
    return (path / "config.json").is_file() or (path / "best" / "config.json").is_file()


_CROPS = click.option(
    "--crops", type=click.IntRange(min=1), default=1, show_default=True,
    help="Test-time averaging: read reviews longer than --crop-length as this many evenly "
         "spaced windows and average their probabilities.")
_CROP_LENGTH = click.option("--crop-length", type=click.IntRange(min=1), default=400,
                            show_default=True, help="Tokens per window with --crops.")


def _validation_reviews(data, seed: int, split_by: str):
    from .data import imdb
    return imdb.validation_split(imdb.load(data).train, 0.1, seed, by=split_by)[1]


def _echo_calibration(report: dict, unit: str) -> None:
    """The calibration lines evaluate prints: ECE and Brier (raw → calibrated) and the
    accuracy–coverage curve."""
    c = report["calibration"]
    if not c:
        return
    raw = c.get("uncalibrated")
    before = (f" (uncalibrated: ECE {100 * raw['ece']:.2f}%, Brier {raw['brier']:.4f})"
              if raw else "")
    temperature = c.get("temperature")
    if isinstance(temperature, dict):
        temperature = ", ".join(f"{k} {v:.3f}" for k, v in temperature.items())
    elif temperature is None:
        temperature = "members' own, averaged"
    else:
        temperature = f"{temperature:.3f}"
    click.echo(f"calibration (temperature {temperature}): ECE {100 * c['ece']:.2f}% "
               f"({c['ece_bins']} bins), Brier {c['brier']:.4f}, NLL {c['nll']:.4f}{before}")
    click.echo(f"accuracy by coverage (the most confident {unit} kept; use the threshold as "
               "--min-confidence):")
    for row in c["accuracy_coverage"]:
        click.echo(f"  {100 * row['coverage']:>4.0f}% coverage: accuracy {row['accuracy']:.4f} "
                   f"({row['examples']} {unit}, confidence >= {row['min_confidence']:.3f})")


def _plot_reliability(report: dict, path: Path, title: str) -> None:
    from .analysis.plots import reliability_diagram

    panels = {}
    if report["calibration"].get("raw_report"):
        panels["uncalibrated"] = report["calibration"].pop("raw_report")
    panels["calibrated" if panels else "as predicted"] = report["calibration"]
    click.echo(f"reliability diagram: {reliability_diagram(panels, path, title)}", err=True)


@sentiment.command("evaluate")
@click.argument("checkpoints", nargs=-1, type=click.Path(path_type=Path))
@click.option("--data", type=click.Path(exists=True, path_type=Path), default=None)
@click.option("--split", type=click.Choice(["test", "validation"]), default="test",
              show_default=True, help="validation = the split carved from train with --seed.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--split-by", type=click.Choice(["review", "film"]), default="review",
              show_default=True, help="How that validation split was drawn (as in training).")
@_CROPS
@_CROP_LENGTH
@_NO_CALIBRATE
@click.option("--plot", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write a reliability diagram (PNG): accuracy against confidence, raw and "
                   "calibrated.")
@click.option("--json", "as_json", is_flag=True)
def sentiment_evaluate(checkpoints, data, split, seed, split_by, crops, crop_length,
                       no_calibrate, plot, as_json):
    """Accuracy, loss, per-class precision/recall/F1, the confusion matrix, and calibration:
    ECE, Brier score and accuracy at 100/90/80/70% coverage.

    Several CHECKPOINTS are evaluated as an ensemble (probabilities averaged); none means
    runs/sentiment.
    """
    from .data import imdb
    from .sentiment import evaluate

    predictor = _load_predictor(list(checkpoints) or [Path("runs/sentiment")],
                                calibrated=not no_calibrate)
    try:
        reviews = (imdb.load(data).test if split == "test"
                   else _validation_reviews(data, seed, split_by))
    except imdb.DatasetError as exc:
        raise click.ClickException(str(exc)) from exc
    report = evaluate(predictor, [r.text for r in reviews], [r.label for r in reviews],
                      crops=crops, crop_length=crop_length, keep_raw_report=plot is not None)
    report["split"] = split
    report["crops"] = crops
    if plot is not None:
        _plot_reliability(report, plot, f"IMDb {split}, {report['count']:,} reviews "
                          f"({Path(predictor.source.split(' + ')[0]).parent.name or 'model'})")
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    click.echo(f"{split}: {report['count']} reviews, accuracy {report['accuracy']:.4f}, "
               f"loss {report['loss']:.4f}")
    click.echo(f"{'class':<8} {'precision':>9} {'recall':>7} {'f1':>7} {'support':>8}")
    for name, m in report["per_class"].items():
        click.echo(f"{name:<8} {m['precision']:>9.4f} {m['recall']:>7.4f} {m['f1']:>7.4f} "
                   f"{m['support']:>8}")
    labels = report["confusion_matrix"]["labels"]
    click.echo("confusion (rows true, columns predicted): " + ", ".join(labels))
    for name, row in zip(labels, report["confusion_matrix"]["rows_true_cols_predicted"]):
        click.echo(f"  {name:<6} " + " ".join(f"{v:>7}" for v in row))
    _echo_calibration(report, "reviews")


@sentiment.command("calibrate")
@click.argument("checkpoints", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--data", type=click.Path(exists=True, path_type=Path), default=None,
              help="aclImdb_v1.tar.gz or the aclImdb/ folder [default: the cached copy].")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="With several CHECKPOINTS: the ensemble directory to write (required).")
@click.option("--rule", type=click.Choice(["mean", "log-odds"]), default="mean",
              show_default=True, help="How an ensemble combines its members' scores.")
@click.option("--json", "as_json", is_flag=True)
def sentiment_calibrate(checkpoints, data, out, rule, as_json):
    """Fit the temperature of a checkpoint, or of an ensemble as a whole, on its validation
    split (the one it was trained with), and save it.

    One checkpoint: the temperature goes into its config.json (training does this already;
    use it for checkpoints made before calibration existed). Several: --out DIR becomes an
    ensemble directory that predict, evaluate and serve load as one model.
    """
    from .data import imdb
    from .sentiment import Ensemble, Predictor, calibrate, calibrate_checkpoint, save_ensemble
    from .train import checkpoint

    try:
        configs = [checkpoint.read_config(checkpoint.resolve(p)) for p in checkpoints]
        splits = {(c.get("validation_split_seed", 0), c.get("validation_split_by", "review"))
                  for c in configs}
        if len(splits) > 1:
            raise click.ClickException(
                f"the checkpoints were validated on different splits {sorted(splits)}: a "
                "temperature fitted on one would be fitted on another's training reviews; "
                "train them with the same --split-seed and --split-by")
        (split_seed, split_by), = splits
        reviews = _validation_reviews(data, split_seed, split_by)
        texts, labels = [r.text for r in reviews], [r.label for r in reviews]
        if len(checkpoints) == 1:
            if out is not None:
                raise click.UsageError("--out is for an ensemble of several CHECKPOINTS; one "
                                       "checkpoint is calibrated in place")
            record = calibrate_checkpoint(checkpoints[0], texts, labels)
            where = checkpoint.resolve(checkpoints[0])
        else:
            if out is None:
                raise click.UsageError("several CHECKPOINTS make an ensemble: give --out DIR "
                                       "for its directory")
            ensemble = Ensemble([Predictor.load(p, calibrated=False) for p in checkpoints],
                                rule=rule, temperature=1.0)
            record = {**calibrate(ensemble, texts, labels), "split": "validation"}
            where = save_ensemble(out, list(checkpoints), rule, calibration=record,
                                  extra={"validation_split_seed": split_seed,
                                         "validation_split_by": split_by})
    except (checkpoint.CheckpointError, imdb.DatasetError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps({"checkpoint": str(where), **record}, indent=2))
        return
    click.echo(f"{where}: temperature {record['temperature']:.3f} on {record['examples']:,} "
               f"validation reviews; ECE {100 * record['ece_before']:.2f}% → "
               f"{100 * record['ece_after']:.2f}%, NLL {record['nll_before']:.4f} → "
               f"{record['nll_after']:.4f}")


@sentiment.command("predict")
@click.argument("checkpoint", type=click.Path(path_type=Path))
@click.argument("texts", nargs=-1)
@click.option("--file", "file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="One text per line.")
@click.option("--jsonl", is_flag=True, help="One JSON object per text.")
@click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True)
@click.option("--min-confidence", type=click.FloatRange(0, 1), default=None, metavar="P",
              help="Label a text 'uncertain' when its confidence is below P (its most likely "
                   "label is still shown); 'sentiment evaluate' lists the accuracy each P "
                   "gives and how many texts it keeps.")
@_NO_CALIBRATE
def sentiment_predict(checkpoint, texts, file, jsonl, batch_size, min_confidence, no_calibrate):
    """Label texts given as arguments, in --file, or on standard input (one per line).

    Leading arguments that are checkpoints (a training output or checkpoint directory) form an
    ensemble: 'gatedrnn sentiment predict runs/a runs/b runs/c "Great film."'.
    """
    checkpoints = [checkpoint]
    texts = list(texts)
    while texts and _is_checkpoint(texts[0]):
        checkpoints.append(Path(texts.pop(0)))
    lines = list(texts)
    if file is not None:
        lines += _read_text_file(file).splitlines()
    if not texts and file is None:
        lines += [line.rstrip("\n") for line in sys.stdin]
    if not lines:
        raise click.UsageError("no text to label: give TEXTS, --file, or lines on stdin")
    predictor = _load_predictor(checkpoints, calibrated=not no_calibrate)
    results = predictor.predict(lines, batch_size=batch_size, min_confidence=min_confidence)
    for text, result in zip(lines, results):
        if jsonl:
            click.echo(json.dumps({"text": text, **result}, ensure_ascii=False))
        else:
            note = "  (empty text)" if result["empty"] else ""
            if result.get("uncertain"):
                note += f"  (best guess {result['best_guess']})"
            preview = text if len(text) <= 60 else text[:57] + "..."
            click.echo(f"{result['label']}\t{result['confidence']:.3f}\t{preview}{note}")


def _read_text_file(path: Path) -> str:
    """A text file's content; bytes that are not UTF-8 are replaced, with a warning."""
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        click.echo(f"warning: {path} is not valid UTF-8 (byte {exc.start}); undecodable "
                   "bytes were replaced by U+FFFD", err=True)
        return raw.decode("utf-8", errors="replace")


# ---- word vectors ----------------------------------------------------------------------------


@main.group()
def embeddings():
    """Word vectors: train them on the IMDb reviews, inspect a vector file."""


@embeddings.command("train")
@click.option("--data", type=click.Path(exists=True, path_type=Path), default=None,
              help="aclImdb_v1.tar.gz or the aclImdb/ folder [default: download to the cache].")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("runs/vectors/imdb-word2vec.vec"), show_default=True,
              help="Written in the word2vec text format.")
@click.option("--dim", type=click.IntRange(min=1), default=128, show_default=True)
@click.option("--window", type=click.IntRange(min=1), default=5, show_default=True)
@click.option("--min-count", type=click.IntRange(min=1), default=5, show_default=True)
@click.option("--epochs", type=click.IntRange(min=1), default=5, show_default=True)
@click.option("--cbow", is_flag=True, help="CBOW instead of skip-gram (faster, a bit weaker).")
@click.option("--workers", type=click.IntRange(min=1), default=2, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
def embeddings_train(data, out, dim, window, min_count, epochs, cbow, workers, seed):
    """Word2vec (gensim) on the 50,000 unlabelled and 25,000 training reviews (never test)."""
    from .data import imdb
    from .sentiment import train_word_vectors

    try:
        train_word_vectors(data, out, dim=dim, window=window, min_count=min_count,
                           epochs=epochs, skip_gram=not cbow, workers=workers, seed=seed,
                           log=lambda m: click.echo(m, err=True))
    except (imdb.DatasetError, ImportError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{out}")


@embeddings.command("info")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "file_format", default="auto", show_default=True,
              type=click.Choice(["auto", "word2vec", "fasttext", "glove", "word2vec-binary"]))
@click.option("--neighbours", "words", multiple=True,
              help="Show the nearest words (cosine) of this word; repeatable.")
@click.option("--max-words", type=click.IntRange(min=1), default=None,
              help="Read only the first N vectors (large files).")
def embeddings_info(path, file_format, words, max_words):
    """Size and dimension of a word-vector file, and nearest neighbours."""
    from .data.vectors import VectorsError, detect_format, load_vectors

    try:
        vectors = load_vectors(path, file_format, max_words=max_words)
    except VectorsError as exc:
        raise click.ClickException(str(exc)) from exc
    kind = detect_format(path) if file_format == "auto" else file_format
    click.echo(f"{path}: {kind}, {len(vectors):,} words × {vectors.dim}")
    for word in words:
        try:
            near = vectors.neighbours(word, 8)
        except KeyError as exc:
            click.echo(f"{word}: {exc.args[0]}")
            continue
        click.echo(f"{word}: " + ", ".join(f"{w} {s:.2f}" for w, s in near))


# ---- tagger ----------------------------------------------------------------------------------


@main.group()
def tagger():
    """Part-of-speech tagging on Universal Dependencies (English EWT): train, evaluate, predict."""


def _tagger_presets():
    from .tagging_presets import PRESETS
    return list(PRESETS)


@tagger.command("train")
@click.option("--data", type=click.Path(exists=True, file_okay=False, path_type=Path),
              default=None, help="Folder with en_ewt-ud-{train,dev,test}.conllu "
              "[default: download the release to the cache].")
@click.option("--preset", type=click.Choice(_tagger_presets()), default="bilstm",
              show_default=True)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              default=Path("runs/tagger"), show_default=True,
              help="Writes OUT/best, OUT/last and OUT/metrics.jsonl.")
@click.option("--mode", type=click.Choice(["LSTM", "GRU", "RNN"]), default=None,
              help="Recurrent cell of the sentence encoder.")
@click.option("--unidirectional", is_flag=True, help="Left-to-right sentence encoder only.")
@click.option("--hidden-size", type=click.IntRange(min=1), default=None)
@click.option("--char-encoder", type=click.Choice(["lstm", "cnn", "none"]), default=None)
@click.option("--word-dropout", type=click.FloatRange(0, 1, max_open=True), default=None,
              help="Probability of replacing any known word by <unk> while training.")
@click.option("--word-dropout-alpha", type=click.FloatRange(min=0), default=None,
              help="Also replace a word seen c times in training w.p. at least α/(α + c).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--resume", is_flag=True, help="Continue from OUT/last after an interruption.")
@click.option("--epochs", type=click.IntRange(min=1), default=None)
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=None)
@click.option("--batch-size", type=click.IntRange(min=1), default=None)
@click.option("--limit", type=click.IntRange(min=1), default=None,
              help="Use only the first LIMIT training sentences (quick trials).")
@click.option("--members", type=click.IntRange(min=1), default=1, show_default=True,
              help="Train an ensemble of this many taggers (seeds SEED, SEED+1, ...) into "
                   "OUT/member-*; OUT then loads as their ensemble (probabilities averaged).")
@click.option("--jobs", type=click.IntRange(min=1), default=None,
              help="Ensemble members trained at once, sharing the cores [default: one per "
                   "core].")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def tagger_train(data, preset, out, mode, unidirectional, hidden_size, char_encoder, word_dropout,
                 word_dropout_alpha, seed, resume, epochs, lr, batch_size, limit, members, jobs,
                 as_json):
    """Train a tagger on train, keep the best on dev; Ctrl-C saves, and --resume continues."""
    from .data.download import DownloadError
    from .data.ud import ConlluError
    from .tagging import train, train_ensemble
    from .train.checkpoint import CheckpointError
    from .train.loop import TrainingDiverged

    overrides = {k: v for k, v in {"epochs": epochs, "lr": lr, "batch_size": batch_size}.items()
                 if v is not None}
    model_overrides = {k: v for k, v in {"mode": mode, "hidden_size": hidden_size,
                                         "char_encoder": char_encoder,
                                         "word_dropout": word_dropout,
                                         "word_dropout_alpha": word_dropout_alpha}.items()
                       if v is not None}
    if unidirectional:
        model_overrides["bidirectional"] = False
    log = lambda m: click.echo(m, err=True)  # noqa: E731
    if members > 1:
        run = lambda: train_ensemble(  # noqa: E731
            data, preset, out, members=members, seed=seed, jobs=jobs, resume=resume,
            overrides=overrides, model_overrides=model_overrides, limit=limit, log=log)
    else:
        run = lambda: train(data, preset, out, seed=seed, resume=resume,  # noqa: E731
                            overrides=overrides, model_overrides=model_overrides, limit=limit,
                            log=log)
    summary = _run_training(run, out, (ConlluError, DownloadError, FileNotFoundError,
                                       CheckpointError, TrainingDiverged, ValueError))
    _report_training(summary, out, "dev UPOS accuracy", as_json)


def _load_tagger(checkpoint_paths, calibrated: bool = True):
    """One checkpoint → its Tagger; several → the ensemble of all of them."""
    from .tagging import load_taggers
    from .train.checkpoint import CheckpointError

    try:
        return load_taggers(checkpoint_paths, calibrated=calibrated)
    except (CheckpointError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc


@tagger.command("evaluate")
@click.argument("checkpoints", nargs=-1, type=click.Path(path_type=Path))
@click.option("--data", type=click.Path(exists=True, file_okay=False, path_type=Path),
              default=None, help="Treebank folder [default: the cached release].")
@click.option("--split", type=click.Choice(["test", "dev"]), default="test", show_default=True)
@click.option("--conllu", "conllu_file", type=click.Path(exists=True, dir_okay=False,
              path_type=Path), default=None, help="Evaluate on this CoNLL-U file instead.")
@_NO_CALIBRATE
@click.option("--plot", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write a reliability diagram (PNG) of the UPOS tags: accuracy against "
                   "confidence, raw and calibrated.")
@click.option("--json", "as_json", is_flag=True)
def tagger_evaluate(checkpoints, data, split, conllu_file, no_calibrate, plot, as_json):
    """UPOS/XPOS accuracy overall and on words unseen in training, per UPOS tag, and the
    calibration of the UPOS confidences (ECE, Brier, accuracy at 100/90/80/70% coverage).

    Several CHECKPOINTS are evaluated as an ensemble (probabilities averaged); none means
    runs/tagger.
    """
    from .data import ud
    from .data.download import DownloadError
    from .tagging import evaluate

    model = _load_tagger(list(checkpoints) or [Path("runs/tagger")],
                         calibrated=not no_calibrate)
    try:
        sentences = (ud.read_conllu(conllu_file) if conllu_file
                     else ud.load(data).split(split))
        report = evaluate(model, sentences, keep_raw_report=plot is not None)
    except (ud.ConlluError, DownloadError, FileNotFoundError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    report["split"] = str(conllu_file) if conllu_file else split
    if plot is not None and report["calibration"]:
        _plot_reliability(report, plot, f"UPOS tags, EWT {report['split']} "
                          f"({report['tokens']:,} tokens)")
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    oov = report["oov_upos_accuracy"]
    click.echo(f"{report['split']}: {report['sentences']} sentences, {report['tokens']} tokens")
    click.echo(f"UPOS {report['upos_accuracy']:.4f}  XPOS {report['xpos_accuracy']:.4f}")
    click.echo(f"unseen words ({report['oov_tokens']}, {report['oov_rate']:.1%}): UPOS "
               + (f"{oov:.4f}  XPOS {report['oov_xpos_accuracy']:.4f}" if oov is not None
                  else "—"))
    click.echo(f"{'UPOS':<6} {'precision':>9} {'recall':>7} {'f1':>7} {'support':>8}")
    for tag, m in report["per_upos"].items():
        click.echo(f"{tag:<6} {m['precision']:>9.4f} {m['recall']:>7.4f} {m['f1']:>7.4f} "
                   f"{m['support']:>8}")
    _echo_calibration(report, "tokens")


@tagger.command("calibrate")
@click.argument("checkpoint", type=click.Path(path_type=Path))
@click.option("--data", type=click.Path(exists=True, file_okay=False, path_type=Path),
              default=None, help="Treebank folder [default: the cached release].")
@click.option("--json", "as_json", is_flag=True)
def tagger_calibrate(checkpoint, data, as_json):
    """Fit the UPOS and XPOS temperatures of a tagger (or of a tagger ensemble as a whole) on
    the dev split and save them in its config.json (training does this already; use it for
    taggers made before calibration existed)."""
    from .data import ud
    from .data.download import DownloadError
    from .tagging import calibrate_checkpoint
    from .train.checkpoint import CheckpointError

    try:
        record = calibrate_checkpoint(checkpoint, ud.load(data).dev,
                                      log=lambda m: None if as_json else click.echo(m))
    except (CheckpointError, ud.ConlluError, DownloadError, FileNotFoundError,
            ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(record, indent=2))


@tagger.command("predict")
@click.argument("checkpoint", type=click.Path(path_type=Path))
@click.argument("texts", nargs=-1)
@click.option("--file", "file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="Raw text, or with --tokenized one sentence per line.")
@click.option("--tokenized", is_flag=True,
              help="Input is pre-tokenised: one sentence per line, tokens separated by spaces.")
@click.option("--conllu", "conllu_file", type=click.Path(exists=True, dir_okay=False,
              path_type=Path), default=None, help="Tag the words of this CoNLL-U file.")
@click.option("--format", "output_format", type=click.Choice(["conllu", "json"]),
              default="conllu", show_default=True,
              help="json: one object per sentence, with each UPOS tag's confidence.")
@_NO_CALIBRATE
def tagger_predict(checkpoint, texts, file, tokenized, conllu_file, output_format,
                   no_calibrate):
    """Tag TEXTS, --file, --conllu, or standard input; print CoNLL-U or JSON lines.

    Raw text is split into sentences at . ! ? followed by a capital letter, and into tokens
    following UD English conventions (do n't, it 's, punctuation apart; see the README).
    Leading arguments that are checkpoints form an ensemble: 'gatedrnn tagger predict runs/a
    runs/b "Time flies."'.
    """
    from .data import ud
    from .tagging import tokenize

    checkpoints = [checkpoint]
    texts = list(texts)
    while texts and _is_checkpoint(texts[0]):
        checkpoints.append(Path(texts.pop(0)))
    if conllu_file is not None:
        try:
            sentences = ud.read_conllu(conllu_file)
        except ud.ConlluError as exc:
            raise click.ClickException(str(exc)) from exc
    else:
        if file is not None:
            content = _read_text_file(file)
        elif texts:
            content = "\n".join(texts)
        else:
            content = sys.stdin.read()
        token_lists = ([line.split() for line in content.splitlines() if line.split()]
                       if tokenized else tokenize(content))
        sentences = [ud.Sentence(tokens, [], []) for tokens in token_lists]
    if not sentences:
        raise click.UsageError("no text to tag: give TEXTS, --file, --conllu, or text on stdin")
    model = _load_tagger(checkpoints, calibrated=not no_calibrate)
    tagged = model.tag([s.forms for s in sentences])
    if output_format == "json":
        for result in tagged:
            click.echo(json.dumps(result, ensure_ascii=False))
        return
    click.echo(ud.write_conllu(sentences, [r["upos"] for r in tagged],
                               [r["xpos"] for r in tagged]), nl=False)


# ---- serve, explain, export ------------------------------------------------------------------


@main.command()
@click.argument("checkpoints", nargs=-1, type=click.Path(path_type=Path))
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option("--onnx", is_flag=True, help="Run sentiment models in onnxruntime (exported at "
              "start-up; needs onnxruntime). /explain still uses PyTorch.")
@_NO_CALIBRATE
def serve(checkpoints, host, port, onnx, no_calibrate):
    """Serve checkpoints over HTTP: /predict, /tag, /explain, /health, the page at /, /docs.

    Without CHECKPOINTS it serves runs/sentiment and runs/tagger, where they exist. It
    listens on 127.0.0.1 only unless --host says otherwise (--host 0.0.0.0 for every
    interface: put it behind a proxy that limits who may call it).
    """
    import uvicorn

    from .serve.app import build
    from .train.checkpoint import CheckpointError

    try:
        app = build(list(checkpoints) or None, onnx=onnx, calibrated=not no_calibrate)
    except (CheckpointError, FileNotFoundError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"serving {', '.join(m['name'] for m in _model_names(app))} on "
               f"http://{host}:{port}/ (API docs at /docs)", err=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")


def _model_names(app):
    from fastapi.testclient import TestClient
    return TestClient(app).get("/health").json()["models"]


@main.command()
@click.argument("checkpoint", type=click.Path(path_type=Path))
@click.argument("text", nargs=-1, required=True)
@click.option("--units", type=click.IntRange(0, 64), default=4, show_default=True,
              help="Hidden units to list in the gate summary.")
@click.option("--json", "as_json", is_flag=True, help="Print the whole explanation as JSON.")
@_NO_CALIBRATE
def explain(checkpoint, text, units, as_json, no_calibrate):
    """Colour TEXT's tokens by their contribution to the decision; summarise the gates."""
    from .analysis.explain import explain as run_explain

    predictor = _load_predictor(checkpoint, calibrated=not no_calibrate)
    try:
        result = run_explain(predictor, " ".join(text), units=units)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(result, indent=2, ensure_ascii=False))
        return
    click.echo(f"{result['label']} ({100 * result['confidence']:.1f}%)")
    scale = max([abs(c) for c in result["contributions"]] + [1e-9])
    words = []
    for token, value in zip(result["tokens"], result["contributions"]):
        strength = abs(value) / scale
        base = (46, 160, 67) if value >= 0 else (214, 39, 40)
        colour = tuple(int(255 + strength * (c - 255)) for c in base)  # white → full colour
        words.append(click.style(f" {token} ", bg=colour, fg="black"))
    click.echo("".join(words))
    target = result["contribution_target"]
    click.echo(f"green: towards {target}, red: against (gradient × input on the embeddings)")
    ranked = sorted(zip(result["contributions"], result["tokens"]))
    if ranked:
        click.echo("strongest for " + target + ": " + ", ".join(
            f"{t} {c:+.2f}" for c, t in ranked[::-1][:5] if c > 0))
        click.echo("strongest against: " + ", ".join(f"{t} {c:+.2f}" for c, t in ranked[:5]
                                                     if c < 0))
    for key, gates in result["gates"].items():
        parts = []
        for name, values in gates.items():
            if not values:
                continue
            mean = sum(values) / len(values)
            low = min(range(len(values)), key=values.__getitem__)
            parts.append(f"{name} mean {mean:.2f} (lowest {values[low]:.2f} at "
                         f"'{result['tokens'][low]}')")
        if parts:
            click.echo(f"{result['mode']} {key}: " + "; ".join(parts))
    for unit in result["units"]:
        values = unit["values"]
        peak = max(range(len(values)), key=lambda i: abs(values[i]))
        click.echo(f"unit {unit['unit']}: peaks at '{result['tokens'][peak]}' "
                   f"({values[peak]:+.2f})")


@main.command()
@click.argument("checkpoint", type=click.Path(path_type=Path))
@click.option("--onnx", "onnx_path", type=click.Path(dir_okay=False, path_type=Path),
              required=True, help="Where to write the .onnx file.")
@click.option("--opset", type=click.IntRange(min=14), default=17, show_default=True)
@click.option("--no-check", is_flag=True, help="Skip the onnxruntime parity check.")
@click.option("--no-calibrate", is_flag=True,
              help="Export the raw network: without the temperature fitted at the end of "
                   "training (by default the graph divides the logits by it).")
def export(checkpoint, onnx_path, opset, no_check, no_calibrate):
    """Export a classifier or tagger checkpoint to ONNX (any batch size and length)."""
    from .export import check_parity, export_onnx
    from .train.checkpoint import CheckpointError

    try:
        info = export_onnx(checkpoint, onnx_path, opset, calibrated=not no_calibrate)
    except CheckpointError as exc:
        raise click.ClickException(str(exc)) from exc
    temperatures = ", ".join(f"{k} {v:.3f}" for k, v in info["metadata"].items())
    click.echo(f"wrote {onnx_path} ({info['task']}): inputs {', '.join(info['inputs'])}; "
               f"outputs {', '.join(info['outputs'])}; {temperatures}")
    if no_check:
        return
    try:
        worst = check_parity(onnx_path, info["graph"], [info["example"]])
    except ImportError:
        click.echo("onnxruntime is not installed: parity not checked "
                   "(pip install onnxruntime)", err=True)
        return
    click.echo(f"onnxruntime vs PyTorch: max |difference| {worst:.2e}")
    if worst > 1e-4:
        raise click.ClickException(f"the exported graph differs from PyTorch by {worst:.2e}")


if __name__ == "__main__":
    main()
