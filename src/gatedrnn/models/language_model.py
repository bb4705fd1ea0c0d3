"""A word-level language model whose embedding and encoder are a SentimentClassifier's.

Three readings of the text: forward (each next word from the words before it), ``reverse``
(a backward LM: each previous word from the words after it, by running the same forward
encoder over each sequence reversed within its length, as ULMFiT's backward model does), or
``bidirectional`` (one layer whose forward direction predicts the next word and reverse
direction the previous one, as ELMo pretrains). Because the parameter names are the
classifier's (``embedding.weight``, ``encoder.weight_ih_l0``, ``encoder.weight_ih_l0_reverse``,
…), a pretrained LM initialises a classifier of the same shape directly.

The output layer is an adaptive softmax (Grave et al. 2017, ``nn.AdaptiveLogSoftmaxWithLoss``):
frequent words get a full-size softmax, rare words smaller projections in clusters, so a 25k-word
output costs a fraction of a full softmax on a CPU (benchmarks/lm_pretraining.py --softmax
measures it against a full and a sampled softmax). It runs in float32 even under bfloat16
autocast (torch's adaptive softmax does not run in bf16, and the log-probabilities of rare
words want the precision).

The AWD-LSTM regularisers (Merity et al. 2018; gatedrnn.nn.regularisers) are options: weight
dropout on the hidden-to-hidden matrices, whole-word embedding dropout, locked (variational)
dropout on the embedded input and the encoder's output, and tied input/output embeddings
(with a full softmax).
"""

from __future__ import annotations

from collections import namedtuple
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from ..nn.lengths import reverse_within_lengths
from ..nn.regularisers import LockedDropout, embedding_dropout, tie_weights
from .classifier import ENCODERS
from .config import StoredConfig

# The fields a language model shares with the classifier it initialises.
ENCODER_FIELDS = ("embedding_dim", "hidden_size", "num_layers", "bidirectional", "mode",
                  "reverse")


@dataclass
class LanguageModelConfig(StoredConfig):
    KIND = "language model"

    vocab_size: int
    embedding_dim: int = 128
    hidden_size: int = 128
    num_layers: int = 1
    bidirectional: bool = True
    mode: str = "LSTM"
    dropout: float = 0.1            # on the encoder's output (and between layers)
    embedding_dropout: float = 0.1  # on the embedded input
    padding_idx: int | None = 0
    cutoffs: list[int] = field(default_factory=lambda: [500, 2_000, 10_000])  # []: full softmax
    div_value: float = 4.0
    reverse: bool = False           # a backward LM: reads each sequence from its end
    weight_dropout: float = 0.0     # DropConnect on the hidden-to-hidden matrices
    word_embedding_dropout: float = 0.0  # whole words dropped from the embedding matrix
    locked_dropout: bool = False    # the two dropouts above share one mask over time
    tie_weights: bool = False       # the output layer is the embedding (full softmax only)

    def __post_init__(self):
        if self.mode not in ENCODERS:
            raise ValueError(f"mode must be one of {', '.join(ENCODERS)}, got {self.mode!r}")
        if self.reverse and self.bidirectional:
            raise ValueError("reverse is a backward language model, which reads one direction; "
                             "a bidirectional model already predicts both ways")
        if self.tie_weights and (self.cutoffs or self.bidirectional):
            raise ValueError("tie_weights shares the embedding with a full softmax over the "
                             "vocabulary: set cutoffs to [] and bidirectional to false")
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
        dropout = LockedDropout if config.locked_dropout else nn.Dropout
        self.embedding_dropout = dropout(config.embedding_dropout)
        self.encoder = ENCODERS[config.mode](
            config.embedding_dim, config.hidden_size, num_layers=config.num_layers,
            bidirectional=config.bidirectional, batch_first=True,
            dropout=config.dropout if config.num_layers > 1 else 0.0,
            weight_dropout=config.weight_dropout)
        self.dropout = dropout(config.dropout)
        # tied weights: the encoder's output is projected to the embedding's size
        self.projection = (nn.Linear(config.hidden_size, config.embedding_dim)
                           if config.tie_weights and config.hidden_size != config.embedding_dim
                           else None)
        self.next_word = self._head()
        self.previous_word = self._head() if config.bidirectional else None
        if config.tie_weights:
            tie_weights(self.next_word.linear, self.embedding)

    def _head(self) -> nn.AdaptiveLogSoftmaxWithLoss:
        c = self.config
        features = c.embedding_dim if c.tie_weights else c.hidden_size
        if c.cutoffs:
            return nn.AdaptiveLogSoftmaxWithLoss(features, c.vocab_size, c.cutoffs,
                                                 div_value=c.div_value)
        return _FullSoftmax(features, c.vocab_size)

    def encoder_state_dict(self) -> dict[str, Tensor]:
        """The weights a classifier takes over: ``embedding.*`` and ``encoder.*``."""
        return {k: v for k, v in self.state_dict().items()
                if k.startswith(("embedding.", "encoder."))}

    def reading_order(self, tokens: Tensor, lengths: Tensor) -> Tensor:
        """The tokens (B, T) in the order the encoder reads them: reversed within each length
        for a backward LM (applying it twice gives the tokens back)."""
        if not self.config.reverse:
            return tokens
        return reverse_within_lengths(tokens.t(), lengths).t()

    def hidden_states(self, tokens: Tensor, lengths: Tensor | None = None, state=None):
        """The states that predict the next word (already in reading order), and the encoder's
        final state (to continue from, as text generation does)."""
        c = self.config
        embedded = embedding_dropout(self.embedding, tokens, c.word_embedding_dropout,
                                     self.training)
        embedded = self.embedding_dropout(embedded)
        output, final = self.encoder(embedded, state, lengths=lengths,
                                     need_cell_state=lengths is None)
        output = self.dropout(output)
        if self.projection is not None:
            output = self.projection(output)
        return output, final

    def forward(self, tokens: Tensor, lengths: Tensor, *, count_correct: bool = False):
        """(mean loss over predicted words, words predicted correctly or 0, words predicted)."""
        tokens = self.reading_order(tokens, lengths)
        output, _ = self.hidden_states(tokens, lengths)
        # The heads in float32: torch's adaptive softmax has no bfloat16 path.
        with torch.autocast(tokens.device.type, enabled=False):
            return self._loss(output.float(), tokens, lengths, count_correct)

    def _loss(self, output: Tensor, tokens: Tensor, lengths: Tensor, count_correct: bool):
        steps = tokens.shape[1]
        # A word at t + 1 < length is predicted from position t (forward) and predicts t back.
        pairs = (torch.arange(1, steps, device=tokens.device).unsqueeze(0)
                 < lengths.unsqueeze(1))
        hidden = output.shape[-1] // (2 if self.config.bidirectional else 1)
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
        picked = self.log_prob(states).gather(1, targets.unsqueeze(1)).squeeze(1)
        return _Output(picked, -picked.mean())

    def log_prob(self, states: Tensor) -> Tensor:
        return torch.log_softmax(self.linear(states), dim=-1)

    def predict(self, states: Tensor) -> Tensor:
        return self.linear(states).argmax(-1)
