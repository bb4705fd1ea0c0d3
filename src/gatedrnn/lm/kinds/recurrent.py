"""A word-level recurrent language model (forward, backward or bidirectional; AWD-LSTM
regularisers): loaded as a PretrainedLanguageModel. Not served over HTTP, not exported (its
softmax over the vocabulary is the point of it, and generation is a loop outside any graph)."""

from __future__ import annotations

from pathlib import Path

from ...data.text import Vocab
from ...models.language_model import LanguageModel, LanguageModelConfig
from ...registry import RECURRENT, register_kind
from ...train import checkpoint
from ..common import TASK
from ..predict import PretrainedLanguageModel


@register_kind(TASK, RECURRENT, model_class=PretrainedLanguageModel,
               not_exportable="a language model: ONNX export is for classifiers and taggers; "
                              "fine-tune it into a classifier ('gatedrnn sentiment train "
                              "--preset ulmfit --init-from PATH') and export that")
def load(directory: Path, config: dict, calibrated: bool = True) -> PretrainedLanguageModel:
    vocab = Vocab(checkpoint.load_vocab_tokens(directory))
    model_config = LanguageModelConfig.from_dict(config["model"])
    checkpoint.check_vocab(directory, config, vocab.fingerprint(), model_config.vocab_size,
                           len(vocab), "tokens")
    model = LanguageModel(model_config)
    model.load_state_dict(checkpoint.load_weights(directory))
    return PretrainedLanguageModel(model, vocab, config, str(directory))
