"""The n-gram classifier (``--preset nbsvm``): reads every review whole, through its n-gram
index; no recurrent graph to export, no gates to explain."""

from __future__ import annotations

import time
from pathlib import Path

import torch

from ...data import imdb
from ...data.text import Vocab, basic_english
from ...models import ngram
from ...models.ngram import NgramClassifier, NgramConfig, NgramIndex
from ...registry import register_kind
from ...runinfo import environment, rss_mb
from ...train import checkpoint
from ..common import TASK, TOKENIZER
from ..predict import WholeTextPredictor, checkpoint_labels, checkpoint_temperature
from ..presets import PRESETS
from ..teachers import _teacher_labelled
from ..training import calibrate_best, labelled_split


class NgramPredictor(WholeTextPredictor):
    """An n-gram classifier behind the Predictor interface: it predicts, evaluates, serves
    and joins ensembles like a recurrent classifier. It reads every review whole (crops do
    not apply) and has no gates or embeddings to explain."""

    @classmethod
    def load(cls, directory: Path, config: dict, temperature: float = 1.0) -> "NgramPredictor":
        grams = checkpoint.load_vocab_tokens(directory)
        model_config = NgramConfig.from_dict(config["model"])
        checkpoint.check_vocab(directory, config, Vocab.fingerprint_of(grams),
                               model_config.vocab_size, len(grams), "n-grams")
        model = checkpoint.load_into(NgramClassifier(model_config), directory)
        return cls(model, NgramIndex(grams, model_config.max_n), checkpoint_labels(config),
                   str(directory), temperature)


def train(data, preset: str, out, *, seed: int, validation_fraction: float,
                 split_seed: int | None, split_by: str, limit: int | None,
                 vocab_size: int | None, teacher: list | None, unlabelled: int | None,
                 download: bool, show_progress: bool, log) -> dict:
    """Fit an n-gram preset: one model per regularisation strength, the best on validation
    written to OUT/best.

    With a ``teacher``, the unlabelled reviews join the training set under the teacher's
    labels: its probability weighs each one's n-gram counts, its most likely label is the
    regression's target (a linear model learns from a recurrent one what 22,500 labelled
    reviews cannot show it: IMDb test 92.4% vs 91.7%, README).
    """
    chosen = PRESETS[preset]
    started = time.perf_counter()
    split_seed = seed if split_seed is None else split_seed
    dataset, train_reviews, valid_reviews = labelled_split(
        data, validation_fraction, split_seed, limit, download, show_progress,
        unsup=bool(teacher), by=split_by)
    train_tokens = [basic_english(r.text) for r in train_reviews]
    train_labels = [r.label for r in train_reviews]
    positive = None
    if teacher:
        unlabelled_tokens, soft = _teacher_labelled(dataset, teacher, unlabelled, split_seed,
                                                    split_by, show_progress, log)
        positive = [float(label) for label in train_labels] + soft[:, 1].tolist()
        train_tokens += unlabelled_tokens
        train_labels += soft.argmax(1).tolist()
    valid_texts = [r.text for r in valid_reviews]
    valid_labels = torch.tensor([r.label for r in valid_reviews])
    max_n = chosen.model["max_n"]
    max_features = vocab_size or chosen.vocab_size
    features = ngram.NgramFeatures.count(train_tokens, train_labels, max_n=max_n,
                                         max_features=max_features, positive=positive)
    grams, index = features.grams, ngram.NgramIndex(features.grams, max_n)
    log(f"{preset}: {len(grams):,} n-grams (1..{max_n}) from {len(train_tokens):,} reviews"
        + (f" ({len(train_tokens) - len(train_reviews):,} of them teacher-labelled)"
           if teacher else "") + f" ({time.perf_counter() - started:.0f} s)")
    history, best = [], None
    for C in chosen.model["C"]:
        fit_started = time.perf_counter()
        model = features.regress(C)
        predictor = NgramPredictor(model, index, list(imdb.LABELS))
        # scored exactly as the saved checkpoint will predict: from the raw text
        accuracy = float((predictor.probabilities(valid_texts).argmax(1) == valid_labels)
                         .float().mean())
        record = {"C": C, "valid_accuracy": accuracy, "n_grams": len(grams),
                  "seconds": time.perf_counter() - fit_started}
        history.append(record)
        log(f"{preset}: C {C}: validation accuracy {accuracy:.4f} ({len(grams):,} n-grams, "
            f"{record['seconds']:.0f} s)")
        if best is None or accuracy > best[0]["valid_accuracy"]:
            best = (record, model)
    record, model = best
    config = {"task": TASK, "tokenizer": TOKENIZER, "labels": list(imdb.LABELS),
              "model_type": "ngram", "model": model.config.to_dict(), "preset": preset,
              "fit": {"C": record["C"], "max_features": max_features,
                      "C_tried": chosen.model["C"]},
              "vocab_fingerprint": Vocab.fingerprint_of(grams),
              "environment": environment(seed=seed), "validation_split_seed": split_seed,
              "validation_split_by": split_by,
              "distilled_from": ({"teacher": [str(t) for t in teacher],
                                  "unlabelled_reviews": len(train_tokens) - len(train_reviews)}
                                 if teacher else None)}
    checkpoint.save(Path(out) / "best", config=config, state_dict=model.state_dict(),
                    vocab_tokens=grams, metrics=record)
    calibration = calibrate_best(out, valid_reviews, log)
    return {"history": history, "best_valid_accuracy": record["valid_accuracy"],
            "calibration": calibration,
            "train_seconds": time.perf_counter() - started, "params": len(grams) + 1,
            "peak_rss_mb": rss_mb()["peak_rss_mb"], "reviews": len(train_tokens),
            "teacher_labelled_reviews": len(train_tokens) - len(train_reviews)}


@register_kind(TASK, "ngram", model_class=NgramPredictor, train=train,
               not_exportable="an n-gram model: ONNX export is for recurrent networks; serve it "
                              "as it is (it runs without a recurrent pass)")
def load(directory: Path, config: dict, calibrated: bool = True) -> NgramPredictor:
    return NgramPredictor.load(directory, config,
                               checkpoint_temperature(config) if calibrated else 1.0)
