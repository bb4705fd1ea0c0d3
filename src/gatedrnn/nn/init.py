"""Initialisation schemes for recurrent layers and cells.

- ``default``: torch's, every parameter ~ U(−1/√H, 1/√H).
- ``forget_bias``: default, then the *effective* forget bias (b_ih + b_hh, which is what the
  cell adds) set to a value, 1 by default (Gers et al. 2000; Jozefowicz et al. 2015). For a GRU
  the gate that keeps the old state is z (torch's convention), so its bias is set instead.
- ``chrono``: Tallec & Ollivier (2018): b_f ~ log(U[1, T_max − 1]), b_i = −b_f for an LSTM; the
  GRU's keep gate z gets log(U[1, T_max − 1]). Gives each unit a memory time scale up to T_max.

The whole bias goes into ``bias_ih`` and the matching slice of ``bias_hh`` is zeroed, so the sum
the cell sees is exactly the value asked for.
"""

from __future__ import annotations

import math

import torch
from torch import nn

INIT_SCHEMES = ("default", "forget_bias", "chrono")

# Where each gate sits in the stacked weights (torch's row order), in units of hidden_size.
_LSTM_INPUT, _LSTM_FORGET = 0, 1
_GRU_KEEP = 1  # z in [r, z, n]


def default_(module: nn.Module, hidden_size: int) -> None:
    bound = 1.0 / math.sqrt(hidden_size)
    for p in module.parameters():
        nn.init.uniform_(p, -bound, bound)


def _bias_pairs(module: nn.Module):
    """Yield (bias_ih, bias_hh) of every layer and direction (or of a cell)."""
    params = dict(module.named_parameters())
    for name, bias_ih in params.items():
        if name.startswith("bias_ih"):
            yield bias_ih, params[name.replace("bias_ih", "bias_hh", 1)]


def _gate(hidden_size: int, index: int) -> slice:
    return slice(index * hidden_size, (index + 1) * hidden_size)


def _keep_gate(mode: str, scheme: str) -> int:
    if mode == "LSTM":
        return _LSTM_FORGET
    if mode == "GRU":
        return _GRU_KEEP
    raise ValueError(f"init={scheme!r} needs a gated cell (LSTM or GRU); a vanilla RNN has no "
                     f"forget gate. Use init='default'")


@torch.no_grad()
def forget_bias_(module: nn.Module, mode: str, hidden_size: int, value: float = 1.0) -> None:
    keep = _gate(hidden_size, _keep_gate(mode, "forget_bias"))
    pairs = list(_bias_pairs(module))
    if not pairs:
        raise ValueError("init='forget_bias' needs bias=True")
    for bias_ih, bias_hh in pairs:
        bias_ih[keep] = value
        bias_hh[keep] = 0.0


@torch.no_grad()
def chrono_(module: nn.Module, mode: str, hidden_size: int, t_max: int | None) -> None:
    keep_index = _keep_gate(mode, "chrono")
    if t_max is None or t_max < 2:
        raise ValueError(f"init='chrono' needs chrono_t_max >= 2 (the longest dependency to "
                         f"expect, e.g. the sequence length), got {t_max!r}")
    pairs = list(_bias_pairs(module))
    if not pairs:
        raise ValueError("init='chrono' needs bias=True")
    keep = _gate(hidden_size, keep_index)
    for bias_ih, bias_hh in pairs:
        timescale = torch.empty(hidden_size, dtype=bias_ih.dtype, device=bias_ih.device)
        timescale.uniform_(1.0, float(t_max - 1))
        bias_ih[keep] = torch.log(timescale)
        bias_hh[keep] = 0.0
        if mode == "LSTM":
            inp = _gate(hidden_size, _LSTM_INPUT)
            bias_ih[inp] = -torch.log(timescale)
            bias_hh[inp] = 0.0


def apply_init(module: nn.Module, mode: str, hidden_size: int, scheme: str,
               forget_bias: float = 1.0, chrono_t_max: int | None = None) -> None:
    """Initialise ``module`` (a gatedrnn layer or cell) with one of :data:`INIT_SCHEMES`."""
    if scheme not in INIT_SCHEMES:
        raise ValueError(f"init must be one of {', '.join(map(repr, INIT_SCHEMES))}, got {scheme!r}")
    default_(module, hidden_size)
    if scheme == "forget_bias":
        forget_bias_(module, mode, hidden_size, forget_bias)
    elif scheme == "chrono":
        chrono_(module, mode, hidden_size, chrono_t_max)
