"""Probes against reference answers: hand-stepped cells equal nn.LSTM / nn.GRU / nn.RNN."""
import numpy as np
import pytest
import torch

from playground import probes
from playground.config import RunConfig
from playground.models import build_model


def model_of(**kw):
    torch.manual_seed(0)
    return build_model(RunConfig().override(**kw)).eval()


@pytest.mark.parametrize("arch", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("layers", [1, 2])
def test_hand_stepped_layers_reproduce_torch_exactly(arch, layers):
    model = model_of(arch=arch, hidden=20, layers=layers, dropout=0.2 if layers > 1 else 0.0)
    x = torch.randn(1, 1, 28, 28)
    reference, _ = model.rnn(model.rows(x))  # (1, 28, 20), top layer
    trace = probes.recurrent_trace(model, x)
    np.testing.assert_allclose(trace.hidden, reference[0].detach().numpy(), atol=1e-5)
    assert trace.hidden.shape == (28, 20)


def test_lstm_gates_are_consistent_with_the_cell_equations():
    model = model_of(arch="lstm", hidden=8)
    x = torch.randn(1, 1, 28, 28)
    trace = probes.recurrent_trace(model, x)
    g = trace.gates
    assert set(g) == {"input gate", "forget gate", "output gate", "cell state"}
    for name in ("input gate", "forget gate", "output gate"):
        assert g[name].shape == (28, 8) and g[name].min() >= 0 and g[name].max() <= 1
    # h_t = o_t * tanh(c_t), and torch's final cell state equals ours
    np.testing.assert_allclose(trace.hidden, g["output gate"] * np.tanh(g["cell state"]), atol=1e-6)
    _, (h_n, c_n) = model.rnn(model.rows(x))
    np.testing.assert_allclose(g["cell state"][-1], c_n[0, 0].detach().numpy(), atol=1e-5)


def test_gru_gates_are_present_and_bounded():
    trace = probes.recurrent_trace(model_of(arch="gru", hidden=8), torch.randn(1, 1, 28, 28))
    assert set(trace.gates) == {"update gate", "reset gate"}
    assert all(v.min() >= 0 and v.max() <= 1 for v in trace.gates.values())


def test_row_predictions_end_with_the_models_own_answer():
    model = model_of(arch="lstm", hidden=16)
    x = torch.randn(1, 1, 28, 28)
    rows = probes.row_predictions(model, x)
    assert rows.shape == (28, 10)
    np.testing.assert_allclose(rows.sum(1), 1, atol=1e-5)
    np.testing.assert_allclose(rows[-1], torch.softmax(model(x), 1)[0].detach().numpy(), atol=1e-5)


@pytest.mark.parametrize("arch", ["rnn", "lstm", "gru"])
def test_gradient_through_time_gives_28_finite_values_that_match_autograd(arch):
    model = model_of(arch=arch, hidden=16)
    x = torch.randn(1, 1, 28, 28)
    norms = probes.gradient_through_time(model, x, label=3)
    assert norms.shape == (28,) and np.isfinite(norms).all() and norms[-1] > 0
    # the last step's gradient has a closed form: W_head^T (softmax - onehot)
    p = torch.softmax(model(x), 1)[0]
    p[3] -= 1
    expected = (model.head.weight.T @ p).norm().item()
    assert norms[-1] == pytest.approx(expected, rel=1e-4)
    assert all(p.grad is None for p in model.parameters())  # the probe leaves no gradients behind


@pytest.mark.parametrize("kw, stages", [
    (dict(arch="cnn", dataset="cifar2"), ["conv", "activation", "pool"]),
    (dict(arch="cnn", dataset="cifar2", batchnorm=True), ["conv", "batch-norm", "activation", "pool"]),
    (dict(arch="cnn", dataset="cifar2", dropout=0.3), ["conv", "activation", "pool", "dropout"]),
    (dict(arch="cnn", dataset="mnist", width=32), ["conv", "activation", "pool"]),
])
def test_feature_map_shapes_per_layer_for_each_cnn_variant(kw, stages):
    model = model_of(**kw)
    c, h, w = (3, 32, 32) if kw["dataset"] == "cifar2" else (1, 28, 28)
    maps = probes.feature_maps(model, torch.randn(1, c, h, w))
    width = kw.get("width", 16)
    assert [m.stage for m in maps] == stages * 2
    by = {(m.block, m.stage): m.maps.shape for m in maps}
    assert by[(1, "conv")] == (width, h, w)
    assert by[(1, "pool")] == (width, h // 2, w // 2)
    assert by[(2, "conv")] == (width // 2, h // 2, w // 2)
    assert by[(2, "pool")] == (width // 2, h // 4, w // 4)
    assert probes.first_filters(model).shape == (width, c, 3, 3)


def test_lenet_maps_follow_the_conv_output_formula():
    maps = probes.feature_maps(model_of(arch="lenet"), torch.randn(1, 1, 28, 28))
    by = {(m.block, m.stage): m.maps.shape for m in maps}
    assert by[(1, "conv")] == (6, 28, 28) and by[(2, "conv")] == (16, 10, 10) and by[(2, "pool")] == (16, 5, 5)
