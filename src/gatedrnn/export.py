"""ONNX export of classifier and tagger checkpoints (any batch size, any length).

    gatedrnn export runs/sentiment --onnx sentiment.onnx

The graph holds the network only; tokenising and the vocabulary stay in Python (the checkpoint's
vocab.json has the token list). Inputs and outputs:

    classifier  tokens (B, T) int64, lengths (B,) int64      → probabilities (B, classes)
    tagger      words (B, T), lengths (B,), chars (W, L), char_lengths (W,), form_index (B, T)
                (as ``gatedrnn.tagging.collate_sentences`` builds them)
                                                             → upos_logits (B, T, U)
                                                               [, xpos_logits (B, T, X)]

The checkpoint's calibration temperature is part of the graph (the probabilities are
softmax(logits / T); the tagger's logits are divided by their head's T), so onnxruntime gives
the confidences that ``predict`` prints; ``calibrated=False`` exports the raw network. The
temperatures are also in the model's metadata (``temperature``, ``upos_temperature``, ...).

The recurrent layers are exported through torch's fused kernels (ONNX LSTM/GRU/RNN operators);
variable lengths use the same masking and in-place reversal as in PyTorch, so padding never
reaches a real output.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import torch
from torch import Tensor, nn

from .sentiment import Predictor
from .train import checkpoint

OPSET = 17


class _ClassifierGraph(nn.Module):
    def __init__(self, model, temperature: float = 1.0):
        super().__init__()
        self.model = model
        self.temperature = float(temperature)

    def forward(self, tokens: Tensor, lengths: Tensor) -> Tensor:
        return torch.softmax(self.model(tokens, lengths).float() / self.temperature, dim=-1)


class _TaggerGraph(nn.Module):
    def __init__(self, model, temperature: dict | None = None):
        super().__init__()
        self.model = model
        self.temperature = {"upos": 1.0, "xpos": 1.0, **(temperature or {})}

    def forward(self, words, lengths, chars, char_lengths, form_index):
        upos, xpos = self.model(words, lengths, chars, char_lengths, form_index)
        upos = upos.float() / self.temperature["upos"]
        if xpos is None:
            return upos
        return upos, xpos.float() / self.temperature["xpos"]


def load_for_export(path: str | Path, calibrated: bool = True):
    """The checkpoint's task, its loaded wrapper (Predictor or Tagger) and example inputs."""
    from .tagging import Tagger, TaggerEnsemble, collate_sentences, encode
    from .data.ud import Sentence

    directory = checkpoint.resolve(path)
    config = checkpoint.read_config(directory)
    task = config.get("task")
    if task == "sentiment":
        predictor = Predictor.load(directory, calibrated=calibrated)
        if config.get("model_type") == "ensemble":
            raise checkpoint.CheckpointError(
                f"{directory} is an ensemble of {len(predictor.members)} checkpoints, not one "
                "network: ONNX export is for one recurrent network; export its recurrent "
                "members one by one, or serve the ensemble as it is ('gatedrnn serve')")
        if not hasattr(predictor, "vocab"):
            raise checkpoint.CheckpointError(
                f"{directory} is an n-gram or document-vector model: ONNX export is for "
                "recurrent networks; serve it as it is (it runs without a recurrent pass)")
        # Different lengths (and a padded row) so that nothing in the trace is specialised.
        tokens = torch.tensor([[5, 6, 7, 8, 9], [10, 11, 12, 0, 0], [13, 0, 0, 0, 0]])
        tokens = tokens.clamp(max=len(predictor.vocab) - 1)
        return task, predictor, (tokens, torch.tensor([5, 3, 1]))
    if task == "tagger":
        tagger = Tagger.load(directory, calibrated=calibrated)
        if isinstance(tagger, TaggerEnsemble):
            raise checkpoint.CheckpointError(
                f"{directory} is an ensemble of {len(tagger.members)} taggers, not one network; "
                f"export its members one by one (e.g. {tagger.members[0].source})")
        sentences = [Sentence(["The", "cat", "sat", "."], [], []), Sentence(["Hello", "!"], [], [])]
        batch = collate_sentences(encode(sentences, tagger.vocab), [0, 1], tagger.vocab)
        return task, tagger, batch.inputs()
    raise checkpoint.CheckpointError(f"{directory}: cannot export task {task!r}")


def export_onnx(path: str | Path, out: str | Path, opset: int = OPSET,
                calibrated: bool = True) -> dict:
    """Write the checkpoint's network to ``out`` (.onnx), with its calibration temperature
    unless ``calibrated`` is False; returns names, example inputs and the temperature."""
    task, wrapper, example = load_for_export(path, calibrated)
    model = wrapper.model.eval()
    if task == "sentiment":
        graph = _ClassifierGraph(model, wrapper.temperature).eval()
        metadata = {"temperature": wrapper.temperature}
        inputs, outputs = ["tokens", "lengths"], ["probabilities"]
        axes = {"tokens": {0: "batch", 1: "steps"}, "lengths": {0: "batch"},
                "probabilities": {0: "batch"}}
    else:
        graph = _TaggerGraph(model, wrapper.temperature).eval()
        metadata = {f"{head}_temperature": t for head, t in wrapper.temperature.items()}
        inputs = ["words", "lengths", "chars", "char_lengths", "form_index"]
        outputs = ["upos_logits"] + (["xpos_logits"] if model.xpos_head is not None else [])
        axes = {"words": {0: "batch", 1: "steps"}, "lengths": {0: "batch"},
                "chars": {0: "forms", 1: "chars"}, "char_lengths": {0: "forms"},
                "form_index": {0: "batch", 1: "steps"},
                **{name: {0: "batch", 1: "steps"} for name in outputs}}
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    with torch.no_grad(), warnings.catch_warnings():
        # The exporter warns about the tracer in general terms; the graph is checked below.
        warnings.simplefilter("ignore")
        torch.onnx.export(graph, example, str(tmp), input_names=inputs, output_names=outputs,
                          dynamic_axes=axes, opset_version=opset, dynamo=False)
    _write_metadata(tmp, metadata)
    tmp.replace(out)
    graph.eval()  # the exporter restores the mode it found; evaluation mode it must be
    return {"task": task, "inputs": inputs, "outputs": outputs, "path": str(out),
            "graph": graph, "example": example, "metadata": metadata}


def _write_metadata(path: Path, metadata: dict) -> None:
    """Record ``metadata`` in the .onnx file's metadata_props (needs the onnx package; the
    temperature is in the graph either way)."""
    try:
        import onnx
    except ImportError:
        return
    model = onnx.load(str(path))
    for key, value in metadata.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, repr(float(value))
    onnx.save(model, str(path))


def read_metadata(onnx_path: str | Path) -> dict:
    """The metadata an exported file carries ({"temperature": "1.5", ...})."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    return dict(session.get_modelmeta().custom_metadata_map)


def check_parity(onnx_path: str | Path, graph: nn.Module, inputs: list[tuple]) -> float:
    """Largest absolute difference between onnxruntime and PyTorch over ``inputs``."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    worst = 0.0
    for args in inputs:
        with torch.no_grad():
            expected = graph(*args)
        expected = expected if isinstance(expected, tuple) else (expected,)
        got = session.run(None, {n: a.numpy() for n, a in zip(names, args)})
        for e, g in zip(expected, got):
            worst = max(worst, float((e - torch.from_numpy(g)).abs().max()))
    return worst


def time_both(onnx_path: str | Path, graph: nn.Module, args: tuple, repeats: int = 20) -> dict:
    """Median seconds per call of onnxruntime and of PyTorch on the same inputs."""
    import statistics

    import onnxruntime

    session = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    feed = {i.name: a.numpy() for i, a in zip(session.get_inputs(), args)}
    times = {"onnxruntime": [], "pytorch": []}
    with torch.inference_mode():
        session.run(None, feed), graph(*args)  # warm-up
        for _ in range(repeats):
            start = time.perf_counter()
            session.run(None, feed)
            times["onnxruntime"].append(time.perf_counter() - start)
            start = time.perf_counter()
            graph(*args)
            times["pytorch"].append(time.perf_counter() - start)
    return {k: statistics.median(v) for k, v in times.items()}


class OnnxPredictor(Predictor):
    """A sentiment Predictor whose forward passes run the exported graph in onnxruntime.

    Tokenising, batching and the result format are the Predictor's; explanations (gradients,
    gates) still use the PyTorch model, kept as ``.model``.
    """

    def __init__(self, predictor: Predictor, onnx_path: str | Path):
        import onnxruntime

        # The graph divides by the temperature it was exported with; this Predictor's own
        # division is therefore by 1, and ``exported_temperature`` says what the graph holds.
        super().__init__(predictor.model, predictor.vocab, predictor.labels, predictor.source)
        self.exported_temperature = predictor.temperature
        self.session = onnxruntime.InferenceSession(str(onnx_path),
                                                    providers=["CPUExecutionProvider"])

    def _batch_scores(self, tokens: Tensor, lengths: Tensor) -> Tensor:
        (probabilities,) = self.session.run(None, {"tokens": tokens.numpy(),
                                                   "lengths": lengths.numpy()})
        return torch.from_numpy(probabilities).clamp_min(1e-38).log()


def onnx_predictor(path: str | Path, work_dir: str | Path,
                   calibrated: bool = True) -> OnnxPredictor:
    """Export the sentiment checkpoint at ``path`` into ``work_dir``; its OnnxPredictor."""
    info = export_onnx(path, Path(work_dir) / "model.onnx", calibrated=calibrated)
    return OnnxPredictor(Predictor.load(path, calibrated=calibrated), info["path"])
