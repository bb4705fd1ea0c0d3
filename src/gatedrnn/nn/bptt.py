"""Backpropagation through time written out for the LSTM: the from-scratch path's backward.

The forward pass runs the equations of :func:`gatedrnn.nn.cells.lstm_step` in place, into
buffers that hold every step's gates, cell state and hidden state, without recording an autograd
graph; the backward pass applies the chain rule of those equations step by step, as cuDNN and
oneDNN do: one matmul per step for dh_{t-1} = dpre_t W_hh and a few elementwise products, then
the hidden weights' gradient in one matmul after the loop, dW_hh = Σ_t dpre_tᵀ h_{t-1}.

What it buys, measured with benchmarks/layers.py (1 layer, batch 64, hidden 256): the same time
as letting autograd record each step (within the ±5-10% run-to-run noise: autograd's bookkeeping
is not where the time goes, the elementwise kernels are), and a third less memory, since
autograd keeps a dozen tensors per step where this keeps three buffers (``--memory 1000``:
701 MiB against 1,099 MiB above the process baseline; torch.nn.LSTM 1,002 MiB).

The input projection stays outside (autograd differentiates its one matmul). Double backward
is not supported; ``return_gates=True``, autocast and inference keep the autograd scan.
With ``compiled=True`` (``impl="compiled"``) each step's elementwise arithmetic, forward and
backward, is one kernel compiled from :mod:`.compiled_steps`; that path also serves inference.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from . import compiled_steps


class LSTMScan(torch.autograd.Function):
    """One direction of one LSTM layer over precomputed input projections.

    Inputs: ``x_proj`` (T, B, 4H) = W_ih x_t + b_ih + b_hh, initial ``h0`` and ``c0`` (B, H),
    ``weight_hh`` (4H, H), ``mask`` (T, B, 1) bool or None (True at real tokens), and
    ``always_active``, the number of leading steps at which every sequence is still running.
    Outputs: the outputs (T, B, H), zero past each sequence's end, and the final h and c, taken at
    each sequence's own last step.
    """

    @staticmethod
    def forward(ctx, x_proj: Tensor, h0: Tensor, c0: Tensor, weight_hh: Tensor,
                mask: Tensor | None, always_active: int, compiled: bool = False):
        steps, batch, four_h = x_proj.shape
        hidden = four_h // 4
        gates = x_proj.new_empty(steps, batch, four_h)  # activated i, f, C̃, o of every step
        # h_t and C_t as computed at step t (row 0: the initial state). For rows still running
        # at step t they are the real ones; finished rows get no gradient, so what these
        # buffers hold there does not matter.
        hs = x_proj.new_empty(steps + 1, batch, hidden)
        cs = x_proj.new_empty(steps + 1, batch, hidden)
        hs[0], cs[0] = h0, c0
        ctx.always_active, ctx.compiled = always_active, compiled
        if compiled:  # the same equations, one compiled kernel per step (compiled_steps.py)
            for t in range(steps):
                torch.addmm(x_proj[t], hs[t], weight_hh.t(), out=gates[t])
                if t < always_active:
                    compiled_steps.run("_forward_step", gates[t], cs[t], cs[t + 1], hs[t + 1])
                else:  # finished rows carry their last state in hs and cs
                    compiled_steps.run("_forward_step_masked", gates[t], cs[t], hs[t], mask[t],
                                       cs[t + 1], hs[t + 1])
            output = hs[1:] * mask if mask is not None and always_active < steps else hs[1:].clone()
            ctx.save_for_backward(gates, cs, hs, weight_hh, mask)
            return output, hs[steps].clone(), cs[steps].clone()
        h, c = h0, c0
        for t in range(steps):
            pre = torch.addmm(x_proj[t], h, weight_hh.t(), out=gates[t])
            i, f, g, o = pre.chunk(4, dim=1)
            pre[:, : 2 * hidden].sigmoid_()                            # i_t, f_t = σ(·)
            g.tanh_()                                                  # C̃_t = tanh(·)
            o.sigmoid_()                                               # o_t = σ(·)
            c_new = torch.mul(f, c, out=cs[t + 1]).addcmul_(i, g)      # C_t = f ⊙ C_{t-1} + i ⊙ C̃
            h_new = torch.tanh(c_new, out=hs[t + 1]).mul_(o)           # h_t = o ⊙ tanh(C_t)
            if t >= always_active:  # finished sequences keep their state
                h_new = torch.where(mask[t], h_new, h)
                c_new = torch.where(mask[t], c_new, c)
            h, c = h_new, c_new
        output = hs[1:] * mask if mask is not None and always_active < steps else hs[1:].clone()
        ctx.save_for_backward(gates, cs, hs, weight_hh, mask)
        return output, h, c

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_output, grad_h, grad_c):
        gates, cs, hs, weight_hh, mask = ctx.saved_tensors
        steps, batch, four_h = gates.shape
        if grad_output is None:
            grad_output = torch.zeros_like(hs[1:])
        elif mask is not None:
            grad_output = grad_output * mask
        dh = torch.zeros_like(hs[0]) if grad_h is None else grad_h
        dc = torch.zeros_like(hs[0]) if grad_c is None else grad_c
        d_pre = gates.new_empty(steps, batch, four_h)  # gradient of each step's pre-activations
        if ctx.compiled:
            dh, dc = dh.clone(), dc.clone()  # updated in place below
            kept = torch.empty_like(dh)
            for t in range(steps - 1, -1, -1):
                if t < ctx.always_active:
                    compiled_steps.run("_backward_step", gates[t], cs[t], cs[t + 1], dh,
                                       grad_output[t], dc, d_pre[t], dc)
                    torch.mm(d_pre[t], weight_hh, out=dh)
                else:  # finished rows: d_pre is zero there, so the matmul adds nothing
                    compiled_steps.run("_backward_step_masked", gates[t], cs[t], cs[t + 1], dh,
                                       grad_output[t], dc, mask[t], d_pre[t], dc, kept)
                    torch.addmm(kept, d_pre[t], weight_hh, out=dh)
            return d_pre, dh, dc, _grad_weight_hh(ctx, d_pre, hs), None, None, None
        for t in range(steps - 1, -1, -1):
            i, f, g, o = gates[t].chunk(4, dim=1)
            c_prev, tanh_c = cs[t], torch.tanh(cs[t + 1])
            dh_t = dh + grad_output[t]                                  # from above and from t+1
            dc_t = torch.addcmul(dc, dh_t, o * (1 - tanh_c * tanh_c))   # h_t = o ⊙ tanh(C_t)
            d_i = dc_t * g * i * (1 - i)                                # σ'(x) = σ(1 − σ)
            d_f = dc_t * c_prev * f * (1 - f)
            d_g = dc_t * i * (1 - g * g)                                # tanh'(x) = 1 − tanh²
            d_o = dh_t * tanh_c * o * (1 - o)
            d_pre_t = torch.cat([d_i, d_f, d_g, d_o], dim=1, out=d_pre[t])
            if t < ctx.always_active:
                dh, dc = d_pre_t @ weight_hh, dc_t * f                  # to h_{t-1}, C_{t-1}
            else:  # finished rows get no gradient here and pass theirs straight through
                active = mask[t]
                d_pre_t.mul_(active)
                dh = torch.where(active, d_pre_t @ weight_hh, dh_t)
                dc = torch.where(active, dc_t * f, dc)
        return d_pre, dh, dc, _grad_weight_hh(ctx, d_pre, hs), None, None, None


def _grad_weight_hh(ctx, d_pre: Tensor, hs: Tensor) -> Tensor | None:
    """dW_hh = Σ_t dpre_tᵀ h_{t-1}, one matmul over all steps."""
    if not ctx.needs_input_grad[3]:
        return None
    four_h = d_pre.shape[-1]
    return d_pre.view(-1, four_h).t() @ hs[:-1].reshape(-1, four_h // 4)


def lstm_scan(x_proj: Tensor, state: tuple[Tensor, Tensor], weight_hh: Tensor,
              mask: Tensor | None, always_active: int, compiled: bool = False):
    """Run :class:`LSTMScan`; returns ``(output, (h_n, c_n))``."""
    output, h, c = LSTMScan.apply(x_proj, state[0], state[1], weight_hh, mask, always_active,
                                  compiled)
    return output, (h, c)
