"""CRFTagger: the BiLSTM-CRF of Huang et al. (2015) and Lample et al. (2016), for named entities.

Words are read as the part-of-speech tagger reads them (a word embedding and a character
BiLSTM or CNN, :class:`ReadsWords`); a recurrent encoder gives each token a score per tag
(the emissions), and a linear-chain CRF (``nn/crf.py``) scores whole tag sequences, so that
the tags chosen together are consistent: with IOB2 tags, ``I-X`` never follows ``O`` or
another type, which a softmax per token cannot promise.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import Tensor, nn

from ..nn.crf import CRF, bio_allowed
from .config import StoredConfig
from .tagger import ReadsWords, check_reader_config


@dataclass
class CRFTaggerConfig(StoredConfig):
    """Everything needed to rebuild a CRFTagger (stored in config.json); ``tags`` are the
    tag names in id order, from which the CRF's allowed transitions are rebuilt."""

    KIND = "CRF tagger"

    vocab_size: int
    num_chars: int
    tags: list[str] = field(default_factory=list)
    scheme: str = "iob2"         # "iob2": forbid what IOB2 forbids; "none": any transition
    word_dim: int = 100
    char_encoder: str = "lstm"
    char_dim: int = 25
    char_hidden: int = 25        # per direction for the char BiLSTM; filters for the CNN
    hidden_size: int = 100
    num_layers: int = 1
    bidirectional: bool = True
    mode: str = "LSTM"
    dropout: float = 0.5
    word_dropout: float = 0.05
    word_dropout_alpha: float = 0.0

    def __post_init__(self):
        check_reader_config(self)
        if self.scheme not in ("iob2", "none"):
            raise ValueError(f"scheme must be 'iob2' or 'none', got {self.scheme!r}")
        if not self.tags:
            raise ValueError("tags must name at least one tag")


class CRFTagger(ReadsWords):
    """(B, T) word ids (and their characters, as SequenceTagger takes them) → emission scores
    (B, T, K); ``self.crf`` turns them into a loss (``nll``) or tag sequences (``decode``)."""

    def __init__(self, config: CRFTaggerConfig):
        super().__init__()
        self.config = config
        encoded = self._build_reader(config)
        self.emission = nn.Linear(encoded, len(config.tags))
        allowed, first = bio_allowed(config.tags) if config.scheme == "iob2" else (None, None)
        self.crf = CRF(len(config.tags), allowed, first)

    def forward(self, words: Tensor, lengths: Tensor, chars: Tensor | None = None,
                char_lengths: Tensor | None = None, form_index: Tensor | None = None) -> Tensor:
        return self.head_scores(self.encode(words, lengths, chars, char_lengths, form_index))

    def head_scores(self, encoded: Tensor) -> Tensor:
        """The emission scores (B, T, K) of the encoder's output."""
        return self.emission(self.output_dropout(encoded))

    def nll(self, emissions: Tensor, tags: Tensor, lengths: Tensor) -> Tensor:
        """Mean over sentences of -log p(gold tags) under the CRF."""
        return self.crf.nll(emissions.float(), tags, lengths)

    def decode(self, emissions: Tensor, lengths: Tensor) -> list[list[int]]:
        """The best tag sequence of each sentence (Viterbi), as tag ids."""
        return self.crf.decode(emissions.float(), lengths)
