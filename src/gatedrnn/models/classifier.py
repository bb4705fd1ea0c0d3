"""SentimentClassifier: embedding → recurrent encoder → pooling → (BatchNorm) → dropout → linear."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..nn import GRU, LSTM, RNN
from ..nn.lengths import reverse_within_lengths
from .config import StoredConfig
from .pooling import POOLED_WIDTH, POOLINGS, make_pooling

ENCODERS = {"RNN": RNN, "LSTM": LSTM, "GRU": GRU}
UNK_INDEX = 1  # gatedrnn.data.text.Vocab: <pad> = 0, <unk> = 1


@dataclass
class ClassifierConfig(StoredConfig):
    """Everything needed to rebuild a SentimentClassifier (stored as config.json)."""

    KIND = "classifier"

    vocab_size: int
    num_classes: int = 2
    embedding_dim: int = 100
    hidden_size: int = 256
    num_layers: int = 2
    bidirectional: bool = True
    mode: str = "LSTM"
    dropout: float = 0.5
    embedding_dropout: float = 0.0
    word_dropout: float = 0.0   # training: each word becomes <unk> with this probability
    pooling: str = "last"
    batch_norm: bool = False
    padding_idx: int | None = 0
    init: str = "default"
    # A backward reader (the encoder of a backward language model, ULMFiT): each review is
    # read from its last word to its first.
    reverse: bool = False
    weight_dropout: float = 0.0  # DropConnect on the hidden-to-hidden matrices (AWD-LSTM)

    def __post_init__(self):
        if self.mode not in ENCODERS:
            raise ValueError(f"mode must be one of {', '.join(ENCODERS)}, got {self.mode!r}")
        if self.pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {', '.join(POOLINGS)}, got {self.pooling!r}")
        if not 0.0 <= self.word_dropout < 1.0:
            raise ValueError(f"word_dropout must be in [0, 1), got {self.word_dropout!r}")
        for name in ("vocab_size", "num_classes", "embedding_dim", "hidden_size", "num_layers"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")


class SentimentClassifier(nn.Module):
    """Text classifier over token ids (B, T) with their lengths.

    The encoder receives ``lengths``, so padding never reaches a real state and each reverse
    direction starts at its review's own last token.
    """

    def __init__(self, config: ClassifierConfig):
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(config.vocab_size, config.embedding_dim,
                                      padding_idx=config.padding_idx)
        self.embedding_dropout = nn.Dropout(config.embedding_dropout)
        layer_dropout = config.dropout if config.num_layers > 1 else 0.0
        self.encoder = ENCODERS[config.mode](
            config.embedding_dim, config.hidden_size, num_layers=config.num_layers,
            bidirectional=config.bidirectional, batch_first=True, dropout=layer_dropout,
            init=config.init, weight_dropout=config.weight_dropout,
            **({"chrono_t_max": 500} if config.init == "chrono" else {}))
        self.directions = 2 if config.bidirectional else 1
        features = config.hidden_size * self.directions
        self.pooling = make_pooling(config.pooling, features)
        features *= POOLED_WIDTH.get(config.pooling, 1)
        self.norm = nn.BatchNorm1d(features) if config.batch_norm else nn.Identity()
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(features, config.num_classes)

    def forward(self, tokens: Tensor, lengths: Tensor, *, return_attention: bool = False):
        if self.training and self.config.word_dropout:
            dropped = torch.rand(tokens.shape, device=tokens.device) < self.config.word_dropout
            tokens = tokens.masked_fill(dropped & (tokens > UNK_INDEX), UNK_INDEX)
        embedded = self.embedding_dropout(self.embedding(tokens))
        logits, attention, _ = self.from_embeddings(embedded, lengths)
        return (logits, attention) if return_attention else logits

    def from_embeddings(self, embedded: Tensor, lengths: Tensor, *, return_gates: bool = False):
        """Logits, attention weights (or None) and gates (or None) from embedded tokens; the
        entry point for explanations, which need gradients with respect to the embeddings."""
        if self.config.reverse:  # read from the last word; what is reported stays in text order
            embedded = _text_order(embedded, lengths)
        # Pooling reads h_n at most: skipping the LSTM's c_n keeps each direction one kernel call.
        result = self.encoder(embedded, lengths=lengths, need_cell_state=False,
                              return_gates=return_gates)
        output, state = result[0], result[1]
        h_n = state[0] if isinstance(state, tuple) else state
        pooled, attention = self.pooling(output, lengths, h_n, self.directions)
        logits = self.head(self.dropout(self.norm(pooled)))
        gates = result[2] if return_gates else None
        if self.config.reverse:
            attention = None if attention is None else _text_order(attention, lengths)
            gates = None if gates is None else {
                key: {name: _text_order(values, lengths) for name, values in layer.items()}
                for key, layer in gates.items()}
        return logits, attention, gates

    def layer_groups(self) -> list[list[nn.Parameter]]:
        """Parameters from the input up, for discriminative learning rates and gradual
        unfreezing: the embedding, each encoder layer, then pooling and the head."""
        by_layer: dict[int, list[nn.Parameter]] = {}
        for name, parameter in self.encoder.named_parameters():
            layer = int(name.split("_l")[-1].split("_")[0])  # weight_ih_l1_reverse → 1
            by_layer.setdefault(layer, []).append(parameter)
        top = [*self.pooling.parameters(), *self.norm.parameters(), *self.head.parameters()]
        return [list(self.embedding.parameters()), *by_layer.values(), top]

    @torch.no_grad()
    def load_embeddings(self, vectors: Tensor, freeze: bool = False) -> None:
        """Copy pretrained vectors (vocab_size, embedding_dim) into the embedding."""
        if tuple(vectors.shape) != tuple(self.embedding.weight.shape):
            raise ValueError(f"embedding vectors must have shape "
                             f"{tuple(self.embedding.weight.shape)}, got {tuple(vectors.shape)}")
        self.embedding.weight.copy_(vectors)
        self.embedding.weight.requires_grad_(not freeze)


def _text_order(x: Tensor, lengths: Tensor) -> Tensor:
    """``x`` (B, T, ...) with each sequence reversed within its length: from text order to
    reading order of a backward reader, and back (it is its own inverse)."""
    return reverse_within_lengths(x.transpose(0, 1), lengths).transpose(0, 1)
