"""gatedrnn: gated recurrent networks (RNN, LSTM, GRU, bidirectional) on PyTorch."""

import importlib

__version__ = "0.1.0"

# The layers are imported on first use, not here: importing torch takes ~2 s, and the command
# line (gatedrnn.cli imports this package) must answer --help and argument errors at once.
_LAYERS = ("RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell")


def __getattr__(name):
    if name in _LAYERS:
        from . import nn
        return getattr(nn, name)
    try:  # a submodule not imported yet (gatedrnn.nn, gatedrnn.sentiment, ...)
        return importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"{__name__}.{name}":
            raise
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None


def __dir__():
    return sorted([*globals(), *_LAYERS])


def load(path="runs/sentiment", calibrated: bool = True):
    """Load a trained checkpoint, whatever its task and kind (gatedrnn.registry): a sentiment
    classifier (``gatedrnn.load(path).predict(["..."])``), a tagger (``.tag([["The", "cat"]])``)
    or a language model (``.sample("the film")``). ``calibrated=False`` ignores the
    temperature fitted at the end of training (raw scores)."""
    from .registry import load as load_checkpoint

    return load_checkpoint(path, calibrated=calibrated)


__all__ = ["RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell", "load", "__version__"]
