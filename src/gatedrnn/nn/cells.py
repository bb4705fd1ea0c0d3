"""Recurrent cells written from their equations, one line per equation.

Each cell kind has a *step* function that takes the input projection of one time step
(``x_proj = W_ih x_t + b``, computed for all steps at once by the layer) and the previous state,
and returns the new state, the output ``h`` and a dict of the gate activations. The cell modules
(:class:`RNNCell`, :class:`LSTMCell`, :class:`GRUCell`) wrap one step with torch.nn's constructor
arguments and parameter names, so ``torch.nn.LSTMCell`` weights load into them and back.

Row order of the stacked weights is torch's: LSTM ``[i, f, g, o]``, GRU ``[r, z, n]``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

GRU_VARIANTS = ("torch", "cho")
RNN_NONLINEARITIES = ("tanh", "relu")

# ---------------------------------------------------------------------------------------------
# Step functions: the equations. ``weight_hh`` is (G*H, H); state tensors are (B, H).
# ---------------------------------------------------------------------------------------------


def rnn_step(x_proj: Tensor, h_prev: Tensor, weight_hh: Tensor, bias_hh: Tensor | None,
             nonlinearity: str = "tanh"):
    """h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)   (``bias_hh`` already folded into x_proj)."""
    pre = torch.addmm(x_proj, h_prev, weight_hh.t())
    h = torch.tanh(pre) if nonlinearity == "tanh" else torch.relu(pre)
    return h, h, {"h": h}


def lstm_step(x_proj: Tensor, state: tuple[Tensor, Tensor], weight_hh: Tensor,
              bias_hh: Tensor | None):
    """One LSTM step (Hochreiter & Schmidhuber 1997, with the forget gate of Gers et al. 2000).

    ``x_proj`` holds ``W_ih x_t + b_ih + b_hh`` for the four gates; the biases are folded there
    because only their sum matters.
    """
    h_prev, c_prev = state
    i, f, g, o = torch.addmm(x_proj, h_prev, weight_hh.t()).chunk(4, dim=1)
    f = torch.sigmoid(f)                  # forget gate:      f_t = σ(W_f [h_{t-1}, x_t] + b_f)
    i = torch.sigmoid(i)                  # input gate:       i_t = σ(W_i [h_{t-1}, x_t] + b_i)
    c_tilde = torch.tanh(g)               # candidate:        C̃_t = tanh(W_C [h_{t-1}, x_t] + b_C)
    c = f * c_prev + i * c_tilde          # cell state:       C_t = f_t ⊙ C_{t-1} + i_t ⊙ C̃_t
    o = torch.sigmoid(o)                  # output gate:      o_t = σ(W_o [h_{t-1}, x_t] + b_o)
    h = o * torch.tanh(c)                 # hidden state:     h_t = o_t ⊙ tanh(C_t)
    return (h, c), h, {"f": f, "i": i, "c_tilde": c_tilde, "c": c, "o": o, "h": h}


def gru_step(x_proj: Tensor, h_prev: Tensor, weight_hh: Tensor, bias_hh: Tensor | None):
    """One GRU step as torch.nn.GRU and cuDNN compute it.

    The reset gate multiplies ``W_hn h + b_hn`` *after* the matmul, so one matmul serves all
    three gates and a GPU kernel can fuse the step; the cost is that ``b_hn`` sits inside r ⊙ (·).
    """
    x_r, x_z, x_n = x_proj.chunk(3, dim=1)
    h_r, h_z, h_n = F.linear(h_prev, weight_hh, bias_hh).chunk(3, dim=1)
    r = torch.sigmoid(x_r + h_r)          # reset gate:       r_t = σ(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)
    z = torch.sigmoid(x_z + h_z)          # update gate:      z_t = σ(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)
    n = torch.tanh(x_n + r * h_n)         # candidate:        n_t = tanh(W_in x_t + b_in + r_t ⊙ (W_hn h_{t-1} + b_hn))
    h = (1 - z) * n + z * h_prev          # new state:        h_t = (1 − z_t) ⊙ n_t + z_t ⊙ h_{t-1}
    return h, h, {"r": r, "z": z, "n": n, "h": h}


def gru_cho_step(x_proj: Tensor, h_prev: Tensor, weight_hh: Tensor, bias_hh: Tensor | None):
    """One GRU step as Cho et al. (2014) and the chapter write it: reset *before* the matmul.

    Two hidden matmuls per step, because the candidate's matmul needs r_t first. The update
    convention is Cho's (and torch's): z_t keeps the old state. The chapter writes
    h_t = (1 − z_t) ⊙ h_{t-1} + z_t ⊙ h̃_t, the same model with z_t ↔ 1 − z_t, i.e. with the
    z rows of the weights and biases negated.
    """
    hidden = h_prev.shape[1]
    x_r, x_z, x_n = x_proj.chunk(3, dim=1)
    b_rz = None if bias_hh is None else bias_hh[: 2 * hidden]
    b_n = None if bias_hh is None else bias_hh[2 * hidden:]
    h_r, h_z = F.linear(h_prev, weight_hh[: 2 * hidden], b_rz).chunk(2, dim=1)
    r = torch.sigmoid(x_r + h_r)                                      # r_t = σ(W_r [h_{t-1}, x_t] + b_r)
    z = torch.sigmoid(x_z + h_z)                                      # z_t = σ(W_z [h_{t-1}, x_t] + b_z)
    n = torch.tanh(x_n + F.linear(r * h_prev, weight_hh[2 * hidden:], b_n))  # h̃_t = tanh(W [r_t ⊙ h_{t-1}, x_t] + b)
    h = (1 - z) * n + z * h_prev                                      # h_t = z_t ⊙ h_{t-1} + (1 − z_t) ⊙ h̃_t
    return h, h, {"r": r, "z": z, "n": n, "h": h}


# ---------------------------------------------------------------------------------------------
# Cell kinds: what the layers need to know about each cell.
# ---------------------------------------------------------------------------------------------


class CellKind:
    """The facts a layer needs about one kind of cell: gate count, step, bias handling."""

    def __init__(self, name: str, gates: int, step, fold_hidden_bias: bool, has_cell_state: bool):
        self.name = name
        self.gates = gates
        self.step = step
        # LSTM and RNN only use b_ih + b_hh, so it is added once to the input projection.
        self.fold_hidden_bias = fold_hidden_bias
        self.has_cell_state = has_cell_state


def cell_kind(mode: str, *, variant: str = "torch", nonlinearity: str = "tanh") -> CellKind:
    """Return the :class:`CellKind` for ``mode`` in {"RNN", "LSTM", "GRU"}."""
    if mode == "LSTM":
        return CellKind("LSTM", 4, lstm_step, True, True)
    if mode == "GRU":
        check_choice("variant", variant, GRU_VARIANTS)
        return CellKind("GRU", 3, gru_cho_step if variant == "cho" else gru_step, False, False)
    if mode == "RNN":
        check_choice("nonlinearity", nonlinearity, RNN_NONLINEARITIES)

        def step(x_proj, h_prev, weight_hh, bias_hh):
            return rnn_step(x_proj, h_prev, weight_hh, bias_hh, nonlinearity)

        return CellKind("RNN", 1, step, True, False)
    raise ValueError(f"mode must be one of 'RNN', 'LSTM', 'GRU', got {mode!r}")


def check_choice(name: str, value, choices) -> None:
    if value not in choices:
        options = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{name} must be one of {options}, got {value!r}")


def input_projection(x: Tensor, weight_ih: Tensor, bias_ih: Tensor | None,
                     bias_hh: Tensor | None, kind: CellKind) -> Tensor:
    """W_ih x + b for every position of ``x`` (..., I) in one matmul."""
    bias = bias_ih
    if kind.fold_hidden_bias and bias_hh is not None:
        bias = bias_ih + bias_hh
    return F.linear(x, weight_ih, bias)


# ---------------------------------------------------------------------------------------------
# Cell modules (torch.nn.*Cell compatible).
# ---------------------------------------------------------------------------------------------


class _CellBase(nn.Module):
    def __init__(self, kind: CellKind, input_size: int, hidden_size: int, bias: bool,
                 device=None, dtype=None):
        super().__init__()
        if input_size <= 0 or hidden_size <= 0:
            raise ValueError(f"input_size and hidden_size must be positive, got "
                             f"input_size={input_size}, hidden_size={hidden_size}")
        self.kind = kind
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        factory = {"device": device, "dtype": dtype}
        gate_size = kind.gates * hidden_size
        self.weight_ih = nn.Parameter(torch.empty(gate_size, input_size, **factory))
        self.weight_hh = nn.Parameter(torch.empty(gate_size, hidden_size, **factory))
        if bias:
            self.bias_ih = nn.Parameter(torch.empty(gate_size, **factory))
            self.bias_hh = nn.Parameter(torch.empty(gate_size, **factory))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """torch's default: every parameter ~ U(−1/√H, 1/√H)."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")

    def _check_input(self, x: Tensor) -> bool:
        if x.dim() not in (1, 2):
            raise ValueError(f"{type(self).__name__}: input must be 1-D (input_size) or 2-D "
                             f"(batch, input_size), got shape {tuple(x.shape)}")
        if x.shape[-1] != self.input_size:
            raise ValueError(f"{type(self).__name__}: input feature size must be "
                             f"input_size={self.input_size}, got {x.shape[-1]}")
        return x.dim() == 2

    def _check_state(self, name: str, state: Tensor, batch: int, batched: bool) -> None:
        expected = (batch, self.hidden_size) if batched else (self.hidden_size,)
        if tuple(state.shape) != expected:
            raise ValueError(f"{type(self).__name__}: {name} must have shape {expected}, "
                             f"got {tuple(state.shape)}")

    def _step(self, x: Tensor, state):
        x_proj = input_projection(x, self.weight_ih, self.bias_ih, self.bias_hh, self.kind)
        return self.kind.step(x_proj, state, self.weight_hh, self.bias_hh)


class RNNCell(_CellBase):
    """Elman cell: h' = tanh(W_ih x + b_ih + W_hh h + b_hh) (or relu). Same API as torch.nn.RNNCell."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", device=None, dtype=None):
        self.nonlinearity = nonlinearity
        super().__init__(cell_kind("RNN", nonlinearity=nonlinearity), input_size, hidden_size,
                         bias, device, dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        batched = self._check_input(input)
        x = input if batched else input.unsqueeze(0)
        if hx is None:
            hx = x.new_zeros(x.shape[0], self.hidden_size)
        else:
            self._check_state("hx", hx, x.shape[0], batched)
            hx = hx if batched else hx.unsqueeze(0)
        h, _, _ = self._step(x, hx)
        return h if batched else h.squeeze(0)


class LSTMCell(_CellBase):
    """LSTM cell from its six equations (f, i, C̃, C, o, h). Same API as torch.nn.LSTMCell."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None,
                 dtype=None):
        super().__init__(cell_kind("LSTM"), input_size, hidden_size, bias, device, dtype)

    def forward(self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None,
                *, return_gates: bool = False):
        """Return ``(h', c')``, and the gate dict as a third item when ``return_gates``."""
        batched = self._check_input(input)
        x = input if batched else input.unsqueeze(0)
        if hx is None:
            zeros = x.new_zeros(x.shape[0], self.hidden_size)
            hx = (zeros, zeros)
        else:
            self._check_state("h_0", hx[0], x.shape[0], batched)
            self._check_state("c_0", hx[1], x.shape[0], batched)
            if not batched:
                hx = (hx[0].unsqueeze(0), hx[1].unsqueeze(0))
        (h, c), _, gates = self._step(x, hx)
        if not batched:
            h, c = h.squeeze(0), c.squeeze(0)
            gates = {k: v.squeeze(0) for k, v in gates.items()}
        return (h, c, gates) if return_gates else (h, c)


class GRUCell(_CellBase):
    """GRU cell from its equations (r, z, h̃, h). Same API as torch.nn.GRUCell.

    ``variant="torch"`` (default) applies the reset gate after the hidden matmul, exactly as
    torch.nn.GRU and cuDNN do; ``variant="cho"`` applies it to h before the matmul, as Cho et al.
    (2014) and the chapter write it. Both keep the old state with weight z (torch's convention);
    the chapter's z is this module's 1 − z.
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 variant: str = "torch", device=None, dtype=None):
        self.variant = variant
        super().__init__(cell_kind("GRU", variant=variant), input_size, hidden_size, bias,
                         device, dtype)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", variant={self.variant!r}"

    def forward(self, input: Tensor, hx: Tensor | None = None, *, return_gates: bool = False):
        batched = self._check_input(input)
        x = input if batched else input.unsqueeze(0)
        if hx is None:
            hx = x.new_zeros(x.shape[0], self.hidden_size)
        else:
            self._check_state("hx", hx, x.shape[0], batched)
            hx = hx if batched else hx.unsqueeze(0)
        h, _, gates = self._step(x, hx)
        if not batched:
            h = h.squeeze(0)
            gates = {k: v.squeeze(0) for k, v in gates.items()}
        return (h, gates) if return_gates else h
