"""The tagger presets: each one model and how it trains (a recipe, in recipes.py, is a whole
system built by one command).

A preset with ``steps`` sets the number of optimizer steps, not of epochs: a treebank of any
size gets about as many updates (``epochs_for``), so a small treebank is not stopped while its
validation accuracy still climbs. On EWT (392 batches of 32) it is the 16 epochs measured.

Plain data, importable without torch, so that the command line's help answers at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


def epochs_for(sentences: int, batch_size: int, steps: int, min_epochs: int,
               max_epochs: int) -> int:
    """Epochs that make about ``steps`` batches of ``sentences``, within the bounds."""
    batches = max(1, math.ceil(sentences / batch_size))
    return max(min_epochs, min(max_epochs, math.ceil(steps / batches)))


@dataclass
class Preset:
    description: str
    model: dict = field(default_factory=dict)
    fit: dict = field(default_factory=dict)
    lowercase: bool = False  # word embeddings for lowercased forms
    steps: int | None = None  # None: fit["epochs"] whatever the data's size
    min_epochs: int = 1
    max_epochs: int = 100

    def epochs_for(self, sentences: int, batch_size: int | None = None) -> int:
        """The epochs to train ``sentences`` training sentences for."""
        if self.steps is None:
            return self.fit["epochs"]
        return epochs_for(sentences, batch_size or self.fit["batch_size"], self.steps,
                          self.min_epochs, self.max_epochs)


PRESETS = {
    "bilstm": Preset(
        "lowercased word embedding 100 + character BiLSTM 2×100 (case kept) → BiLSTM 2×256, "
        "dropout 0.33, word dropout 0.25, UPOS and XPOS heads, label smoothing 0.1, Adam 2e-3 "
        "(β2 0.9) cosine, batch 32 sentences, 6,000 steps (16 epochs of EWT; 4 to 80 epochs), "
        "bfloat16 autocast, moving average of the weights (0.999) for evaluation",
        model={"word_dim": 100, "char_encoder": "lstm", "char_dim": 50, "char_hidden": 100,
               "hidden_size": 256, "num_layers": 2, "bidirectional": True, "mode": "LSTM",
               "dropout": 0.33, "word_dropout": 0.25},
        fit={"epochs": 16, "batch_size": 32, "lr": 2e-3, "adam_beta2": 0.9, "clip": 5.0,
             "scheduler": "cosine", "ema_decay": 0.999, "label_smoothing": 0.1, "bf16": True},
        lowercase=True, steps=6000, min_epochs=4, max_epochs=80),
    "tiny": Preset(
        "a tiny tagger for tests: word 16, char CNN 16, BiLSTM 1×32, 3 epochs",
        model={"word_dim": 16, "char_encoder": "cnn", "char_dim": 8, "char_hidden": 16,
               "hidden_size": 32, "num_layers": 1, "dropout": 0.0, "word_dropout": 0.0},
        fit={"epochs": 3, "batch_size": 8, "lr": 1e-2, "clip": 5.0}),
}
