"""gatedrnn: gated recurrent networks (RNN, LSTM, GRU, bidirectional) on PyTorch."""

from .nn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell

__version__ = "0.1.0"

__all__ = ["RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell", "__version__"]
