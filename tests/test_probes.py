"""Probes against reference answers: hand-stepped cells equal nn.LSTM / nn.GRU / nn.RNN; probes leave no
state on the model (Inside's models are cached and shared by every browser session)."""
import threading
from concurrent.futures import ThreadPoolExecutor

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


# ------------------------------------------------------------------ weight movement
def test_weight_change_matches_a_hand_computation_per_layer():
    cfg = RunConfig().override(arch="cnn", dataset="cifar2", width=4, seed=3)
    from playground.models import untrained

    w0 = untrained(cfg).requires_grad_(False)
    moved = untrained(cfg)
    with torch.no_grad():
        conv = moved.features[0][0]
        conv.weight.add_(0.5)  # move only the first conv layer's weight, not its bias
    rows = probes.weight_change(moved, w0)
    first, rest = rows[0], rows[1:]
    ref = w0.features[0][0]
    hand = 0.5 * np.sqrt(conv.weight.numel()) / np.sqrt(float((ref.weight ** 2).sum() + (ref.bias ** 2).sum()))
    assert first.layer == "conv 1 (4 filters 3×3)" and first.params == conv.weight.numel() + conv.bias.numel()
    assert first.change == pytest.approx(hand, rel=1e-6)  # w + 0.5 rounds in float32
    assert all(r.change == 0 for r in rest) and len(rows) == 4  # 2 convs, 2 linear layers


def test_weight_change_of_a_stacked_lstm_is_per_layer_and_zero_at_the_start():
    cfg = RunConfig().override(arch="lstm", hidden=8, layers=2, dropout=0.1, seed=5)
    from playground.models import untrained

    start, trained = untrained(cfg), untrained(cfg)
    assert all(r.change == 0 for r in probes.weight_change(trained, start))  # the run's exact initial weights
    with torch.no_grad():
        trained.rnn.weight_hh_l1.mul_(3.0)  # ||3w - w|| = 2||w||, diluted by the layer's other tensors
    rows = {r.layer: r for r in probes.weight_change(trained, start)}
    assert list(rows) == ["LSTM layer 1", "LSTM layer 2", "output (8 → 10 classes)"]  # never "rnn layer" for an LSTM
    layer2 = [w.detach() for w in (start.rnn.weight_ih_l1, start.rnn.weight_hh_l1, start.rnn.bias_ih_l1,
                                    start.rnn.bias_hh_l1)]
    total = sum(float((w ** 2).sum()) for w in layer2)
    assert rows["LSTM layer 2"].change == pytest.approx(2 * np.sqrt(float((layer2[1] ** 2).sum()) / total))
    assert rows["LSTM layer 1"].change == 0 and rows["output (8 → 10 classes)"].change == 0


def test_weight_change_refuses_two_different_architectures():
    with pytest.raises(ValueError, match="not the same architecture"):
        probes.weight_change(model_of(arch="lstm", hidden=8), model_of(arch="lstm", hidden=16))


def test_confusion_matrix_counts_true_rows_and_predicted_columns():
    m = probes.confusion_matrix([1, 1, 2, 0], [1, 2, 2, 0], 3)
    assert m.tolist() == [[1, 0, 0], [0, 1, 1], [0, 0, 1]]


def test_class_probabilities_sum_to_one_and_follow_the_logits():
    model = model_of(arch="cnn", dataset="cifar2", width=4)
    x = torch.randn(1, 3, 32, 32)
    p = probes.class_probabilities(model, x)
    assert p.shape == (2,) and p.sum() == pytest.approx(1, abs=1e-6)
    assert int(p.argmax()) == int(model(x).argmax())


# ------------------------------------------------------------------ a model every session shares
def test_the_gradient_probe_never_touches_the_weights_gradients():
    """gradient_through_time asks autograd for d loss / d h_t only: nothing accumulates into the weights'
    .grad (before: backward() wrote them, and zero_grad() raced with other sessions on the shared model)."""
    model = model_of(arch="lstm", hidden=8, layers=2)
    accumulated = []
    for p in model.parameters():
        p.register_post_accumulate_grad_hook(accumulated.append)
    probes.gradient_through_time(model, torch.randn(1, 1, 28, 28), label=3)
    assert accumulated == [] and all(p.grad is None for p in model.parameters())


def _probe(model, cfg, x) -> dict:
    """What the Inside page computes from one model for one input."""
    out = {"table": probes.layer_table(cfg), "probs": probes.class_probabilities(model, x)}
    if cfg.model.arch == "lstm":
        out["grad"] = probes.gradient_through_time(model, x, 3)
        out["hidden"] = probes.recurrent_trace(model, x).hidden
    else:
        out["maps"] = np.concatenate([f.maps.ravel() for f in probes.feature_maps(model, x)])
    return out


@pytest.mark.parametrize("arch", ["cnn", "lstm"])
def test_many_sessions_probing_one_shared_model_at_once_get_the_single_session_answers(arch):
    """8 threads probe one model together (tables, forward passes, gradients): each gets what one thread alone
    gets. Before, layer_table's forward hooks sat on the shared model and caught the other threads' passes
    (tables with extra rows)."""
    cfg = RunConfig().override(arch=arch, hidden=16, width=8)
    model = model_of(arch=arch, hidden=16, width=8)
    x = torch.randn(1, 1, 28, 28)
    reference = _probe(model, cfg, x)
    start = threading.Barrier(8)

    def session():
        start.wait()  # all at once, so their probes overlap
        return [_probe(model, cfg, x) for _ in range(12)]

    with ThreadPoolExecutor(8) as pool:
        results = [r for f in [pool.submit(session) for _ in range(8)] for r in f.result()]
    for r in results:
        assert r["table"] == reference["table"]
        for key in set(r) - {"table"}:
            np.testing.assert_allclose(r[key], reference[key], rtol=1e-5, atol=1e-7)
    assert all(p.grad is None for p in model.parameters())


def test_layer_names_a_learner_can_read():
    names = probes.layer_names(model_of(arch="cnn"))
    assert names["features.0.0"] == "conv 1 (16 filters 3×3)" and names["features.1.2"] == "max-pool 2 (2×2)"
    assert names["classifier.1"] == "dense 1 (392 → 32)" and names["classifier.3"] == "output (32 → 10 classes)"
    assert probes.layer_names(model_of(arch="gru", hidden=8, layers=2))["rnn"] == "GRU (2 layers × 8 units)"
    rows = probes.layer_table(RunConfig().override(arch="lenet"))
    assert rows[0]["layer"] == "conv 1 (6 filters 5×5)" and all("features" not in r["layer"] for r in rows)


def test_model_input_is_each_configs_own_normalization_and_leaves_the_pixels_alone():
    pixels = torch.full((1, 1, 28, 28), 255.0)
    unit = probes.model_input(pixels, RunConfig().override(normalize="unit"))
    half = probes.model_input(pixels, RunConfig().override(normalize="half"))
    assert unit.max() == 1.0 and half.max() == 1.0 and probes.model_input(pixels * 0, RunConfig()).min() == -1.0
    assert pixels.max() == 255.0  # the normalizer divides in place: the caller's pixels must not change
