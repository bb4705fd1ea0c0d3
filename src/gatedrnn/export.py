"""ONNX export of one-network checkpoints (any batch size, any length), whatever their task:
each model kind says how it becomes a graph (``registry.ModelKind.onnx``).

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
from torch import nn

from . import registry
from .train import checkpoint

OPSET = 17


def load_for_export(path: str | Path, calibrated: bool = True):
    """The checkpoint's loaded model, its kind and its OnnxGraph; a kind that is not one
    network (an ensemble, an n-gram model) is refused with the way out."""
    directory, config, kind = registry.open_checkpoint(path)
    if kind.onnx is None:
        why = kind.not_exportable
        why = why(directory, config) if callable(why) else why
        raise checkpoint.CheckpointError(
            f"{directory} is {why or f'a {kind.task} {kind.name} model: not exportable to ONNX'}")
    model = registry.load(directory, calibrated=calibrated)
    return model, kind, kind.onnx(model)


def export_onnx(path: str | Path, out: str | Path, opset: int = OPSET,
                calibrated: bool = True) -> dict:
    """Write the checkpoint's network to ``out`` (.onnx), with its calibration temperature
    unless ``calibrated`` is False; returns names, example inputs and the temperature."""
    _, kind, graph = load_for_export(path, calibrated)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    with torch.no_grad(), warnings.catch_warnings():
        # The exporter warns about the tracer in general terms; the graph is checked below.
        warnings.simplefilter("ignore")
        torch.onnx.export(graph.module, graph.example, str(tmp), input_names=graph.inputs,
                          output_names=graph.outputs, dynamic_axes=graph.axes,
                          opset_version=opset, dynamo=False)
    _write_metadata(tmp, graph.metadata)
    tmp.replace(out)
    graph.module.eval()  # the exporter restores the mode it found; evaluation mode it must be
    return {"task": kind.task, "kind": kind.name, "inputs": graph.inputs,
            "outputs": graph.outputs, "path": str(out), "graph": graph.module,
            "example": graph.example, "metadata": graph.metadata}


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
        # numbers (temperatures) as Python writes floats; anything else (tag names) as text
        entry.key, entry.value = key, (repr(float(value)) if isinstance(value, (int, float))
                                       else str(value))
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


def onnx_runtime_model(path: str | Path, work_dir: str | Path, calibrated: bool = True):
    """Export the checkpoint at ``path`` into ``work_dir`` and load it again answering from
    onnxruntime (its kind's ``onnx_runtime``); a kind without one is refused."""
    directory, _, kind = registry.open_checkpoint(path)
    if kind.onnx_runtime is None:
        raise checkpoint.CheckpointError(f"{directory}: a {kind.task} {kind.name} model does not "
                                         "run in onnxruntime; serve it without --onnx")
    info = export_onnx(directory, Path(work_dir) / "model.onnx", calibrated=calibrated)
    return kind.onnx_runtime(registry.load(directory, calibrated=calibrated), info["path"])


def onnx_predictor(path: str | Path, work_dir: str | Path, calibrated: bool = True):
    """Export the sentiment checkpoint at ``path`` into ``work_dir``; its OnnxPredictor."""
    return onnx_runtime_model(path, work_dir, calibrated)


def __getattr__(name: str):
    if name == "OnnxPredictor":  # where it lived before the model kinds had modules
        from .classify.kinds.recurrent import OnnxPredictor
        return OnnxPredictor
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
