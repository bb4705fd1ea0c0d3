"""Training a sentiment classifier: the recurrent presets (through the Trainer), the n-gram
and document-vector presets (fitted in one go), word vectors, and the calibration that ends
every run."""

from __future__ import annotations

import random
import time
from collections import Counter
from dataclasses import asdict
from pathlib import Path

import torch

from ..data import imdb
from ..data.text import Vocab, basic_english
from ..data.vectors import embedding_matrix, load_vectors
from ..models.classifier import ClassifierConfig, SentimentClassifier
from ..models.language_model import ENCODER_FIELDS, LanguageModelConfig
from ..models.language_model import TASK as LM_TASK
from ..runinfo import environment, rss_mb
from ..train import checkpoint
from ..train.loop import Encoded, FitConfig, Trainer
from .common import DEFAULT_OUT, TASK, TOKENIZER
from .evaluation import calibrate_checkpoint
from .predict import NgramPredictor, encode_texts
from .presets import DEFAULT_PRESET, PRESETS
from .teachers import _teacher_labelled, _teacher_soft_labels, _unlabelled_subset


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
    if chosen.needs_language_model and init_from is None:
        raise ValueError(f"preset {preset} fine-tunes a pretrained language model: pass "
                         f"init_from (--init-from), e.g. a run of 'gatedrnn lm pretrain'")
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
    from ..models import ngram
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
    from ..models import docvec
    from ..models.ngram import _require_scikit_learn
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
    from ..data.vectors import save_word2vec_text, train_word2vec
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
    directory, config = checkpoint.open_for_task(
        path, LM_TASK, "a pretrained language model",
        "make one with 'gatedrnn lm pretrain --data PATH'")
    vocab = Vocab(checkpoint.load_vocab_tokens(directory))
    lm_config = LanguageModelConfig.from_dict(config["model"])
    checkpoint.check_vocab(directory, config, vocab.fingerprint(), lm_config.vocab_size,
                           len(vocab), "tokens")
    weights = {k: v for k, v in checkpoint.load_weights(directory).items()
               if k.startswith(("embedding.", "encoder."))}
    shape = {k: getattr(lm_config, k) for k in ENCODER_FIELDS}
    return {"directory": directory, "vocab": vocab, "shape": shape, "weights": weights}




def _balanced_subset(reviews, n: int, seed: int):
    rng = random.Random(seed)
    by_label = {0: [r for r in reviews if r.label == 0], 1: [r for r in reviews if r.label == 1]}
    for group in by_label.values():
        rng.shuffle(group)
    return by_label[0][: n // 2] + by_label[1][: n - n // 2]
