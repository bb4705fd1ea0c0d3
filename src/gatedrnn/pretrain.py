"""Language-model pretraining of a sentiment encoder on the unlabelled and training reviews.

    from gatedrnn.pretrain import pretrain
    pretrain("aclImdb_v1.tar.gz", out="runs/lm", preset="awd")         # writes runs/lm/best
    pretrain("aclImdb_v1.tar.gz", out="runs/lm-bwd", preset="awd", direction="backward")
    train("aclImdb_v1.tar.gz", preset="ulmfit", init_from="runs/lm")   # gatedrnn.sentiment

``preset`` is a language-model preset (``LM_PRESETS``: an AWD-LSTM-style word-level LM,
forward or backward) or a sentiment preset, whose encoder shape a bidirectional LM takes. Either
way the classifier starts from the LM's embedding and recurrent weights (Dai & Le 2015;
ULMFiT, Howard & Ruder 2018). Text: the 50,000
unlabelled reviews and the 25,000 training reviews without their labels — never the test set.
Reviews are cut into windows of ``bptt`` tokens, each a sequence of its own (truncated
backpropagation through time; each window starts from a zero state, as a review does in the
classifier), batched by length. 1% of the reviews are held out to measure perplexity.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import asdict
from pathlib import Path

import torch

from .data import imdb
from .data.batching import collate
from .data.text import Vocab, basic_english
from .models.language_model import ENCODER_FIELDS, TASK, LanguageModel, LanguageModelConfig
from .runinfo import environment
from .train.loop import Encoded, FitConfig, Trainer

DEFAULT_OUT = Path("runs/lm")
# One pass over ~21M tokens; chosen for the fast preset's encoder (benchmarks/imdb_ablation.py).
DEFAULT_FIT = {"epochs": 1, "batch_size": 64, "lr": 3e-3, "clip": 1.0, "scheduler": "onecycle",
               "eval_batch_size": 128}


def windows(sequences: list[list[int]], bptt: int) -> list[list[int]]:
    """Each sequence cut into consecutive windows of at most ``bptt`` tokens (≥ 2 tokens each:
    a window of one word predicts nothing)."""
    if bptt < 2:
        raise ValueError(f"bptt must be >= 2, got {bptt}")
    out = []
    for sequence in sequences:
        for start in range(0, len(sequence), bptt):
            window = sequence[start:start + bptt]
            if len(window) >= 2:
                out.append(window)
    return out


class LanguageModelTask:
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


def pretrain(data=None, out: str | Path = DEFAULT_OUT, *, preset: str = "fast", seed: int = 0,
             bptt: int | None = None, direction: str | None = None,
             max_reviews: int | None = None, vocab_size: int | None = None,
             overrides: dict | None = None, model_overrides: dict | None = None,
             resume: bool = False, download: bool = True, show_progress: bool = True,
             log=print) -> dict:
    """Train a language model: an LM preset's (forward unless ``direction`` says "backward"),
    or a bidirectional one with the encoder of sentiment preset ``preset``.

    ``max_reviews``: use only that many reviews (a quick trial). Returns the training summary
    with the held-out perplexity.
    """
    shape, fit_defaults, bptt, vocab_default = _recipe_for(preset, bptt, direction)
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

    model_config = LanguageModelConfig(vocab_size=len(vocab), **{**shape,
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
    which = ("both directions" if model_config.bidirectional
             else "backward" if model_config.reverse else "forward")
    log(f"held-out perplexity {summary['valid_perplexity']:.1f} ({which}, vocabulary "
        f"{len(vocab):,} words with <unk>)")
    return summary


def _recipe_for(preset: str, bptt: int | None, direction: str | None):
    """(model settings, fit settings, bptt, vocabulary size) of an LM or sentiment preset."""
    from .sentiment.presets import LM_PRESETS, PRESETS  # plain data, with the classifiers'
    if direction not in (None, "forward", "backward"):
        raise ValueError(f"direction must be forward or backward, got {direction!r}")
    if preset in LM_PRESETS:
        chosen = LM_PRESETS[preset]
        model = {**chosen.model, "reverse": direction == "backward"}
        return model, chosen.fit, bptt or chosen.bptt, chosen.vocab_size
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose a language-model preset "
                         f"({', '.join(LM_PRESETS)}) or a sentiment preset "
                         f"({', '.join(PRESETS)})")
    chosen = PRESETS[preset]
    if chosen.kind != "recurrent":
        recurrent = [name for name, p in PRESETS.items() if p.kind == "recurrent"]
        raise ValueError(f"preset {preset} has no recurrent encoder to pretrain; choose one "
                         f"of {', '.join(recurrent)}")
    if direction is not None:
        raise ValueError(f"the sentiment preset {preset} pretrains a bidirectional LM; "
                         f"direction is for the language-model presets "
                         f"({', '.join(LM_PRESETS)})")
    shape = {k: v for k, v in chosen.model.items() if k in ENCODER_FIELDS}
    return shape, DEFAULT_FIT, bptt or 200, chosen.vocab_size


def pretraining_texts(dataset: imdb.Imdb, seed: int, max_reviews: int | None) -> list[str]:
    """The unlabelled and training reviews in a seeded order (never the test set); the first
    ``held_out_count`` of them are held out."""
    texts = [r.text for r in dataset.unsup] + [r.text for r in dataset.train]
    random.Random(seed).shuffle(texts)
    return texts[:max_reviews] if max_reviews else texts


def held_out_count(reviews: int) -> int:
    return max(1, reviews // 100)


def windows_set(token_lists: list[list[str]], vocab: Vocab, bptt: int) -> Encoded:
    sequences = windows([vocab.encode(t) for t in token_lists], bptt)
    return Encoded(sequences, [0] * len(sequences))


__all__ = ["DEFAULT_OUT", "LanguageModelTask", "TASK", "held_out_count", "pretrain",
           "pretraining_texts", "windows"]
