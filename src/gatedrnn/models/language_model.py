"""A word-level language model whose embedding and encoder are a SentimentClassifier's.

The forward direction of the encoder predicts each next word, the reverse direction each
previous word (a bidirectional LM, as ELMo pretrains). Because the parameter names are the
classifier's (``embedding.weight``, ``encoder.weight_ih_l0``, ``encoder.weight_ih_l0_reverse``,
…), a pretrained LM initialises a classifier of the same shape directly.

The output layer is an adaptive softmax (Grave et al. 2017, ``nn.AdaptiveLogSoftmaxWithLoss``):
frequent words get a full-size softmax, rare words smaller projections in clusters, so a 25k-word
output costs a fraction of a full softmax on a CPU.
"""

from __future__ import annotations

from collections import namedtuple
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from .classifier import ENCODERS
from .config import StoredConfig

# What a language model's checkpoint says it is (config.json "task"): pretraining writes it,
# a classifier that starts from the model checks it.
TASK = "language-model"
# The fields a language model shares with the classifier it initialises.
ENCODER_FIELDS = ("embedding_dim", "hidden_size", "num_layers", "bidirectional", "mode")


@dataclass
class LanguageModelConfig(StoredConfig):
    KIND = "language model"

    vocab_size: int
    embedding_dim: int = 128
    hidden_size: int = 128
    num_layers: int = 1
    bidirectional: bool = True
    mode: str = "LSTM"
    dropout: float = 0.1
    embedding_dropout: float = 0.1
    padding_idx: int | None = 0
    cutoffs: list[int] = field(default_factory=lambda: [500, 2_000, 10_000])
    div_value: float = 4.0

    def __post_init__(self):
        if self.mode not in ENCODERS:
            raise ValueError(f"mode must be one of {', '.join(ENCODERS)}, got {self.mode!r}")
        if self.bidirectional and self.num_layers > 1:
            # torch's (and our) stacked bidirectional layers feed both directions of layer 1 to
            # each direction of layer 2, so layer 2's forward direction would see the next word.
            raise ValueError("a bidirectional language model must have one layer: in a stacked "
                             "bidirectional encoder the upper layers see both directions, so the "
                             "forward direction could read the word it predicts. Pretrain a "
                             "1-layer bidirectional or an n-layer unidirectional encoder")
        self.cutoffs = [c for c in self.cutoffs if c < self.vocab_size - 1]


class LanguageModel(nn.Module):
    """Token ids (B, T) and lengths → mean negative log-likelihood of the predicted words."""

    def __init__(self, config: LanguageModelConfig):
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(config.vocab_size, config.embedding_dim,
                                      padding_idx=config.padding_idx)
        self.embedding_dropout = nn.Dropout(config.embedding_dropout)
        self.encoder = ENCODERS[config.mode](
            config.embedding_dim, config.hidden_size, num_layers=config.num_layers,
            bidirectional=config.bidirectional, batch_first=True,
            dropout=config.dropout if config.num_layers > 1 else 0.0)
        self.dropout = nn.Dropout(config.dropout)
        self.next_word = self._head()
        self.previous_word = self._head() if config.bidirectional else None

    def _head(self) -> nn.AdaptiveLogSoftmaxWithLoss:
        c = self.config
        if c.cutoffs:
            return nn.AdaptiveLogSoftmaxWithLoss(c.hidden_size, c.vocab_size, c.cutoffs,
                                                 div_value=c.div_value)
        return _FullSoftmax(c.hidden_size, c.vocab_size)

    def encoder_state_dict(self) -> dict[str, Tensor]:
        """The weights a classifier takes over: ``embedding.*`` and ``encoder.*``."""
        return {k: v for k, v in self.state_dict().items()
                if k.startswith(("embedding.", "encoder."))}

    def forward(self, tokens: Tensor, lengths: Tensor, *, count_correct: bool = False):
        """(mean loss over predicted words, words predicted correctly or 0, words predicted)."""
        embedded = self.embedding_dropout(self.embedding(tokens))
        output = self.encoder(embedded, lengths=lengths, need_cell_state=False)[0]
        output = self.dropout(output).float()
        steps = tokens.shape[1]
        # A word at t + 1 < length is predicted from position t (forward) and predicts t back.
        pairs = (torch.arange(1, steps, device=tokens.device).unsqueeze(0)
                 < lengths.unsqueeze(1))
        hidden = self.config.hidden_size
        predictions = [(self.next_word, output[:, :-1, :hidden][pairs], tokens[:, 1:][pairs])]
        if self.previous_word is not None:
            predictions.append((self.previous_word, output[:, 1:, hidden:][pairs],
                                tokens[:, :-1][pairs]))
        total, correct, count = output.new_zeros(()), 0, 0
        for head, states, targets in predictions:
            if targets.numel() == 0:
                continue
            total = total + head(states, targets).loss * targets.numel()
            count += targets.numel()
            if count_correct:
                correct += int((head.predict(states) == targets).sum())
        return total / max(1, count), correct, count


_Output = namedtuple("_Output", ["output", "loss"])


class _FullSoftmax(nn.Module):
    """A plain softmax with the adaptive softmax's interface (for vocabularies too small to
    split)."""

    def __init__(self, features: int, classes: int):
        super().__init__()
        self.linear = nn.Linear(features, classes)

    def forward(self, states: Tensor, targets: Tensor) -> _Output:
        log_probs = torch.log_softmax(self.linear(states), dim=-1)
        picked = log_probs.gather(1, targets.unsqueeze(1)).squeeze(1)
        return _Output(picked, -picked.mean())

    def predict(self, states: Tensor) -> Tensor:
        return self.linear(states).argmax(-1)
