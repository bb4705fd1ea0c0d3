"""Teachers: the probabilities that trained checkpoints give the reviews a student learns
from (cached), and the checks that keep a teacher from having seen the student's validation
reviews."""

from __future__ import annotations

import hashlib
import os
import random
import time
from pathlib import Path

import torch

from ..data.text import basic_english
from ..train import checkpoint
from .ensemble import Ensemble
from .predict import resolve_checkpoint


def teacher_probabilities(teacher: list[str | Path], texts: list[str], *,
                          show_progress: bool = True, log=print, chunk: int = 2_000,
                          cache: bool = True) -> torch.Tensor:
    """(N, classes) probabilities of the teacher checkpoints (averaged) on ``texts``.

    Each member's probabilities are cached under the data cache (``teacher/``), keyed by the
    checkpoint's weights and vocabulary and by the texts, so students trained one after the
    other (or resumed) label the 50,000 unlabelled reviews once.
    """
    from safetensors.torch import load_file, save_file
    from tqdm.auto import tqdm

    from ..data.download import cache_dir, file_digest

    # raw scores: the soft labels every measured student was distilled from (a temperature
    # fitted later must not change what a student learns)
    ensemble = Ensemble.load(teacher, calibrated=False)  # checks that the labels agree
    texts_key = hashlib.sha256("\0".join(texts).encode("utf-8")).hexdigest()
    per_member = []
    for path, member in zip(teacher, ensemble.members):
        directory = resolve_checkpoint(path)
        key = hashlib.sha256("".join([file_digest(directory / "model.safetensors"),
                                      file_digest(directory / "vocab.json"),
                                      texts_key]).encode()).hexdigest()[:32]
        stored = cache_dir() / "teacher" / f"{key}.safetensors"
        if cache and stored.exists():
            try:
                probabilities = load_file(str(stored))["probabilities"]
            except Exception as exc:  # a damaged cache entry is recomputed, never trusted
                log(f"teacher cache {stored} is unreadable ({exc}); labelling again")
                probabilities = None
            if probabilities is not None and tuple(probabilities.shape) == (
                    len(texts), len(ensemble.labels)):
                log(f"teacher {directory}: probabilities of {len(texts):,} reviews from the "
                    f"cache ({stored})")
                per_member.append(probabilities)
                continue
        started = time.perf_counter()
        parts = []
        for begin in tqdm(range(0, len(texts), chunk), desc=f"teacher {directory.parent.name}",
                          unit="chunk", disable=not show_progress, leave=False):
            parts.append(member.probabilities(texts[begin:begin + chunk], 128))
        probabilities = torch.cat(parts) if parts else torch.empty(0, len(ensemble.labels))
        seconds = time.perf_counter() - started
        log(f"teacher {directory}: {len(texts):,} reviews labelled in {seconds:.0f} s "
            f"({len(texts) / max(seconds, 1e-9):,.0f} reviews/s)")
        if cache:
            stored.parent.mkdir(parents=True, exist_ok=True)
            partial = stored.with_name(f".{stored.name}.{os.getpid()}")
            save_file({"probabilities": probabilities.contiguous()}, str(partial))
            os.replace(partial, stored)  # atomic: a parallel student never reads half a file
        per_member.append(probabilities)
    return torch.stack(per_member).mean(0)


def _teacher_labelled(dataset, teacher, unlabelled: int | None, split_seed: int, split_by: str,
                      show_progress: bool, log) -> tuple[list[list[str]], torch.Tensor]:
    """The tokens of the unlabelled reviews a model trains on (``unlabelled`` of them, seeded)
    and the teachers' averaged probabilities for them."""
    reviews = _unlabelled_subset(dataset.unsup, unlabelled, split_seed)
    soft = _teacher_soft_labels(teacher, reviews, split_seed, split_by, show_progress, log)
    return [basic_english(r.text) for r in reviews], soft


def _teacher_soft_labels(teacher, reviews, split_seed: int, split_by: str, show_progress: bool,
                         log) -> torch.Tensor:
    """The teachers' averaged probabilities for ``reviews``, after checking that they were
    trained on this model's validation split."""
    _check_teacher_split(teacher, split_seed, split_by, log)
    return teacher_probabilities(teacher, [r.text for r in reviews],
                                 show_progress=show_progress, log=log)


def _check_teacher_split(teacher, split_seed: int, split_by: str, log) -> None:
    """Warn when a teacher was trained on another validation split: it has seen some of this
    model's validation reviews, and what it passes on makes validation flatter it."""
    for path in teacher:
        config = checkpoint.read_config(resolve_checkpoint(path))
        theirs = (config.get("validation_split_seed"),
                  config.get("validation_split_by", "review"))
        if theirs != (split_seed, split_by):
            log(f"warning: teacher {path} was trained with validation split seed {theirs[0]} "
                f"by {theirs[1]}, this model uses seed {split_seed} by {split_by}: the teacher "
                "has seen validation reviews, so validation accuracy will flatter this model "
                "(train the teacher with the same --split-seed and --split-by)")


def _unlabelled_subset(reviews, n: int | None, seed: int):
    if not reviews:
        raise ValueError("the data set has no unlabelled reviews (aclImdb/train/unsup): "
                         "give the whole IMDb archive or folder")
    if n is None or n >= len(reviews):
        return list(reviews)
    if n < 1:
        raise ValueError(f"unlabelled must be >= 1, got {n}")
    chosen = list(reviews)
    random.Random(seed).shuffle(chosen)
    return chosen[:n]
