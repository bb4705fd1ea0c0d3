"""The chapter's LSTM as it writes it: one ``nn.Linear`` per gate on the concatenation
[h_{t-1}, x_t], stepped in Python. Not a layer to use (it has no lengths, no initial state and
reverses whole batches); it is the baseline benchmarks/layers.py measures our paths against.
"""

from __future__ import annotations

import torch
from torch import nn


class NaiveLSTMLayer(nn.Module):
    """The chapter's LSTM: one nn.Linear per gate on the concatenation [h_{t-1}, x_t]."""

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        self.hidden_size = hidden_size
        self.forget = nn.Linear(hidden_size + input_size, hidden_size)
        self.input = nn.Linear(hidden_size + input_size, hidden_size)
        self.candidate = nn.Linear(hidden_size + input_size, hidden_size)
        self.output = nn.Linear(hidden_size + input_size, hidden_size)

    def forward(self, x):  # x: (T, B, I)
        h = x.new_zeros(x.shape[1], self.hidden_size)
        c = torch.zeros_like(h)
        outputs = []
        for x_t in x.unbind(0):
            hx = torch.cat([h, x_t], dim=1)
            f = torch.sigmoid(self.forget(hx))
            i = torch.sigmoid(self.input(hx))
            c_tilde = torch.tanh(self.candidate(hx))
            c = f * c + i * c_tilde
            o = torch.sigmoid(self.output(hx))
            h = o * torch.tanh(c)
            outputs.append(h)
        return torch.stack(outputs), (h, c)


class NaiveLSTM(nn.Module):
    """Stacked, optionally bidirectional (whole-batch reversal, as a naive reader would)."""

    def __init__(self, input_size, hidden_size, num_layers, bidirectional):
        super().__init__()
        dirs = 2 if bidirectional else 1
        self.layers = nn.ModuleList(
            nn.ModuleList(NaiveLSTMLayer(input_size if k == 0 else hidden_size * dirs, hidden_size)
                          for _ in range(dirs))
            for k in range(num_layers))

    def forward(self, x):
        finals = []
        for directions in self.layers:
            outs = []
            for d, layer in enumerate(directions):
                out, (h, c) = layer(x if d == 0 else x.flip(0))
                outs.append(out if d == 0 else out.flip(0))
                finals.append(h)
            x = torch.cat(outs, dim=2)
        return x, torch.stack(finals)
