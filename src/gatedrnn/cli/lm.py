"""``gatedrnn lm``: pretrain a word-level language model on the IMDb reviews, measure its
perplexity, generate text from it."""

from __future__ import annotations

import json
from pathlib import Path

import click

from .options import CHECKPOINT_MINUTES, FilePath, read_text_file, run_training
from .root import main


def _lm_preset_names():
    from ..lm.presets import PRESETS as LM_PRESETS
    from ..registry import is_recurrent
    from ..sentiment.presets import PRESETS
    return [*LM_PRESETS, *(name for name, p in PRESETS.items() if is_recurrent(p.kind))]


def _lm_preset_help() -> str:
    from ..lm.presets import PRESETS as LM_PRESETS
    return "; ".join(f"{name}: {p.description}" for name, p in LM_PRESETS.items())


@main.group()
def lm():
    """Word-level language models (AWD-LSTM style): pretrain, evaluate, sample.

    A pretrained LM starts a sentiment classifier ('gatedrnn sentiment train --preset ulmfit
    --init-from OUT'); 'gatedrnn sentiment train --recipe ulmfit' runs the whole ULMFiT recipe.
    """


@lm.command("pretrain")
@click.option("--data", type=FilePath(exists=True, path_type=Path), default=None,
              help="aclImdb_v1.tar.gz or the aclImdb/ folder [default: download to the cache].")
@click.option("--preset", type=click.Choice(_lm_preset_names()), default="awd",
              show_default=True, help=_lm_preset_help() + "; or a sentiment preset, whose "
              "encoder shape a bidirectional LM takes.")
@click.option("--direction", type=click.Choice(["forward", "backward"]), default=None,
              help="Predict each next word (forward, the default of LM presets) or each "
                   "previous word (backward, reading the reviews from their ends).")
@click.option("--out", type=FilePath(file_okay=False, path_type=Path),
              default=Path("runs/lm"), show_default=True)
@click.option("--epochs", type=click.IntRange(min=1), default=None)
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=None)
@click.option("--batch-size", type=click.IntRange(min=1), default=None)
@click.option("--bptt", type=click.IntRange(min=2), default=None,
              help="Tokens per window (gradients are truncated between windows) [default: the "
                   "preset's].")
@click.option("--max-reviews", type=click.IntRange(min=2), default=None,
              help="Use only this many reviews (quick trials).")
@click.option("--bf16/--no-bf16", default=None, help="bfloat16 autocast [default: the preset's].")
@click.option("--snapshot", "snapshots", type=click.FloatRange(min=0, min_open=True),
              multiple=True, help="Also save the weights after this fraction of the epochs "
              "into OUT/snapshots/epoch-F (repeatable), e.g. --snapshot 0.25 --snapshot 0.5.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--resume", is_flag=True, help="Continue from OUT/last after an interruption.")
@CHECKPOINT_MINUTES
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def lm_pretrain(data, preset, direction, out, epochs, lr, batch_size, bptt, max_reviews, bf16,
                snapshots, seed, resume, checkpoint_minutes, as_json):
    """Train a language model on the 50,000 unlabelled + 25,000 training reviews.

    The test reviews are never read; 1% of the others are held out for perplexity. Progress
    shows tokens/s and the time left; Ctrl-C saves, and --resume continues.
    """
    overrides = {k: v for k, v in {"epochs": epochs, "lr": lr, "batch_size": batch_size,
                                   "bf16": bf16, "checkpoint_minutes": checkpoint_minutes,
                                   "snapshots": list(snapshots) or None}.items()
                 if v is not None}
    pretrain_and_report(data, out, as_json, preset=preset, direction=direction, seed=seed,
                        bptt=bptt, max_reviews=max_reviews, overrides=overrides, resume=resume)


def pretrain_and_report(data, out: Path, as_json: bool, **options) -> None:
    """Run gatedrnn.pretrain.pretrain with ``options`` (its log on stderr, errors as clean
    messages) and print its summary (``lm pretrain`` and ``sentiment pretrain``)."""
    from ..data.imdb import DatasetError
    from ..pretrain import pretrain
    from ..train.checkpoint import CheckpointError
    from ..train.loop import TrainingDiverged

    summary = run_training(
        lambda: pretrain(data, out, **options, log=lambda m: click.echo(m, err=True)),
        out, (DatasetError, CheckpointError, TrainingDiverged, ValueError))
    if as_json:
        click.echo(json.dumps(summary, indent=2))
    else:
        click.echo(f"held-out perplexity {summary['valid_perplexity']:.1f}; checkpoint: "
                   f"{out / 'best'} ({summary['train_seconds'] / 60:.1f} min)")


@lm.command("evaluate")
@click.argument("model", type=FilePath(exists=True, path_type=Path))
@click.option("--data", type=FilePath(exists=True, path_type=Path), default=None,
              help="aclImdb_v1.tar.gz or the aclImdb/ folder [default: the cached copy].")
@click.option("--split", type=click.Choice(["held-out", "test"]), default="held-out",
              show_default=True, help="The reviews pretraining held out, or IMDb's test set.")
@click.option("--text", "text_file", type=FilePath(exists=True, dir_okay=False, path_type=Path),
              default=None, help="Measure on this UTF-8 file instead, one text per line.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def lm_evaluate(model, data, split, text_file, as_json):
    """Perplexity of a language model (lower is better; <unk> counts as a word)."""
    from ..data.imdb import DatasetError
    from ..lm.evaluation import evaluate_lm
    from ..train.checkpoint import CheckpointError

    texts = None
    if text_file is not None:
        texts = [line for line in read_text_file(text_file).splitlines() if line.strip()]
    try:
        result = evaluate_lm(model, data, split=split, texts=texts)
    except (DatasetError, CheckpointError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(result, indent=2))
    else:
        click.echo(f"perplexity {result['perplexity']:.2f} on {result['source']} "
                   f"({result['predicted_words']:,} words predicted, {result['direction']}; "
                   f"vocabulary {result['vocabulary']:,}, {result['unk_share']:.1%} of the "
                   f"targets <unk>); next-word accuracy {result['next_word_accuracy']:.1%}")


@lm.command("sample")
@click.argument("model", type=FilePath(exists=True, path_type=Path))
@click.argument("prompt")
@click.option("--words", type=click.IntRange(min=1), default=50, show_default=True)
@click.option("--temperature", type=click.FloatRange(min=0, min_open=True), default=1.0,
              show_default=True, help="Below 1: safer, more repetitive text; above 1: wilder.")
@click.option("--top-k", type=click.IntRange(min=1), default=None,
              help="Sample only among the k most probable words.")
@click.option("--seed", type=int, default=None, help="Make the sample repeatable.")
def lm_sample(model, prompt, words, temperature, top_k, seed):
    """Generate text after PROMPT (a backward model writes what comes before it)."""
    from ..lm.evaluation import sample
    from ..train.checkpoint import CheckpointError

    try:
        click.echo(sample(model, prompt, words=words, temperature=temperature, top_k=top_k,
                          seed=seed))
    except (CheckpointError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
