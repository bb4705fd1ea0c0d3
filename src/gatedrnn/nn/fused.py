"""The fast path: torch's fused RNN kernels (oneDNN on CPU, cuDNN on GPU).

torch.nn runs a PackedSequence through a per-step fallback on CPU (3-4x slower than the padded
batch in a process whose allocator is warm, 10x in a fresh one; benchmarks/layers.py). Variable
lengths here stay on the fused kernels instead: see
:func:`fused_direction`. The reverse direction is handled by the caller, which reverses each
sequence within its own length so that every direction runs forward from step 0.
"""

from __future__ import annotations

import math
import warnings

import torch
import torch.nn.functional as F
from torch import Tensor

from .cells import lstm_step
from .lengths import step_mask

_KERNELS = {
    "LSTM": torch.lstm,
    "GRU": torch.gru,
    "RNN_tanh": torch.rnn_tanh,
    "RNN_relu": torch.rnn_relu,
}


def kernel_for(mode: str, nonlinearity: str = "tanh"):
    return _KERNELS[f"RNN_{nonlinearity}" if mode == "RNN" else mode]


def _call(kernel, x: Tensor, hx: tuple[Tensor, ...], weights: list[Tensor], has_bias: bool,
          num_layers: int = 1, dropout: float = 0.0, training: bool = False,
          bidirectional: bool = False):
    """Call a fused kernel on time-major input; ``hx`` holds (L*D, B, H) tensors.

    ``training`` is the kernel's mode: with dropout 0 it changes no number, but cuDNN only keeps
    what its backward pass needs in training mode, so one-layer calls set it whenever autograd
    is recording.
    """
    if x.is_cuda:
        with warnings.catch_warnings():
            # Our weights are separate parameters, not views into one buffer as torch.nn's
            # flatten_parameters() makes them; cuDNN copies them into one for each call (the
            # weights of the call's layers, freed after it) and warns about it every time.
            warnings.filterwarnings("ignore", message="RNN module weights are not part")
            return _run(kernel, x, hx, weights, has_bias, num_layers, dropout, training,
                        bidirectional)
    return _run(kernel, x, hx, weights, has_bias, num_layers, dropout, training, bidirectional)


def _run(kernel, x, hx, weights, has_bias, num_layers, dropout, training, bidirectional):
    if len(hx) == 2:
        output, h, c = kernel(x, hx, weights, has_bias, num_layers, dropout, training,
                              bidirectional, False)
        return output, (h, c)
    output, h = kernel(x, hx[0], weights, has_bias, num_layers, dropout, training,
                       bidirectional, False)
    return output, (h,)


def fused_stack(kernel, x: Tensor, hx: tuple[Tensor, ...], weights: list[Tensor],
                has_bias: bool, num_layers: int, dropout: float, training: bool,
                bidirectional: bool):
    """All layers and directions in one fused call (every sequence has length T).

    Outside training, dropout is off and the kernel still runs in its training mode when
    gradients are wanted: cuDNN refuses a backward pass otherwise (torch.nn.LSTM fails there).
    """
    return _call(kernel, x, hx, weights, has_bias, num_layers, dropout if training else 0.0,
                 training or torch.is_grad_enabled(), bidirectional)


def fused_direction(kernel, x: Tensor, state: tuple[Tensor, ...], weights: list[Tensor],
                    has_bias: bool, lengths: Tensor | None, max_segments: int = 8,
                    need_cell_state: bool = True):
    """One direction of one layer over ``x`` (T, B, I) from ``state`` (tuple of (B, H)).

    With ``lengths``, ``x`` must be finite at padded steps, and an LSTM batch whose c_n is needed
    must be sorted by length, longest first (other batches may come in any order). Returns
    ``(output (T, B, H) with zeros past each length, final states)``.

    Outputs at real steps never depend on later (padded) steps, so a fused call over padding is
    exact for them, and h_n is the output at each sequence's last step. Only an LSTM's c_n needs
    more: the batch is cut into at most ``max_segments`` segments at sequence ends (the first
    one where the shortest sequence ends); each segment is one fused call over the sequences
    still running, and a sequence that ends inside a segment gets its c by re-running the cell
    equations from the segment's start with the h values the call produced. Without
    ``need_cell_state`` an LSTM is one call in any batch order, and its c_n comes back as None.
    """
    hx = tuple(s.unsqueeze(0) for s in state)
    if lengths is None:
        output, final = _call(kernel, x, hx, weights, has_bias,
                              training=torch.is_grad_enabled())
        return output, tuple(f.squeeze(0) for f in final)

    steps, batch = x.shape[:2]
    has_cell = len(hx) == 2 and need_cell_state
    if not has_cell:
        # One call over every step: outputs at real steps never see the padding after them.
        # (No data-dependent Python here, so this path also traces for ONNX export.)
        output, _ = _call(kernel, x, hx, weights, has_bias, training=torch.is_grad_enabled())
        output = torch.where(step_mask(lengths, steps).unsqueeze(-1), output, 0.0)
        last = (lengths - 1).view(1, batch, 1).expand(1, batch, output.shape[2])
        h_n = output.gather(0, last)[0]
        return output, ((h_n,) if len(hx) == 1 else (h_n, None))
    lens = lengths.tolist()
    if any(a < b for a, b in zip(lens, lens[1:])):
        raise ValueError("fused_direction needs an LSTM batch sorted longest first")
    ends = _segment_ends(sorted(set(lens)), max_segments)
    outputs, cells = [], []
    start, running = 0, batch
    for end in ends:
        seg_x = x[start:end, :running]
        seg_hx = tuple(h[:, :running] for h in hx)
        output, hx = _call(kernel, seg_x, seg_hx, weights, has_bias,
                           training=torch.is_grad_enabled())
        outputs.append(F.pad(output, (0, 0, 0, batch - running)))
        still_running = sum(1 for n in lens if n > end)
        # Sequences that ended in this segment: [still_running, running), their exact c.
        ended_here = sum(1 for n in lens if n >= end)  # [still_running, ended_here): n == end
        piece = [hx[1][0, still_running:ended_here]]
        if ended_here < running:  # [ended_here, running): ended before the segment's end
            inside = lengths[ended_here:running] - start
            piece.append(_cell_state_at(seg_x[:, ended_here - running:],
                                        output[:, ended_here - running:],
                                        tuple(h[0, ended_here:running] for h in seg_hx),
                                        weights, has_bias, inside))
        cells.append(torch.cat(piece))
        start, running = end, still_running
    output = torch.cat(outputs)
    if start < steps:
        output = F.pad(output, (0, 0, 0, 0, 0, steps - start))
    output = torch.where(step_mask(lengths, steps).unsqueeze(-1), output, 0.0)
    last = (lengths - 1).view(1, batch, 1).expand(1, batch, output.shape[2])
    h_n = output.gather(0, last)[0]
    # Sequences end shortest first, i.e. from the back of the sorted batch.
    return output, (h_n, torch.cat(cells[::-1]))


def _segment_ends(distinct: list[int], max_segments: int) -> list[int]:
    """Segment boundaries: the shortest length, then up to max_segments - 1 quantiles of the rest."""
    if max_segments == 1:
        return distinct[-1:]
    if len(distinct) <= max_segments:
        return distinct
    rest = distinct[1:]
    picks = {rest[math.ceil((j + 1) * len(rest) / (max_segments - 1)) - 1]
             for j in range(max_segments - 1)}
    return sorted({distinct[0], *picks})


def _cell_state_at(x: Tensor, h_out: Tensor, state: tuple[Tensor, Tensor], weights: list[Tensor],
                   has_bias: bool, steps: Tensor) -> Tensor:
    """LSTM cell state after ``steps[b]`` steps, given the outputs h the fused kernel produced."""
    weight_ih, weight_hh = weights[0], weights[1]
    bias = weights[2] + weights[3] if has_bias else None
    needed = int(steps.max())
    x_proj = F.linear(x[:needed], weight_ih, bias)
    h_prev = torch.cat([state[0].unsqueeze(0), h_out[: needed - 1]])
    c = state[1]
    for t, (x_t, h_t) in enumerate(zip(x_proj.unbind(0), h_prev.unbind(0))):
        (_, c_next), _, _ = lstm_step(x_t, (h_t, c), weight_hh, None)
        c = torch.where((t < steps).unsqueeze(1), c_next, c)
    return c
