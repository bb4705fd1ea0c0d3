"""``gatedrnn tagger``: part-of-speech tagging on UD English EWT."""

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
    is_checkpoint,
    plot_reliability,
    read_text_file,
    refuse_options_beside_a_recipe,
    report_training,
    run_training,
)
from .root import main


@main.group()
def tagger():
    """Part-of-speech tagging on Universal Dependencies (English EWT): train, evaluate, predict."""


def _tagger_presets():
    from ..tagging.presets import PRESETS
    return list(PRESETS)


def _recipe_names():
    from ..tagging.recipes import RECIPES
    return list(RECIPES)


def _recipe_help() -> str:
    from ..tagging.recipes import RECIPES
    return ("Build a measured tagger (or ensemble) instead of choosing the options, into OUT: "
            + "; ".join(f"{name}: {r.measured}" for name, r in RECIPES.items()) + ".")


# what a recipe fixes (it is built as it was measured)
_RECIPE_FIXED = ("preset", "mode", "unidirectional", "hidden_size", "char_encoder",
                 "word_dropout", "word_dropout_alpha", "tags", "vectors", "epochs", "lr", "batch_size",
                 "limit", "members", "jobs", "checkpoint_minutes")


@tagger.command("train")
@click.option("--data", type=FilePath(exists=True, file_okay=False, path_type=Path),
              default=None, help="A treebank's folder, with its *-ud-{train,dev,test}.conllu "
              "files (any language) [default: download UD English EWT to the cache].")
@click.option("--train", "train_file", type=FilePath(exists=True, dir_okay=False,
                                                     path_type=Path), default=None,
              help="Instead of --data: the training file (CoNLL-U, any name).")
@click.option("--dev", "dev_file", type=FilePath(exists=True, dir_okay=False, path_type=Path),
              default=None, help="With --train: the dev file [default: a seeded 10% of train].")
@click.option("--test", "test_file", type=FilePath(exists=True, dir_okay=False,
                                                   path_type=Path), default=None,
              help="With --train: the test file ('tagger evaluate RUN --conllu FILE' scores it).")
@click.option("--treebank", default=None,
              help="Instead of --data: a UD treebank by its name (e.g. UD_French-GSD), "
                   "downloaded to the cache at --release.")
@click.option("--release", default="r2.16", show_default=True,
              help="With --treebank: the UD release tag.")
@click.option("--recipe", type=click.Choice(_recipe_names()), default=None, help=_recipe_help())
@click.option("--preset", type=click.Choice(_tagger_presets()), default="bilstm",
              show_default=True)
@click.option("--out", type=FilePath(file_okay=False, path_type=Path),
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
@click.option("--tags", "tags", default="upos,xpos", show_default=True,
              help="The CoNLL-U columns to predict, one head each: upos and any of xpos, feats "
                   "(FEATS: a word's whole morphological features as one tag).")
@click.option("--vectors", type=FilePath(exists=True, dir_okay=False, path_type=Path),
              default=None, help="Start the word embedding from these word vectors (word2vec, "
              "GloVe or fastText, learnt on unlabelled text; e.g. 'gatedrnn embeddings "
              "train'); their words join the vocabulary.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--resume", is_flag=True, help="Continue from OUT/last after an interruption.")
@click.option("--epochs", type=click.IntRange(min=1), default=None,
              help="[default: the preset's steps over the treebank's size]")
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
@CHECKPOINT_MINUTES
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def tagger_train(data, train_file, dev_file, test_file, treebank, release, recipe, preset,
                 out, mode, unidirectional, hidden_size, char_encoder, word_dropout,
                 word_dropout_alpha, tags, vectors, seed, resume, epochs, lr, batch_size, limit,
                 members, jobs, checkpoint_minutes, as_json):
    """Train a tagger on train, keep the best on dev; Ctrl-C saves, and --resume continues.

    --recipe builds a measured configuration (--recipe best: the most accurate, an ensemble
    of two)."""
    from ..data.download import DownloadError
    from ..data.ud import ConlluError
    from ..tagging import train, train_ensemble, train_recipe
    from ..train.checkpoint import CheckpointError
    from ..train.loop import TrainingDiverged

    errors = (ConlluError, DownloadError, FileNotFoundError, CheckpointError, TrainingDiverged,
              ValueError)
    log = lambda m: click.echo(m, err=True)  # noqa: E731
    if treebank is not None:
        if data is not None or train_file is not None:
            raise click.UsageError("give one of --data DIR, --train FILE or --treebank NAME")
        from ..data.ud import download_release
        try:
            data = download_release(release, treebank=treebank)
        except DownloadError as exc:
            raise click.ClickException(str(exc)) from exc
    if train_file is not None:
        if data is not None:
            raise click.UsageError("give either --data DIR or --train FILE (with --dev and "
                                   "--test), not both")
        data = {"train": train_file, "dev": dev_file, "test": test_file}
    elif dev_file is not None or test_file is not None:
        raise click.UsageError("--dev and --test come with --train FILE")
    if recipe:
        refuse_options_beside_a_recipe(recipe, _RECIPE_FIXED)
        summary = run_training(lambda: train_recipe(recipe, data, out, seed=seed, resume=resume,
                                                    log=log), out, errors)
        report_training(summary, out, "dev UPOS accuracy", as_json)
        return

    overrides = {k: v for k, v in {"epochs": epochs, "lr": lr, "batch_size": batch_size,
                                   "checkpoint_minutes": checkpoint_minutes}.items()
                 if v is not None}
    model_overrides = {k: v for k, v in {"mode": mode, "hidden_size": hidden_size,
                                         "char_encoder": char_encoder,
                                         "word_dropout": word_dropout,
                                         "word_dropout_alpha": word_dropout_alpha}.items()
                       if v is not None}
    if unidirectional:
        model_overrides["bidirectional"] = False
    from ..tagging.training import check_tags
    try:
        heads = check_tags(tags.split(","))
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--tags") from exc
    if members > 1:
        run = lambda: train_ensemble(  # noqa: E731
            data, preset, out, members=members, seed=seed, jobs=jobs, resume=resume,
            overrides=overrides, model_overrides=model_overrides, limit=limit, tags=heads,
            vectors=vectors, log=log)
    else:
        run = lambda: train(data, preset, out, seed=seed, resume=resume,  # noqa: E731
                            overrides=overrides, model_overrides=model_overrides, limit=limit,
                            tags=heads, vectors=vectors, log=log)
    summary = run_training(run, out, errors)
    report_training(summary, out, "dev UPOS accuracy", as_json)


def _load_tagger(checkpoint_paths, calibrated: bool = True):
    """One checkpoint → its Tagger; several → the ensemble of all of them."""
    from ..tagging import load_taggers
    from ..train.checkpoint import CheckpointError

    try:
        return load_taggers(checkpoint_paths, calibrated=calibrated)
    except (CheckpointError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc


@tagger.command("evaluate")
@click.argument("checkpoints", nargs=-1, type=FilePath(path_type=Path))
@click.option("--data", type=FilePath(exists=True, file_okay=False, path_type=Path),
              default=None, help="Treebank folder [default: the cached release].")
@click.option("--split", type=click.Choice(["test", "dev"]), default="test", show_default=True)
@click.option("--conllu", "conllu_file", type=FilePath(exists=True, dir_okay=False,
              path_type=Path), default=None, help="Evaluate on this CoNLL-U file instead.")
@NO_CALIBRATE
@click.option("--plot", type=FilePath(dir_okay=False, path_type=Path), default=None,
              help="Write a reliability diagram (PNG) of the UPOS tags: accuracy against "
                   "confidence, raw and calibrated.")
@click.option("--json", "as_json", is_flag=True)
def tagger_evaluate(checkpoints, data, split, conllu_file, no_calibrate, plot, as_json):
    """UPOS/XPOS accuracy overall and on words unseen in training, per UPOS tag, and the
    calibration of the UPOS confidences (ECE, Brier, accuracy at 100/90/80/70% coverage).

    Several CHECKPOINTS are evaluated as an ensemble (probabilities averaged); none means
    runs/tagger.
    """
    from ..data import ud
    from ..data.download import DownloadError
    from ..tagging import evaluate

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
        plot_reliability(report, plot, f"UPOS tags, EWT {report['split']} "
                          f"({report['tokens']:,} tokens)")
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    oov = report["oov_upos_accuracy"]
    click.echo(f"{report['split']}: {report['sentences']} sentences, {report['tokens']} tokens")
    def xpos(value):  # a treebank without XPOS has none to score
        return "none in this treebank" if value is None else f"{value:.4f}"

    click.echo(f"UPOS {report['upos_accuracy']:.4f}  XPOS {xpos(report['xpos_accuracy'])}"
               + (f"  FEATS {report['feats_accuracy']:.4f}"
                  if report["feats_accuracy"] is not None else ""))
    click.echo(f"unseen words ({report['oov_tokens']}, {report['oov_rate']:.1%}): UPOS "
               + (f"{oov:.4f}  XPOS {xpos(report['oov_xpos_accuracy'])}" if oov is not None
                  else "—"))
    click.echo(f"{'UPOS':<6} {'precision':>9} {'recall':>7} {'f1':>7} {'support':>8}")
    for tag, m in report["per_upos"].items():
        click.echo(f"{tag:<6} {m['precision']:>9.4f} {m['recall']:>7.4f} {m['f1']:>7.4f} "
                   f"{m['support']:>8}")
    echo_calibration(report, "tokens")


@tagger.command("calibrate")
@click.argument("checkpoint", type=FilePath(path_type=Path))
@click.option("--data", type=FilePath(exists=True, file_okay=False, path_type=Path),
              default=None, help="Treebank folder [default: the cached release].")
@click.option("--json", "as_json", is_flag=True)
def tagger_calibrate(checkpoint, data, as_json):
    """Fit the UPOS and XPOS temperatures of a tagger (or of a tagger ensemble as a whole) on
    the dev split and save them in its config.json (training does this already; use it for
    taggers made before calibration existed)."""
    from ..data import ud
    from ..data.download import DownloadError
    from ..tagging import calibrate_checkpoint
    from ..train.checkpoint import CheckpointError

    try:
        record = calibrate_checkpoint(checkpoint, ud.load(data).dev,
                                      log=lambda m: None if as_json else click.echo(m))
    except (CheckpointError, ud.ConlluError, DownloadError, FileNotFoundError,
            ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(record, indent=2))


@tagger.command("predict")
@click.argument("checkpoint", type=FilePath(path_type=Path))
@click.argument("texts", nargs=-1)
@click.option("--file", "file", type=FilePath(exists=True, dir_okay=False, path_type=Path),
              default=None, help="Raw text, or with --tokenized one sentence per line.")
@click.option("--tokenized", is_flag=True,
              help="Input is pre-tokenised: one sentence per line, tokens separated by spaces.")
@click.option("--conllu", "conllu_file", type=FilePath(exists=True, dir_okay=False,
              path_type=Path), default=None, help="Tag the words of this CoNLL-U file.")
@click.option("--format", "output_format", type=click.Choice(["conllu", "json"]),
              default="conllu", show_default=True,
              help="json: one object per sentence, with each UPOS tag's confidence.")
@click.option("--language", type=click.Choice(["english", "japanese", "words", "auto"]),
              default=None, help="How raw text is cut into tokens [default: the tagger's "
                                 "treebank's: English by UD EWT's conventions, Japanese into "
                                 "UniDic's short-unit words, other languages into words].")
@NO_CALIBRATE
def tagger_predict(checkpoint, texts, file, tokenized, conllu_file, output_format, language,
                   no_calibrate):
    """Tag TEXTS, --file, --conllu, or standard input; print CoNLL-U or JSON lines.

    Raw English text is split into sentences at . ! ? followed by a capital letter, and into
    tokens following UD English conventions (do n't, it 's, punctuation apart; see the
    README); Japanese text by MeCab with UniDic (--language). Leading arguments that are
    checkpoints form an ensemble: 'gatedrnn tagger predict runs/a runs/b "Time flies."'.
    """
    from ..data import ud
    from ..tagging import tokenize

    checkpoints = [checkpoint]
    texts = list(texts)
    while texts and is_checkpoint(texts[0]):
        checkpoints.append(Path(texts.pop(0)))
    model = _load_tagger(checkpoints, calibrated=not no_calibrate)
    if conllu_file is not None:
        try:
            sentences = ud.read_conllu(conllu_file)
        except ud.ConlluError as exc:
            raise click.ClickException(str(exc)) from exc
    else:
        if file is not None:
            content = read_text_file(file)
        elif texts:
            content = "\n".join(texts)
        else:
            content = sys.stdin.read()
        token_lists = ([line.split() for line in content.splitlines() if line.split()]
                       if tokenized else tokenize(content, language or model.language))
        sentences = [ud.Sentence(tokens, [], []) for tokens in token_lists]
    if not sentences:
        raise click.UsageError("no text to tag: give TEXTS, --file, --conllu, or text on stdin")
    tagged = model.tag([s.forms for s in sentences])
    if output_format == "json":
        for result in tagged:
            click.echo(json.dumps(result, ensure_ascii=False))
        return
    click.echo(ud.write_conllu(sentences, [r["upos"] for r in tagged],
                               [r["xpos"] for r in tagged],
                               [r["feats"] for r in tagged] if model.vocab.feats else None),
               nl=False)
