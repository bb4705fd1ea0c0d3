"""The language-model presets: each a model and how it pretrains.

Plain data, importable without torch: the command line lists these names and descriptions in
its help.
"""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_PRESET = "awd"


@dataclass
class LanguageModelPreset:
    """A word-level language model and how it pretrains (gatedrnn.lm.pretrain)."""

    description: str
    vocab_size: int
    bptt: int
    model: dict = field(default_factory=dict)   # LanguageModelConfig fields
    fit: dict = field(default_factory=dict)     # FitConfig fields


PRESETS = {
    # Sized for 2 CPU cores (benchmarks/lm_pretraining.py, results/lm_pretraining.json): one
    # epoch over the 74,250 reviews (20.1M tokens) took 26 min at 13.3k tokens/s on one core,
    # with the backward model beside it on the other (26.5k tokens/s together); held-out
    # perplexity 110.
    "awd": LanguageModelPreset(
        "an AWD-LSTM-style word LM for 2 CPU cores: vocab 30k, embedding 256, one LSTM layer of "
        "512, weight dropout 0.2 on the hidden-to-hidden matrix, locked dropout 0.1 on input "
        "and output, whole-word embedding dropout 0.02, adaptive softmax; windows of 70 "
        "tokens, batch 64, Adam 3e-3 on slanted triangular rates, bf16, 1 epoch",
        vocab_size=30_000, bptt=70,
        model={"embedding_dim": 256, "hidden_size": 512, "num_layers": 1,
               "bidirectional": False, "dropout": 0.1, "embedding_dropout": 0.1,
               "locked_dropout": True, "weight_dropout": 0.2, "word_embedding_dropout": 0.02,
               "cutoffs": [500, 2_000, 10_000]},
        fit={"epochs": 1, "batch_size": 64, "lr": 3e-3, "clip": 1.0, "scheduler": "slanted",
             "bf16": True, "eval_batch_size": 128}),
    "awd-tiny": LanguageModelPreset(
        "the awd preset at toy size, for tests: vocab 2k, embedding 16, one LSTM layer of 16, "
        "windows of 20 tokens, 1 epoch",
        vocab_size=2_000, bptt=20,
        model={"embedding_dim": 16, "hidden_size": 16, "num_layers": 1,
               "bidirectional": False, "dropout": 0.1, "embedding_dropout": 0.1,
               "locked_dropout": True, "weight_dropout": 0.2, "word_embedding_dropout": 0.02},
        fit={"epochs": 1, "batch_size": 16, "lr": 1e-2, "clip": 1.0, "scheduler": "slanted"}),
}
