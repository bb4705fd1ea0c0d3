"""The LSTM step's elementwise arithmetic, compiled: ``impl="compiled"``.

Between its matmuls, one LSTM step is seven small elementwise kernels forward and about twenty
backward (the gates' activations, C_t, h_t, and their derivatives). On a CPU at batch 64 and
hidden 256 each costs more in dispatch than in arithmetic, which is most of why the eager
from-scratch path is ~1.4× torch.nn.LSTM (oneDNN fuses them). Here the same equations are
written once as functions of whole steps and handed to ``torch.compile``: inductor turns each
into one C++ loop on CPU (it would emit Triton on a GPU; not measured here), so a step is a
matmul and one kernel each way.

The loops themselves, the matmuls and the order of operations stay in :mod:`.bptt`. Compiling
needs a C++ compiler on CPU and takes a few seconds per new shape on the first calls (cached on
disk by inductor afterwards).
"""

from __future__ import annotations

import functools

import torch
from torch import Tensor


def _cell(pre: Tensor, c_prev: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Activated gates (i, f, C̃, o side by side), C_t and h_t from the pre-activations."""
    i, f, g, o = pre.chunk(4, dim=1)
    i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
    c = f * c_prev + i * g                                  # C_t = f ⊙ C_{t-1} + i ⊙ C̃
    return torch.cat([i, f, g, o], dim=1), c, o * torch.tanh(c)   # h_t = o ⊙ tanh(C_t)


def _cell_backward(gates_t: Tensor, c_prev: Tensor, c_t: Tensor, dh_t: Tensor,
                   dc: Tensor) -> tuple[Tensor, Tensor]:
    """Chain rule through one step: the pre-activations' gradient and dC_{t-1} (dh_{t-1} is the
    matmul d_pre W_hh that follows)."""
    i, f, g, o = gates_t.chunk(4, dim=1)
    tanh_c = torch.tanh(c_t)
    dc_t = dc + dh_t * o * (1 - tanh_c * tanh_c)            # h_t = o ⊙ tanh(C_t)
    d_pre = torch.cat([dc_t * g * i * (1 - i),              # σ'(x) = σ(1 − σ)
                       dc_t * c_prev * f * (1 - f),
                       dc_t * i * (1 - g * g),              # tanh'(x) = 1 − tanh²
                       dh_t * tanh_c * o * (1 - o)], dim=1)
    return d_pre, dc_t * f


# The functions compiled: each writes its results into the loop's buffers (in place, so that a
# step allocates nothing); the masked ones are for steps at which some sequences have ended.

def _forward_step(gates_t: Tensor, c_prev: Tensor, c_out: Tensor, h_out: Tensor) -> None:
    """``gates_t`` holds the pre-activations (B, 4H): activate them in place, write C_t, h_t."""
    gates, c, h = _cell(gates_t, c_prev)
    gates_t.copy_(gates)
    c_out.copy_(c)
    h_out.copy_(h)


def _forward_step_masked(gates_t: Tensor, c_prev: Tensor, h_prev: Tensor, active: Tensor,
                         c_out: Tensor, h_out: Tensor) -> None:
    """The same, where rows that are not ``active`` (B, 1) keep C_{t-1} and h_{t-1}."""
    gates, c, h = _cell(gates_t, c_prev)
    gates_t.copy_(gates)
    c_out.copy_(torch.where(active, c, c_prev))
    h_out.copy_(torch.where(active, h, h_prev))


def _backward_step(gates_t: Tensor, c_prev: Tensor, c_t: Tensor, dh: Tensor, grad_out_t: Tensor,
                   dc: Tensor, d_pre_out: Tensor, dc_out: Tensor) -> None:
    """dh from step t+1 plus the output's gradient, through the step: d_pre and dC_{t-1}."""
    d_pre, dc_prev = _cell_backward(gates_t, c_prev, c_t, dh + grad_out_t, dc)
    d_pre_out.copy_(d_pre)
    dc_out.copy_(dc_prev)


def _backward_step_masked(gates_t: Tensor, c_prev: Tensor, c_t: Tensor, dh: Tensor,
                          grad_out_t: Tensor, dc: Tensor, active: Tensor, d_pre_out: Tensor,
                          dc_out: Tensor, dh_kept_out: Tensor) -> None:
    """The same; rows that are not ``active`` get no gradient and pass dh and dC straight
    through (``dh_kept_out`` holds their dh, zero elsewhere, for the matmul to add to)."""
    dh_t = dh + grad_out_t
    d_pre, dc_prev = _cell_backward(gates_t, c_prev, c_t, dh_t, dc)
    d_pre_out.copy_(torch.where(active, d_pre, 0.0))
    dc_out.copy_(torch.where(active, dc_prev, dc))
    dh_kept_out.copy_(torch.where(active, 0.0, dh_t))


class CompileError(RuntimeError):
    """torch.compile could not build the step kernels (on CPU: no working C++ compiler)."""


@functools.cache
def _compiled(name: str):
    return torch.compile(globals()[name], fullgraph=True)


def run(name: str, *args: Tensor) -> None:
    """Call the compiled version of step function ``name`` (compiled on first use)."""
    try:
        _compiled(name)(*args)
    except torch._dynamo.exc.BackendCompilerFailed as exc:
        raise CompileError(
            "impl='compiled' could not compile the LSTM step with torch.compile (on CPU it "
            "needs a C++ compiler such as g++); install one, or use impl='scan' (the same "
            f"equations, not compiled). Cause: {exc}") from exc
