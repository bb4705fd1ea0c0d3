"""The entity tagger presets: each one model and how it trains.

A preset sets the number of optimizer steps, not of epochs: epochs = steps / batches per
epoch, within [min_epochs, max_epochs], so a small data set gets more passes over it and a
large one fewer, for about the same training. Model selection keeps the epoch of the best
validation entity F1.

Plain data, importable without torch, so that the command line's help answers at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..tagging.presets import epochs_for


@dataclass
class Preset:
    description: str
    model: dict = field(default_factory=dict)
    fit: dict = field(default_factory=dict)
    steps: int = 4000
    min_epochs: int = 3
    max_epochs: int = 60
    lowercase: bool = False  # word embeddings for lowercased forms (characters keep case)

    def epochs_for(self, sentences: int, batch_size: int | None = None) -> int:
        """Epochs for ``sentences`` training sentences: ``steps`` batches, within bounds."""
        return epochs_for(sentences, batch_size or self.fit["batch_size"], self.steps,
                          self.min_epochs, self.max_epochs)


PRESETS = {
    "bilstm-crf": Preset(
        "lowercased word embedding 100 + character BiLSTM 2×25 (case kept) → BiLSTM 2×100 → "
        "CRF with IOB2's transitions (Lample et al. 2016), dropout 0.5, word dropout 0.05 and "
        "α = 0.25 for rare words, Adam 3e-3 cosine, batch 16 sentences, 4,000 steps (3 to 60 "
        "epochs)",
        model={"word_dim": 100, "char_encoder": "lstm", "char_dim": 25, "char_hidden": 25,
               "hidden_size": 100, "num_layers": 1, "mode": "LSTM", "dropout": 0.5,
               "word_dropout": 0.05, "word_dropout_alpha": 0.25},
        fit={"batch_size": 16, "lr": 3e-3, "clip": 5.0, "scheduler": "cosine"},
        steps=4000, lowercase=True),
    "tiny": Preset(
        "a tiny entity tagger for tests: word 16, char CNN 16, BiLSTM 1×16, CRF",
        model={"word_dim": 16, "char_encoder": "cnn", "char_dim": 8, "char_hidden": 16,
               "hidden_size": 16, "num_layers": 1, "dropout": 0.0, "word_dropout": 0.0},
        fit={"batch_size": 8, "lr": 2e-2, "clip": 5.0},
        steps=30, min_epochs=3, max_epochs=8),
}
