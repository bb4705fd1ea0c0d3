"""Language-model pretraining of a sentiment encoder on the unlabelled and training reviews.

    from gatedrnn.pretrain import pretrain
    pretrain("aclImdb_v1.tar.gz", out="runs/lm", preset="fast")        # writes runs/lm/best
    train("aclImdb_v1.tar.gz", preset="fast", init_from="runs/lm")     # gatedrnn.sentiment

The encoder has the shape of a sentiment preset's, so the classifier starts from the LM's
embedding and recurrent weights (Dai & Le 2015; ULMFiT, Howard & Ruder 2018). Text: the 50,000
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
             bptt: int = 200, max_reviews: int | None = None, vocab_size: int | None = None,
             overrides: dict | None = None, model_overrides: dict | None = None,
             resume: bool = False, download: bool = True, show_progress: bool = True,
             log=print) -> dict:
    """Train a bidirectional LM with the encoder of sentiment preset ``preset``.

    ``max_reviews``: use only that many reviews (a quick trial). Returns the training summary
    with the held-out perplexity.
    """
    from .sentiment.presets import PRESETS  # the encoder shapes live with the classifier presets
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    chosen = PRESETS[preset]
    if chosen.kind != "recurrent":
        recurrent = [name for name, p in PRESETS.items() if p.kind == "recurrent"]
        raise ValueError(f"preset {preset} has no recurrent encoder to pretrain; choose one "
                         f"of {', '.join(recurrent)}")
    fit_config = FitConfig(**{**DEFAULT_FIT, "seed": seed, **(overrides or {})})
    torch.manual_seed(seed)
    started = time.perf_counter()
    dataset = imdb.load(data, download=download, unsup=True, show_progress=show_progress)
    texts = [r.text for r in dataset.unsup] + [r.text for r in dataset.train]
    random.Random(seed).shuffle(texts)
    if max_reviews:
        texts = texts[:max_reviews]
    held_out = max(1, len(texts) // 100)
    tokens = [basic_english(t) for t in texts]
    vocab = Vocab.build(tokens[held_out:], max_size=vocab_size or chosen.vocab_size)
    train_set = _windows_set(tokens[held_out:], vocab, bptt)
    valid_set = _windows_set(tokens[:held_out], vocab, bptt)
    log(f"data: {len(texts) - held_out} reviews ({len(dataset.unsup)} unlabelled) → "
        f"{len(train_set)} windows of ≤ {bptt} tokens, {sum(train_set.lengths):,} tokens; "
        f"{held_out} reviews held out; vocab {len(vocab)} "
        f"({time.perf_counter() - started:.1f} s)")

    shape = {k: v for k, v in chosen.model.items() if k in ENCODER_FIELDS}
    model_config = LanguageModelConfig(vocab_size=len(vocab), **{**shape,
                                                                 **(model_overrides or {})})
    model = LanguageModel(model_config)
    checkpoint_config = {
        "task": TASK, "tokenizer": "basic_english", "model": model_config.to_dict(),
        "preset": preset, "bptt": bptt, "fit": asdict(fit_config),
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
    log(f"held-out perplexity {summary['valid_perplexity']:.1f} (both directions)")
    return summary


def _windows_set(token_lists: list[list[str]], vocab: Vocab, bptt: int) -> Encoded:
    sequences = windows([vocab.encode(t) for t in token_lists], bptt)
    return Encoded(sequences, [0] * len(sequences))


__all__ = ["DEFAULT_OUT", "LanguageModelTask", "TASK", "pretrain", "windows"]
