"""The sentiment presets: each one model and how it trains (a recipe, in recipes.py, is a
whole system built by one command, which may train several presets and combine them).

Plain data, importable without torch: the command line lists these names and descriptions in
its help, which must answer at once (gatedrnn.cli imports no heavy module).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..classify import presets as classify_presets

# What `gatedrnn sentiment train` runs without --preset: 3 epochs, ~7 min on 2 cores, 90.38%
# test (README). The chapter's own model and training ("seed") is one flag away and takes ~45 min.
DEFAULT_PRESET = "fast"
CHAPTER_PRESET = "seed"


@dataclass
class Preset(classify_presets.Preset):
    """One model and how it trains; ``kind`` names its registered model kind: "recurrent"
    (SentimentClassifier, trained by the Trainer), "ngram" or "docvec" (fitted in one go)."""

    # Train word vectors on the unlabelled + training reviews first (train_word_vectors
    # options) into OUT/word2vec.vec, unless vectors or init_from are given, and start from them.
    word2vec: dict | None = None
    # Fine-tunes a pretrained language model (init_from), whose shape replaces the model's.
    needs_language_model: bool = False


PRESETS = {
    # The chapter's model and its training, on our pipeline (bucketing, exact variable lengths).
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
    # Our preset for accuracy per CPU-minute.
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

# The best single model of benchmarks/imdb_ablation.py: the fast preset from word vectors
# trained on the unlabelled + training reviews (test 90.91% vs 90.38%, validation 92.20% vs
# 90.80%).
PRESETS["best"] = replace(
    PRESETS["fast"], word2vec={"dim": 128, "epochs": 5},
    description="the fast preset starting from word2vec vectors (skip-gram, 128-d, 5 epochs) "
                "trained first on the 50,000 unlabelled + 25,000 training reviews")

# Learning from the 50,000 unlabelled reviews (Sachan, Zaheer & Salakhutdinov 2019's mixed
# objective, train/semi_supervised.py): the best preset (word2vec on the unlabelled + training
# reviews) with entropy minimisation and virtual adversarial training on batches of the
# unlabelled + training reviews and adversarial training on the labelled ones. Two epochs
# (benchmarks/semi_supervised.py): 91.68% test in 19.0 min. A 10-epoch schedule (stopped after 7)
# gained nothing: validation stayed at 90.8-91.0% from epoch 2 to 6 while training accuracy went
# from 90% to 99%, and fell to 90.4% at epoch 7 (docs/experiment-log.md). Neither 256 units
# (91.31% in 43.7 min) nor word dropout 0.3 over 4 epochs (91.12% in 39.9 min) did better.
PRESETS["semi"] = replace(
    PRESETS["best"], fit={**PRESETS["fast"].fit, "epochs": 2, **classify_presets.UNLABELLED_FIT},
    description="the best preset (BiLSTM 1×128 from word2vec) that also learns from the "
                "50,000 unlabelled reviews: entropy minimisation (weight 1) and virtual "
                "adversarial training (ε 0.3) on them, adversarial training (ε 0.3) on the "
                "labelled ones; 2 epochs of about 9.5 min (91.68% test in 19 min)")

# ULMFiT (Howard & Ruder 2018) on our LM presets: the classifier takes the LM's vocabulary,
# embedding and encoder (its shape and reading direction), pools the last state, the max and
# the mean, and fine-tunes with discriminative rates (÷2.6 per group down), slanted triangular
# rates and gradual unfreezing (epoch 1: the head; 2: + the LSTM; 3-4: everything).
PRESETS["ulmfit"] = Preset(
    "ULMFiT fine-tuning of a pretrained language model (needs --init-from, e.g. from "
    "'gatedrnn lm pretrain'): concat pooling (last, max, mean), dropout 0.4, weight dropout "
    "0.2, Adam 2e-3 with discriminative rates (÷2.6 per layer group) on slanted triangular "
    "rates, gradual unfreezing over 4 epochs, reviews cut to 512 tokens in training, bf16",
    vocab_size=30_000, needs_language_model=True,
    model={"dropout": 0.4, "embedding_dropout": 0.1, "weight_dropout": 0.2,
           "pooling": "concat", "padding_idx": 0},
    fit={"epochs": 4, "batch_size": 32, "lr": 2e-3, "clip": 1.0, "scheduler": "slanted",
         "discriminative_lr": 2.6, "gradual_unfreezing": True, "max_length": 512,
         "bf16": True})

