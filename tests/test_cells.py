import pytest
import torch
from torch import nn

from gatedrnn.nn import GRUCell, LSTMCell, RNNCell

ATOL = 1e-5


def _copy(dst: nn.Module, src: nn.Module) -> None:
    dst.load_state_dict(src.state_dict())


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("ours_cls, ref_cls, kwargs", [
    (RNNCell, nn.RNNCell, {"nonlinearity": "tanh"}),
    (RNNCell, nn.RNNCell, {"nonlinearity": "relu"}),
    (LSTMCell, nn.LSTMCell, {}),
    (GRUCell, nn.GRUCell, {}),
])
def test_cell_matches_torch_forward_and_gradients(ours_cls, ref_cls, kwargs, bias):
    torch.manual_seed(0)
    ref = ref_cls(6, 5, bias=bias, **kwargs)
    ours = ours_cls(6, 5, bias=bias, **kwargs)
    _copy(ours, ref)
    x = torch.randn(4, 6, requires_grad=True)
    state = (torch.randn(4, 5), torch.randn(4, 5)) if ref_cls is nn.LSTMCell else torch.randn(4, 5)

    out_ref = ref(x, state)
    loss_ref = sum(o.pow(2).sum() for o in (out_ref if isinstance(out_ref, tuple) else (out_ref,)))
    grads_ref = torch.autograd.grad(loss_ref, [x, *ref.parameters()])
    out = ours(x, state)
    loss = sum(o.pow(2).sum() for o in (out if isinstance(out, tuple) else (out,)))
    grads = torch.autograd.grad(loss, [x, *ours.parameters()])

    torch.testing.assert_close(loss, loss_ref, atol=ATOL, rtol=0)
    for g, g_ref in zip(grads, grads_ref):
        torch.testing.assert_close(g, g_ref, atol=ATOL, rtol=0)


@pytest.mark.parametrize("make", [
    lambda: RNNCell(3, 4, nonlinearity="tanh"),
    lambda: LSTMCell(3, 4),
    lambda: GRUCell(3, 4, variant="torch"),
    lambda: GRUCell(3, 4, variant="cho"),
])
def test_cell_gradcheck_float64(make):
    torch.manual_seed(1)
    cell = make().double()
    x = torch.randn(2, 3, dtype=torch.double, requires_grad=True)
    h = torch.randn(2, 4, dtype=torch.double, requires_grad=True)
    c = torch.randn(2, 4, dtype=torch.double, requires_grad=True)
    params = list(cell.parameters())

    def run(x, h, c, *weights):
        named = dict(zip([n for n, _ in cell.named_parameters()], weights))
        state = (h, c) if isinstance(cell, LSTMCell) else h
        out = torch.func.functional_call(cell, named, (x, state))
        return out if isinstance(out, tuple) else (out,)

    assert torch.autograd.gradcheck(run, (x, h, c, *params))


def test_cho_gru_matches_the_chapters_equations():
    """variant='cho' is the chapter's GRU; the chapter's z is our 1 − z (z rows negated)."""
    torch.manual_seed(2)
    cell = GRUCell(3, 4, variant="cho").double()
    hidden = 4
    W_ih, W_hh, b_ih, b_hh = (p.detach() for p in (cell.weight_ih, cell.weight_hh,
                                                    cell.bias_ih, cell.bias_hh))
    x = torch.randn(5, 3, dtype=torch.double)
    h_prev = torch.randn(5, 4, dtype=torch.double)

    def rows(t, k):
        return t[k * hidden:(k + 1) * hidden]

    sigma = torch.sigmoid
    # The chapter: z_t = σ(W_z·[h_{t-1}, x_t]), r_t = σ(W_r·[h_{t-1}, x_t]),
    # h̃_t = tanh(W·[r_t ⊙ h_{t-1}, x_t]), h_t = (1 − z_t) ⊙ h_{t-1} + z_t ⊙ h̃_t,
    # with [h, x] concatenation and the weights of the chapter's z being minus ours.
    W_r = torch.cat([rows(W_hh, 0), rows(W_ih, 0)], 1)
    W_z = -torch.cat([rows(W_hh, 1), rows(W_ih, 1)], 1)
    W = torch.cat([rows(W_hh, 2), rows(W_ih, 2)], 1)
    b_r = rows(b_ih, 0) + rows(b_hh, 0)
    b_z = -(rows(b_ih, 1) + rows(b_hh, 1))
    b = rows(b_ih, 2) + rows(b_hh, 2)
    z = sigma(torch.cat([h_prev, x], 1) @ W_z.T + b_z)
    r = sigma(torch.cat([h_prev, x], 1) @ W_r.T + b_r)
    h_tilde = torch.tanh(torch.cat([r * h_prev, x], 1) @ W.T + b)
    h_chapter = (1 - z) * h_prev + z * h_tilde

    h = cell(x, h_prev)
    torch.testing.assert_close(h, h_chapter, atol=1e-12, rtol=0)
    # and it is a different function from torch's formulation with the same weights
    torch_cell = GRUCell(3, 4, variant="torch").double()
    torch_cell.load_state_dict(cell.state_dict())
    assert (torch_cell(x, h_prev) - h).abs().max() > 1e-4


def test_lstm_cell_returns_every_gate():
    cell = LSTMCell(3, 4)
    h, c, gates = cell(torch.randn(2, 3), return_gates=True)
    assert set(gates) == {"f", "i", "c_tilde", "c", "o", "h"}
    torch.testing.assert_close(gates["c"], c)
    torch.testing.assert_close(gates["h"], gates["o"] * torch.tanh(gates["c"]))
    for name in ("f", "i", "o"):
        assert ((gates[name] > 0) & (gates[name] < 1)).all()


def test_cells_accept_unbatched_input():
    torch.manual_seed(3)
    ref, ours = nn.LSTMCell(3, 4), LSTMCell(3, 4)
    _copy(ours, ref)
    x = torch.randn(3)
    for a, b in zip(ours(x), ref(x)):
        torch.testing.assert_close(a, b)


def test_cell_errors_name_the_problem():
    with pytest.raises(ValueError, match="input feature size must be input_size=3, got 5"):
        LSTMCell(3, 4)(torch.randn(2, 5))
    with pytest.raises(ValueError, match="1-D .* or 2-D"):
        GRUCell(3, 4)(torch.randn(2, 2, 3))
    with pytest.raises(ValueError, match=r"h_0 must have shape \(2, 4\), got \(2, 5\)"):
        LSTMCell(3, 4)(torch.randn(2, 3), (torch.randn(2, 5), torch.randn(2, 4)))
    with pytest.raises(ValueError, match="variant must be one of 'torch', 'cho', got 'chung'"):
        GRUCell(3, 4, variant="chung")
    with pytest.raises(ValueError, match="nonlinearity must be one of"):
        RNNCell(3, 4, nonlinearity="sigmoid")


def test_the_chapters_naive_lstm_computes_what_torch_nn_lstm_does():
    """The baseline benchmarks/layers.py times (one nn.Linear per gate on [h, x]) is the same
    function as torch.nn.LSTM given the same weights: the speed gap is the formulation's."""
    from gatedrnn.nn.naive import NaiveLSTM

    torch.manual_seed(0)
    reference = torch.nn.LSTM(5, 4)
    naive = NaiveLSTM(5, 4, num_layers=1, bidirectional=False)
    layer = naive.layers[0][0]
    w_ih, w_hh = reference.weight_ih_l0.chunk(4), reference.weight_hh_l0.chunk(4)
    b = (reference.bias_ih_l0 + reference.bias_hh_l0).chunk(4)
    with torch.no_grad():  # torch's gate order: input, forget, cell (candidate), output
        for k, gate in enumerate((layer.input, layer.forget, layer.candidate, layer.output)):
            gate.weight.copy_(torch.cat([w_hh[k], w_ih[k]], dim=1))
            gate.bias.copy_(b[k])
    x = torch.randn(7, 3, 5)
    expected, (h, _) = reference(x)
    out, finals = naive(x)
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(finals[0], h[0], atol=1e-5, rtol=1e-5)
