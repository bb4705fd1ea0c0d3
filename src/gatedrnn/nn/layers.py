"""Recurrent layers RNN, LSTM, GRU: stacking, directions, variable lengths, dropout, dispatch.

Drop-in for torch.nn.RNN / LSTM / GRU: same constructor arguments, same outputs, same parameter
names and shapes (``weight_ih_l0``, ``bias_hh_l1_reverse``, ...), so state dicts load both ways.
On top of torch.nn:

- ``lengths=``: a padded batch with one length per sequence (any order). Each reverse direction
  starts at its sequence's own last token; padded steps never touch a real output or a final
  state; outputs past a sequence's end are zero. A PackedSequence is accepted too.
- ``return_gates=True``: also returns every gate's activation at every step.
- ``weight_dropout=p``: DropConnect on the hidden-to-hidden matrices (AWD-LSTM), drawn once
  per forward call, so every time step of the batch sees the same dropped matrix; training only.
- ``impl``: ``"fused"`` runs torch's kernels (also for variable lengths, see :mod:`.fused`),
  ``"scan"`` the step-by-step equations of :mod:`.cells`; ``"auto"`` picks fused unless gates
  are asked for or the formulation is not torch's (GRU ``variant="cho"``). ``"compiled"``
  (LSTM): the from-scratch path with each step's elementwise arithmetic compiled into one kernel
  by torch.compile (:mod:`.compiled_steps`; needs a C++ compiler on CPU).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence, pad_packed_sequence

from .cells import CellKind, cell_kind, check_choice
from .fused import fused_direction, fused_stack, kernel_for
from .init import apply_init
from .lengths import check_lengths, reverse_within_lengths, step_mask
from .regularisers import dropped_weight
from .scan import scan_direction

IMPLEMENTATIONS = ("auto", "fused", "scan", "compiled")


class _RecurrentLayer(nn.Module):
    mode = ""  # "RNN", "LSTM" or "GRU"

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 *, nonlinearity: str = "tanh", variant: str = "torch", init: str = "default",
                 forget_bias: float = 1.0, chrono_t_max: int | None = None, impl: str = "auto",
                 weight_dropout: float = 0.0, device=None, dtype=None):
        super().__init__()
        for name, value in (("input_size", input_size), ("hidden_size", hidden_size),
                            ("num_layers", num_layers)):
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not isinstance(dropout, (int, float)) or isinstance(dropout, bool) \
                or not 0 <= dropout <= 1:
            raise ValueError(f"dropout must be a number in [0, 1], got {dropout!r}")
        if not isinstance(weight_dropout, (int, float)) or not 0 <= weight_dropout < 1:
            raise ValueError(f"weight_dropout must be a number in [0, 1), got {weight_dropout!r}")
        check_choice("impl", impl, IMPLEMENTATIONS)
        if impl == "compiled" and self.mode != "LSTM":
            raise ValueError(f"impl='compiled' is for LSTM layers; use impl='scan' for the "
                             f"{self.mode}'s equations or 'fused' for speed")
        self.kind: CellKind = cell_kind(self.mode, variant=variant, nonlinearity=nonlinearity)
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.nonlinearity = nonlinearity
        self.variant = variant
        self.init = init
        self.forget_bias = forget_bias
        self.chrono_t_max = chrono_t_max
        self.impl = impl
        self.weight_dropout = float(weight_dropout)

        factory = {"device": device, "dtype": dtype}
        gate_size = self.kind.gates * hidden_size
        self._param_names: list[list[str]] = []  # per (layer, direction): w_ih, w_hh[, b_ih, b_hh]
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else hidden_size * self.num_directions
            for suffix in self._suffixes():
                names = [f"weight_ih_l{layer}{suffix}", f"weight_hh_l{layer}{suffix}"]
                shapes = [(gate_size, layer_input), (gate_size, hidden_size)]
                if bias:
                    names += [f"bias_ih_l{layer}{suffix}", f"bias_hh_l{layer}{suffix}"]
                    shapes += [(gate_size,), (gate_size,)]
                for name, shape in zip(names, shapes):
                    self.register_parameter(name, nn.Parameter(torch.empty(shape, **factory)))
                self._param_names.append(names)
        self.reset_parameters()

    # -- construction helpers ----------------------------------------------------------------

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    def _suffixes(self):
        return ["", "_reverse"] if self.bidirectional else [""]

    def reset_parameters(self) -> None:
        """Re-initialise with the scheme chosen at construction (see :mod:`gatedrnn.nn.init`)."""
        apply_init(self, self.mode, self.hidden_size, self.init, self.forget_bias,
                   self.chrono_t_max)

    def flatten_parameters(self) -> None:
        """Accepted for torch.nn compatibility; nothing to do."""

    @property
    def all_weights(self) -> list[list[Tensor]]:
        return [[getattr(self, name) for name in names] for names in self._param_names]

    def extra_repr(self) -> str:
        parts = [f"{self.input_size}, {self.hidden_size}"]
        if self.num_layers != 1:
            parts.append(f"num_layers={self.num_layers}")
        if not self.bias:
            parts.append("bias=False")
        if self.batch_first:
            parts.append("batch_first=True")
        if self.dropout:
            parts.append(f"dropout={self.dropout}")
        if self.bidirectional:
            parts.append("bidirectional=True")
        if self.mode == "RNN" and self.nonlinearity != "tanh":
            parts.append(f"nonlinearity={self.nonlinearity!r}")
        if self.mode == "GRU" and self.variant != "torch":
            parts.append(f"variant={self.variant!r}")
        if self.init != "default":
            parts.append(f"init={self.init!r}")
        if self.weight_dropout:
            parts.append(f"weight_dropout={self.weight_dropout}")
        return ", ".join(parts)

    # -- forward -----------------------------------------------------------------------------

    def forward(self, input, hx=None, *, lengths=None, return_gates: bool = False,
                impl: str | None = None, need_cell_state: bool = True):
        """Run the stack over a sequence batch.

        Args:
            input: (T, B, I), or (B, T, I) with ``batch_first``, or unbatched (T, I), or a
                PackedSequence.
            hx: initial state(s), (L·D, B, H) each (LSTM: a tuple ``(h_0, c_0)``); zeros if None.
            lengths: optional 1-D tensor of the B sequence lengths of a padded batch, any order.
            return_gates: also return the gate activations (from-scratch path).
            impl: override the layer's ``impl`` for this call.
            need_cell_state: LSTM only. False returns ``c_n`` as None; with ``lengths`` on the
                fused path, each direction is then one kernel call instead of up to eight
                segments (the exact c_n of a sequence that ends early is what costs).

        Returns:
            ``output, h_n`` (LSTM: ``output, (h_n, c_n)``), plus ``gates`` when ``return_gates``:
            a dict ``{"l0": {...}, "l0_reverse": {...}, ...}`` of gate name → tensor shaped like
            ``output`` but with H features (zero past each sequence's length).
        """
        impl = self.impl if impl is None else impl
        check_choice("impl", impl, IMPLEMENTATIONS)
        packed = isinstance(input, PackedSequence)
        if packed:
            if lengths is not None:
                raise ValueError("pass either a PackedSequence or lengths=, not both")
            x, lengths = pad_packed_sequence(input)  # time-major, original batch order
            batched = True
        else:
            x, batched = self._as_time_major(input)
        steps, batch = x.shape[:2]
        states = self._initial_states(hx, batch, batched, x)
        if lengths is not None and torch.jit.is_tracing():
            # Tracing (ONNX export) records one graph for every batch: no data-dependent checks
            # or shortcuts, the lengths path always (exact for equal lengths too).
            lengths = lengths.to(device=x.device, dtype=torch.int64)
        elif lengths is not None:
            lengths = check_lengths(lengths, batch, steps, x.device)
            if bool((lengths == steps).all()):
                lengths = None  # nothing is padded: take the plain path

        use_fused = self._choose_fused(impl, return_gates)
        weights = self._weights_for_call()
        if use_fused and lengths is None:
            output, finals = fused_stack(self._kernel(), x, states,
                                         [w for group in weights for w in group],
                                         self.bias, self.num_layers, self.dropout, self.training,
                                         self.bidirectional)
            gates = None
        else:
            output, finals, gates = self._run_layers(x, states, lengths, use_fused, return_gates,
                                                     need_cell_state, impl == "compiled",
                                                     weights)
        if self.kind.has_cell_state and not need_cell_state:
            finals = (finals[0], None)

        if packed:
            output = _repack(output, input)
        elif not batched:
            output = output.squeeze(1)
            finals = tuple(None if f is None else f.squeeze(1) for f in finals)
        elif self.batch_first:
            output = output.transpose(0, 1)
        if gates is not None:
            gates = {key: {name: self._gate_layout(g, batched) for name, g in value.items()}
                     for key, value in gates.items()}
        result_state = finals if self.kind.has_cell_state else finals[0]
        if return_gates:
            return output, result_state, gates
        return output, result_state

    def _gate_layout(self, g: Tensor, batched: bool) -> Tensor:
        if not batched:
            return g.squeeze(1)
        return g.transpose(0, 1) if self.batch_first else g

    def _choose_fused(self, impl: str, return_gates: bool) -> bool:
        torch_formulation = not (self.mode == "GRU" and self.variant == "cho")
        if impl == "compiled":
            if self.mode != "LSTM":
                raise ValueError(f"impl='compiled' is for LSTM layers; use impl='scan' for the "
                                 f"{self.mode}'s equations or 'fused' for speed")
            if return_gates:
                raise ValueError("return_gates=True needs impl='scan' or 'auto': the compiled "
                                 "steps do not keep the gate activations")
            return False
        if impl == "fused":
            if return_gates:
                raise ValueError("return_gates=True needs impl='scan' or 'auto': the fused "
                                 "kernels do not expose gate activations")
            if not torch_formulation:
                raise ValueError("impl='fused' runs torch's GRU formulation; variant='cho' "
                                 "needs impl='scan' or 'auto'")
            return True
        return impl == "auto" and torch_formulation and not return_gates

    def _kernel(self):
        return kernel_for(self.mode, self.nonlinearity)

    def _flat_weights(self) -> list[Tensor]:
        return [w for group in self.all_weights for w in group]

    def _weights_for_call(self) -> list[list[Tensor]]:
        """Each (layer, direction)'s weights for one forward call: in training with
        ``weight_dropout``, each hidden-to-hidden matrix with its entries dropped (one draw for
        the whole call, as AWD-LSTM drops once per batch)."""
        groups = self.all_weights
        if not (self.training and self.weight_dropout):
            return groups
        return [[dropped_weight(w, self.weight_dropout, True) if i == 1 else w
                 for i, w in enumerate(group)] for group in groups]

    def _as_time_major(self, input: Tensor) -> tuple[Tensor, bool]:
        if not torch.is_tensor(input):
            raise TypeError(f"input must be a Tensor or PackedSequence, got {type(input).__name__}")
        if input.dim() not in (2, 3):
            raise ValueError(f"{type(self).__name__}: input must be 3-D "
                             f"({'batch, seq, feature' if self.batch_first else 'seq, batch, feature'}) "
                             f"or 2-D unbatched (seq, feature), got shape {tuple(input.shape)}")
        if input.shape[-1] != self.input_size:
            raise ValueError(f"{type(self).__name__}: input feature size must be "
                             f"input_size={self.input_size}, got {input.shape[-1]} "
                             f"(input shape {tuple(input.shape)})")
        if input.dim() == 2:
            return input.unsqueeze(1), False
        if input.shape[0 if not self.batch_first else 1] == 0:
            raise ValueError(f"{type(self).__name__}: input has no time steps "
                             f"(shape {tuple(input.shape)})")
        return (input.transpose(0, 1) if self.batch_first else input), True

    def _initial_states(self, hx, batch: int, batched: bool, x: Tensor) -> tuple[Tensor, ...]:
        stacked = self.num_layers * self.num_directions
        expected = (stacked, batch, self.hidden_size) if batched else (stacked, self.hidden_size)
        names = ("h_0", "c_0") if self.kind.has_cell_state else ("hx",)
        if hx is None:
            zeros = x.new_zeros(stacked, batch, self.hidden_size)
            return tuple(zeros for _ in names)
        if self.kind.has_cell_state:
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise ValueError("LSTM: hx must be a tuple (h_0, c_0)")
            states = tuple(hx)
        else:
            if not torch.is_tensor(hx):
                raise ValueError(f"{type(self).__name__}: hx must be a Tensor")
            states = (hx,)
        for name, state in zip(names, states):
            if tuple(state.shape) != expected:
                raise ValueError(f"{type(self).__name__}: {name} must have shape {expected} "
                                 f"(num_layers*num_directions, batch, hidden_size), "
                                 f"got {tuple(state.shape)}")
        return states if batched else tuple(s.unsqueeze(1) for s in states)

    def _run_layers(self, x: Tensor, states: tuple[Tensor, ...], lengths: Tensor | None,
                    use_fused: bool, record_gates: bool, need_cell_state: bool = True,
                    compiled: bool = False, weights_per_call: list[list[Tensor]] | None = None):
        """Layer by layer, direction by direction (variable lengths, or the from-scratch path)."""
        order = None
        if lengths is not None:
            # Padding may hold anything (NaN from torch.empty, say); zero it so that no padded
            # value can reach a gradient through a product with a zero.
            x = torch.where(step_mask(lengths, x.shape[0]).unsqueeze(-1), x, 0.0)
        exact_cell = self.kind.has_cell_state and need_cell_state
        if lengths is not None and use_fused and exact_cell:
            # The LSTM's fused segments need the longest sequence first; undone at the end.
            lengths, order = torch.sort(lengths, descending=True, stable=True)
            x = x[:, order]
            states = tuple(s[:, order] for s in states)

        finals: list[tuple[Tensor, ...]] = []
        all_gates: dict[str, dict[str, Tensor]] = {}
        layer_input = x
        for layer in range(self.num_layers):
            outputs = []
            for direction, suffix in enumerate(self._suffixes()):
                index = layer * self.num_directions + direction
                state = tuple(s[index] for s in states)
                weights = (weights_per_call[index] if weights_per_call is not None
                           else [getattr(self, name) for name in self._param_names[index]])
                seq = layer_input
                if direction == 1:
                    seq = (layer_input.flip(0) if lengths is None
                           else reverse_within_lengths(layer_input, lengths))
                if use_fused:
                    out, final = fused_direction(self._kernel(), seq, state, weights, self.bias,
                                                 lengths, need_cell_state=exact_cell)
                    gates = None
                else:
                    w_ih, w_hh = weights[0], weights[1]
                    b_ih, b_hh = (weights[2], weights[3]) if self.bias else (None, None)
                    out, final, gates = scan_direction(self.kind, seq, state, w_ih, w_hh, b_ih,
                                                       b_hh, lengths, record_gates, compiled)
                if direction == 1:
                    out = out.flip(0) if lengths is None else reverse_within_lengths(out, lengths)
                    if gates is not None:
                        gates = {k: (g.flip(0) if lengths is None
                                     else reverse_within_lengths(g, lengths))
                                 for k, g in gates.items()}
                if gates is not None:
                    all_gates[f"l{layer}{suffix}"] = gates
                outputs.append(out)
                finals.append(final)
            layer_input = outputs[0] if len(outputs) == 1 else torch.cat(outputs, dim=2)
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_input = F.dropout(layer_input, self.dropout, training=True)

        output = layer_input
        stacked = tuple(None if finals[0][i] is None else torch.stack([f[i] for f in finals])
                        for i in range(len(states)))
        if order is not None:
            inverse = torch.empty_like(order)
            inverse[order] = torch.arange(order.numel(), device=order.device)
            output = output[:, inverse]
            stacked = tuple(None if s is None else s[:, inverse] for s in stacked)
            all_gates = {k: {n: g[:, inverse] for n, g in v.items()} for k, v in all_gates.items()}
        return output, stacked, (all_gates if record_gates else None)


def _repack(output: Tensor, like: PackedSequence) -> PackedSequence:
    """Pack a time-major padded ``output`` exactly as the input ``like`` was packed."""
    batch_sizes = like.batch_sizes
    sorted_indices = like.sorted_indices
    out_sorted = output if sorted_indices is None else output[:, sorted_indices]
    steps = len(batch_sizes)
    # In the sorted order, sequence j is running at step t iff j < batch_sizes[t].
    running = torch.arange(out_sorted.shape[1]).unsqueeze(0) < batch_sizes.unsqueeze(1)
    data = out_sorted[:steps][running.to(output.device)]
    return PackedSequence(data, batch_sizes, sorted_indices, like.unsorted_indices)


class RNN(_RecurrentLayer):
    r"""Elman RNN: h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh) (or relu).

    Same arguments as torch.nn.RNN, plus ``lengths=`` and ``return_gates=`` in forward.
    """

    mode = "RNN"

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, bidirectional: bool = False, **kwargs):
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, nonlinearity=nonlinearity, **kwargs)


class LSTM(_RecurrentLayer):
    r"""Long short-term memory, from the equations of :func:`gatedrnn.nn.cells.lstm_step`.

    .. math::
        f_t = σ(W_f [h_{t-1}, x_t] + b_f),\quad i_t = σ(W_i [h_{t-1}, x_t] + b_i),\quad
        \tilde C_t = \tanh(W_C [h_{t-1}, x_t] + b_C)

        C_t = f_t ⊙ C_{t-1} + i_t ⊙ \tilde C_t,\quad o_t = σ(W_o [h_{t-1}, x_t] + b_o),\quad
        h_t = o_t ⊙ \tanh(C_t)

    Same arguments and outputs as torch.nn.LSTM (no ``proj_size``), plus ``init`` ("default",
    "forget_bias", "chrono" with ``chrono_t_max``), ``impl``, and ``lengths=``/``return_gates=``
    in forward. Gates returned: f, i, c_tilde, c, o, h.
    """

    mode = "LSTM"


class GRU(_RecurrentLayer):
    r"""Gated recurrent unit with either published formulation.

    ``variant="torch"`` (default): n_t = tanh(W_in x_t + b_in + r_t ⊙ (W_hn h_{t-1} + b_hn)),
    as torch.nn.GRU and cuDNN; runs on the fused kernels. ``variant="cho"``:
    h̃_t = tanh(W_in x_t + b_in + W_hn (r_t ⊙ h_{t-1}) + b_hn), as Cho et al. (2014) and the
    chapter; always the from-scratch path. Both update h_t = (1 − z_t) ⊙ n_t + z_t ⊙ h_{t-1}; the
    chapter's z is this 1 − z. Gates returned: r, z, n, h.
    """

    mode = "GRU"
