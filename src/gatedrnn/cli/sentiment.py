"""``gatedrnn sentiment``: train (a preset or a recipe), search, pretrain, evaluate, calibrate,
predict."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from .options import (
    CHECKPOINT_MINUTES,
    CROP_LENGTH,
    CROPS,
    NO_CALIBRATE,
    FilePath,
    echo_calibration,
    is_checkpoint,
    plot_reliability,
    read_text_file,
    refuse_options_beside_a_recipe,
    report_training,
    run_training,
)
from .root import main


@main.group()
def sentiment():
    """IMDb sentiment analysis: train, evaluate, predict."""


def _preset_names():
    from ..sentiment.presets import PRESETS
    return list(PRESETS)


def _preset_help() -> str:
    from ..sentiment.presets import CHAPTER_PRESET, DEFAULT_PRESET
    return (f"One model and how it trains. Default: {DEFAULT_PRESET} (one BiLSTM layer, 3 "
            f"epochs: ~7 min on 2 cores, 90.4% test). {CHAPTER_PRESET}: the chapter's own BiLSTM "
            "preset (~45 min). best: fast from word vectors it trains first (~12 min; the best "
            "single model, 90.9%; --recipe best is the best system). nbsvm, dv-ngram, "
            "dv-trigram: linear models over n-grams or document vectors. best-practice: the "
            "chapter's BestPracticeLSTM. ulmfit: fine-tunes a language model from 'gatedrnn lm "
            "pretrain' (--init-from; 88.3% test). tiny: for tests.")


def _recipe_names():
    from ..sentiment.recipes import RECIPES
    return list(RECIPES)


def _recipe_help() -> str:
    from ..sentiment.recipes import RECIPES
    return ("Build a whole measured system instead of one preset, into OUT: one directory "
            "that evaluate, predict, explain and serve load as one model: "
            + "; ".join(f"{name}: {r.measured}" for name, r in RECIPES.items())
            + ". A rerun with the same OUT reuses the finished steps.")


# what a recipe fixes: training options cannot change it (it is built as it was measured)
_RECIPE_FIXED = ("preset", "epochs", "patience", "lr", "batch_size", "max_length", "clip",
                 "bf16", "limit", "vectors", "freeze_embeddings", "init_from", "pooling",
                 "hidden_size", "word_dropout", "random_crop", "adversarial",
                 "entropy_minimisation", "virtual_adversarial", "discriminative_lr",
                 "gradual_unfreezing", "step_max_tokens", "split_seed", "split_by", "teacher",
                 "unlabelled", "checkpoint_minutes")


@sentiment.command("train")
@click.option("--data", type=FilePath(exists=True, path_type=Path), default=None,
              help="aclImdb_v1.tar.gz or the aclImdb/ folder [default: download to the cache].")
@click.option("--recipe", type=click.Choice(_recipe_names()), default=None, help=_recipe_help())
@click.option("--preset", type=click.Choice(_preset_names()), default="fast", show_default=True,
              help=_preset_help())
@click.option("--out", type=FilePath(file_okay=False, path_type=Path),
              default=Path("runs/sentiment"), show_default=True,
              help="Writes OUT/best, OUT/last and OUT/metrics.jsonl.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--resume", is_flag=True, help="Continue from OUT/last after an interruption.")
@click.option("--epochs", type=click.IntRange(min=1), default=None)
@click.option("--patience", type=click.IntRange(min=1), default=None,
              help="Stop after this many epochs without a better validation accuracy "
                   "[default: the preset's: 2 for best-practice, none for the others]. The "
                   "best epoch is kept either way.")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=None)
@click.option("--batch-size", type=click.IntRange(min=1), default=None)
@click.option("--max-length", type=click.IntRange(min=1), default=None,
              help="Truncate training reviews to this many tokens.")
@click.option("--clip", type=click.FloatRange(min=0), default=None)
@click.option("--bf16", is_flag=True, default=None, help="bfloat16 autocast (CPU AVX-512 BF16).")
@click.option("--limit", type=click.IntRange(min=2), default=None,
              help="Use only this many training reviews (quick trials).")
@click.option("--vectors", type=FilePath(exists=True, dir_okay=False, path_type=Path),
              default=None, help="Initialise the embedding from word vectors (word2vec text or "
              ".bin, GloVe, fastText .vec; see 'gatedrnn embeddings').")
@click.option("--freeze-embeddings", is_flag=True,
              help="Keep the pretrained embedding fixed (with --vectors or --init-from).")
@click.option("--init-from", type=FilePath(exists=True, file_okay=False, path_type=Path),
              default=None, help="Start from a language model made by 'gatedrnn lm pretrain' "
              "(or 'sentiment pretrain'): its vocabulary, embedding and encoder.")
@click.option("--pooling", type=click.Choice(["last", "max", "mean", "attention", "concat"]),
              default=None,
              help="How the encoder's outputs become one vector [default: the preset's].")
@click.option("--hidden-size", type=click.IntRange(min=1), default=None,
              help="Units of the recurrent layer in each direction [default: the preset's]; "
                   "an epoch at 256 takes 2.2 times as long as at 128 (IMDb, 2 cores).")
@click.option("--word-dropout", type=click.FloatRange(0, 1, max_open=True), default=None,
              help="Replace each training word by <unk> with this probability.")
@click.option("--random-crop", is_flag=True, default=None,
              help="With --max-length: train on a random window of long reviews, not the head.")
@click.option("--adversarial", type=click.FloatRange(min=0, min_open=True), default=None,
              metavar="EPS",
              help="Adversarial training: also learn from each batch with its word embeddings "
              "pushed along the loss's gradient, by EPS times one token's embedding norm per "
              "review (Miyato et al.'s setting is about 0.3); twice the time per epoch.")
@click.option("--entropy-minimisation", type=click.FloatRange(min=0), default=None,
              metavar="WEIGHT",
              help="Learn from the unlabelled reviews: also make the predictions on a batch "
              "of them surer, this weight times their mean entropy (0: off).")
@click.option("--virtual-adversarial", type=click.FloatRange(min=0), default=None,
              metavar="EPS",
              help="Learn from the unlabelled reviews: keep each prediction when their "
              "embeddings are pushed EPS (as --adversarial's) the way that changes it most, "
              "found by one power iteration (0: off); about three passes per step.")
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
@click.option("--teacher", multiple=True, type=FilePath(exists=True, path_type=Path),
              help="Distillation: a sentiment checkpoint (repeat for an ensemble) whose "
                   "probabilities on the unlabelled reviews become extra soft-labelled "
                   "training data. Keep --split-seed and --split-by the teacher's, so its "
                   "validation reviews stay unseen.")
@click.option("--unlabelled", type=click.IntRange(min=1), default=None,
              help="With --teacher, --entropy-minimisation or --virtual-adversarial: use this "
                   "many of the 50,000 unlabelled reviews [default: all].")
@CHECKPOINT_MINUTES
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def sentiment_train(data, recipe, preset, out, seed, resume, epochs, patience, lr, batch_size,
                    max_length, clip, bf16, limit, vectors, freeze_embeddings, init_from,
                    pooling, hidden_size, word_dropout, random_crop, adversarial,
                    entropy_minimisation, virtual_adversarial, discriminative_lr,
                    gradual_unfreezing, step_max_tokens, split_seed, split_by, teacher,
                    unlabelled, checkpoint_minutes, as_json):
    """Train a classifier (--preset) or build a whole system (--recipe); Ctrl-C saves, and
    --resume continues.

    At the end, a temperature is fitted on the validation split (calibration) and saved in
    the checkpoint's config.json; predict, evaluate, serve, explain and export apply it.
    """
    from ..data.imdb import DatasetError
    from ..data.vectors import VectorsError
    from ..sentiment import train
    from ..train.checkpoint import CheckpointError
    from ..train.loop import TrainingDiverged

    errors = (DatasetError, CheckpointError, TrainingDiverged, VectorsError, ValueError,
              ImportError)
    if recipe:
        from ..sentiment.pipeline import run_recipe
        refuse_options_beside_a_recipe(recipe, _RECIPE_FIXED)
        summary = run_training(lambda: run_recipe(recipe, data, out, seed=seed, resume=resume,
                                                  log=lambda m: click.echo(m, err=True)),
                               out, (*errors, RuntimeError))  # RuntimeError: a failed step
        report_recipe(summary, out, as_json)
        return

    overrides = {k: v for k, v in {"epochs": epochs, "patience": patience, "lr": lr,
                                   "batch_size": batch_size, "max_length": max_length,
                                   "clip": clip, "bf16": bf16,
                                   "random_crop": random_crop, "adversarial": adversarial,
                                   "entropy_minimisation": entropy_minimisation,
                                   "virtual_adversarial": virtual_adversarial,
                                   "discriminative_lr": discriminative_lr,
                                   "gradual_unfreezing": gradual_unfreezing,
                                   "step_max_tokens": step_max_tokens,
                                   "checkpoint_minutes": checkpoint_minutes}.items()
                 if v is not None}
    model_overrides = {k: v for k, v in {"word_dropout": word_dropout, "pooling": pooling,
                                         "hidden_size": hidden_size}.items() if v is not None}
    summary = run_training(
        lambda: train(data, preset, out, seed=seed, resume=resume, overrides=overrides,
                      model_overrides=model_overrides, limit=limit, vectors=vectors,
                      freeze_embeddings=freeze_embeddings, init_from=init_from,
                      split_seed=split_seed, split_by=split_by,
                      teacher=list(teacher) or None,
                      unlabelled=unlabelled, log=lambda m: click.echo(m, err=True)),
        out, errors)
    report_training(summary, out, "validation accuracy", as_json)


def report_recipe(summary: dict, out: Path, as_json: bool) -> None:
    """What a recipe built: its final model's figures and where it is."""
    if as_json:
        click.echo(json.dumps(summary, indent=2, default=str))
        return
    final = summary.get("final_by_nested_cv")
    if final is None:  # a one-preset recipe: a training summary
        report_training(summary, out, "validation accuracy", False)
        return
    minutes = summary["pipeline_seconds"] / 60
    click.echo(f"recipe {summary['recipe']}: {final['members']} ({final['rule']}), validation "
               f"{final['valid']:.4f}, test {final['test']:.4f}; {minutes:.1f} min; model: {out} "
               f"(report: {out / 'recipe.json'})")


@sentiment.command("search")
@click.option("--data", type=FilePath(exists=True, path_type=Path), default=None)
@click.option("--preset", type=click.Choice(_preset_names()), default="fast", show_default=True,
              help="The preset whose settings the trials vary.")
@click.option("--out", type=FilePath(file_okay=False, path_type=Path),
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
    from ..data.imdb import DatasetError
    from ..search import search

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
@click.option("--data", type=FilePath(exists=True, path_type=Path), default=None,
              help="aclImdb_v1.tar.gz or the aclImdb/ folder [default: download to the cache].")
@click.option("--preset", type=click.Choice(_preset_names()), default="fast", show_default=True,
              help="The sentiment preset whose encoder shape the language model takes.")
@click.option("--out", type=FilePath(file_okay=False, path_type=Path),
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
@CHECKPOINT_MINUTES
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def sentiment_pretrain(data, preset, out, epochs, lr, batch_size, bptt, max_reviews, bf16, seed,
                       resume, checkpoint_minutes, as_json):
    """Pretrain a bidirectional language model on the unlabelled + training reviews.

    The forward direction predicts each next word, the backward one each previous word; then
    'gatedrnn sentiment train --preset PRESET --init-from OUT' fine-tunes a classifier from it.
    'gatedrnn lm pretrain --preset PRESET' does the same; 'gatedrnn lm' also has the forward and
    backward AWD-LSTM language models of the ULMFiT recipe.
    """
    from .lm import pretrain_and_report

    overrides = {k: v for k, v in {"epochs": epochs, "lr": lr, "batch_size": batch_size,
                                   "bf16": bf16, "checkpoint_minutes": checkpoint_minutes}.items()
                 if v is not None}
    pretrain_and_report(data, out, as_json, preset=preset, seed=seed, bptt=bptt,
                        max_reviews=max_reviews, overrides=overrides, resume=resume)


def load_predictor(checkpoint_paths, calibrated: bool = True):
    """One checkpoint → a Predictor; several → an Ensemble averaging their probabilities."""
    from ..sentiment import Ensemble, load
    from ..train.checkpoint import CheckpointError

    paths = [checkpoint_paths] if isinstance(checkpoint_paths, (str, Path)) else checkpoint_paths
    try:
        return (load(paths[0], calibrated) if len(paths) == 1
                else Ensemble.load(paths, calibrated))
    except (CheckpointError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc


def validation_reviews(data, seed: int, split_by: str):
    from ..data import imdb
    return imdb.validation_split(imdb.load(data).train, 0.1, seed, by=split_by)[1]


@sentiment.command("evaluate")
@click.argument("checkpoints", nargs=-1, type=FilePath(path_type=Path))
@click.option("--data", type=FilePath(exists=True, path_type=Path), default=None)
@click.option("--split", type=click.Choice(["test", "validation"]), default="test",
              show_default=True, help="validation = the split carved from train with --seed.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--split-by", type=click.Choice(["review", "film"]), default="review",
              show_default=True, help="How that validation split was drawn (as in training).")
@CROPS
@CROP_LENGTH
@NO_CALIBRATE
@click.option("--plot", type=FilePath(dir_okay=False, path_type=Path), default=None,
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
    from ..data import imdb
    from ..sentiment import evaluate

    predictor = load_predictor(list(checkpoints) or [Path("runs/sentiment")],
                                calibrated=not no_calibrate)
    try:
        reviews = (imdb.load(data).test if split == "test"
                   else validation_reviews(data, seed, split_by))
    except imdb.DatasetError as exc:
        raise click.ClickException(str(exc)) from exc
    report = evaluate(predictor, [r.text for r in reviews], [r.label for r in reviews],
                      crops=crops, crop_length=crop_length, keep_raw_report=plot is not None)
    report["split"] = split
    report["crops"] = crops
    if plot is not None:
        plot_reliability(report, plot, f"IMDb {split}, {report['count']:,} reviews "
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
    echo_calibration(report, "reviews")


@sentiment.command("calibrate")
@click.argument("checkpoints", nargs=-1, required=True, type=FilePath(path_type=Path))
@click.option("--data", type=FilePath(exists=True, path_type=Path), default=None,
              help="aclImdb_v1.tar.gz or the aclImdb/ folder [default: the cached copy].")
@click.option("--out", type=FilePath(file_okay=False, path_type=Path), default=None,
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
    from ..data import imdb
    from ..sentiment import (
        Ensemble,
        Predictor,
        calibrate,
        calibrate_checkpoint,
        save_ensemble,
    )
    from ..train import checkpoint

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
        reviews = validation_reviews(data, split_seed, split_by)
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
@click.argument("checkpoint", type=FilePath(path_type=Path))
@click.argument("texts", nargs=-1)
@click.option("--file", "file", type=FilePath(exists=True, dir_okay=False, path_type=Path),
              default=None, help="One text per line.")
@click.option("--jsonl", is_flag=True, help="One JSON object per text.")
@click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True)
@click.option("--min-confidence", type=click.FloatRange(0, 1), default=None, metavar="P",
              help="Label a text 'uncertain' when its confidence is below P (its most likely "
                   "label is still shown); 'sentiment evaluate' lists the accuracy each P "
                   "gives and how many texts it keeps.")
@NO_CALIBRATE
def sentiment_predict(checkpoint, texts, file, jsonl, batch_size, min_confidence, no_calibrate):
    """Label texts given as arguments, in --file, or on standard input (one per line).

    Leading arguments that are checkpoints (a training output or checkpoint directory) form an
    ensemble: 'gatedrnn sentiment predict runs/a runs/b runs/c "Great film."'.
    """
    checkpoints = [checkpoint]
    texts = list(texts)
    while texts and is_checkpoint(texts[0]):
        checkpoints.append(Path(texts.pop(0)))
    lines = list(texts)
    if file is not None:
        lines += read_text_file(file).splitlines()
    if not texts and file is None:
        lines += [line.rstrip("\n") for line in sys.stdin]
    if not lines:
        raise click.UsageError("no text to label: give TEXTS, --file, or lines on stdin")
    predictor = load_predictor(checkpoints, calibrated=not no_calibrate)
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
