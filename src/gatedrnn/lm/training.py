"""Pretraining a word-level language model on the unlabelled and training reviews.

    from gatedrnn.lm import pretrain
    pretrain("aclImdb_v1.tar.gz", out="runs/lm", preset="awd")         # writes runs/lm/best
    pretrain("aclImdb_v1.tar.gz", out="runs/lm-bwd", preset="awd", direction="backward")
    train("aclImdb_v1.tar.gz", preset="ulmfit", init_from="runs/lm")   # gatedrnn.sentiment

A classifier starts from the LM's embedding and recurrent weights (Dai & Le 2015; ULMFiT,
Howard & Ruder 2018). Text: the 50,000 unlabelled reviews and the 25,000 training reviews
without their labels — never the test set (lm.data). Reviews are cut into windows of ``bptt``
tokens, each a sequence of its own (truncated backpropagation through time; each window starts
from a zero state, as a review does in the classifier), batched by length. 1% of the reviews
are held out to measure perplexity.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict
from pathlib import Path

import torch

from ..data import imdb
from ..data.batching import collate
from ..data.text import Vocab, basic_english
from ..models.language_model import LanguageModel, LanguageModelConfig
from ..runinfo import environment
from ..train.loop import Encoded, FitConfig, Trainer, TrainingTask
from .common import DEFAULT_OUT, TASK
from .data import held_out_count, pretraining_texts, windows_set
from .presets import DEFAULT_PRESET, PRESETS, LanguageModelPreset


class LanguageModelTask(TrainingTask):
    """For the Trainer: windows are unlabelled; scored by the validation loss (lower better)."""

    reports_train_accuracy = False  # next-word accuracy costs a full prediction; validation only

    def collate(self, data: Encoded, indices: list[int], max_length: int | None = None,
                random_crop: bool = False):
        return collate([data.sequences[i] for i in indices], None, indices)

    def loss(self, model: LanguageModel, batch, device: str = "cpu"):
        return model(batch.tokens.to(device), batch.lengths.to(device),
                     count_correct=not model.training)

    def score(self, valid: dict) -> float:
        return -valid["loss"]


def pretrain(data=None, out: str | Path = DEFAULT_OUT, *, preset: str = DEFAULT_PRESET,
             seed: int = 0, bptt: int | None = None, direction: str | None = None,
             max_reviews: int | None = None, vocab_size: int | None = None,
             overrides: dict | None = None, model_overrides: dict | None = None,
             resume: bool = False, download: bool = True, show_progress: bool = True,
             shape: LanguageModelPreset | None = None, log=print) -> dict:
    """Train a language model of preset ``preset`` (forward unless ``direction`` says
    "backward"); ``shape``: a preset of one's own instead, recorded under the name ``preset``
    (gatedrnn.pretrain gives a sentiment preset's encoder this way).

    ``max_reviews``: use only that many reviews (a quick trial). Returns the training summary
    with the held-out perplexity.
    """
    model_settings, fit_defaults, bptt, vocab_default = _settings(preset, shape, bptt,
                                                                  direction)
    fit_config = FitConfig(**{**fit_defaults, "seed": seed, **(overrides or {})})
    torch.manual_seed(seed)
    started = time.perf_counter()
    dataset = imdb.load(data, download=download, unsup=True, show_progress=show_progress)
    texts = pretraining_texts(dataset, seed, max_reviews)
    held_out = held_out_count(len(texts))
    tokens = [basic_english(t) for t in texts]
    vocab = Vocab.build(tokens[held_out:], max_size=vocab_size or vocab_default)
    train_set = windows_set(tokens[held_out:], vocab, bptt)
    valid_set = windows_set(tokens[:held_out], vocab, bptt)
    log(f"data: {len(texts) - held_out} reviews ({len(dataset.unsup)} unlabelled) → "
        f"{len(train_set)} windows of ≤ {bptt} tokens, {sum(train_set.lengths):,} tokens; "
        f"{held_out} reviews held out; vocab {len(vocab)} "
        f"({time.perf_counter() - started:.1f} s)")

    model_config = LanguageModelConfig(vocab_size=len(vocab), **{**model_settings,
                                                                 **(model_overrides or {})})
    model = LanguageModel(model_config)
    checkpoint_config = {
        "task": TASK, "tokenizer": "basic_english", "model": model_config.to_dict(),
        "preset": preset, "bptt": bptt, "fit": asdict(fit_config),
        "held_out": {"seed": seed, "reviews": held_out, "max_reviews": max_reviews},
        "vocab_fingerprint": vocab.fingerprint(), "environment": environment(seed=seed),
    }
    trainer = Trainer(model, fit_config, train_set, valid_set, out, checkpoint_config, vocab.itos,
                      show_progress=show_progress, log=log, task=LanguageModelTask())
    if resume and trainer.resume():
        log(f"resumed from {Path(out) / 'last'} after epoch {trainer.epoch}"
            + (f", batch {trainer.batch_in_epoch}" if trainer.batch_in_epoch else ""))
    summary = trainer.fit()
    best_loss = -summary.pop("best_valid_accuracy")  # the Trainer's score here is −loss
    summary.update({"best_valid_loss": best_loss, "train_seconds": time.perf_counter() - started,
                    "valid_perplexity": math.exp(best_loss),
                    "params": sum(p.numel() for p in model.parameters()),
                    "train_tokens_per_epoch": sum(train_set.lengths)})
    log(f"held-out perplexity {summary['valid_perplexity']:.1f} ({direction_of(model_config)}, "
        f"vocabulary {len(vocab):,} words with <unk>)")
    return summary


def direction_of(config: LanguageModelConfig) -> str:
    return "both" if config.bidirectional else "backward" if config.reverse else "forward"


def _settings(preset: str, shape: LanguageModelPreset | None, bptt: int | None,
              direction: str | None):
    """(model settings, fit settings, bptt, vocabulary size) of a preset or a given shape."""
    if direction not in (None, "forward", "backward"):
        raise ValueError(f"direction must be forward or backward, got {direction!r}")
    if shape is None:
        if preset not in PRESETS:
            raise ValueError(f"unknown language-model preset {preset!r}; choose one of "
                             f"{', '.join(PRESETS)}")
        shape = PRESETS[preset]
    model = dict(shape.model)
    if direction is not None:
        model["reverse"] = direction == "backward"
    return model, shape.fit, bptt or shape.bptt, shape.vocab_size
