"""TF-IDF over word n-grams with a logistic regression (models.linear), any number of
classes: the linear model a gated RNN has to beat, trained in seconds, with C chosen on
validation. Predicts, evaluates and serves like the recurrent kind; no recurrent graph to
export, no gates to explain."""

from __future__ import annotations

import time
from pathlib import Path

import torch

from ...data.text import Vocab
from ...data.tokenizers import Tokenizer, TokenizerError, load_tokenizer
from ...models.linear import LinearConfig, NgramVocabulary, TfidfLogistic, fit
from ...registry import register_kind
from ...runinfo import environment, rss_mb
from ...train import checkpoint
from ..common import TASK
from ..predict import (
    WholeTextPredictor,
    calibrated_probabilities,
    checkpoint_labels,
    checkpoint_temperature,
)


class LinearPredictor(WholeTextPredictor):
    """A TF-IDF logistic regression behind the Predictor interface."""

    def read(self, texts: list[str], batch_size: int = 64
             ) -> tuple[torch.Tensor, list[float | None]]:
        """(probabilities, shares of words among the model's n-grams), tokenized once."""
        tokens = self._tokens(texts)
        scores = self._scores_of([self.index.encode(t) for t in tokens], batch_size)
        return (calibrated_probabilities(scores, self.temperature),
                [sum(w in self.index.index for w in t) / len(t) if t else None
                 for t in tokens])


def train(train_tokens: list[list[str]], train_labels: list[int], valid_texts: list[str],
          valid_labels: list[int], out, *, labels: list[str], preset, preset_name: str,
          tokenizer: Tokenizer, seed: int = 0, extra_config: dict | None = None,
          source: str = "", log=print, **ignored) -> dict:
    """Fit one regression per C of the preset on the training texts' n-gram TF-IDF, keep the
    one most accurate on validation, write OUT/best; the summary (with the validation split's
    calibration, as the recurrent kind's)."""
    from ..training import calibrate_best

    started = time.perf_counter()
    options = preset.model
    history, best, vectorizer = [], None, None
    for C in options["C"]:
        fit_started = time.perf_counter()
        model, vocabulary, vectorizer = fit(
            train_tokens, train_labels, len(labels), max_n=options["max_n"],
            min_df=options.get("min_df", 1), max_features=preset.vocab_size, C=C,
            vectorizer=vectorizer)
        predictor = LinearPredictor(model, vocabulary, list(labels), tokenizer=tokenizer)
        # scored as the saved checkpoint will predict: from the raw text
        predicted = predictor.probabilities(valid_texts).argmax(1)
        accuracy = float((predicted == torch.tensor(valid_labels)).float().mean())
        record = {"C": C, "valid_accuracy": accuracy, "n_grams": len(vocabulary.grams),
                  "seconds": time.perf_counter() - fit_started}
        history.append(record)
        log(f"{preset_name}: C {C}: validation accuracy {accuracy:.4f} "
            f"({len(vocabulary.grams):,} n-grams, {record['seconds']:.1f} s)")
        if best is None or accuracy > best[0]["valid_accuracy"]:
            best = (record, model, vocabulary)
    record, model, vocabulary = best
    config = {"task": TASK, "tokenizer": tokenizer.config(), "labels": list(labels),
              "model_type": "linear", "model": model.config.to_dict(), "preset": preset_name,
              "fit": {"C": record["C"], "C_tried": list(options["C"])},
              "vocab_fingerprint": Vocab.fingerprint_of(vocabulary.grams),
              "environment": environment(seed=seed), **(extra_config or {})}
    checkpoint.save(Path(out) / "best", config=config, state_dict=model.state_dict(),
                    vocab_tokens=vocabulary.grams, metrics=record, files=tokenizer.files())
    log(f"data: {len(train_tokens)} train / {len(valid_texts)} validation examples from "
        f"{source}")
    calibration = calibrate_best(out, valid_texts, valid_labels, "examples", log)
    return {"history": history, "best_valid_accuracy": record["valid_accuracy"],
            "calibration": calibration, "train_seconds": time.perf_counter() - started,
            "params": len(vocabulary.grams) * (len(labels) + 1) + len(labels),
            "peak_rss_mb": rss_mb()["peak_rss_mb"]}


@register_kind(TASK, "linear", model_class=LinearPredictor, train=train,
               not_exportable="a TF-IDF logistic regression: ONNX export is for recurrent "
                              "networks; serve it as it is (it runs without a recurrent pass)")
def load(directory: Path, config: dict, calibrated: bool = True) -> LinearPredictor:
    grams = checkpoint.load_vocab_tokens(directory)
    model_config = LinearConfig.from_dict(config["model"])
    checkpoint.check_vocab(directory, config, Vocab.fingerprint_of(grams),
                           model_config.vocab_size, len(grams), "n-grams")
    model = checkpoint.load_into(TfidfLogistic(model_config), directory)
    try:
        tokenizer = load_tokenizer(config.get("tokenizer"), directory)
    except TokenizerError as exc:
        raise checkpoint.CheckpointError(f"{directory}: {exc}") from exc
    return LinearPredictor(model, NgramVocabulary(grams, model_config.max_n),
                           checkpoint_labels(config),
                           str(directory), checkpoint_temperature(config) if calibrated else 1.0,
                           tokenizer)
