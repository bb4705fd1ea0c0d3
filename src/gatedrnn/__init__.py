"""gatedrnn: gated recurrent networks (RNN, LSTM, GRU, bidirectional) on PyTorch."""

from .nn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell

__version__ = "0.1.0"


def load(path="runs/sentiment"):
    """Load a trained checkpoint by its task: a sentiment classifier
    (``gatedrnn.load(path).predict(["..."])``) or a tagger (``.tag([["The", "cat"]])``)."""
    from .sentiment import Predictor, resolve_checkpoint
    from .train.checkpoint import read_config

    directory = resolve_checkpoint(path)
    if directory.is_dir() and read_config(directory).get("task") == "tagger":
        from .tagging import Tagger
        return Tagger.load(directory)
    return Predictor.load(path)

__all__ = ["RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell", "load", "__version__"]
