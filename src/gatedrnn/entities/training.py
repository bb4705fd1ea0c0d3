"""Training an entity tagger (a BiLSTM-CRF) on column files, selecting on dev entity F1."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import asdict
from pathlib import Path

import torch

from ..data.segment import choose_language
from ..models.crf_tagger import CRFTagger, CRFTaggerConfig
from ..runinfo import environment
from ..train.loop import FitConfig, Trainer
from .common import DEFAULT_OUT, TASK
from .data import EntitySplits, load, load_files
from .encoding import EntityTask, EntityVocab, encode, unknown_tags
from .presets import PRESETS


def read_splits(data) -> EntitySplits:
    """``data``: EntitySplits, {"train": FILE, "dev": FILE or None, "test": FILE or None}, or
    the name of a data set to download (``data.DATA_SETS``)."""
    if isinstance(data, EntitySplits):
        return data
    if isinstance(data, dict):
        return load_files(**data)
    if isinstance(data, str):
        return load(data)
    raise TypeError("data must be EntitySplits, a dict of files or a data set's name, got "
                    f"{type(data).__name__}")


def train(data, preset: str = "bilstm-crf", out: str | Path = DEFAULT_OUT, *, seed: int = 0,
          resume: bool = False, overrides: dict | None = None,
          model_overrides: dict | None = None, limit: int | None = None,
          show_progress: bool = True, log=print) -> dict:
    """Train an entity tagger on ``data``'s train split, keeping the epoch of the best dev
    entity F1 (OUT/best); returns the summary. ``limit``: only the first that many training
    sentences (quick trials)."""
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    chosen = PRESETS[preset]
    started = time.perf_counter()
    splits = read_splits(data)
    for report in splits.reports:
        log(report.summary())
    train_sentences = splits.train[:limit] if limit else splits.train
    vocab = EntityVocab.build(train_sentences, lowercase=chosen.lowercase)
    if not vocab.types:
        raise ValueError(f"{splits.source}: every training tag is O; an entity tagger needs "
                         "entities (B-TYPE and I-TYPE tags) to learn from")
    for name, sentences in (("dev", splits.dev), ("test", splits.test)):
        unseen = unknown_tags(sentences, vocab)
        if unseen:
            log(f"{name} has tags training never saw: "
                + ", ".join(f"{t} ({n} tokens)" for t, n in sorted(unseen.items()))
                + "; their entities count as missed")
    batch_size = (overrides or {}).get("batch_size") or chosen.fit["batch_size"]
    epochs = chosen.epochs_for(len(train_sentences), batch_size)
    fit_config = FitConfig(**{**chosen.fit, "epochs": epochs, "seed": seed,
                              **(overrides or {})})
    torch.manual_seed(seed)
    train_set, dev_set = encode(train_sentences, vocab), encode(splits.dev, vocab)
    log(f"data: {len(train_set)} train / {len(dev_set)} dev sentences from {splits.source}; "
        f"{len(vocab.words)} words, {len(vocab.chars)} characters, entity types "
        f"{', '.join(vocab.types)}; {fit_config.epochs} epochs of "
        f"{-(-len(train_set) // fit_config.batch_size)} steps "
        f"({time.perf_counter() - started:.1f} s)")
    model_config = CRFTaggerConfig(vocab_size=len(vocab.words), num_chars=len(vocab.chars),
                                   tags=vocab.tags,
                                   **{**chosen.model, **(model_overrides or {})})
    model = CRFTagger(model_config)
    if model_config.word_dropout_alpha > 0:
        counts = Counter(i for sentence in train_set.sequences for i in sentence)
        model.set_word_counts(torch.tensor([counts.get(i, 0) for i in range(len(vocab.words))]))
    checkpoint_config = {
        "task": TASK, "model": model_config.to_dict(), "preset": preset,
        "fit": asdict(fit_config), "tags": vocab.to_dict(),
        "vocab_fingerprint": vocab.fingerprint(), "data": splits.source,
        # how raw text is cut into tokens at prediction: what the training text looks like
        "language": choose_language(" ".join(" ".join(s.forms) for s in train_sentences[:500])),
        "environment": environment(seed=seed),
    }
    trainer = Trainer(model, fit_config, train_set, dev_set, out, checkpoint_config,
                      vocab.words.itos, show_progress=show_progress, log=log,
                      task=EntityTask(vocab))
    if resume:
        if trainer.resume():
            log(f"resumed from {Path(out) / 'last'} after epoch {trainer.epoch}")
        else:
            log(f"nothing to resume in {out}; starting fresh")
    summary = trainer.fit()
    summary["train_seconds"] = time.perf_counter() - started
    summary["params"] = sum(p.numel() for p in model.parameters())
    summary["train_tokens_per_epoch"] = sum(train_set.lengths)
    summary["epochs_planned"] = fit_config.epochs
    return summary
