"""Mistakes and attributions against hand-worked answers (Integrated Gradients is exact for a linear model)."""
import numpy as np
import pytest
import torch
from torch import nn

from playground import explain
from playground.config import recipe
from playground.models import build_model


def test_confused_pairs_are_the_largest_off_diagonal_cells():
    m = np.array([[50, 3, 0], [9, 40, 1], [0, 2, 60]])
    assert explain.confused_pairs(m, top=3) == [(1, 0, 9), (0, 1, 3), (2, 1, 2)]
    assert explain.confused_pairs(np.eye(3, dtype=int) * 5) == []  # no mistakes: nothing listed


def test_worst_mistakes_are_wrong_answers_by_loss_and_filter_by_cell():
    cfg = recipe("lstm64")
    labels = np.zeros(10_000, dtype=np.int64)
    probs = np.tile(np.eye(10)[0] * 0.91 + 0.01, (10_000, 1))  # all right, confidently
    probs[5] = np.eye(10)[3] * 0.91 + 0.01  # wrong: p(true) = 0.01
    probs[7] = np.eye(10)[4] * 0.5 + 0.05  # wrong: p(true) = 0.05
    probs[9] = np.full(10, 0.1)  # a tie resolved to class 0: right
    worst = explain.worst_mistakes(probs, labels, cfg)
    assert [(m.index, m.true, m.predicted) for m in worst] == [(5, 0, 3), (7, 0, 4)]
    assert worst[0].loss == pytest.approx(-np.log(0.01)) and worst[0].image.shape == (28, 28)
    assert [m.index for m in explain.worst_mistakes(probs, labels, cfg, true=0, predicted=4)] == [7]


def test_disagreements_between_two_models():
    labels = np.array([0, 1, 2])
    a = np.eye(3)[[0, 1, 0]]  # right, right, wrong
    b = np.eye(3)[[1, 1, 2]]  # wrong, right, right
    got = explain.disagreements(a, b, labels)
    assert got["a_only"].tolist() == [0] and got["b_only"].tolist() == [2]


def test_integrated_gradients_of_a_linear_model_is_input_times_weight():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
    x = torch.rand(1, 1, 28, 28)
    got = explain.saliency(model, x, target=3, method="ig")
    want = (x[0, 0] * model[1].weight[3].view(28, 28)).detach().numpy()  # baseline 0: exact
    np.testing.assert_allclose(got, want, atol=1e-5)
    assert all(p.grad is None for p in model.parameters())  # the shared model is left untouched


@pytest.mark.parametrize("method", ["ig", "occlusion", "gradcam"])
def test_every_method_maps_a_cnn_input_and_gradcam_refuses_a_recurrent_model(method):
    cnn = build_model(recipe("lenet"), seed=0)
    x = torch.rand(1, 1, 28, 28)
    assert explain.saliency(cnn, x, target=1, method=method).shape == (28, 28)
    rnn = build_model(recipe("rnn128"), seed=0)
    if method == "gradcam":
        with pytest.raises(ValueError, match="convolutional"):
            explain.saliency(rnn, x, target=1, method=method)
    else:
        pixel_map = explain.saliency(rnn, x, target=1, method=method)
        assert explain.row_attribution(pixel_map).shape == (28,)


def test_test_outputs_use_the_runs_own_test_set():
    """New-user issue: "3 read as 8 (565x)" on the full test set beside a confusion matrix of the run's 3,000."""
    cfg = recipe("lstm64").override(limit=300, hidden=8)
    probs, labels = explain.test_outputs(build_model(cfg, seed=0), cfg)
    assert probs.shape == (300, 10) and len(labels) == 300


def test_integrated_gradients_add_up_to_the_change_in_the_answer():
    """IG's completeness (Sundararajan et al.): the attributions sum to f(x) - f(baseline) for the target's
    logit, here for a nonlinear LeNet and an LSTM, within the integral's 32-step approximation."""
    torch.manual_seed(0)
    for name in ("lenet", "lstm64"):
        model = build_model(recipe(name), seed=0).eval()
        x = torch.rand(1, 1, 28, 28)
        base = torch.zeros_like(x)
        got = explain.saliency(model, x, target=3, method="ig", baseline=base).sum()
        with torch.no_grad():
            change = float(model(x)[0, 3] - model(base)[0, 3])
        assert abs(got - change) <= 0.05 * abs(change) + 1e-4, (name, got, change)


def test_disagreements_use_the_test_images_both_runs_were_scored_on():
    """New-user issue: two runs with different limits crashed Compare (shapes (10000,) vs (3000,))."""
    labels = np.array([0, 1, 2, 0, 1])
    a = np.eye(3)[[0, 1, 2, 0, 1]]  # all right, 5 images
    b = np.eye(3)[[0, 2, 2]]  # 3 images: the second wrong
    got = explain.disagreements(a, b, labels)
    assert got["a_only"].tolist() == [1] and got["b_only"].tolist() == []
