"""Training a sentiment classifier: the recurrent presets (through the Trainer), word vectors,
and the calibration that ends every run. Kinds fitted in one go (n-gram, document vectors)
bring their own ``train`` (kinds/), which ``train`` hands their presets to."""

from __future__ import annotations

import random
import time
from pathlib import Path

import torch

from ..data import imdb
from ..data.text import basic_english
from ..classify.training import calibrate_best as calibrate_texts
from ..classify.training import fit_recurrent
from ..data.tokenizers import BasicEnglish
from ..lm.predict import PretrainedLanguageModel
from ..models.language_model import ENCODER_FIELDS
from ..train.loop import FitConfig
from .common import DEFAULT_OUT, TASK, TOKENIZER
from .presets import DEFAULT_PRESET, PRESETS
from .teachers import _teacher_labelled, _unlabelled_subset


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
    A fit with ``entropy_minimisation`` or ``virtual_adversarial`` (the semi preset, or
    ``overrides``) reads the unlabelled reviews (``unlabelled`` of them) and the training ones
    as its stream of unlabelled batches (train/semi_supervised.py).
    """
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    chosen = PRESETS[preset]
    fit = {**chosen.fit, **(overrides or {})}
    semi_supervised = bool(fit.get("entropy_minimisation") or fit.get("virtual_adversarial"))
    if unlabelled is not None and not (teacher or semi_supervised):
        raise ValueError("the unlabelled reviews are read by a teacher (--teacher PATH) or by "
                         "the semi-supervised losses (--entropy-minimisation, "
                         "--virtual-adversarial, or the semi preset)")
    fitted = kind_of_preset(chosen).train
    if fitted is not None:  # a kind fitted in one go by its own module (kinds/), not by epochs
        _refuse_recurrent_options(preset, {
            "resume": resume, "overrides": overrides, "model_overrides": model_overrides,
            "vectors": vectors, "freeze_embeddings": freeze_embeddings, "init_from": init_from})
        return fitted(data, preset, out, seed=seed, validation_fraction=validation_fraction,
                      split_seed=split_seed, split_by=split_by, limit=limit,
                      vocab_size=vocab_size, teacher=teacher, unlabelled=unlabelled,
                      download=download, show_progress=show_progress, log=log)
    if chosen.needs_language_model and init_from is None:
        raise ValueError(f"preset {preset} fine-tunes a pretrained language model: pass "
                         f"init_from (--init-from), e.g. a run of 'gatedrnn lm pretrain'")
    fit_config = FitConfig(**{"seed": seed, **fit})  # an override's seed still wins
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
    dataset, train_reviews, valid_reviews = labelled_split(
        data, validation_fraction, split_seed, limit, download, show_progress,
        unsup=bool(teacher) or semi_supervised, by=split_by)
    train_tokens = [basic_english(r.text) for r in train_reviews]
    train_labels = [r.label for r in train_reviews]
    unlabelled_tokens = None
    if semi_supervised:  # the unlabelled reviews and the training ones, never validation
        unlabelled_tokens = [basic_english(r.text) for r in _unlabelled_subset(
            dataset.unsup, unlabelled, split_seed)] + train_tokens
    targets = None
    if teacher:
        taught_tokens, soft = _teacher_labelled(dataset, teacher, unlabelled, split_seed,
                                                split_by, show_progress, log)
        classes = soft.shape[1]
        targets = ([[float(k == label) for k in range(classes)] for label in train_labels]
                   + soft.tolist())
        train_tokens = train_tokens + taught_tokens
        train_labels += soft.argmax(1).tolist()
    pretrained = None
    if init_from is not None:
        pretrained = _open_language_model(init_from)
    return fit_recurrent(
        train_tokens, train_labels, [r.text for r in valid_reviews],
        [r.label for r in valid_reviews], out, task=TASK, labels=list(imdb.LABELS),
        preset=chosen, preset_name=preset, fit_config=fit_config, tokenizer=BasicEnglish(),
        tokenizer_config=TOKENIZER, model_overrides=model_overrides, vocab_size=vocab_size,
        vectors=vectors, freeze_embeddings=freeze_embeddings, pretrained=pretrained,
        targets=targets, unlabelled_tokens=unlabelled_tokens, resume=resume, started=started,
        source=dataset.source,
        train_note=(f" ({len(train_tokens) - len(train_reviews)} of them teacher-labelled)"
                    if teacher else ""), noun="reviews",
        extra_config={"validation_split_seed": split_seed, "validation_split_by": split_by,
                      "distilled_from": ({"teacher": [str(t) for t in teacher],
                                          "unlabelled_reviews": len(train_tokens)
                                          - len(train_reviews)} if teacher else None)},
        show_progress=show_progress, log=log)


def calibrate_best(out, valid_reviews, log) -> dict:
    """Temperature scaling of OUT/best on the validation reviews, stored in its config."""
    return calibrate_texts(out, [r.text for r in valid_reviews], [r.label for r in valid_reviews],
                           "reviews", log)


def labelled_split(data, validation_fraction, split_seed, limit, download, show_progress,
                    unsup=False, by="review"):
    dataset = imdb.load(data, download=download, show_progress=show_progress, unsup=unsup)
    train_reviews, valid_reviews = imdb.validation_split(dataset.train, validation_fraction,
                                                         split_seed, by=by)
    if limit:
        train_reviews = _balanced_subset(train_reviews, limit, split_seed)
        valid_reviews = _balanced_subset(valid_reviews, max(2, limit // 5), split_seed)
    return dataset, train_reviews, valid_reviews


def kind_of_preset(preset):
    """The registered model kind a preset trains (gatedrnn.registry): a recurrent one (the
    Trainer, here) or one that brings its own ``train``."""
    from ..registry import is_recurrent, kind
    chosen = kind(TASK, preset.kind)
    if chosen.train is None and not is_recurrent(chosen.name):
        raise ValueError(f"a preset of kind {chosen.name} cannot be trained: that kind is "
                         "built from other checkpoints (see its module in sentiment/kinds/)")
    return chosen


def _refuse_recurrent_options(preset: str, options: dict) -> None:
    given = [name for name, value in options.items()
             if value and name not in ("overrides", "model_overrides")]
    given += [*(options["overrides"] or {}), *(options["model_overrides"] or {})]
    if given:
        raise ValueError(f"preset {preset} is fitted in one go, not trained by epochs; "
                         f"{', '.join(given)} apply to recurrent presets only")


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
    language_model = PretrainedLanguageModel.load(path)
    weights = {k: v for k, v in language_model.model.state_dict().items()
               if k.startswith(("embedding.", "encoder."))}
    shape = {k: getattr(language_model.model.config, k) for k in ENCODER_FIELDS}
    return {"directory": Path(language_model.source), "vocab": language_model.vocab,
            "shape": shape, "weights": weights}




def _balanced_subset(reviews, n: int, seed: int):
    rng = random.Random(seed)
    by_label = {0: [r for r in reviews if r.label == 0], 1: [r for r in reviews if r.label == 1]}
    for group in by_label.values():
        rng.shuffle(group)
    return by_label[0][: n // 2] + by_label[1][: n - n // 2]
