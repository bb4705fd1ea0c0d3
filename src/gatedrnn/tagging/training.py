"""Training a tagger, or several side by side (an ensemble, one process per core), ending with
the calibration of what was trained."""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import asdict
from pathlib import Path

import torch

from ..data import ud
from ..data.segment import treebank_language
from ..models.tagger import SequenceTagger, TaggerConfig
from ..runinfo import environment
from ..train import checkpoint
from ..train.loop import FitConfig, Trainer
from .common import DEFAULT_OUT, DEFAULT_TAGS, TAG_SETS, TASK
from .encoding import TaggerVocab, TaggingTask, encode
from .evaluation import calibrate_checkpoint, evaluate
from .predict import TaggerEnsemble
from .presets import PRESETS

# ---- training -------------------------------------------------------------------------------


def train(data=None, preset: str = "bilstm", out: str | Path = DEFAULT_OUT, *, seed: int = 0,
          resume: bool = False, overrides: dict | None = None,
          model_overrides: dict | None = None, limit: int | None = None,
          tags: tuple[str, ...] = DEFAULT_TAGS, vectors: str | Path | None = None,
          show_progress: bool = True, log=print) -> dict:
    """Train a tagger on the treebank's train split, selecting on dev; returns the summary.

    ``data`` is the folder of the .conllu files, or None for the cached/downloaded release.
    ``limit`` keeps only the first that many training sentences (quick trials). ``tags``: the
    tag sets to predict, one head each (``common.TAG_SETS``; UPOS always). ``vectors``: a
    word-vector file (word2vec, GloVe or fastText) learnt on unlabelled text: the word
    embedding starts from it, and its words join the vocabulary, so that a word the treebank
    never shows still has its vector (Plank et al. 2016).
    """
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    tags = check_tags(tags)
    chosen = PRESETS[preset]
    if (Path(out) / "config.json").is_file():
        raise ValueError(f"{out} holds a tagger ensemble; train a single tagger into another "
                         "--out (or add --members to train the ensemble again)")
    started = time.perf_counter()
    treebank = ud.load(data, show_progress=show_progress)
    train_sentences = treebank.train[:limit] if limit else treebank.train
    epochs = chosen.epochs_for(len(train_sentences), (overrides or {}).get("batch_size"))
    fit_config = FitConfig(**{**chosen.fit, "epochs": epochs, "seed": seed,
                              **(overrides or {})})
    torch.manual_seed(seed)
    vocab = TaggerVocab.build(train_sentences, lowercase=chosen.lowercase, tags=tags)
    word_vectors = None
    if vectors is not None:
        from ..data.vectors import load_vectors
        word_vectors = load_vectors(vectors)
        vocab = vocab.with_words(word_vectors.words)
        model_overrides = {**(model_overrides or {}), "word_dim": word_vectors.dim}
    train_set, dev_set = encode(train_sentences, vocab), encode(treebank.dev, vocab)
    log(f"data: {len(train_set)} train / {len(dev_set)} dev sentences from {treebank.source}; "
        f"{len(vocab.words)} words, {len(vocab.chars)} characters, {len(vocab.upos)} UPOS, "
        f"{len(vocab.xpos)} XPOS" + (f", {len(vocab.feats)} FEATS" if vocab.feats else "")
        + f"; {fit_config.epochs} epochs of "
        f"{-(-len(train_set) // fit_config.batch_size)} steps "
        f"({time.perf_counter() - started:.1f} s)")
    model_config = TaggerConfig(vocab_size=len(vocab.words), num_chars=len(vocab.chars),
                                num_upos=len(vocab.upos), num_xpos=len(vocab.xpos),
                                num_feats=len(vocab.feats),
                                **{**chosen.model, **(model_overrides or {})})
    model = SequenceTagger(model_config)
    vector_stats = None
    if word_vectors is not None:
        from ..data.vectors import embedding_matrix
        counts = Counter(w for s in train_sentences for w in s.forms)
        weights, vector_stats = embedding_matrix(word_vectors, vocab.words.itos, counts=counts,
                                                 seed=seed)
        model.word_embedding.weight.data.copy_(weights)
        log(f"word vectors {vectors}: dim {word_vectors.dim}; {vector_stats['found']:,} of the "
            f"{len(vocab.words):,} words (the treebank's and the vectors') have one, "
            f"{vector_stats['token_coverage']:.1%} of training tokens")
    if model_config.word_dropout_alpha > 0:
        counts = Counter(i for sentence in train_set.sequences for i in sentence)
        model.set_word_counts(torch.tensor([counts.get(i, 0) for i in range(len(vocab.words))]))
    checkpoint_config = {
        "task": TASK, "model": model_config.to_dict(), "preset": preset,
        "fit": asdict(fit_config), "tags": vocab.to_dict(),
        "vocab_fingerprint": vocab.fingerprint(), "treebank": treebank.source,
        **({"vectors": vector_stats} if vector_stats else {}),
        # how raw text is cut into tokens at prediction, from the treebank's name or its text
        "language": treebank_language(_train_file_name(treebank.source), " ".join(
            " ".join(s.forms) for s in train_sentences[:500])),
        "environment": environment(seed=seed),
    }
    trainer = Trainer(model, fit_config, train_set, dev_set, out, checkpoint_config,
                      vocab.words.itos, show_progress=show_progress, log=log,
                      task=TaggingTask(vocab, fit_config.label_smoothing))
    if resume:
        if trainer.resume():
            log(f"resumed from {Path(out) / 'last'} after epoch {trainer.epoch}")
        else:
            log(f"nothing to resume in {out}; starting fresh")
    summary = trainer.fit()
    if trainer.dist.main:  # under torchrun, the process that wrote best/ calibrates it
        summary["calibration"] = calibrate_checkpoint(Path(out) / "best", treebank.dev, log)
    summary["train_seconds"] = time.perf_counter() - started
    summary["params"] = sum(p.numel() for p in model.parameters())
    summary["encoder_params"] = sum(p.numel() for p in model.encoder.parameters())
    summary["train_tokens_per_epoch"] = sum(train_set.lengths)
    return summary


def check_tags(tags) -> tuple[str, ...]:
    """The tag sets asked for, in TAG_SETS order, UPOS among them; anything else refused."""
    asked = tuple(dict.fromkeys(t.strip().lower() for t in tags))
    unknown = [t for t in asked if t not in TAG_SETS]
    if unknown or "upos" not in asked:
        raise ValueError(f"tags must name upos and any of xpos, feats (got "
                         f"{', '.join(asked) or 'none'}); e.g. upos,xpos,feats")
    return tuple(t for t in TAG_SETS if t in asked)


def _train_file_name(source: str) -> str:
    """The training file's name of a treebank read from ``source`` (a folder or a file)."""
    path = Path(source.split(" (")[0])
    return ud.treebank_files(path).get("train", path).name if path.is_dir() else path.name


def train_ensemble(data=None, preset: str = "bilstm", out: str | Path = DEFAULT_OUT, *,
                   members: int = 2, seed: int = 0, jobs: int | None = None,
                   resume: bool = False, overrides: dict | None = None,
                   model_overrides: dict | None = None, limit: int | None = None,
                   tags: tuple[str, ...] = DEFAULT_TAGS, vectors: str | Path | None = None,
                   show_progress: bool = True, log=print) -> dict:
    """Train ``members`` taggers (seeds ``seed``, ``seed + 1``, ...) into OUT/member-1, ... and
    write OUT/config.json naming them: loading OUT gives their :class:`TaggerEnsemble`.

    ``jobs`` members train at once (default: one per core, up to ``members``), each in its own
    process with an equal share of the cores: recurrent layers at these sizes use two cores
    poorly (EWT tagger, 40 training steps: two one-thread runs side by side 2 × 3,690 tokens/s,
    one two-thread run 4,670).
    Progress: the first member's bar (rate, ETA) and every member's epoch lines, on stderr.
    """
    import concurrent.futures
    import multiprocessing
    import os

    if members < 1:
        raise ValueError(f"members must be >= 1, got {members}")
    out = Path(out)
    if checkpoint.resolve(out) != out:
        raise ValueError(f"{out} holds a single tagger ({out / 'best'}); write the ensemble "
                         "to another --out")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    jobs = max(1, min(members, jobs or cores or 1))
    threads = max(1, (cores or 1) // jobs)
    started = time.perf_counter()
    seeds = [seed + k for k in range(members)]
    names = [f"member-{k + 1}" for k in range(members)]
    log(f"training {members} taggers ({jobs} at a time, {threads} thread(s) each) into {out}")
    pool = concurrent.futures.ProcessPoolExecutor(
        max_workers=jobs, mp_context=multiprocessing.get_context("spawn"))
    try:
        futures = [pool.submit(_train_member, name, data, preset, out / name, s, threads, resume,
                               overrides, model_overrides, limit, tags, vectors,
                               show_progress and k == 0)
                   for k, (name, s) in enumerate(zip(names, seeds))]
        summaries = [f.result() for f in futures]
    except KeyboardInterrupt:
        pool.shutdown(wait=True, cancel_futures=True)  # let the members save their progress
        raise
    pool.shutdown()
    treebank = ud.load(data, show_progress=False)
    ensemble = TaggerEnsemble.load([out / name for name in names])
    dev = evaluate(ensemble, treebank.dev)["upos_accuracy"]
    manifest = {"format": checkpoint.FORMAT, "version": checkpoint.VERSION, "task": TASK,
                "ensemble": names, "preset": preset, "seeds": seeds,
                "members_dev_upos_accuracy": [s["best_valid_accuracy"] for s in summaries],
                "dev_upos_accuracy": dev}
    path = out / "config.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)
    calibration = calibrate_checkpoint(out, treebank.dev, log)  # the ensemble as a whole
    log(f"ensemble of {members}: dev UPOS {dev:.4f} (members "
        + ", ".join(f"{s['best_valid_accuracy']:.4f}" for s in summaries) + ")")
    return {"ensemble": names, "members": summaries, "best_valid_accuracy": dev,
            "calibration": calibration,
            "train_seconds": time.perf_counter() - started,
            "params": sum(s["params"] for s in summaries), "jobs": jobs, "threads": threads}


def _train_member(name, data, preset, out, seed, threads, resume, overrides, model_overrides,
                  limit, tags, vectors, show_progress) -> dict:
    import sys

    torch.set_num_threads(threads)
    return train(data, preset, out, seed=seed, resume=resume, overrides=overrides,
                 model_overrides=model_overrides, limit=limit, tags=tags, vectors=vectors,
                 show_progress=show_progress,
                 log=lambda m: print(f"[{name}] {m}", file=sys.stderr, flush=True))


def train_recipe(name: str, data=None, out: str | Path = DEFAULT_OUT, *, seed: int = 0,
                 resume: bool = False, show_progress: bool = True, log=print) -> dict:
    """Build tagger recipe ``name`` (see ``recipes.RECIPES``) into ``out``: one tagger, or an
    ensemble directory that loads as one."""
    from .recipes import RECIPES

    if name not in RECIPES:
        raise ValueError(f"unknown recipe {name!r}; choose one of {', '.join(RECIPES)}")
    recipe = RECIPES[name]
    log(f"recipe {name}: {recipe.description}; measured: {recipe.measured}")
    if recipe.members > 1:
        summary = train_ensemble(data, recipe.preset, out, members=recipe.members, seed=seed,
                                 resume=resume, show_progress=show_progress, log=log)
    else:
        summary = train(data, recipe.preset, out, seed=seed, resume=resume,
                        show_progress=show_progress, log=log)
    return {"recipe": name, **summary}
