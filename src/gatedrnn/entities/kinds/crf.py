"""One trained BiLSTM-CRF entity tagger: loaded as an EntityRecognizer; exported to ONNX as
the network that scores tags (emissions) with the CRF's transition, start and end scores as
outputs. Viterbi, which chooses the tags, runs outside the graph, over those four outputs
(``viterbi`` below is the reference for it; ``tests/test_entities.py`` checks it against
the model's own decoding)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from torch import nn

from ...data.columns import TaggedSentence
from ...models.crf_tagger import CRFTagger, CRFTaggerConfig
from ...registry import RECURRENT, OnnxGraph, register_kind
from ...train import checkpoint
from ..common import TASK
from ..encoding import EntityVocab, collate_entities, encode
from ..predict import EntityRecognizer


class EmissionsGraph(nn.Module):
    """The batch's inputs → (emissions (B, T, K), transitions (K, K) [from, to], start (K,),
    end (K,)); transitions and starts IOB2 forbids are already set to CRF.FORBIDDEN."""

    def __init__(self, model: CRFTagger):
        super().__init__()
        self.model = model

    def forward(self, words, lengths, chars, char_lengths, form_index):
        emissions = self.model(words, lengths, chars, char_lengths, form_index).float()
        transitions, start = self.model.crf._scores()
        return emissions, transitions, start, self.model.crf.end.detach()


def viterbi(emissions: np.ndarray, transitions: np.ndarray, start: np.ndarray,
            end: np.ndarray) -> list[int]:
    """The best tag ids of one sentence's (n, K) emissions: what runs after the ONNX graph."""
    score = start + emissions[0]
    pointers = []
    for row in emissions[1:]:
        candidates = score[:, None] + transitions
        pointers.append(candidates.argmax(0))
        score = candidates.max(0) + row
    best = [int((score + end).argmax())]
    for came_from in reversed(pointers):
        best.append(int(came_from[best[-1]]))
    return best[::-1]


def onnx_graph(recognizer: EntityRecognizer) -> OnnxGraph:
    model = recognizer.model.eval()
    sentences = [TaggedSentence(["Anna", "bor", "i", "Paris", "."], []),
                 TaggedSentence(["Hej", "!"], [])]
    batch = collate_entities(encode(sentences, recognizer.vocab), [0, 1], recognizer.vocab)
    outputs = ["emissions", "transitions", "start", "end"]
    axes = {"words": {0: "batch", 1: "steps"}, "lengths": {0: "batch"},
            "chars": {0: "forms", 1: "chars"}, "char_lengths": {0: "forms"},
            "form_index": {0: "batch", 1: "steps"}, "emissions": {0: "batch", 1: "steps"}}
    return OnnxGraph(EmissionsGraph(model).eval(), batch.inputs(),
                     ["words", "lengths", "chars", "char_lengths", "form_index"], outputs, axes,
                     {"tags": " ".join(recognizer.vocab.tags),
                      "decoding": "Viterbi over emissions, transitions [from, to], start and "
                                  "end, outside the graph"})


@register_kind(TASK, RECURRENT, model_class=EntityRecognizer, onnx=onnx_graph)
def load(directory: Path, config: dict, calibrated: bool = True,
         device: str = "cpu") -> EntityRecognizer:
    tags = config["tags"]
    vocab = EntityVocab(checkpoint.load_vocab_tokens(directory), tags["chars"], tags["tags"],
                        tags.get("lowercase", False))
    model_config = CRFTaggerConfig.from_dict(config["model"])
    checkpoint.check_vocab(directory, config, vocab.fingerprint(), model_config.vocab_size,
                           len(vocab.words), "words")
    model = checkpoint.load_into(CRFTagger(model_config), directory)
    return EntityRecognizer(model, vocab, str(directory), device, config.get("language", "auto"))



