"""IMDb sentiment analysis end to end: presets, training, evaluation, prediction.

    from gatedrnn.sentiment import train, Predictor
    train(data="aclImdb_v1.tar.gz", preset="fast", out="runs/sentiment")
    Predictor.load("runs/sentiment").predict(["A wonderful film."])
"""

from __future__ import annotations

import hashlib
import os
import random
import time
import warnings
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch
import torch.nn.functional as F

from .data import imdb
from .data.batching import bucket_batches, collate
from .data.text import Vocab, basic_english
from .data.vectors import embedding_matrix, load_vectors
from .models.classifier import ClassifierConfig, SentimentClassifier
from .models.language_model import ENCODER_FIELDS, LanguageModelConfig
from .runinfo import environment, rss_mb
from .train import checkpoint
from .train.loop import Encoded, FitConfig, Trainer

DEFAULT_OUT = Path("runs/sentiment")
TASK = "sentiment"
TOKENIZER = "basic_english"
MAX_TEXT_CHARS = 1_000_000  # longer texts are cut, with a warning, before tokenising


@dataclass
class Preset:
    """A model and the recipe that trains it."""

    description: str
    vocab_size: int
    model: dict = field(default_factory=dict)
    fit: dict = field(default_factory=dict)
    # Train word vectors on the unlabelled + training reviews first (train_word_vectors
    # options) into OUT/word2vec.vec, unless vectors or init_from are given, and start from them.
    word2vec: dict | None = None
    # "recurrent" (SentimentClassifier, trained by the Trainer) or "ngram" (models.ngram: the
    # n-gram options in ``model``, fitted in one go; no epochs).
    kind: str = "recurrent"


PRESETS = {
    # The chapter's model and recipe, on our pipeline (bucketing, exact variable lengths).
    "seed": Preset(
        "the chapter's BiLSTM: vocab 10k, embedding 100, 2×256 bidirectional, dropout 0.5, "
        "Adam 1e-3, clip 5, batch 64, 5 epochs (a batch of more than 32,768 tokens is run in "
        "parts whose gradients add up: the same update, bounded peak memory)",
        vocab_size=10_000,
        model={"embedding_dim": 100, "hidden_size": 256, "num_layers": 2, "bidirectional": True,
               "dropout": 0.5, "pooling": "last", "padding_idx": 0},
        fit={"epochs": 5, "batch_size": 64, "lr": 1e-3, "clip": 5.0,
             "step_max_tokens": 32_768}),
    # The chapter's BestPracticeLSTM: + BatchNorm, ReduceLROnPlateau, early stopping.
    "best-practice": Preset(
        "the chapter's BestPracticeLSTM: BiLSTM 2×256 with padding_idx, BatchNorm, dropout 0.5, "
        "clip 5, ReduceLROnPlateau on validation loss, early stopping",
        vocab_size=10_000,
        model={"embedding_dim": 100, "hidden_size": 256, "num_layers": 2, "bidirectional": True,
               "dropout": 0.5, "pooling": "last", "batch_norm": True, "padding_idx": 0},
        fit={"epochs": 8, "batch_size": 64, "lr": 1e-3, "clip": 5.0, "scheduler": "plateau",
             "patience": 2}),
    # Our recipe for accuracy per CPU-minute.
    # Chosen on the validation split (benchmarks/imdb_sweep.py): attention pooling 90.9% vs
    # max 88.9%, mean 89.9%; no truncation, hidden 256 did not help.
    "fast": Preset(
        "one BiLSTM layer of 128 over a 25k-word vocab, attention pooling, embedding dropout "
        "0.2, reviews cut to 400 tokens in training, batch 32, Adam 2e-3 one-cycle, 3 epochs",
        vocab_size=25_000,
        model={"embedding_dim": 128, "hidden_size": 128, "num_layers": 1, "bidirectional": True,
               "dropout": 0.5, "embedding_dropout": 0.2, "pooling": "attention",
               "padding_idx": 0},
        fit={"epochs": 3, "batch_size": 32, "lr": 2e-3, "clip": 1.0, "scheduler": "onecycle",
             "max_length": 400}),
    # The strongest linear baseline, and an ensemble member whose errors differ from a BiLSTM's.
    "nbsvm": Preset(
        "NB-weighted logistic regression (NBSVM) over binarised 1-3-grams, the 800k most "
        "frequent; C chosen on the validation split (scikit-learn)",
        vocab_size=800_000, kind="ngram", model={"max_n": 3, "C": [0.1, 0.3, 1.0]}),
    # Another member whose errors differ: a dense code learnt from the unlabelled reviews.
    "dv-ngram": Preset(
        "document vectors (PV-DBOW, 100-d) trained to predict each review's words and bigrams "
        "over the training + 50,000 unlabelled reviews (gensim, 10 epochs, the 400k most "
        "frequent tokens), inferred for new reviews; logistic regression on top, C chosen on "
        "the validation split",
        vocab_size=400_000, kind="docvec",
        # train_vectors: what the regression fits, the training reviews' vectors as gensim
        # trained them and/or as inferred (validation 89.72% vs 89.68% by film: not worth
        # the ~4 minutes that inferring them took on one thread)
        model={"dim": 100, "max_n": 2, "negative": 5, "min_count": 2, "sample": 1e-4,
               "train_epochs": 10, "infer_epochs": 10, "C": [0.1, 1.0, 10.0],
               "train_vectors": ["trained"]}),
    # A smoke-test size for CI and examples.
    "tiny": Preset(
        "a tiny BiLSTM for tests: vocab 2k, embedding 16, hidden 16, max pooling, 2 epochs",
        vocab_size=2_000,
        model={"embedding_dim": 16, "hidden_size": 16, "num_layers": 1, "bidirectional": True,
               "dropout": 0.0, "pooling": "max"},
        fit={"epochs": 2, "batch_size": 16, "lr": 1e-2, "clip": 5.0}),
}


# dv-ngram over trigrams too (Li et al. 2016 found uni+bi+tri best on IMDb), with room for
# them in the vocabulary, as the NBSVM's 800k 1-3-grams (test 91.04% vs 90.36-90.60%)
PRESETS["dv-trigram"] = replace(
    PRESETS["dv-ngram"], vocab_size=800_000, model={**PRESETS["dv-ngram"].model, "max_n": 3},
    description="dv-ngram predicting each review's words, bigrams and trigrams (the 800k "
                "most frequent tokens)")

# The best single model of benchmarks/imdb_ablation.py: the fast recipe from word vectors
# trained on the unlabelled + training reviews (test 90.91% vs 90.38%, validation 92.20% vs
# 90.80%).
PRESETS["best"] = replace(
    PRESETS["fast"], word2vec={"dim": 128, "epochs": 5},
    description="the fast recipe starting from word2vec vectors (skip-gram, 128-d, 5 epochs) "
                "trained first on the 50,000 unlabelled + 25,000 training reviews")


def encode_texts(texts: list[str], vocab: Vocab) -> list[list[int]]:
    return [vocab.encode(basic_english(t)) for t in texts]


def train(data=None, preset: str = "seed", out: str | Path = DEFAULT_OUT, *, seed: int = 0,
          resume: bool = False, validation_fraction: float = 0.1, overrides: dict | None = None,
          model_overrides: dict | None = None, vocab_size: int | None = None,
          limit: int | None = None, vectors: str | Path | None = None,
          freeze_embeddings: bool = False, init_from: str | Path | None = None,
          split_seed: int | None = None, split_by: str = "review",
          teacher: list[str | Path] | None = None,
          unlabelled: int | None = None, download: bool = True, show_progress: bool = True,
          log=print) -> dict:
    """Train a sentiment classifier on IMDb; returns the training summary.

    ``data`` is the archive, the aclImdb folder, or None for the cached/downloaded copy.
    ``limit`` keeps only that many training reviews (balanced), for quick trials.
    ``vectors``: a word-vector file (word2vec, GloVe, fastText; see data.vectors) that
    initialises the embedding (its dimension replaces the preset's); ``freeze_embeddings``
    keeps them fixed. ``init_from``: a language model from ``gatedrnn.pretrain`` whose
    vocabulary, embedding and encoder the classifier starts from. ``split_seed`` (default:
    ``seed``) draws the validation split: ensemble members trained with different seeds keep
    one split when it is fixed, so none of them trains on another's validation reviews.
    ``split_by``: "review" or "film" (whole films, as IMDb's test is film-disjoint from
    train; see data.imdb.validation_split).
    ``teacher``: sentiment checkpoints (several are averaged) whose probabilities on the
    50,000 unlabelled reviews (the first ``unlabelled`` of them, in a seeded order; all by
    default) become soft targets the classifier also trains on: knowledge distillation, which
    puts the unlabelled reviews to use. Labelled reviews keep their own labels.
    """
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    if unlabelled is not None and not teacher:
        raise ValueError("unlabelled reviews need a teacher to label them: pass teacher "
                         "checkpoints (--teacher PATH)")
    chosen = PRESETS[preset]
    if chosen.kind != "recurrent":
        _refuse_recurrent_options(preset, {
            "resume": resume, "overrides": overrides, "model_overrides": model_overrides,
            "vectors": vectors, "freeze_embeddings": freeze_embeddings, "init_from": init_from})
    if chosen.kind == "ngram":
        return _train_ngram(data, preset, out, seed=seed, validation_fraction=validation_fraction,
                            split_seed=split_seed, split_by=split_by, limit=limit,
                            vocab_size=vocab_size, teacher=teacher, unlabelled=unlabelled,
                            download=download, show_progress=show_progress, log=log)
    if chosen.kind == "docvec":
        return _train_docvec(data, preset, out, seed=seed,
                             validation_fraction=validation_fraction, split_seed=split_seed,
                             split_by=split_by, limit=limit, vocab_size=vocab_size,
                             teacher=teacher, unlabelled=unlabelled, download=download,
                             show_progress=show_progress, log=log)
    fit_config = FitConfig(**{**chosen.fit, "seed": seed, **(overrides or {})})
    started = time.perf_counter()
    if chosen.word2vec is not None and init_from is None and vectors is None:
        vectors = Path(out) / "word2vec.vec"
        if vectors.exists():
            log(f"preset {preset}: reusing the word vectors in {vectors}")
        else:
            log(f"preset {preset}: training word vectors into {vectors} first")
            train_word_vectors(data, vectors, seed=seed, download=download, log=log,
                               **chosen.word2vec)
    torch.manual_seed(seed)
    split_seed = seed if split_seed is None else split_seed
    dataset, train_reviews, valid_reviews = _labelled_split(
        data, validation_fraction, split_seed, limit, download, show_progress,
        unsup=bool(teacher), by=split_by)
    train_tokens = [basic_english(r.text) for r in train_reviews]
    train_labels = [r.label for r in train_reviews]
    targets = None
    if teacher:
        unlabelled_tokens, soft = _teacher_labelled(dataset, teacher, unlabelled, split_seed,
                                                    split_by, show_progress, log)
        classes = soft.shape[1]
        targets = ([[float(k == label) for k in range(classes)] for label in train_labels]
                   + soft.tolist())
        train_tokens += unlabelled_tokens
        train_labels += soft.argmax(1).tolist()
    model_settings = {**chosen.model, **(model_overrides or {})}
    pretrained = None
    if init_from is not None:
        pretrained = _open_language_model(init_from)
        vocab = pretrained["vocab"]
        model_settings.update(pretrained["shape"])
        log(f"starting from the language model in {pretrained['directory']} (vocab "
            f"{len(vocab)}, encoder {pretrained['shape']})")
    else:
        vocab = Vocab.build(train_tokens, max_size=vocab_size or chosen.vocab_size)
    train_set = Encoded([vocab.encode(t) for t in train_tokens], train_labels, targets)
    valid_set = Encoded(encode_texts([r.text for r in valid_reviews], vocab),
                        [r.label for r in valid_reviews])
    log(f"data: {len(train_set)} train"
        + (f" ({len(train_set) - len(train_reviews)} of them teacher-labelled)" if teacher else "")
        + f" / {len(valid_set)} validation reviews from "
        f"{dataset.source}, vocab {len(vocab)} ({time.perf_counter() - started:.1f} s)")

    embedding_stats = None
    if vectors is not None:
        if pretrained is not None:
            raise ValueError("give either vectors or init_from: a pretrained language model "
                             "already brings its embedding")
        word_vectors = load_vectors(vectors, keep=set(vocab.itos))
        model_settings["embedding_dim"] = word_vectors.dim
        counts = Counter(t for tokens in train_tokens for t in tokens)
        weights, embedding_stats = embedding_matrix(word_vectors, vocab.itos, counts=counts,
                                                    seed=seed)
        log(f"word vectors {vectors}: dim {word_vectors.dim}, {embedding_stats['found']:,} of "
            f"{len(vocab):,} vocabulary words found ({embedding_stats['found_lowercased']:,} "
            f"lowercased), {embedding_stats['token_coverage']:.1%} of training tokens covered; "
            f"most frequent without a vector: "
            f"{', '.join(embedding_stats['most_frequent_missing'][:8]) or '-'}")
    model_config = ClassifierConfig(vocab_size=len(vocab), **model_settings)
    model = SentimentClassifier(model_config)
    if vectors is not None:
        model.load_embeddings(weights, freeze=freeze_embeddings)
    elif pretrained is not None:
        model.load_state_dict(pretrained["weights"], strict=False)
        if freeze_embeddings:
            model.embedding.weight.requires_grad_(False)
    elif freeze_embeddings:
        raise ValueError("freeze_embeddings needs pretrained vectors or init_from: frozen "
                         "random embeddings would not learn anything")
    checkpoint_config = {
        "task": TASK, "tokenizer": TOKENIZER, "labels": list(imdb.LABELS),
        "model": model_config.to_dict(), "preset": preset, "fit": asdict(fit_config),
        "initialised_from": {"vectors": str(vectors) if vectors else None,
                             "language_model": str(pretrained["directory"]) if pretrained
                             else None, "frozen_embeddings": freeze_embeddings},
        "vocab_fingerprint": vocab.fingerprint(), "environment": environment(seed=seed),
        "validation_split_seed": split_seed, "validation_split_by": split_by,
        "distilled_from": ({"teacher": [str(t) for t in teacher],
                            "unlabelled_reviews": len(train_set) - len(train_reviews)}
                           if teacher else None),
    }
    trainer = Trainer(model, fit_config, train_set, valid_set, out, checkpoint_config, vocab.itos,
                      show_progress=show_progress, log=log)
    if resume:
        if trainer.resume():
            log(f"resumed from {Path(out) / 'last'} after epoch {trainer.epoch}"
                + (f", batch {trainer.batch_in_epoch}" if trainer.batch_in_epoch else ""))
        else:
            log(f"nothing to resume in {out}; starting fresh")
    summary = trainer.fit()
    summary["train_seconds"] = time.perf_counter() - started
    summary["params"] = sum(p.numel() for p in model.parameters())
    summary["peak_rss_mb"] = rss_mb()["peak_rss_mb"]
    summary["train_tokens_per_epoch"] = sum(
        min(n, fit_config.max_length) if fit_config.max_length else n for n in train_set.lengths)
    if embedding_stats is not None:
        summary["embeddings"] = embedding_stats
    return summary


def _labelled_split(data, validation_fraction, split_seed, limit, download, show_progress,
                    unsup=False, by="review"):
    dataset = imdb.load(data, download=download, show_progress=show_progress, unsup=unsup)
    train_reviews, valid_reviews = imdb.validation_split(dataset.train, validation_fraction,
                                                         split_seed, by=by)
    if limit:
        train_reviews = _balanced_subset(train_reviews, limit, split_seed)
        valid_reviews = _balanced_subset(valid_reviews, max(2, limit // 5), split_seed)
    return dataset, train_reviews, valid_reviews


def _train_ngram(data, preset: str, out, *, seed: int, validation_fraction: float,
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
    from .models import ngram
    chosen = PRESETS[preset]
    started = time.perf_counter()
    split_seed = seed if split_seed is None else split_seed
    dataset, train_reviews, valid_reviews = _labelled_split(
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
    return {"history": history, "best_valid_accuracy": record["valid_accuracy"],
            "train_seconds": time.perf_counter() - started, "params": len(grams) + 1,
            "peak_rss_mb": rss_mb()["peak_rss_mb"], "reviews": len(train_tokens),
            "teacher_labelled_reviews": len(train_tokens) - len(train_reviews)}


def _refuse_recurrent_options(preset: str, options: dict) -> None:
    given = [name for name, value in options.items()
             if value and name not in ("overrides", "model_overrides")]
    given += [*(options["overrides"] or {}), *(options["model_overrides"] or {})]
    if given:
        raise ValueError(f"preset {preset} is fitted in one go, not trained by epochs; "
                         f"{', '.join(given)} apply to recurrent presets only")


def _train_docvec(data, preset: str, out, *, seed: int, validation_fraction: float,
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
    from .models import docvec
    from .models.ngram import _require_scikit_learn
    _require_scikit_learn()

    chosen = PRESETS[preset]
    options = chosen.model
    started = time.perf_counter()
    split_seed = seed if split_seed is None else split_seed
    dataset, train_reviews, valid_reviews = _labelled_split(
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
    return {"history": history, "best_valid_accuracy": record["valid_accuracy"],
            "train_seconds": time.perf_counter() - started,
            "params": len(tokens) * options["dim"] + 2 * (options["dim"] + 1),
            "peak_rss_mb": rss_mb()["peak_rss_mb"], "reviews": len(documents),
            "unlabelled_reviews": len(unlabelled),
            "teacher_labelled_reviews": len(unlabelled) if teacher else 0}


def train_word_vectors(data, out: str | Path, *, dim: int = 128, window: int = 5,
                       min_count: int = 5, epochs: int = 5, skip_gram: bool = True,
                       workers: int = 2, seed: int = 0, download: bool = True,
                       log=print) -> Path:
    """Word2vec (gensim) on the 50,000 unlabelled and 25,000 training reviews (never test),
    written to ``out`` in the word2vec text format."""
    from .data.vectors import save_word2vec_text, train_word2vec
    started = time.perf_counter()
    dataset = imdb.load(data, download=download, unsup=True)
    texts = [basic_english(r.text) for r in [*dataset.unsup, *dataset.train]]
    tokens = sum(len(t) for t in texts)
    log(f"word vectors: {len(texts):,} reviews, {tokens:,} tokens "
        f"({time.perf_counter() - started:.0f} s)")

    def progress(epoch, seconds):
        log(f"word vectors: epoch {epoch}/{epochs}, {tokens * epoch / max(seconds, 1e-9):,.0f} "
            f"tokens/s, ETA {(epochs - epoch) * seconds / epoch:.0f} s")

    vectors = train_word2vec(texts, dim=dim, window=window, min_count=min_count, epochs=epochs,
                             skip_gram=skip_gram, workers=workers, seed=seed, progress=progress)
    path = save_word2vec_text(vectors, out)
    log(f"word vectors: {len(vectors):,} words × {vectors.dim} → {path} "
        f"({(time.perf_counter() - started) / 60:.1f} min)")
    return path


def _open_language_model(path) -> dict:
    """Vocabulary, encoder shape and embedding + encoder weights of a pretrained LM."""
    from .pretrain import TASK as LM_TASK
    directory, config = checkpoint.open_for_task(
        path, LM_TASK, "a pretrained language model",
        "make one with 'gatedrnn sentiment pretrain --data PATH'")
    vocab = Vocab(checkpoint.load_vocab_tokens(directory))
    lm_config = LanguageModelConfig.from_dict(config["model"])
    checkpoint.check_vocab(directory, config, vocab.fingerprint(), lm_config.vocab_size,
                           len(vocab), "tokens")
    weights = {k: v for k, v in checkpoint.load_weights(directory).items()
               if k.startswith(("embedding.", "encoder."))}
    shape = {k: getattr(lm_config, k) for k in ENCODER_FIELDS}
    return {"directory": directory, "vocab": vocab, "shape": shape, "weights": weights}


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

    from .data.download import cache_dir, file_digest

    ensemble = Ensemble.load(teacher)  # checks that the members' labels agree
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
        raise ValueError("the data set has no unlabelled reviews (aclImdb/train/unsup) for "
                         "the teacher to label")
    if n is None or n >= len(reviews):
        return list(reviews)
    if n < 1:
        raise ValueError(f"unlabelled must be >= 1, got {n}")
    chosen = list(reviews)
    random.Random(seed).shuffle(chosen)
    return chosen[:n]


def _balanced_subset(reviews, n: int, seed: int):
    rng = random.Random(seed)
    by_label = {0: [r for r in reviews if r.label == 0], 1: [r for r in reviews if r.label == 1]}
    for group in by_label.values():
        rng.shuffle(group)
    return by_label[0][: n // 2] + by_label[1][: n - n // 2]


# ---------------------------------------------------------------------------------------------
# Loading and prediction
# ---------------------------------------------------------------------------------------------


resolve_checkpoint = checkpoint.resolve  # a training output directory means its best/


class Predictor:
    """A trained classifier with its vocabulary: texts in, labels and confidences out."""

    def __init__(self, model: SentimentClassifier, vocab: Vocab, labels: list[str],
                 source: str = ""):
        self.model = model.eval()
        self.vocab = vocab
        self.labels = labels
        self.source = source

    @classmethod
    def load(cls, path: str | Path = DEFAULT_OUT) -> "Predictor":
        directory, config = checkpoint.open_for_task(
            path, TASK, "a sentiment classifier",
            f"train one with 'gatedrnn sentiment train --data PATH' (it writes "
            f"{DEFAULT_OUT}/best)")
        if config.get("model_type") == "ngram":
            return NgramPredictor.load(directory, config)
        if config.get("model_type") == "docvec":
            return DocVectorPredictor.load(directory, config)
        vocab = Vocab(checkpoint.load_vocab_tokens(directory))
        model_config = ClassifierConfig.from_dict(config["model"])
        checkpoint.check_vocab(directory, config, vocab.fingerprint(), model_config.vocab_size,
                               len(vocab), "tokens")
        model = checkpoint.load_into(SentimentClassifier(model_config), directory)
        return cls(model, vocab, config.get("labels", list(imdb.LABELS)), str(directory))

    @torch.inference_mode()
    def probabilities(self, texts: list[str], batch_size: int = 64, max_tokens: int = 32_768,
                      crops: int = 1, crop_length: int = 400) -> torch.Tensor:
        """(N, classes) probabilities; texts are batched by length internally.

        ``crops`` > 1: test-time averaging — a text longer than ``crop_length`` tokens is read as
        that many evenly spaced windows of ``crop_length`` tokens (first and last included) and
        their probabilities are averaged; shorter texts are read whole.
        """
        if crops < 1 or crop_length < 1:
            raise ValueError("crops and crop_length must be >= 1")
        windows, owners = [], []
        cut = 0
        for position, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"texts must be strings, got {type(text).__name__}")
            cut += len(text) > MAX_TEXT_CHARS
            ids = self.vocab.encode(basic_english(text[:MAX_TEXT_CHARS]))
            for window in _crops(ids, crops, crop_length):
                windows.append(window)
                owners.append(position)
        if cut:
            warnings.warn(f"{cut} text(s) longer than {MAX_TEXT_CHARS:,} characters were cut to "
                          "that length before prediction", stacklevel=2)
        per_window = torch.empty(len(windows), len(self.labels))
        lengths = [len(w) for w in windows]
        for indices in bucket_batches(lengths, batch_size, shuffle=False, max_tokens=max_tokens):
            batch = collate([windows[i] for i in indices], None, indices)
            per_window[indices] = self._batch_probabilities(batch.tokens, batch.lengths)
        if len(windows) == len(texts):
            return per_window
        owner = torch.tensor(owners)
        total = torch.zeros(len(texts), len(self.labels)).index_add_(0, owner, per_window)
        return total / torch.bincount(owner, minlength=len(texts)).unsqueeze(1)

    def _batch_probabilities(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return F.softmax(self.model(tokens, lengths).float(), dim=1)

    def predict(self, texts: list[str] | str, batch_size: int = 64) -> list[dict]:
        """[{"label", "confidence", "probabilities", "empty"}] per text.

        An empty or whitespace-only text still gets a prediction (from the model's bias), marked
        ``empty: True`` so a caller can tell it apart.
        """
        return _predictions(self, texts, batch_size)


class _WholeTextPredictor:
    """What the non-recurrent classifiers share: a model and the index that turns a whole
    text into its ids (crops and other reading options do not apply)."""

    def __init__(self, model, index, labels: list[str], source: str = ""):
        self.model = model.eval()
        self.index = index
        self.labels = labels
        self.source = source

    def _encode(self, texts: list[str]) -> list[list[int]]:
        documents = []
        for text in texts:
            if not isinstance(text, str):
                raise TypeError(f"texts must be strings, got {type(text).__name__}")
            documents.append(self.index.encode(basic_english(text[:MAX_TEXT_CHARS])))
        return documents

    def predict(self, texts: list[str] | str, batch_size: int = 64) -> list[dict]:
        return _predictions(self, texts, batch_size)


class NgramPredictor(_WholeTextPredictor):
    """An n-gram classifier (``--preset nbsvm``) behind the Predictor interface.

    ``Predictor.load`` returns one for an n-gram checkpoint, so it predicts, evaluates, serves
    and joins ensembles like a recurrent classifier. It reads every review whole (crops do not
    apply) and has no gates or embeddings to explain.
    """

    @classmethod
    def load(cls, directory: Path, config: dict) -> "NgramPredictor":
        from .models.ngram import NgramClassifier, NgramConfig, NgramIndex
        grams = checkpoint.load_vocab_tokens(directory)
        model_config = NgramConfig.from_dict(config["model"])
        checkpoint.check_vocab(directory, config, Vocab.fingerprint_of(grams),
                               model_config.vocab_size, len(grams), "n-grams")
        model = checkpoint.load_into(NgramClassifier(model_config), directory)
        return cls(model, NgramIndex(grams, model_config.max_n),
                   config.get("labels", list(imdb.LABELS)), str(directory))

    @torch.inference_mode()
    def probabilities(self, texts: list[str], batch_size: int = 64, **ignored) -> torch.Tensor:
        """(N, 2) probabilities (``crops`` and other reading options do not apply)."""
        out = torch.empty(len(texts), len(self.labels))
        for start in range(0, len(texts), max(1, batch_size)):
            documents = self._encode(texts[start:start + batch_size])
            logits = self.model(*self.index.batch(documents))
            out[start:start + len(documents)] = F.softmax(logits, dim=1)
        return out


class DocVectorPredictor(_WholeTextPredictor):
    """A document-vector classifier (``--preset dv-ngram``) behind the Predictor interface:
    each review's vector is inferred (models.docvec), then classified. It reads every review
    whole (crops do not apply)."""

    @classmethod
    def load(cls, directory: Path, config: dict) -> "DocVectorPredictor":
        from .models.docvec import DocVectorConfig, DocVectorIndex, DocVectorModel
        tokens = checkpoint.load_vocab_tokens(directory)
        model_config = DocVectorConfig.from_dict(config["model"])
        checkpoint.check_vocab(directory, config, Vocab.fingerprint_of(tokens),
                               model_config.vocab_size, len(tokens), "tokens")
        model = checkpoint.load_into(DocVectorModel(model_config), directory)
        return cls(model, DocVectorIndex(tokens, model_config.max_n),
                   config.get("labels", list(imdb.LABELS)), str(directory))

    @torch.inference_mode()
    def probabilities(self, texts: list[str], batch_size: int = 64, **ignored) -> torch.Tensor:
        """(N, 2) probabilities (``crops`` and other reading options do not apply)."""
        documents = self._encode(texts)
        if not documents:
            return torch.empty(0, len(self.labels))
        return F.softmax(self.model(self.model.infer(documents)), dim=1)


def _crops(ids: list[int], crops: int, length: int) -> list[list[int]]:
    if crops == 1 or len(ids) <= length:
        return [ids]
    last_start = len(ids) - length
    starts = sorted({round(k * last_start / (crops - 1)) for k in range(crops)})
    return [ids[s:s + length] for s in starts]


def _predictions(model, texts, batch_size: int) -> list[dict]:
    if isinstance(texts, str):
        texts = [texts]
    probabilities = model.probabilities(list(texts), batch_size)
    results = []
    for text, p in zip(texts, probabilities):
        best = int(p.argmax())
        results.append({"label": model.labels[best], "confidence": float(p[best]),
                        "probabilities": {l: float(v) for l, v in zip(model.labels, p)},
                        "empty": not text.strip()})
    return results


class Ensemble:
    """Several sentiment checkpoints read as one model: their probabilities are averaged.

    Each member keeps its own vocabulary, so checkpoints trained differently (another preset,
    pretrained vectors, a language-model start) combine freely.
    """

    def __init__(self, members: list[Predictor]):
        if not members:
            raise ValueError("an ensemble needs at least one checkpoint")
        labels = members[0].labels
        for member in members[1:]:
            if member.labels != labels:
                raise ValueError(f"{member.source} predicts {member.labels}, "
                                 f"{members[0].source} predicts {labels}: they cannot be averaged")
        self.members = members
        self.labels = labels
        self.source = " + ".join(m.source for m in members)

    @classmethod
    def load(cls, paths: list[str | Path]) -> "Ensemble":
        return cls([Predictor.load(p) for p in paths])

    def probabilities(self, texts: list[str], batch_size: int = 64, **options) -> torch.Tensor:
        return torch.stack([m.probabilities(texts, batch_size, **options)
                            for m in self.members]).mean(0)

    def predict(self, texts: list[str] | str, batch_size: int = 64) -> list[dict]:
        return _predictions(self, texts, batch_size)


def evaluate(predictor: Predictor | Ensemble, texts: list[str], labels: list[int],
             batch_size: int = 128, crops: int = 1, crop_length: int = 400) -> dict:
    """Accuracy, loss, per-class precision/recall/F1 and the confusion matrix (``crops``: see
    ``Predictor.probabilities``)."""
    if not texts:
        raise ValueError("nothing to evaluate: no texts")
    probabilities = predictor.probabilities(texts, batch_size, crops=crops,
                                            crop_length=crop_length)
    target = torch.tensor(labels)
    loss = F.nll_loss(torch.log(probabilities.clamp_min(1e-12)), target).item()
    predicted = probabilities.argmax(1)
    k = len(predictor.labels)
    confusion = torch.zeros(k, k, dtype=torch.long)
    for t, p in zip(target.tolist(), predicted.tolist()):
        confusion[t, p] += 1
    per_class = {}
    for i, name in enumerate(predictor.labels):
        tp = int(confusion[i, i])
        precision = tp / max(1, int(confusion[:, i].sum()))
        recall = tp / max(1, int(confusion[i].sum()))
        f1 = 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
        per_class[name] = {"precision": precision, "recall": recall, "f1": f1,
                           "support": int(confusion[i].sum())}
    accuracy = float((predicted == target).float().mean())
    return {"accuracy": accuracy, "loss": loss, "count": len(texts), "per_class": per_class,
            "confusion_matrix": {"labels": predictor.labels, "rows_true_cols_predicted":
                                 confusion.tolist()},
            "checkpoint": predictor.source}


def load(path: str | Path = DEFAULT_OUT) -> Predictor:
    """``gatedrnn.load(path).predict([...])``."""
    return Predictor.load(path)


__all__ = ["PRESETS", "Ensemble", "Preset", "Predictor", "evaluate", "load", "train",
           "resolve_checkpoint"]
