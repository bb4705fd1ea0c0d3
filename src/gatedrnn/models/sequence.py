"""A recurrent encoder with a linear read-out, for feature sequences (the synthetic tasks)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..nn import GRU, LSTM, RNN

LAYERS = {"RNN": RNN, "LSTM": LSTM, "GRU": GRU}


class SequenceModel(nn.Module):
    """Encoder (RNN, LSTM or GRU, any depth, uni- or bidirectional) + linear head.

    ``readout="last"`` predicts from the final states of the top layer (both directions
    concatenated, so a bidirectional model sees each end of the sequence last); ``"step"``
    predicts at every step from the top layer's output.
    """

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_outputs: int,
                 num_layers: int = 1, bidirectional: bool = False, readout: str = "last",
                 **layer_kwargs):
        super().__init__()
        if mode not in LAYERS:
            raise ValueError(f"mode must be one of {', '.join(LAYERS)}, got {mode!r}")
        if readout not in ("last", "step"):
            raise ValueError(f"readout must be 'last' or 'step', got {readout!r}")
        self.mode = mode
        self.readout = readout
        self.encoder = LAYERS[mode](input_size, hidden_size, num_layers=num_layers,
                                    bidirectional=bidirectional, batch_first=True,
                                    **layer_kwargs)
        directions = 2 if bidirectional else 1
        self.head = nn.Linear(hidden_size * directions, num_outputs)

    def forward(self, x: Tensor, *, return_gates: bool = False):
        result = self.encoder(x, return_gates=return_gates)
        output, state = result[0], result[1]
        if self.readout == "step":
            logits = self.head(output)
        else:
            h_n = state[0] if isinstance(state, tuple) else state
            directions = 2 if self.encoder.bidirectional else 1
            top = h_n[-directions:]  # (D, B, H) of the last layer
            logits = self.head(torch.cat(list(top), dim=1))
        return (logits, result[2]) if return_gates else logits
