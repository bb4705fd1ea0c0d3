"""The tagger presets: each one model and how it trains (a recipe, in recipes.py, is a whole
system built by one command).

Plain data, importable without torch, so that the command line's help answers at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Preset:
    description: str
    model: dict = field(default_factory=dict)
    fit: dict = field(default_factory=dict)
    lowercase: bool = False  # word embeddings for lowercased forms


PRESETS = {
    "bilstm": Preset(
        "lowercased word embedding 100 + character BiLSTM 2×100 (case kept) → BiLSTM 2×256, "
        "dropout 0.33, word dropout 0.25, UPOS and XPOS heads, label smoothing 0.1, Adam 2e-3 "
        "(β2 0.9) cosine, batch 32 sentences, 16 epochs, bfloat16 autocast, moving average of "
        "the weights (0.999) for evaluation",
        model={"word_dim": 100, "char_encoder": "lstm", "char_dim": 50, "char_hidden": 100,
               "hidden_size": 256, "num_layers": 2, "bidirectional": True, "mode": "LSTM",
               "dropout": 0.33, "word_dropout": 0.25},
        fit={"epochs": 16, "batch_size": 32, "lr": 2e-3, "adam_beta2": 0.9, "clip": 5.0,
             "scheduler": "cosine", "ema_decay": 0.999, "label_smoothing": 0.1, "bf16": True},
        lowercase=True),
    "tiny": Preset(
        "a tiny tagger for tests: word 16, char CNN 16, BiLSTM 1×32, 3 epochs",
        model={"word_dim": 16, "char_encoder": "cnn", "char_dim": 8, "char_hidden": 16,
               "hidden_size": 32, "num_layers": 1, "dropout": 0.0, "word_dropout": 0.0},
        fit={"epochs": 3, "batch_size": 8, "lr": 1e-2, "clip": 5.0}),
}
