"""IMDb sentiment analysis end to end: presets, training, evaluation, prediction.

    from gatedrnn.sentiment import train, Predictor
    train(data="aclImdb_v1.tar.gz", preset="fast", out="runs/sentiment")
    Predictor.load("runs/sentiment").predict(["A wonderful film."])
"""

from __future__ import annotations

import hashlib
import math
import os
import random
import time
import warnings
from collections import Counter
from dataclasses import asdict
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
from .sentiment_presets import DEFAULT_PRESET, PRESETS, Preset  # noqa: F401 (public here too)
from .train import checkpoint
from .train.loop import Encoded, FitConfig, Trainer

DEFAULT_OUT = Path("runs/sentiment")
TASK = "sentiment"
TOKENIZER = "basic_english"
MAX_TEXT_CHARS = 1_000_000  # longer texts are cut, with a warning, before tokenising


def encode_texts(texts: list[str], vocab: Vocab) -> list[list[int]]:
    return [vocab.encode(basic_english(t)) for t in texts]


def train(data=None, preset: str = DEFAULT_PRESET, out: str | Path = DEFAULT_OUT, *, seed: int = 0,
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
    if trainer.dist.main:  # under torchrun, the process that wrote best/ calibrates it
        summary["calibration"] = _calibrate_best(out, valid_reviews, log)
    summary["train_seconds"] = time.perf_counter() - started
    summary["params"] = sum(p.numel() for p in model.parameters())
    summary["peak_rss_mb"] = rss_mb()["peak_rss_mb"]
    summary["train_tokens_per_epoch"] = sum(
        min(n, fit_config.max_length) if fit_config.max_length else n for n in train_set.lengths)
    if embedding_stats is not None:
        summary["embeddings"] = embedding_stats
    return summary


def _calibrate_best(out, valid_reviews, log) -> dict:
    """Temperature scaling of OUT/best on the validation split, stored in its config."""
    record = calibrate_checkpoint(Path(out) / "best", [r.text for r in valid_reviews],
                                  [r.label for r in valid_reviews])
    log(f"calibration: temperature {record['temperature']:.3f} fitted on "
        f"{record['examples']:,} validation reviews (ECE {record['ece_before']:.2%} → "
        f"{record['ece_after']:.2%}, NLL {record['nll_before']:.4f} → {record['nll_after']:.4f})")
    return record


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
    calibration = _calibrate_best(out, valid_reviews, log)
    return {"history": history, "best_valid_accuracy": record["valid_accuracy"],
            "calibration": calibration,
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
    calibration = _calibrate_best(out, valid_reviews, log)
    return {"history": history, "best_valid_accuracy": record["valid_accuracy"],
            "calibration": calibration,
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

    # raw scores: the soft labels every measured recipe was distilled from (a temperature
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
    """A trained classifier with its vocabulary: texts in, labels and confidences out.

    ``temperature`` divides the logits before the softmax: the one fitted on the validation
    split at the end of training (the checkpoint's ``calibration``), or 1 for raw scores.
    """

    def __init__(self, model: SentimentClassifier, vocab: Vocab, labels: list[str],
                 source: str = "", temperature: float = 1.0):
        self.model = model.eval()
        self.vocab = vocab
        self.labels = labels
        self.source = source
        self.temperature = temperature

    @classmethod
    def load(cls, path: str | Path = DEFAULT_OUT, calibrated: bool = True) -> "Predictor":
        """The checkpoint at ``path`` (a training output means its best/); an ensemble's
        directory gives its :class:`Ensemble`. ``calibrated=False``: raw scores (temperature 1).
        """
        directory, config = checkpoint.open_for_task(
            path, TASK, "a sentiment classifier",
            f"train one with 'gatedrnn sentiment train --data PATH' (it writes "
            f"{DEFAULT_OUT}/best)")
        temperature = _temperature(config) if calibrated else 1.0
        if config.get("model_type") == "ensemble":
            return Ensemble.load_directory(directory, config, calibrated)
        if config.get("model_type") == "ngram":
            return NgramPredictor.load(directory, config, temperature)
        if config.get("model_type") == "docvec":
            return DocVectorPredictor.load(directory, config, temperature)
        vocab = Vocab(checkpoint.load_vocab_tokens(directory))
        model_config = ClassifierConfig.from_dict(config["model"])
        checkpoint.check_vocab(directory, config, vocab.fingerprint(), model_config.vocab_size,
                               len(vocab), "tokens")
        model = checkpoint.load_into(SentimentClassifier(model_config), directory)
        return cls(model, vocab, config.get("labels", list(imdb.LABELS)), str(directory),
                   temperature)

    def probabilities(self, texts: list[str], batch_size: int = 64, **options) -> torch.Tensor:
        """(N, classes) probabilities: softmax(scores / temperature) (see ``scores``)."""
        return calibrated_probabilities(self.scores(texts, batch_size, **options),
                                        self.temperature)

    @torch.inference_mode()
    def scores(self, texts: list[str], batch_size: int = 64, max_tokens: int = 32_768,
               crops: int = 1, crop_length: int = 400) -> torch.Tensor:
        """(N, classes) raw log-probabilities (logits up to a constant, before any temperature);
        texts are batched by length internally.

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
                          "that length before prediction", stacklevel=3)
        per_window = torch.empty(len(windows), len(self.labels))
        lengths = [len(w) for w in windows]
        for indices in bucket_batches(lengths, batch_size, shuffle=False, max_tokens=max_tokens):
            batch = collate([windows[i] for i in indices], None, indices)
            per_window[indices] = self._batch_scores(batch.tokens, batch.lengths)
        if len(windows) == len(texts):
            return per_window
        owner = torch.tensor(owners)
        total = torch.zeros(len(texts), len(self.labels)).index_add_(0, owner, per_window.exp())
        return (total / torch.bincount(owner, minlength=len(texts)).unsqueeze(1)).log()

    def _batch_scores(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return F.log_softmax(self.model(tokens, lengths).float(), dim=1)

    def predict(self, texts: list[str] | str, batch_size: int = 64,
                min_confidence: float | None = None) -> list[dict]:
        """[{"label", "confidence", "probabilities", "empty"}] per text.

        An empty or whitespace-only text still gets a prediction (from the model's bias), marked
        ``empty: True`` so a caller can tell it apart. ``min_confidence``: see ``abstain``.
        """
        return _predictions(self, texts, batch_size, min_confidence)


def calibrated_probabilities(scores: torch.Tensor, temperature: float) -> torch.Tensor:
    """softmax(scores / temperature) in float32; temperature 1 gives the raw probabilities."""
    if temperature == 1.0:
        return F.softmax(scores, dim=1)
    return F.softmax(scores.double() / temperature, dim=1).float()


def _temperature(config: dict) -> float:
    """The checkpoint's fitted temperature (1 when it was never calibrated)."""
    temperature = (config.get("calibration") or {}).get("temperature", 1.0)
    if not (isinstance(temperature, (int, float)) and 0 < temperature < float("inf")):
        raise checkpoint.CheckpointError(
            f"config.json's calibration temperature must be a positive number, got "
            f"{temperature!r}; recalibrate with 'gatedrnn sentiment calibrate'")
    return float(temperature)


class _WholeTextPredictor:
    """What the non-recurrent classifiers share: a model and the index that turns a whole
    text into its ids (crops and other reading options do not apply)."""

    def __init__(self, model, index, labels: list[str], source: str = "",
                 temperature: float = 1.0):
        self.model = model.eval()
        self.index = index
        self.labels = labels
        self.source = source
        self.temperature = temperature

    def _encode(self, texts: list[str]) -> list[list[int]]:
        documents = []
        for text in texts:
            if not isinstance(text, str):
                raise TypeError(f"texts must be strings, got {type(text).__name__}")
            documents.append(self.index.encode(basic_english(text[:MAX_TEXT_CHARS])))
        return documents

    def probabilities(self, texts: list[str], batch_size: int = 64, **ignored) -> torch.Tensor:
        """(N, 2) probabilities (``crops`` and other reading options do not apply)."""
        return calibrated_probabilities(self.scores(texts, batch_size), self.temperature)

    def predict(self, texts: list[str] | str, batch_size: int = 64,
                min_confidence: float | None = None) -> list[dict]:
        return _predictions(self, texts, batch_size, min_confidence)


class NgramPredictor(_WholeTextPredictor):
    """An n-gram classifier (``--preset nbsvm``) behind the Predictor interface.

    ``Predictor.load`` returns one for an n-gram checkpoint, so it predicts, evaluates, serves
    and joins ensembles like a recurrent classifier. It reads every review whole (crops do not
    apply) and has no gates or embeddings to explain.
    """

    @classmethod
    def load(cls, directory: Path, config: dict, temperature: float = 1.0) -> "NgramPredictor":
        from .models.ngram import NgramClassifier, NgramConfig, NgramIndex
        grams = checkpoint.load_vocab_tokens(directory)
        model_config = NgramConfig.from_dict(config["model"])
        checkpoint.check_vocab(directory, config, Vocab.fingerprint_of(grams),
                               model_config.vocab_size, len(grams), "n-grams")
        model = checkpoint.load_into(NgramClassifier(model_config), directory)
        return cls(model, NgramIndex(grams, model_config.max_n),
                   config.get("labels", list(imdb.LABELS)), str(directory), temperature)

    @torch.inference_mode()
    def scores(self, texts: list[str], batch_size: int = 64, **ignored) -> torch.Tensor:
        """(N, 2) raw log-probabilities."""
        out = torch.empty(len(texts), len(self.labels))
        for start in range(0, len(texts), max(1, batch_size)):
            documents = self._encode(texts[start:start + batch_size])
            logits = self.model(*self.index.batch(documents))
            out[start:start + len(documents)] = F.log_softmax(logits.float(), dim=1)
        return out


class DocVectorPredictor(_WholeTextPredictor):
    """A document-vector classifier (``--preset dv-ngram``) behind the Predictor interface:
    each review's vector is inferred (models.docvec), then classified. It reads every review
    whole (crops do not apply)."""

    @classmethod
    def load(cls, directory: Path, config: dict,
             temperature: float = 1.0) -> "DocVectorPredictor":
        from .models.docvec import DocVectorConfig, DocVectorIndex, DocVectorModel
        tokens = checkpoint.load_vocab_tokens(directory)
        model_config = DocVectorConfig.from_dict(config["model"])
        checkpoint.check_vocab(directory, config, Vocab.fingerprint_of(tokens),
                               model_config.vocab_size, len(tokens), "tokens")
        model = checkpoint.load_into(DocVectorModel(model_config), directory)
        return cls(model, DocVectorIndex(tokens, model_config.max_n),
                   config.get("labels", list(imdb.LABELS)), str(directory), temperature)

    @torch.inference_mode()
    def scores(self, texts: list[str], batch_size: int = 64, **ignored) -> torch.Tensor:
        """(N, 2) raw log-probabilities."""
        documents = self._encode(texts)
        if not documents:
            return torch.empty(0, len(self.labels))
        return F.log_softmax(self.model(self.model.infer(documents)).float(), dim=1)


def _crops(ids: list[int], crops: int, length: int) -> list[list[int]]:
    if crops == 1 or len(ids) <= length:
        return [ids]
    last_start = len(ids) - length
    starts = sorted({round(k * last_start / (crops - 1)) for k in range(crops)})
    return [ids[s:s + length] for s in starts]


UNCERTAIN = "uncertain"


def abstain(result: dict, min_confidence: float | None) -> dict:
    """A prediction whose confidence is below ``min_confidence`` becomes ``label:
    "uncertain"``; its most likely class stays in ``best_guess`` (a confidence equal to the
    threshold is kept)."""
    if min_confidence is None:
        return result
    if not 0 <= min_confidence <= 1:
        raise ValueError(f"min_confidence must be in [0, 1], got {min_confidence}")
    if result["confidence"] >= min_confidence:
        return {**result, "uncertain": False}
    return {**result, "label": UNCERTAIN, "best_guess": result["label"], "uncertain": True}


def _predictions(model, texts, batch_size: int, min_confidence: float | None = None) -> list[dict]:
    if isinstance(texts, str):
        texts = [texts]
    if min_confidence is not None and not 0 <= min_confidence <= 1:
        raise ValueError(f"min_confidence must be in [0, 1], got {min_confidence}")
    probabilities = model.probabilities(list(texts), batch_size)
    results = []
    for text, p in zip(texts, probabilities):
        best = int(p.argmax())
        result = {"label": model.labels[best], "confidence": float(p[best]),
                  "probabilities": {l: float(v) for l, v in zip(model.labels, p)},
                  "empty": not text.strip()}
        results.append(abstain(result, min_confidence))
    return results


# How an Ensemble combines its members' raw log-probabilities into its own scores.
RULES = ("mean", "log-odds", "stacked")
LOG_ODDS_LIMIT = math.log((1 - 1e-7) / 1e-7)  # the stacking regression's inputs stay within


class Ensemble:
    """Several sentiment checkpoints read as one model.

    Each member keeps its own vocabulary, so checkpoints trained differently (another preset,
    pretrained vectors, a language-model start) combine freely. ``rule`` combines them:
    "mean" averages their probabilities, "log-odds" their log-probabilities (a confident
    member counts for more), "stacked" weighs their log-odds by ``weights`` (+ ``bias``), as
    a logistic regression fitted on validation (two classes only).

    Calibrated as a whole (``temperature`` set: an ensemble directory made by
    ``gatedrnn sentiment calibrate``): softmax(combined raw scores / temperature). Without a
    temperature (checkpoints listed on the command line) the members' own calibrated
    probabilities are averaged.
    """

    def __init__(self, members: list[Predictor], rule: str = "mean",
                 weights: list[float] | None = None, bias: float = 0.0,
                 temperature: float | None = None, source: str | None = None):
        if not members:
            raise ValueError("an ensemble needs at least one checkpoint")
        if rule not in RULES:
            raise ValueError(f"unknown ensemble rule {rule!r}; choose one of {', '.join(RULES)}")
        labels = members[0].labels
        for member in members[1:]:
            if member.labels != labels:
                raise ValueError(f"{member.source} predicts {member.labels}, "
                                 f"{members[0].source} predicts {labels}: they cannot be averaged")
        if rule == "stacked" and (len(labels) != 2 or weights is None
                                  or len(weights) != len(members)):
            raise ValueError(f"a stacked ensemble needs two classes and one weight per member "
                             f"({len(members)}), got {len(labels)} classes and weights {weights}")
        if rule != "mean" and temperature is None:
            temperature = 1.0  # only "mean" has a member-calibrated reading
        self.members = members
        self.labels = labels
        self.rule = rule
        self.weights = None if weights is None else [float(w) for w in weights]
        self.bias = float(bias)
        self.temperature = temperature
        self.source = source or " + ".join(m.source for m in members)

    @classmethod
    def load(cls, paths: list[str | Path], calibrated: bool = True) -> "Ensemble":
        """The checkpoints at ``paths``, their probabilities averaged."""
        return cls([Predictor.load(p, calibrated) for p in paths])

    @classmethod
    def load_directory(cls, directory: Path, config: dict, calibrated: bool = True) -> "Ensemble":
        """An ensemble directory: config.json names the members (paths relative to it), the
        rule, its weights and the temperature fitted for the whole."""
        members = []
        for name in config.get("members") or []:
            path = Path(name) if Path(name).is_absolute() else directory / name
            try:
                members.append(Predictor.load(path, calibrated=False))
            except checkpoint.CheckpointError as exc:
                raise checkpoint.CheckpointError(
                    f"{directory} is an ensemble whose member {name} cannot be loaded: {exc}"
                ) from exc
        if not members:
            raise checkpoint.CheckpointError(f"{directory}/config.json names no members")
        return cls(members, config.get("rule", "mean"), config.get("weights"),
                   config.get("bias", 0.0), _temperature(config) if calibrated else 1.0,
                   source=str(directory))

    def scores(self, texts: list[str], batch_size: int = 64, **options) -> torch.Tensor:
        """(N, classes) the members' raw scores combined by the rule (before the temperature)."""
        per_member = torch.stack([m.scores(texts, batch_size, **options)
                                  for m in self.members])
        return combine_scores(per_member, self.rule, self.weights, self.bias)

    def probabilities(self, texts: list[str], batch_size: int = 64, **options) -> torch.Tensor:
        if self.temperature is None:  # no fitted temperature: the members' own, averaged
            return torch.stack([m.probabilities(texts, batch_size, **options)
                                for m in self.members]).mean(0)
        return calibrated_probabilities(self.scores(texts, batch_size, **options),
                                        self.temperature)

    def predict(self, texts: list[str] | str, batch_size: int = 64,
                min_confidence: float | None = None) -> list[dict]:
        return _predictions(self, texts, batch_size, min_confidence)


def combine_scores(per_member: torch.Tensor, rule: str, weights: list[float] | None = None,
                   bias: float = 0.0) -> torch.Tensor:
    """(members, N, classes) raw log-probabilities → the ensemble's (N, classes) scores."""
    if rule == "mean":
        return per_member.exp().mean(0).clamp_min(1e-38).log()
    if rule == "log-odds":
        return per_member.mean(0)
    # clamped as where the weights are fitted (probabilities kept within 1e-7 of 0 and 1)
    log_odds = (per_member[..., 1] - per_member[..., 0]).double().clamp(-LOG_ODDS_LIMIT,
                                                                        LOG_ODDS_LIMIT)
    z = torch.tensor(weights, dtype=torch.float64) @ log_odds + bias
    return torch.stack([torch.zeros_like(z), z], 1).float()


def save_ensemble(directory: str | Path, members: list[str | Path], rule: str = "mean",
                  weights: list[float] | None = None, bias: float = 0.0,
                  calibration: dict | None = None, extra: dict | None = None) -> Path:
    """Write an ensemble directory (config.json only: the members stay where they are, named
    relative to it when they can be) that loads like one checkpoint."""
    import json

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    names = []
    for member in members:
        resolved = resolve_checkpoint(member).resolve()
        names.append(os.path.relpath(resolved, directory.resolve()))
    config = {"format": checkpoint.FORMAT, "version": checkpoint.VERSION, "task": TASK,
              "model_type": "ensemble", "labels": list(imdb.LABELS), "members": names,
              "rule": rule, "weights": weights, "bias": bias, "calibration": calibration,
              **(extra or {})}
    Ensemble.load_directory(directory, json.loads(json.dumps(config)))  # refuse a broken one
    checkpoint.write_json_atomic(directory / "config.json", config)
    return directory


def evaluate(predictor: Predictor | Ensemble, texts: list[str], labels: list[int],
             batch_size: int = 128, crops: int = 1, crop_length: int = 400,
             keep_raw_report: bool = False) -> dict:
    """Accuracy, loss, per-class precision/recall/F1, the confusion matrix, and calibration:
    ECE, Brier score, the reliability bins and the accuracy–coverage curve, and the raw
    scores' ECE, Brier and NLL where a temperature applies (their whole report too with
    ``keep_raw_report``, as ``calibration.raw_report``; ``crops``: see ``Predictor.scores``)."""
    from .train import calibration

    if not texts:
        raise ValueError("nothing to evaluate: no texts")
    temperature = getattr(predictor, "temperature", None)
    scores = None
    if temperature is None:  # an ad-hoc ensemble: its members' calibrated probabilities
        probabilities = predictor.probabilities(texts, batch_size, crops=crops,
                                                crop_length=crop_length)
    else:  # one pass: the raw scores serve both the calibrated and the raw report
        scores = predictor.scores(texts, batch_size, crops=crops, crop_length=crop_length)
        probabilities = calibrated_probabilities(scores, temperature)
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
    report = calibration.report(probabilities, target)
    if temperature not in (None, 1.0):  # what the raw scores would have scored
        raw = F.softmax(scores, dim=1)
        raw_report = calibration.report(raw, target)
        report["uncalibrated"] = {key: value for key, value in raw_report.items()
                                  if key in ("ece", "brier", "nll")}
        if keep_raw_report:
            report["raw_report"] = raw_report
    report["temperature"] = temperature
    return {"accuracy": accuracy, "loss": loss, "count": len(texts), "per_class": per_class,
            "confusion_matrix": {"labels": predictor.labels, "rows_true_cols_predicted":
                                 confusion.tolist()},
            "calibration": report, "checkpoint": predictor.source}


def calibrate(predictor: Predictor | Ensemble, texts: list[str], labels: list[int],
              batch_size: int = 128) -> dict:
    """Fit the predictor's temperature on (texts, labels) — the validation split — from its
    raw scores, set it, and return the record a checkpoint keeps (``calibration``)."""
    from .train import calibration

    if not texts:
        raise ValueError("nothing to calibrate on: no texts")
    record = calibration.fit_and_report(predictor.scores(texts, batch_size),
                                        torch.tensor(labels))
    predictor.temperature = record["temperature"]
    return record


def calibrate_checkpoint(path: str | Path, texts: list[str], labels: list[int],
                         split: str = "validation") -> dict:
    """Fit the temperature of the checkpoint at ``path`` on (texts, labels) and store it in
    its config.json (atomically); returns the record."""
    directory = resolve_checkpoint(path)
    record = {**calibrate(Predictor.load(directory, calibrated=False), texts, labels),
              "split": split}
    checkpoint.update_config(directory, calibration=record)
    return record


def load(path: str | Path = DEFAULT_OUT, calibrated: bool = True) -> Predictor:
    """``gatedrnn.load(path).predict([...])``."""
    return Predictor.load(path, calibrated)


__all__ = ["PRESETS", "Ensemble", "Preset", "Predictor", "abstain", "calibrate",
           "calibrate_checkpoint", "evaluate", "load", "save_ensemble", "train",
           "resolve_checkpoint"]
