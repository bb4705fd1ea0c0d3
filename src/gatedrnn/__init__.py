"""gatedrnn: gated recurrent networks (RNN, LSTM, GRU, bidirectional) on PyTorch."""

from .nn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell

__version__ = "0.1.0"


def load(path="runs/sentiment"):
    """Load a trained sentiment checkpoint: ``gatedrnn.load(path).predict(["..."])``."""
    from .sentiment import Predictor

    return Predictor.load(path)

__all__ = ["RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell", "load", "__version__"]
