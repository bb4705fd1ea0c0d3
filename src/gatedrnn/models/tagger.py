"""SequenceTagger: word embedding + character encoder → recurrent encoder → one softmax per tag set.

Characters give every word a representation, including words never seen in training (their word
embedding is ``<unk>``): a BiLSTM (or a CNN) reads each distinct word of a batch once, and the
result is looked up for every occurrence. Word dropout replaces known words by ``<unk>`` while
training, so the model learns to tag from characters and context when the word is unknown:
every word with probability ``word_dropout``, and a rare word with at least α/(α + count)
(``word_dropout_alpha``, Kiperwasser & Goldberg 2016), since rare words are what unknown words
resemble.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..data.batching import length_groups
from ..nn import GRU, LSTM, RNN
from .config import StoredConfig

ENCODERS = {"RNN": RNN, "LSTM": LSTM, "GRU": GRU}
CHAR_ENCODERS = ("lstm", "cnn", "none")
UNK_INDEX = 1


@dataclass
class TaggerConfig(StoredConfig):
    """Everything needed to rebuild a SequenceTagger (stored in config.json)."""

    KIND = "tagger"

    vocab_size: int
    num_chars: int
    num_upos: int
    num_xpos: int = 0            # 0: no XPOS head
    num_feats: int = 0           # 0: no FEATS head
    word_dim: int = 100
    char_encoder: str = "lstm"
    char_dim: int = 32
    char_hidden: int = 64        # per direction for the char BiLSTM; filters for the CNN
    hidden_size: int = 256
    num_layers: int = 2
    bidirectional: bool = True
    mode: str = "LSTM"
    dropout: float = 0.33
    word_dropout: float = 0.25
    word_dropout_alpha: float = 0.0  # > 0: a word seen c times is dropped w.p. ≥ α/(α + c)

    def __post_init__(self):
        check_reader_config(self, ("num_upos",))


def check_reader_config(config, counts: tuple[str, ...] = ()) -> None:
    """Refuse a config whose reading and encoding fields (and ``counts``, more positive
    integers) are out of range: what every tagger config shares."""
    if config.mode not in ENCODERS:
        raise ValueError(f"mode must be one of {', '.join(ENCODERS)}, got {config.mode!r}")
    if config.char_encoder not in CHAR_ENCODERS:
        raise ValueError(f"char_encoder must be one of {', '.join(CHAR_ENCODERS)}, got "
                         f"{config.char_encoder!r}")
    for name in ("vocab_size", "num_chars", *counts, "word_dim", "hidden_size", "num_layers"):
        value = getattr(config, name)
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    for name in ("dropout", "word_dropout"):
        if not 0.0 <= getattr(config, name) < 1.0:
            raise ValueError(f"{name} must be in [0, 1), got {getattr(config, name)}")
    if config.word_dropout_alpha < 0:
        raise ValueError(f"word_dropout_alpha must be ≥ 0, got {config.word_dropout_alpha}")


class CharLSTM(nn.Module):
    """A word's final forward and backward states over its characters.

    A batch's word forms run in up to ``max_groups`` groups of similar length, each padded to
    its own longest: padded to the batch's longest form, the recurrence would do 3.3× the real
    work on EWT batches; in 4 groups, 1.2×. (The results are the same either way.)
    """

    def __init__(self, num_chars: int, char_dim: int, hidden: int, max_groups: int = 4):
        super().__init__()
        self.embedding = nn.Embedding(num_chars, char_dim, padding_idx=0)
        self.lstm = LSTM(char_dim, hidden, batch_first=True, bidirectional=True)
        self.output_size = 2 * hidden
        self.max_groups = max_groups

    def forward(self, chars: Tensor, lengths: Tensor) -> Tensor:
        embedded = self.embedding(chars)
        if self.max_groups == 1 or torch.jit.is_tracing() or torch.onnx.is_in_onnx_export():
            return self._encode(embedded, lengths)  # no data-dependent Python in a trace
        lengths_sorted, order = lengths.sort()
        runs = length_groups(lengths_sorted.tolist(), self.max_groups)
        if len(runs) == 1:
            return self._encode(embedded, lengths)
        pieces = []
        for start, end in runs:
            rows = order[start:end]
            longest = int(lengths_sorted[end - 1])
            pieces.append(self._encode(embedded[rows, :longest], lengths_sorted[start:end]))
        return torch.cat(pieces).index_select(0, order.argsort())

    def _encode(self, embedded: Tensor, lengths: Tensor) -> Tensor:
        _, (h_n, _) = self.lstm(embedded, lengths=lengths, need_cell_state=False)
        return torch.cat([h_n[0], h_n[1]], dim=1)


class CharCNN(nn.Module):
    """Max over positions of width-3 convolutions of the character embeddings."""

    def __init__(self, num_chars: int, char_dim: int, filters: int):
        super().__init__()
        self.embedding = nn.Embedding(num_chars, char_dim, padding_idx=0)
        self.conv = nn.Conv1d(char_dim, filters, kernel_size=3, padding=1)
        self.output_size = filters

    def forward(self, chars: Tensor, lengths: Tensor) -> Tensor:
        positions = torch.arange(chars.shape[1], device=chars.device)
        padded = positions[None, :] >= lengths[:, None]
        # Past a word's end its characters are zeroed, not read: the window at its last
        # character would otherwise see whatever fills the padding (here 0's embedding, zero
        # only while padding_idx keeps it so).
        embedded = self.embedding(chars).masked_fill(padded[:, :, None], 0.0)
        features = torch.relu(self.conv(embedded.transpose(1, 2)))  # (U, F, L)
        return features.masked_fill(padded[:, None, :], 0.0).amax(dim=2)  # ReLU ≥ 0: 0 is neutral


class ReadsWords(nn.Module):
    """The part of a tagger that reads words and sentences: a word embedding, a character
    encoder (or none), word dropout and the recurrent sentence encoder, from a config with the
    fields of :class:`TaggerConfig` that name them. SequenceTagger and CRFTagger
    (``models/crf_tagger.py``) put their outputs on it; the modules keep the attribute names
    old checkpoints stored (``word_embedding``, ``char_encoder``, ``encoder``)."""

    def _build_reader(self, config) -> int:
        """Make the word reader and the sentence encoder over it (in the order the weights
        were always drawn in); return the width of the encoder's output."""
        self.word_embedding = nn.Embedding(config.vocab_size, config.word_dim, padding_idx=0)
        self.char_encoder = (CharLSTM(config.num_chars, config.char_dim, config.char_hidden)
                             if config.char_encoder == "lstm" else
                             CharCNN(config.num_chars, config.char_dim, config.char_hidden)
                             if config.char_encoder == "cnn" else None)
        if config.word_dropout_alpha > 0:
            # filled from the training counts by set_word_counts(); saved with the weights
            self.register_buffer("word_dropout_probability", torch.zeros(config.vocab_size))
        features = config.word_dim + (self.char_encoder.output_size if self.char_encoder else 0)
        self.input_dropout = nn.Dropout(config.dropout)
        self.encoder = ENCODERS[config.mode](
            features, config.hidden_size, num_layers=config.num_layers, batch_first=True,
            bidirectional=config.bidirectional,
            dropout=config.dropout if config.num_layers > 1 else 0.0)
        self.output_dropout = nn.Dropout(config.dropout)
        return config.hidden_size * (2 if config.bidirectional else 1)

    def set_word_counts(self, counts: Tensor) -> None:
        """Per-word dropout probabilities max(word_dropout, α/(α + count)) from training counts."""
        alpha = self.config.word_dropout_alpha
        if alpha <= 0:
            raise ValueError("set_word_counts needs word_dropout_alpha > 0 in the config")
        if counts.shape != (self.config.vocab_size,):
            raise ValueError(f"counts must have one entry per word ({self.config.vocab_size}), "
                             f"got shape {tuple(counts.shape)}")
        rare = alpha / (alpha + counts.to(torch.float32))
        self.word_dropout_probability.copy_(rare.clamp(min=self.config.word_dropout))

    def read_words(self, words: Tensor, chars: Tensor | None = None,
                   char_lengths: Tensor | None = None,
                   form_index: Tensor | None = None) -> Tensor:
        """Each token's features (B, T, F): its word embedding and its characters' encoding."""
        if self.training and (self.config.word_dropout > 0 or self.config.word_dropout_alpha > 0):
            probability = (self.word_dropout_probability[words]
                           if self.config.word_dropout_alpha > 0 else self.config.word_dropout)
            dropped = torch.rand(words.shape, device=words.device) < probability
            words = words.masked_fill(dropped & (words > UNK_INDEX), UNK_INDEX)
        features = [self.word_embedding(words)]
        if self.char_encoder is not None:
            if chars is None or char_lengths is None or form_index is None:
                raise ValueError("this tagger reads characters: pass chars, char_lengths and "
                                 "form_index (see gatedrnn.tagging.collate_sentences)")
            features.append(self.char_encoder(chars, char_lengths)[form_index])
        return torch.cat(features, dim=-1)

    def encode(self, words: Tensor, lengths: Tensor, chars: Tensor | None = None,
               char_lengths: Tensor | None = None, form_index: Tensor | None = None) -> Tensor:
        """The sentence encoder's output (B, T, D) over the tokens' features."""
        features = self.read_words(words, chars, char_lengths, form_index)
        encoded, _ = self.encoder(self.input_dropout(features), lengths=lengths,
                                  need_cell_state=False)
        return encoded


class SequenceTagger(ReadsWords):
    """Tags every token of (B, T) word ids; returns UPOS logits (B, T, U), and XPOS and FEATS
    logits, each None without its head.

    ``chars`` (W, L) holds the characters of the W distinct word forms of the batch and
    ``char_lengths`` (W,) their lengths; ``form_index`` (B, T) points each token at its row.
    """

    def __init__(self, config: TaggerConfig):
        super().__init__()
        self.config = config
        encoded = self._build_reader(config)
        self.upos_head = nn.Linear(encoded, config.num_upos)
        self.xpos_head = nn.Linear(encoded, config.num_xpos) if config.num_xpos else None
        self.feats_head = nn.Linear(encoded, config.num_feats) if config.num_feats else None

    def forward(self, words: Tensor, lengths: Tensor, chars: Tensor | None = None,
                char_lengths: Tensor | None = None, form_index: Tensor | None = None):
        encoded = self.output_dropout(self.encode(words, lengths, chars, char_lengths,
                                                  form_index))
        return (self.upos_head(encoded), self.xpos_head(encoded) if self.xpos_head else None,
                self.feats_head(encoded) if self.feats_head else None)

    def head_scores(self, encoded: Tensor) -> Tensor:
        """The UPOS logits of the encoder's output (what an explanation differentiates)."""
        return self.upos_head(self.output_dropout(encoded))
