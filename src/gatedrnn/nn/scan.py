"""The from-scratch path: one direction of one layer, run step by step with the cell equations.

The input projection of every time step is one matmul before the loop; the loop then does the
hidden matmul(s) of each step and the gate arithmetic of :mod:`gatedrnn.nn.cells`. When an
LSTM is trained, its backward pass is the one written out in :mod:`.bptt` (same speed, a third
less memory than autograd's); the other cells, gate recording, autocast and inference use
autograd.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .bptt import lstm_scan
from .cells import CellKind, input_projection
from .lengths import step_mask

# The benchmark turns this off to measure what the hand-written backward saves.
HAND_WRITTEN_LSTM_BACKWARD = True


def scan_direction(kind: CellKind, x: Tensor, state: tuple[Tensor, ...], weight_ih: Tensor,
                   weight_hh: Tensor, bias_ih: Tensor | None, bias_hh: Tensor | None,
                   lengths: Tensor | None, record_gates: bool, compiled: bool = False):
    """Run one direction over time-major ``x`` (T, B, I) from ``state`` (tuple of (B, H)).

    With ``lengths``, sequence b only updates its state for t < lengths[b]; its outputs past that
    are zero. Returns ``(output (T, B, H), final state tuple, gates or None)`` where gates maps
    each gate name to a (T, B, H) tensor (zero at padded steps). ``compiled`` (LSTM only, no
    gates): each step's elementwise arithmetic runs as one compiled kernel; under autocast the
    step runs as without it.
    """
    steps = x.shape[0]
    x_proj = input_projection(x, weight_ih, bias_ih, bias_hh, kind)
    carry = state if kind.has_cell_state else state[0]
    mask = None
    always_active = steps  # steps before which every sequence is still running: no masking
    if lengths is not None:
        mask = step_mask(lengths, steps).unsqueeze(-1)
        always_active = int(lengths.min())
    needs_backward = torch.is_grad_enabled() and any(
        t is not None and t.requires_grad for t in (x_proj, *state, weight_hh))
    autocast = _autocast_enabled(x.device.type)
    if kind.name == "LSTM" and compiled and not record_gates and not autocast:
        output, final = lstm_scan(x_proj, state, weight_hh, mask, always_active, compiled=True)
        return output, final, None
    if (kind.name == "LSTM" and HAND_WRITTEN_LSTM_BACKWARD and needs_backward
            and not record_gates and not autocast):
        output, final = lstm_scan(x_proj, state, weight_hh, mask, always_active)
        return output, final, None

    outputs: list[Tensor] = []
    gate_steps: list[dict[str, Tensor]] = []
    # unbind once: indexing x_proj[t] in the loop would make autograd build a (T, B, G*H)
    # zero tensor per step in the backward pass (13x slower, measured).
    for t, x_t in enumerate(x_proj.unbind(0)):
        new_carry, h, gates = kind.step(x_t, carry, weight_hh, bias_hh)
        if t >= always_active:
            active = mask[t]
            new_carry = _keep_where(active, new_carry, carry)
        carry = new_carry
        outputs.append(h)
        if record_gates:
            gate_steps.append(gates)

    output = torch.stack(outputs)
    if mask is not None and always_active < steps:
        output = output * mask
    final = carry if kind.has_cell_state else (carry,)
    gates = None
    if record_gates:
        gates = {name: torch.stack([g[name] for g in gate_steps]) for name in gate_steps[0]}
        if mask is not None:
            gates = {name: value * mask for name, value in gates.items()}
    return output, final, gates


def _keep_where(active: Tensor, new, old):
    if isinstance(new, tuple):
        return tuple(torch.where(active, n, o) for n, o in zip(new, old))
    return torch.where(active, new, old)


def _autocast_enabled(device_type: str) -> bool:
    try:
        return torch.is_autocast_enabled(device_type)
    except TypeError:  # torch < 2.4 has no device argument
        return (torch.is_autocast_cpu_enabled() if device_type == "cpu"
                else torch.is_autocast_enabled())
