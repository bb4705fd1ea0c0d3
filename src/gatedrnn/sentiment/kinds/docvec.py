"""The document-vector classifier (``--preset dv-ngram``): each review's vector is inferred
(models.docvec), then classified; no recurrent graph to export, no gates to explain."""

from __future__ import annotations

import random
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from ...data import imdb
from ...data.text import Vocab, basic_english
from ...models import docvec
from ...models.docvec import DocVectorConfig, DocVectorIndex, DocVectorModel
from ...models.ngram import _require_scikit_learn
from ...registry import register_kind
from ...runinfo import environment, rss_mb
from ...train import checkpoint
from ..common import TASK, TOKENIZER
from ..predict import WholeTextPredictor, checkpoint_labels, checkpoint_temperature
from ..presets import PRESETS
from ..teachers import _teacher_soft_labels, _unlabelled_subset
from ..training import calibrate_best, labelled_split


class DocVectorPredictor(WholeTextPredictor):
    """A document-vector classifier behind the Predictor interface. It reads every review
    whole (crops do not apply)."""

    @classmethod
    def load(cls, directory: Path, config: dict,
             temperature: float = 1.0) -> "DocVectorPredictor":
        tokens = checkpoint.load_vocab_tokens(directory)
        model_config = DocVectorConfig.from_dict(config["model"])
        checkpoint.check_vocab(directory, config, Vocab.fingerprint_of(tokens),
                               model_config.vocab_size, len(tokens), "tokens")
        model = checkpoint.load_into(DocVectorModel(model_config), directory)
        return cls(model, DocVectorIndex(tokens, model_config.max_n), checkpoint_labels(config),
                   str(directory), temperature)

    @torch.inference_mode()
    def scores(self, texts: list[str], batch_size: int = 64, **ignored) -> torch.Tensor:
        """(N, classes) raw log-probabilities."""
        documents = self._encode(texts)
        if not documents:
            return torch.empty(0, len(self.labels))
        return F.log_softmax(self.model(self.model.infer(documents)).float(), dim=1)


def train(data, preset: str, out, *, seed: int, validation_fraction: float,
                  split_seed: int | None, split_by: str, limit: int | None,
                  vocab_size: int | None, teacher: list | None, unlabelled: int | None,
                  download: bool, show_progress: bool, log) -> dict:
    """Fit a document-vector preset (models.docvec): PV-DBOW over words and n-grams on the
    training part and the unlabelled reviews, then a logistic regression per regularisation
    strength, on the training reviews' vectors as gensim trained them or as inference finds
    them (inference is how every other review gets its vector); the pair best on validation
    is written to OUT/best.

    With a ``teacher``, the regression also fits the unlabelled reviews' trained vectors
    under the teacher's probabilities (soft targets, as the students learn them); the
    vectors themselves never see a label either way. ``unlabelled`` (default: all, or twice
    ``limit``) is how many unlabelled reviews the vectors train on and the teacher labels."""
    _require_scikit_learn()

    chosen = PRESETS[preset]
    options = chosen.model
    started = time.perf_counter()
    split_seed = seed if split_seed is None else split_seed
    dataset, train_reviews, valid_reviews = labelled_split(
        data, validation_fraction, split_seed, limit, download, show_progress, unsup=True,
        by=split_by)
    if unlabelled is None and limit:
        unlabelled = 2 * limit
    unlabelled = _unlabelled_subset(dataset.unsup, unlabelled, split_seed)
    soft = (_teacher_soft_labels(teacher, unlabelled, split_seed, split_by, show_progress, log)
            if teacher else None)
    max_n = options["max_n"]
    documents = [docvec.dbow_tokens(basic_english(r.text), max_n)
                 for r in [*train_reviews, *unlabelled]]
    # gensim reads the documents in this order every epoch: mix labelled and unlabelled
    order = list(range(len(documents)))
    random.Random(seed).shuffle(order)
    log(f"{preset}: {len(documents):,} reviews ({len(unlabelled):,} unlabelled), "
        f"{sum(map(len, documents)):,} tokens (words and their n-grams up to n = {max_n}) "
        f"({time.perf_counter() - started:.0f} s)")
    epochs = options["train_epochs"]

    def progress(epoch, seconds):
        log(f"{preset}: epoch {epoch}/{epochs}, ETA {(epochs - epoch) * seconds / epoch:.0f} s")

    tokens, output, counts, trained = docvec.train_dbow(
        [documents[i] for i in order], dim=options["dim"], negative=options["negative"],
        min_count=options["min_count"], sample=options["sample"], epochs=epochs,
        max_vocab=vocab_size or chosen.vocab_size, seed=seed, progress=progress)
    # back from gensim's shuffled order: training reviews first, then the unlabelled
    trained_in_order = torch.empty_like(trained)
    trained_in_order[torch.tensor(order)] = trained
    trained_train, trained_unlabelled = trained_in_order.split(
        [len(train_reviews), len(unlabelled)])
    config = docvec.DocVectorConfig(vocab_size=len(tokens), dim=options["dim"], max_n=max_n,
                                    negative=options["negative"], sample=options["sample"],
                                    epochs=options["infer_epochs"])
    model = docvec.DocVectorModel(config)
    model.set_tables(output, counts)
    index = docvec.DocVectorIndex(tokens, max_n)
    log(f"{preset}: {len(tokens):,} tokens × {options['dim']} "
        f"({time.perf_counter() - started:.0f} s); inferring the vectors of the "
        f"{len(valid_reviews):,} validation reviews"
        + (f" and the {len(train_reviews):,} training reviews"
           if "inferred" in options["train_vectors"] else ""))
    inferred_valid = model.infer([index.encode(basic_english(r.text)) for r in valid_reviews])
    train_labels = torch.tensor([r.label for r in train_reviews])
    valid_labels = torch.tensor([r.label for r in valid_reviews])
    history, best = [], None
    for source in options["train_vectors"]:
        if source == "trained":
            features = trained_train
        else:  # as every other review's vector is found (~4 min more on IMDb, one thread)
            features = model.infer([index.encode(basic_english(r.text)) for r in train_reviews])
        targets = torch.nn.functional.one_hot(train_labels, 2).float()
        if soft is not None:
            # the unlabelled reviews' trained vectors (inferring 50,000 more would take
            # ~10 min) whichever vectors the labelled reviews use
            features = torch.cat([features, trained_unlabelled])
            targets = torch.cat([targets, soft.float()])
        for C in options["C"]:
            with torch.no_grad():
                model.classifier.load_state_dict(docvec.fit_classifier(features, targets, C))
                accuracy = float((model(inferred_valid).argmax(1) == valid_labels)
                                 .float().mean())
            record = {"train_vectors": source, "C": C, "valid_accuracy": accuracy}
            history.append(record)
            log(f"{preset}: training vectors {source}, C {C}: validation accuracy "
                f"{accuracy:.4f}")
            if best is None or accuracy > best[0]["valid_accuracy"]:
                best = (record, {k: v.clone()
                                 for k, v in model.classifier.state_dict().items()})
    record, classifier = best
    model.classifier.load_state_dict(classifier)
    stored = {"task": TASK, "tokenizer": TOKENIZER, "labels": list(imdb.LABELS),
              "model_type": "docvec", "model": config.to_dict(), "preset": preset,
              "fit": {**record, **{k: options[k] for k in ("train_epochs", "min_count",
                                                           "sample")},
                      "max_vocab": vocab_size or chosen.vocab_size,
                      "unlabelled_reviews": len(unlabelled)},
              "vocab_fingerprint": Vocab.fingerprint_of(tokens),
              "environment": environment(seed=seed), "validation_split_seed": split_seed,
              "validation_split_by": split_by,
              "distilled_from": ({"teacher": [str(t) for t in teacher],
                                  "unlabelled_reviews": len(unlabelled)} if teacher else None)}
    checkpoint.save(Path(out) / "best", config=stored, state_dict=model.state_dict(),
                    vocab_tokens=tokens, metrics=record)
    calibration = calibrate_best(out, valid_reviews, log)
    return {"history": history, "best_valid_accuracy": record["valid_accuracy"],
            "calibration": calibration,
            "train_seconds": time.perf_counter() - started,
            "params": len(tokens) * options["dim"] + 2 * (options["dim"] + 1),
            "peak_rss_mb": rss_mb()["peak_rss_mb"], "reviews": len(documents),
            "unlabelled_reviews": len(unlabelled),
            "teacher_labelled_reviews": len(unlabelled) if teacher else 0}


@register_kind(TASK, "docvec", model_class=DocVectorPredictor, train=train,
               not_exportable="a document-vector model: ONNX export is for recurrent networks; "
                              "serve it as it is (it runs without a recurrent pass)")
def load(directory: Path, config: dict, calibrated: bool = True) -> DocVectorPredictor:
    return DocVectorPredictor.load(directory, config,
                                   checkpoint_temperature(config) if calibrated else 1.0)
