import os
import shutil

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import gatedrnn

ATOL = 1e-5
MODES = ["RNN", "LSTM", "GRU"]

# impl="compiled" needs a C++ compiler for torch.compile on CPU. Without one its tests skip,
# except under GATEDRNN_REQUIRE_COMPILER=1 (.ci/run sets it after installing g++).
needs_compiler = pytest.mark.skipif(
    not (shutil.which("g++") or shutil.which("c++") or shutil.which("clang++"))
    and os.environ.get("GATEDRNN_REQUIRE_COMPILER") != "1",
    reason="no C++ compiler for torch.compile (apt-get install g++)")


def make_pair(mode, input_size, hidden, **kwargs):
    ref = getattr(nn, mode)(input_size, hidden, **kwargs)
    ours = getattr(gatedrnn, mode)(input_size, hidden, **kwargs)
    ours.load_state_dict(ref.state_dict())
    return ours, ref


def states_of(mode, h):
    return h if mode == "LSTM" else (h,)


def loss_of(output, finals):
    # Different weights per element so that every gradient path is exercised; scaled so that
    # gradients stay O(1) and an absolute tolerance means the same for every size.
    total = (output * torch.linspace(-1, 1, output.numel()).view_as(output)).sum()
    total = total + sum((f * 0.5).pow(2).sum() for f in finals)
    return total / max(1.0, output.shape[0] * output.shape[1] / 10)


def assert_matches_torch(mode, ours, ref, x, lengths=None, hx=None, batch_first=False, **kwargs):
    """Outputs, final states and every gradient of ``ours`` equal ``ref`` (torch.nn, run on a
    PackedSequence when there are lengths), to ATOL."""
    x_ref = x.clone().requires_grad_()
    if lengths is None:
        out_ref, h_ref = ref(x_ref, hx)
    else:
        packed = pack_padded_sequence(x_ref, lengths, batch_first=batch_first,
                                      enforce_sorted=False)
        out_ref, h_ref = ref(packed, hx)
        out_ref, _ = pad_packed_sequence(out_ref, batch_first=batch_first,
                                         total_length=x.shape[1 if batch_first else 0])
    x_ours = x.clone().requires_grad_()
    out, h = ours(x_ours, hx, lengths=lengths, **kwargs)

    torch.testing.assert_close(out, out_ref, atol=ATOL, rtol=0)
    for a, b in zip(states_of(mode, h), states_of(mode, h_ref)):
        torch.testing.assert_close(a, b, atol=ATOL, rtol=0)
    grads_ref = torch.autograd.grad(loss_of(out_ref, states_of(mode, h_ref)),
                                    [x_ref, *ref.parameters()])
    grads = torch.autograd.grad(loss_of(out, states_of(mode, h)), [x_ours, *ours.parameters()])
    names = ["input"] + [n for n, _ in ours.named_parameters()]
    for name, g, g_ref in zip(names, grads, grads_ref):
        torch.testing.assert_close(g, g_ref, atol=ATOL, rtol=0, msg=lambda m: f"{name}: {m}")


config = st.fixed_dictionaries({
    "mode": st.sampled_from(MODES),
    "num_layers": st.integers(1, 3),
    "bidirectional": st.booleans(),
    "batch_first": st.booleans(),
    "bias": st.booleans(),
    "hidden": st.integers(1, 9),
    "input_size": st.integers(1, 6),
    "batch": st.integers(1, 5),
    "steps": st.integers(1, 8),
    "impl": st.sampled_from(["auto", "fused", "scan"]),
    "variable": st.booleans(),
    "seed": st.integers(0, 2**16),
    "with_hx": st.booleans(),
})


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cfg=config)
def test_layers_match_torch_nn_outputs_states_and_gradients(cfg):
    torch.manual_seed(cfg["seed"])
    mode, batch, steps = cfg["mode"], cfg["batch"], cfg["steps"]
    ours, ref = make_pair(mode, cfg["input_size"], cfg["hidden"], num_layers=cfg["num_layers"],
                          bidirectional=cfg["bidirectional"], batch_first=cfg["batch_first"],
                          bias=cfg["bias"])
    shape = (batch, steps, cfg["input_size"]) if cfg["batch_first"] else (steps, batch,
                                                                          cfg["input_size"])
    x = torch.randn(shape)
    lengths = torch.randint(1, steps + 1, (batch,)) if cfg["variable"] else None
    hx = None
    if cfg["with_hx"]:
        stacked = cfg["num_layers"] * (2 if cfg["bidirectional"] else 1)
        h0 = torch.randn(stacked, batch, cfg["hidden"])
        hx = (h0, torch.randn_like(h0)) if mode == "LSTM" else h0

    assert_matches_torch(mode, ours, ref, x, lengths, hx, cfg["batch_first"], impl=cfg["impl"])


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("impl", ["fused", "scan"])
def test_packed_sequence_in_packed_sequence_out(mode, impl):
    torch.manual_seed(0)
    ours, ref = make_pair(mode, 3, 4, num_layers=2, bidirectional=True)
    x = torch.randn(6, 5, 3)
    packed = pack_padded_sequence(x, torch.tensor([2, 6, 6, 1, 4]), enforce_sorted=False)
    out, h = ours(packed, impl=impl)
    out_ref, h_ref = ref(packed)
    assert isinstance(out, nn.utils.rnn.PackedSequence)
    torch.testing.assert_close(out.data, out_ref.data, atol=ATOL, rtol=0)
    assert torch.equal(out.batch_sizes, out_ref.batch_sizes)
    assert torch.equal(out.sorted_indices, out_ref.sorted_indices)
    for a, b in zip(states_of(mode, h), states_of(mode, h_ref)):
        torch.testing.assert_close(a, b, atol=ATOL, rtol=0)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("impl", ["fused", "scan"])
def test_variable_length_bidirectional_equals_each_sequence_alone(mode, impl):
    torch.manual_seed(1)
    layer = getattr(gatedrnn, mode)(3, 5, num_layers=2, bidirectional=True, batch_first=True)
    lengths = torch.tensor([4, 9, 1, 7])
    x = torch.randn(4, 9, 3)
    out, h = layer(x, lengths=lengths, impl=impl)
    for b, n in enumerate(lengths.tolist()):
        alone_out, alone_h = layer(x[b:b + 1, :n], impl=impl)
        torch.testing.assert_close(out[b, :n], alone_out[0], atol=ATOL, rtol=0)
        assert out[b, n:].abs().max().item() == 0 if n < 9 else True
        for a, s in zip(states_of(mode, h), states_of(mode, alone_h)):
            torch.testing.assert_close(a[:, b], s[:, 0], atol=ATOL, rtol=0)


@pytest.mark.parametrize("impl", ["fused", "scan"])
def test_padding_values_never_reach_real_outputs_or_states(impl):
    torch.manual_seed(2)
    layer = gatedrnn.LSTM(3, 4, num_layers=2, bidirectional=True)
    lengths = torch.tensor([3, 6, 2])
    x = torch.randn(6, 3, 3)
    noisy = x.clone()
    for b, n in enumerate(lengths.tolist()):
        noisy[n:, b] = 1e3 * torch.randn_like(noisy[n:, b])
    out1, (h1, c1) = layer(x, lengths=lengths, impl=impl)
    out2, (h2, c2) = layer(noisy, lengths=lengths, impl=impl)
    torch.testing.assert_close(out1, out2, atol=0, rtol=0)
    torch.testing.assert_close(h1, h2, atol=0, rtol=0)
    torch.testing.assert_close(c1, c2, atol=0, rtol=0)


@pytest.mark.parametrize("mode", MODES)
def test_state_dict_round_trips_both_ways(mode):
    kwargs = dict(num_layers=2, bidirectional=True, bias=True)
    ref = getattr(nn, mode)(3, 4, **kwargs)
    ours = getattr(gatedrnn, mode)(3, 4, **kwargs)
    assert list(ours.state_dict()) == list(ref.state_dict())
    for name, tensor in ref.state_dict().items():
        assert ours.state_dict()[name].shape == tensor.shape, name
    ours.load_state_dict(ref.state_dict())
    back = getattr(nn, mode)(3, 4, **kwargs)
    back.load_state_dict(ours.state_dict())
    for name, tensor in ref.state_dict().items():
        assert torch.equal(back.state_dict()[name], tensor)
    x = torch.randn(5, 2, 3)
    torch.testing.assert_close(back(x)[0], ours(x)[0], atol=ATOL, rtol=0)


def test_unbatched_input_matches_torch():
    torch.manual_seed(3)
    ours, ref = make_pair("LSTM", 3, 4, num_layers=2, bidirectional=True)
    x = torch.randn(7, 3)
    out, (h, c) = ours(x)
    out_ref, (h_ref, c_ref) = ref(x)
    assert out.shape == (7, 8) and h.shape == (4, 4)
    torch.testing.assert_close(out, out_ref, atol=ATOL, rtol=0)
    torch.testing.assert_close(c, c_ref, atol=ATOL, rtol=0)


def test_training_dropout_between_layers_only():
    torch.manual_seed(4)
    layer = gatedrnn.GRU(3, 4, num_layers=2, dropout=0.5)
    x = torch.randn(5, 2, 3)
    layer.train()
    a, _ = layer(x, impl="scan")
    b, _ = layer(x, impl="scan")
    assert not torch.allclose(a, b)  # dropout acts in training
    layer.eval()
    c, _ = layer(x, impl="scan")
    d, _ = layer(x, impl="fused")
    torch.testing.assert_close(c, d, atol=ATOL, rtol=0)
    single = gatedrnn.GRU(3, 4, num_layers=1, dropout=0.5).train()
    torch.testing.assert_close(single(x, impl="scan")[0], single(x, impl="fused")[0],
                               atol=ATOL, rtol=0)


# ---- gates ------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode, names", [
    ("LSTM", {"f", "i", "c_tilde", "c", "o", "h"}),
    ("GRU", {"r", "z", "n", "h"}),
    ("RNN", {"h"}),
])
def test_return_gates_shapes_and_consistency(mode, names):
    torch.manual_seed(5)
    layer = getattr(gatedrnn, mode)(3, 4, num_layers=2, bidirectional=True, batch_first=True)
    x = torch.randn(2, 6, 3)
    lengths = torch.tensor([6, 3])
    out, _, gates = layer(x, lengths=lengths, return_gates=True)
    assert set(gates) == {"l0", "l0_reverse", "l1", "l1_reverse"}
    for per_direction in gates.values():
        assert set(per_direction) == names
        for value in per_direction.values():
            assert value.shape == (2, 6, 4)
            assert value[1, 3:].abs().max() == 0  # nothing past the length
    torch.testing.assert_close(gates["l1"]["h"], out[..., :4])
    torch.testing.assert_close(gates["l1_reverse"]["h"], out[..., 4:])
    # The same call without gates gives the same output (through the fused path).
    out_fast, _ = layer(x, lengths=lengths)
    torch.testing.assert_close(out, out_fast, atol=ATOL, rtol=0)


def test_cho_gru_layer_is_the_cho_cell_over_time():
    torch.manual_seed(6)
    layer = gatedrnn.GRU(3, 4, variant="cho")
    cell = gatedrnn.GRUCell(3, 4, variant="cho")
    cell.load_state_dict({k.replace("_l0", ""): v for k, v in layer.state_dict().items()})
    x = torch.randn(5, 2, 3)
    h = torch.zeros(2, 4)
    outs = []
    for x_t in x:
        h = cell(x_t, h)
        outs.append(h)
    out, h_n = layer(x)
    torch.testing.assert_close(out, torch.stack(outs), atol=ATOL, rtol=0)
    torch.testing.assert_close(h_n[0], h, atol=ATOL, rtol=0)


# ---- initialisation ---------------------------------------------------------------------------


def test_forget_bias_init_sets_the_effective_bias():
    layer = gatedrnn.LSTM(3, 4, num_layers=2, bidirectional=True, init="forget_bias")
    for suffix in ["l0", "l0_reverse", "l1", "l1_reverse"]:
        total = getattr(layer, f"bias_ih_{suffix}") + getattr(layer, f"bias_hh_{suffix}")
        torch.testing.assert_close(total[4:8], torch.ones(4))
    gru = gatedrnn.GRU(3, 4, init="forget_bias", forget_bias=2.0)
    torch.testing.assert_close((gru.bias_ih_l0 + gru.bias_hh_l0)[4:8], torch.full((4,), 2.0))


def test_chrono_init_ranges():
    torch.manual_seed(7)
    layer = gatedrnn.LSTM(3, 64, init="chrono", chrono_t_max=100)
    b = (layer.bias_ih_l0 + layer.bias_hh_l0).detach()
    forget, inp = b[64:128], b[0:64]
    assert forget.min() >= 0 and forget.max() <= torch.log(torch.tensor(99.0)) + 1e-6
    torch.testing.assert_close(inp, -forget)
    gru = gatedrnn.GRU(3, 64, init="chrono", chrono_t_max=100)
    z = (gru.bias_ih_l0 + gru.bias_hh_l0)[64:128]
    assert z.min() >= 0 and z.max() > 2.0


def test_init_errors():
    with pytest.raises(ValueError, match="chrono_t_max >= 2"):
        gatedrnn.LSTM(3, 4, init="chrono")
    with pytest.raises(ValueError, match="vanilla RNN has no forget gate"):
        gatedrnn.RNN(3, 4, init="forget_bias")
    with pytest.raises(ValueError, match="init must be one of"):
        gatedrnn.LSTM(3, 4, init="xavier")


# ---- bad arguments ----------------------------------------------------------------------------


def test_bad_arguments_raise_clear_errors():
    layer = gatedrnn.LSTM(3, 4, num_layers=2)
    with pytest.raises(ValueError, match=r"input must be 3-D .* got shape \(2, 3, 4, 3\)"):
        layer(torch.randn(2, 3, 4, 3))
    with pytest.raises(ValueError, match="input feature size must be input_size=3, got 5"):
        layer(torch.randn(6, 2, 5))
    with pytest.raises(ValueError, match=r"lengths must be in 1..T=6, got 0 at index 1"):
        layer(torch.randn(6, 2, 3), lengths=torch.tensor([3, 0]))
    with pytest.raises(ValueError, match=r"lengths must be in 1..T=6, got 7 at index 0"):
        layer(torch.randn(6, 2, 3), lengths=torch.tensor([7, 2]))
    with pytest.raises(ValueError, match=r"one entry per sequence \(batch=2\)"):
        layer(torch.randn(6, 2, 3), lengths=torch.tensor([3, 2, 1]))
    with pytest.raises(ValueError, match="lengths must hold integers"):
        layer(torch.randn(6, 2, 3), lengths=torch.tensor([3.0, 2.0]))
    with pytest.raises(ValueError, match=r"h_0 must have shape \(2, 2, 4\) .* got \(1, 2, 4\)"):
        layer(torch.randn(6, 2, 3), (torch.zeros(1, 2, 4), torch.zeros(2, 2, 4)))
    with pytest.raises(ValueError, match=r"c_0 must have shape"):
        layer(torch.randn(6, 2, 3), (torch.zeros(2, 2, 4), torch.zeros(2, 3, 4)))
    with pytest.raises(ValueError, match="hx must be a tuple"):
        layer(torch.randn(6, 2, 3), torch.zeros(2, 2, 4))
    with pytest.raises(ValueError, match="variant must be one of 'torch', 'cho', got 'x'"):
        gatedrnn.GRU(3, 4, variant="x")
    with pytest.raises(ValueError, match="impl must be one of"):
        gatedrnn.GRU(3, 4, impl="cuda")
    with pytest.raises(ValueError, match="needs impl='scan' or 'auto'"):
        gatedrnn.GRU(3, 4, variant="cho")(torch.randn(2, 1, 3), impl="fused")
    with pytest.raises(ValueError, match="return_gates=True needs"):
        layer(torch.randn(6, 2, 3), return_gates=True, impl="fused")
    with pytest.raises(ValueError, match="hidden_size must be a positive integer"):
        gatedrnn.RNN(3, 0)
    with pytest.raises(ValueError, match="dropout must be a number in"):
        gatedrnn.RNN(3, 4, dropout=1.5)
    with pytest.raises(ValueError, match="not both"):
        packed = pack_padded_sequence(torch.randn(3, 2, 3), torch.tensor([3, 2]))
        layer(packed, lengths=torch.tensor([3, 2]))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("bidirectional", [False, True])
def test_many_distinct_lengths_match_torch_including_cell_state_gradients(mode, bidirectional):
    """More distinct lengths than fused segments: LSTM's c_n is rebuilt inside segments."""
    torch.manual_seed(8)
    ours, ref = make_pair(mode, 4, 6, num_layers=2, bidirectional=bidirectional)
    lengths = torch.randint(1, 31, (24,))
    lengths[0] = 30
    assert_matches_torch(mode, ours, ref, torch.randn(30, 24, 4), lengths, impl="fused")


def test_segment_ends_start_at_the_shortest_and_end_at_the_longest():
    from gatedrnn.nn.fused import _segment_ends
    assert _segment_ends([3, 5, 9], 8) == [3, 5, 9]
    assert _segment_ends([3, 5, 9], 1) == [9]
    ends = _segment_ends(list(range(100, 201)), 8)
    assert ends[0] == 100 and ends[-1] == 200 and len(ends) == 8


@pytest.mark.parametrize("impl", ["fused", "scan"])
def test_nan_in_padding_reaches_neither_outputs_nor_gradients(impl):
    torch.manual_seed(9)
    layer = gatedrnn.LSTM(3, 4, bidirectional=True)
    x = torch.randn(5, 2, 3)
    x[3:, 1] = float("nan")
    x.requires_grad_()
    out, (h, c) = layer(x, lengths=torch.tensor([5, 3]), impl=impl)
    (out.sum() + h.sum() + c.sum()).backward()
    assert torch.isfinite(out).all() and torch.isfinite(c).all()
    assert all(torch.isfinite(p.grad).all() for p in layer.parameters())


@pytest.mark.parametrize("impl", ["fused", "scan"])
@pytest.mark.parametrize("batch_first", [False, True])
def test_skipping_the_cell_state_changes_no_output_h_n_or_gradient(impl, batch_first):
    """need_cell_state=False (one fused call per direction, any batch order) returns c_n None
    and exactly what the full path returns for everything else, gradients included."""
    torch.manual_seed(10)
    layer = gatedrnn.LSTM(3, 5, num_layers=2, bidirectional=True, batch_first=batch_first)
    lengths = torch.tensor([2, 7, 4, 7, 1, 5])  # unsorted, many distinct lengths
    x = torch.randn(6, 7, 3) if batch_first else torch.randn(7, 6, 3)
    results = []
    for need in (True, False):
        x_in = x.clone().requires_grad_()
        layer.zero_grad()
        out, (h, c) = layer(x_in, lengths=lengths, impl=impl, need_cell_state=need)
        (out.sin().sum() + h.cos().sum()).backward()
        results.append((out, h, c, x_in.grad, [p.grad.clone() for p in layer.parameters()]))
    (out_a, h_a, c_a, gx_a, gp_a), (out_b, h_b, c_b, gx_b, gp_b) = results
    assert c_a is not None and c_b is None
    torch.testing.assert_close(out_b, out_a, atol=ATOL, rtol=0)
    torch.testing.assert_close(h_b, h_a, atol=ATOL, rtol=0)
    torch.testing.assert_close(gx_b, gx_a, atol=ATOL, rtol=0)
    for a, b in zip(gp_a, gp_b):
        torch.testing.assert_close(b, a, atol=ATOL, rtol=0)
    # Unbatched input and the no-lengths path return None for c_n too.
    _, (h1, c1) = gatedrnn.LSTM(3, 5)(torch.randn(4, 3), need_cell_state=False)
    assert c1 is None and h1.shape == (1, 5)


# ---- the LSTM's hand-written backpropagation through time (gatedrnn.nn.bptt) ----------------


@pytest.mark.parametrize("compiled", [False, pytest.param(True, marks=needs_compiler)])
@pytest.mark.parametrize("lengths", [None, [7, 3, 5, 1, 7]])
def test_lstm_scan_backward_passes_float64_gradcheck(lengths, compiled):
    """The hand-written backward, eager and with compiled steps (impl="compiled")."""
    from gatedrnn.nn.bptt import lstm_scan
    torch.manual_seed(11)
    steps, batch, hidden = 7, 5, 4
    mask, always_active = None, steps
    if lengths is not None:
        lengths = torch.tensor(lengths)
        mask = (torch.arange(steps)[:, None] < lengths[None]).unsqueeze(-1)
        always_active = int(lengths.min())
    inputs = (torch.randn(steps, batch, 4 * hidden, dtype=torch.float64, requires_grad=True),
              torch.randn(batch, hidden, dtype=torch.float64, requires_grad=True),
              torch.randn(batch, hidden, dtype=torch.float64, requires_grad=True),
              torch.randn(4 * hidden, hidden, dtype=torch.float64, requires_grad=True))

    def run(x_proj, h0, c0, weight_hh):
        output, (h, c) = lstm_scan(x_proj, (h0, c0), weight_hh, mask, always_active, compiled)
        return output, h, c

    assert torch.autograd.gradcheck(run, inputs)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_lstm_hand_written_backward_equals_autograd_through_the_equations(bidirectional):
    """return_gates=True runs the scan under autograd; without it the backward is bptt's. Both
    must give the same gradients for unsorted lengths, an initial state, and two layers."""
    torch.manual_seed(12)
    layer = gatedrnn.LSTM(3, 6, num_layers=2, bidirectional=bidirectional, batch_first=True)
    dirs = 2 if bidirectional else 1
    x = torch.randn(5, 9, 3)
    hx = (torch.randn(2 * dirs, 5, 6), torch.randn(2 * dirs, 5, 6))
    lengths = torch.tensor([4, 9, 1, 6, 9])
    results = []
    for record in (False, True):
        x_in = x.clone().requires_grad_()
        h0, c0 = (s.clone().requires_grad_() for s in hx)
        layer.zero_grad()
        out, (h, c) = layer(x_in, (h0, c0), lengths=lengths, impl="scan", return_gates=record)[:2]
        loss_of(out, (h, c)).backward()
        results.append([out, h, c, x_in.grad, h0.grad, c0.grad,
                        *[p.grad.clone() for p in layer.parameters()]])
    for a, b in zip(*results):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=0)


# ---- impl="compiled": the same equations, each step's arithmetic compiled (torch.compile) ----


@needs_compiler
@pytest.mark.parametrize("batch_first, variable, with_hx", [(False, False, False),
                                                           (True, True, True)])
def test_compiled_lstm_matches_torch_nn(batch_first, variable, with_hx):
    torch.manual_seed(14)
    ours, ref = make_pair("LSTM", 4, 6, num_layers=2, bidirectional=True,
                          batch_first=batch_first)
    x = torch.randn((5, 9, 4) if batch_first else (9, 5, 4))
    lengths = torch.tensor([4, 9, 1, 6, 9]) if variable else None
    hx = (torch.randn(4, 5, 6), torch.randn(4, 5, 6)) if with_hx else None
    assert_matches_torch("LSTM", ours, ref, x, lengths, hx, batch_first, impl="compiled")
    with torch.no_grad():  # inference takes the compiled forward too
        out, (h, c) = ours(x, hx, lengths=lengths, impl="compiled")
        out_scan, (h_scan, c_scan) = ours(x, hx, lengths=lengths, impl="scan")
    torch.testing.assert_close(out, out_scan, atol=1e-6, rtol=0)
    torch.testing.assert_close(c, c_scan, atol=1e-6, rtol=0)


def test_compiled_impl_errors_are_clear(monkeypatch):
    from gatedrnn.nn import compiled_steps
    with pytest.raises(ValueError, match="impl='compiled' is for LSTM"):
        gatedrnn.GRU(3, 4)(torch.randn(5, 2, 3), impl="compiled")
    with pytest.raises(ValueError, match="impl='compiled' is for LSTM"):
        gatedrnn.RNN(3, 4, impl="compiled")
    with pytest.raises(ValueError, match="return_gates=True needs impl='scan'"):
        gatedrnn.LSTM(3, 4)(torch.randn(5, 2, 3), impl="compiled", return_gates=True)

    def no_compiler(*args):
        raise torch._dynamo.exc.BackendCompilerFailed(lambda: None, RuntimeError("no g++"),
                                                      None)
    monkeypatch.setattr(compiled_steps, "_compiled", lambda name: no_compiler)
    with pytest.raises(compiled_steps.CompileError, match="needs a C\\+\\+ compiler.*impl='scan'"):
        gatedrnn.LSTM(3, 4)(torch.randn(5, 2, 3), impl="compiled")
