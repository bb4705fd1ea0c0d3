"""Backpropagation through time for the LSTM, derived by hand.

The forward pass is :func:`gatedrnn.nn.cells.lstm_step`, step after step. Autograd would record
about a dozen operations per step and, for ∂L/∂W_hh, add up T small matrix products; this
backward pass walks the steps in reverse with one matmul each and then forms ∂L/∂W_hh in a
single (T·B)-row product. With z = W_ih x_t + b + W_hh h_{t-1} split into the four gate blocks:

    dh_t   = ∂L/∂h_t (from the output at t and from step t + 1)
    do     = dh_t ⊙ tanh(C_t)
    dC_t   = ∂L/∂C_t (from step t + 1) + dh_t ⊙ o ⊙ (1 − tanh²(C_t))
    di     = dC_t ⊙ C̃,   df = dC_t ⊙ C_{t-1},   dC̃ = dC_t ⊙ i
    dz     = [di ⊙ i(1 − i), df ⊙ f(1 − f), dC̃ ⊙ (1 − C̃²), do ⊙ o(1 − o)]
    dh_{t-1} = dz W_hh,   dC_{t-1} = dC_t ⊙ f,   ∂L/∂W_hh = Σ_t dzᵀ h_{t-1}

A padded step (mask 0) copies the state: its gradient passes straight through to t − 1.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from .cells import lstm_step


class LSTMScan(torch.autograd.Function):
    """(x_proj (T, B, 4H), h0, c0, weight_hh, mask (T, B, 1) or None) →
    (output (T, B, H), h_T, c_T, gates (T, B, 4H) = [i, f, C̃, o], cells (T, B, H)).

    ``x_proj`` already holds W_ih x_t + b_ih + b_hh. ``gates`` and ``cells`` are for inspection
    and carry no gradient.
    """

    @staticmethod
    def forward(ctx, x_proj: Tensor, h0: Tensor, c0: Tensor, weight_hh: Tensor,
                mask: Tensor | None):
        steps, batch, _ = x_proj.shape
        hidden = h0.shape[1]
        gates = x_proj.new_empty(steps, batch, 4 * hidden)
        cells = x_proj.new_empty(steps, batch, hidden)   # state C after each step
        states = x_proj.new_empty(steps, batch, hidden)  # state h after each step
        output = x_proj.new_empty(steps, batch, hidden)
        h, c = h0, c0
        for t in range(steps):
            (h_new, c_new), _, g = lstm_step(x_proj[t], (h, c), weight_hh, None)
            if mask is not None:
                active = mask[t]
                h_new, c_new = torch.where(active, h_new, h), torch.where(active, c_new, c)
                output[t] = g["h"] * active
            else:
                output[t] = h_new
            torch.cat([g["i"], g["f"], g["c_tilde"], g["o"]], dim=1, out=gates[t])
            h, c = h_new, c_new
            states[t], cells[t] = h, c
        ctx.save_for_backward(gates, cells, states, h0, c0, weight_hh, mask)
        ctx.mark_non_differentiable(gates, cells)
        return output, h, c, gates, cells

    @staticmethod
    @once_differentiable
    def backward(ctx, d_output, d_h_last, d_c_last, _d_gates, _d_cells):
        gates, cells, states, h0, c0, weight_hh, mask = ctx.saved_tensors
        steps = gates.shape[0]
        d_h = torch.zeros_like(h0) if d_h_last is None else d_h_last.clone()
        d_c = torch.zeros_like(c0) if d_c_last is None else d_c_last.clone()
        d_z_all = torch.empty_like(gates)
        for t in range(steps - 1, -1, -1):
            i, f, c_tilde, o = gates[t].chunk(4, dim=1)
            c_prev = cells[t - 1] if t > 0 else c0
            # cells[t] is this step's C_t wherever the step is real; at padded steps it holds
            # C_{t-1}, but those steps' gradients are replaced below.
            tanh_c = torch.tanh(cells[t])
            d_out = d_output[t] if mask is None else d_output[t] * mask[t]
            d_h_t = d_h + d_out
            d_o = d_h_t * tanh_c
            d_c_t = d_c + d_h_t * o * (1 - tanh_c * tanh_c)
            d_z = torch.cat([d_c_t * c_tilde * i * (1 - i),
                             d_c_t * c_prev * f * (1 - f),
                             d_c_t * i * (1 - c_tilde * c_tilde),
                             d_o * o * (1 - o)], dim=1)
            d_h_prev = d_z @ weight_hh
            d_c_prev = d_c_t * f
            if mask is not None:
                active = mask[t]
                d_z = d_z * active
                d_h_prev = torch.where(active, d_h_prev, d_h_t)
                d_c_prev = torch.where(active, d_c_prev, d_c)
            d_z_all[t] = d_z
            d_h, d_c = d_h_prev, d_c_prev
        h_prev_all = torch.cat([h0.unsqueeze(0), states[:-1]])
        d_weight_hh = d_z_all.flatten(0, 1).t() @ h_prev_all.flatten(0, 1)
        return d_z_all, d_h, d_c, d_weight_hh, None
