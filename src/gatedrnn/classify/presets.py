"""The text-classification presets: each one model and how it trains (plain data, no torch:
the command line lists them in its help). The recurrent ones share the sentiment ``fast``
preset's shape (IMDb: 90.4% test in ~7 min), sized for sets of thousands of sentences: more
epochs, early stopping on validation accuracy."""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_PRESET = "bilstm"


@dataclass
class Preset:
    """One model and how it trains."""

    description: str
    vocab_size: int
    model: dict = field(default_factory=dict)
    fit: dict = field(default_factory=dict)
    kind: str = "recurrent"  # the registered model kind that trains it (gatedrnn.registry)


_ENCODER = {"embedding_dim": 128, "hidden_size": 128, "num_layers": 1, "bidirectional": True,
            "dropout": 0.5, "embedding_dropout": 0.2, "pooling": "attention", "padding_idx": 0}
_FIT = {"epochs": 8, "batch_size": 32, "lr": 2e-3, "clip": 1.0, "scheduler": "cosine",
        "max_length": 400, "patience": 3}

# What a recurrent preset adds when unlabelled texts are given (``--unlabelled``): Sachan et
# al.'s mixed objective (AAAI 2019), entropy minimisation and virtual adversarial training on
# the unlabelled texts, adversarial training on the labelled ones (train/semi_supervised.py).
# Sizes relative to one token's embedding norm; 0.3 is Miyato et al.'s ε = 5 on their
# normalised 256-d embeddings (train/adversarial.py).
UNLABELLED_FIT = {"entropy_minimisation": 1.0, "virtual_adversarial": 0.3, "adversarial": 0.3}

PRESETS = {
    "bilstm": Preset(
        "one BiLSTM layer of 128 over a 30k-token vocabulary, attention pooling, embedding "
        "dropout 0.2, dropout 0.5, Adam 2e-3 cosine, batch 32, up to 8 epochs with early "
        "stopping (patience 3), texts cut to 400 tokens in training",
        vocab_size=30_000, model={**_ENCODER, "mode": "LSTM"}, fit=dict(_FIT)),
    "bigru": Preset(
        "the bilstm preset with a GRU: one BiGRU layer of 128 (a quarter fewer recurrent "
        "weights; the chapter's advice: when unsure, try both)",
        vocab_size=30_000, model={**_ENCODER, "mode": "GRU"}, fit=dict(_FIT)),
    "linear": Preset(
        "TF-IDF over words and word pairs (sublinear counts, unit length) with a logistic "
        "regression, C chosen on validation among 0.3, 1, 3, 10, 30 (scikit-learn fits it; "
        "seconds on 10,000 sentences)",
        vocab_size=500_000, kind="linear", model={"max_n": 2, "C": [0.3, 1.0, 3.0, 10.0, 30.0]}),
    "tiny": Preset(
        "a tiny BiLSTM for tests: embedding 16, hidden 16, max pooling, 3 epochs",
        vocab_size=2_000,
        model={"embedding_dim": 16, "hidden_size": 16, "num_layers": 1, "bidirectional": True,
               "dropout": 0.0, "pooling": "max", "mode": "LSTM"},
        fit={"epochs": 3, "batch_size": 16, "lr": 1e-2, "clip": 5.0}),
}
