"""Recurrent cells and layers written from their equations, interchangeable with torch.nn."""

from .cells import GRU_VARIANTS, GRUCell, LSTMCell, RNNCell
from .init import INIT_SCHEMES
from .layers import GRU, LSTM, RNN

__all__ = ["RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell", "GRU_VARIANTS", "INIT_SCHEMES"]
