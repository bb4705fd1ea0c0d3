"""The recurrent text classifier (every gated-RNN preset, of this task and of sentiment's):
loaded as a Predictor with its tokenizer, exported to ONNX with its temperature in the graph,
served from onnxruntime with ``--onnx``, explained by its gates and contributions."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

from ...data.text import Vocab
from ...data.tokenizers import TokenizerError, load_tokenizer
from ...models.classifier import ClassifierConfig, SentimentClassifier
from ...registry import RECURRENT, OnnxGraph, register_kind
from ...train import checkpoint
from ..common import TASK
from ..predict import Predictor, checkpoint_labels, checkpoint_temperature


class ClassifierGraph(nn.Module):
    """The network with its calibration: tokens (B, T), lengths (B,) → probabilities."""

    def __init__(self, model, temperature: float = 1.0, multi_label: bool = False):
        super().__init__()
        self.model = model
        self.temperature = float(temperature)
        self.multi_label = multi_label  # a sigmoid per class instead of one softmax

    def forward(self, tokens: Tensor, lengths: Tensor) -> Tensor:
        logits = self.model(tokens, lengths).float()
        if self.multi_label:
            return torch.sigmoid(logits)
        return torch.softmax(logits / self.temperature, dim=-1)


def onnx_graph(predictor: Predictor) -> OnnxGraph:
    # Different lengths (and a padded row) so that nothing in the trace is specialised.
    tokens = torch.tensor([[5, 6, 7, 8, 9], [10, 11, 12, 0, 0], [13, 0, 0, 0, 0]])
    tokens = tokens.clamp(max=len(predictor.vocab) - 1)
    return OnnxGraph(
        ClassifierGraph(predictor.model.eval(), predictor.temperature,
                        predictor.multi_label).eval(),
        (tokens, torch.tensor([5, 3, 1])), ["tokens", "lengths"], ["probabilities"],
        {"tokens": {0: "batch", 1: "steps"}, "lengths": {0: "batch"},
         "probabilities": {0: "batch"}},
        {"temperature": predictor.temperature})


class OnnxPredictor(Predictor):
    """A Predictor whose forward passes run the exported graph in onnxruntime.

    Tokenising, batching and the result format are the Predictor's; explanations (gradients,
    gates) still use the PyTorch model, kept as ``.model``.
    """

    def __init__(self, predictor: Predictor, onnx_path: str | Path):
        import onnxruntime

        # The graph divides by the temperature it was exported with; this Predictor's own
        # division is therefore by 1, and ``exported_temperature`` says what the graph holds.
        super().__init__(predictor.model, predictor.vocab, predictor.labels, predictor.source,
                         tokenizer=predictor.tokenizer, thresholds=predictor.thresholds)
        self.exported_temperature = predictor.temperature
        self.session = onnxruntime.InferenceSession(str(onnx_path),
                                                    providers=["CPUExecutionProvider"])

    def _batch_scores(self, tokens: Tensor, lengths: Tensor) -> Tensor:
        (probabilities,) = self.session.run(None, {"tokens": tokens.numpy(),
                                                   "lengths": lengths.numpy()})
        return torch.from_numpy(probabilities).clamp_min(1e-38).log()  # sigmoids: the same


@register_kind(TASK, RECURRENT, model_class=Predictor, onnx=onnx_graph,
               onnx_runtime=OnnxPredictor, explains=True)
def load(directory: Path, config: dict, calibrated: bool = True) -> Predictor:
    vocab = Vocab(checkpoint.load_vocab_tokens(directory))
    model_config = ClassifierConfig.from_dict(config["model"])
    checkpoint.check_vocab(directory, config, vocab.fingerprint(), model_config.vocab_size,
                           len(vocab), "tokens")
    model = checkpoint.load_into(SentimentClassifier(model_config), directory)
    try:
        tokenizer = load_tokenizer(config.get("tokenizer"), directory)
    except TokenizerError as exc:
        raise checkpoint.CheckpointError(f"{directory}: {exc}") from exc
    labels = checkpoint_labels(config)
    # several labels per text: each class's threshold, 0.5 until validation has tuned them
    thresholds = (config.get("thresholds") or [0.5] * len(labels)
                  if config.get("multi_label") else None)
    return Predictor(model, vocab, labels, str(directory),
                     checkpoint_temperature(config) if calibrated else 1.0, tokenizer,
                     thresholds)
