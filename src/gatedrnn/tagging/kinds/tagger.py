"""One trained tagger (word + character encoder, BiLSTM, UPOS and XPOS heads): loaded as a
Tagger, exported to ONNX with each head's temperature in the graph."""

from __future__ import annotations

from pathlib import Path

from torch import nn

from ...data.ud import Sentence
from ...models.tagger import SequenceTagger, TaggerConfig
from ...registry import RECURRENT, OnnxGraph, register_kind
from ...train import checkpoint
from ..common import TASK
from ..encoding import TaggerVocab, collate_sentences, encode
from ..predict import Tagger, checkpoint_temperatures


class TaggerGraph(nn.Module):
    """The network with its calibration: the batch's inputs → each head's logits / T."""

    def __init__(self, model, temperature: dict | None = None):
        super().__init__()
        self.model = model
        self.temperature = {"upos": 1.0, "xpos": 1.0, **(temperature or {})}

    def forward(self, words, lengths, chars, char_lengths, form_index):
        upos, xpos, feats = self.model(words, lengths, chars, char_lengths, form_index)
        outputs = [upos.float() / self.temperature["upos"]]
        if xpos is not None:
            outputs.append(xpos.float() / self.temperature["xpos"])
        if feats is not None:
            outputs.append(feats.float())  # FEATS has no temperature: argmax is what is read
        return outputs[0] if len(outputs) == 1 else tuple(outputs)


def onnx_graph(tagger: Tagger) -> OnnxGraph:
    model = tagger.model.eval()
    sentences = [Sentence(["The", "cat", "sat", "."], [], []), Sentence(["Hello", "!"], [], [])]
    batch = collate_sentences(encode(sentences, tagger.vocab), [0, 1], tagger.vocab)
    outputs = ["upos_logits"] + (["xpos_logits"] if model.xpos_head is not None else []) + \
        (["feats_logits"] if model.feats_head is not None else [])
    axes = {"words": {0: "batch", 1: "steps"}, "lengths": {0: "batch"},
            "chars": {0: "forms", 1: "chars"}, "char_lengths": {0: "forms"},
            "form_index": {0: "batch", 1: "steps"},
            **{name: {0: "batch", 1: "steps"} for name in outputs}}
    return OnnxGraph(TaggerGraph(model, tagger.temperature).eval(), batch.inputs(),
                     ["words", "lengths", "chars", "char_lengths", "form_index"], outputs, axes,
                     {f"{head}_temperature": t for head, t in tagger.temperature.items()})


@register_kind(TASK, RECURRENT, model_class=Tagger, onnx=onnx_graph,
               matches=lambda config: "ensemble" not in config)
def load(directory: Path, config: dict, calibrated: bool = True,
         device: str = "cpu") -> Tagger:
    tags = config["tags"]
    vocab = TaggerVocab(checkpoint.load_vocab_tokens(directory), tags["chars"], tags["upos"],
                        tags["xpos"], tags.get("lowercase", False), tags.get("feats"))
    model_config = TaggerConfig.from_dict(config["model"])
    checkpoint.check_vocab(directory, config, vocab.fingerprint(), model_config.vocab_size,
                           len(vocab.words), "words")
    model = checkpoint.load_into(SequenceTagger(model_config), directory)
    return Tagger(model, vocab, str(directory), device,
                  checkpoint_temperatures(config) if calibrated else None,
                  config.get("language", "english"))
