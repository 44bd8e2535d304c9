"""Chart builders: plain data in, the right numbers in the figure out."""
import numpy as np

from playground import charts


def test_ema_is_bias_corrected():
    np.testing.assert_allclose(charts.ema([2.0, 2.0, 2.0], 0.9), [2.0, 2.0, 2.0])
    assert charts.ema([0.0, 10.0], 0.5)[1] == 10.0 * 0.5 / 0.75


def test_live_loss_chart_caps_raw_points_and_keeps_l2_apart():
    rows = [{"step": i, "loss": 1.0 / i, "l2": 0.01} for i in range(1, 9001)]
    fig = charts.step_loss(rows)
    raw, smooth, l2 = fig.data
    assert len(raw.x) <= charts.MAX_RAW_POINTS + 1 and raw.x[-1] >= 8985
    assert l2.yaxis == "y2"  # the L2 term on its own axis
    assert len(charts.step_loss([{"step": 1, "loss": 1.0, "l2": 0.0}]).data) == 2  # no L2 trace without L2


def test_gradient_chart_relative_to_the_last_step():
    fig = charts.gradient_norms({"rnn": np.array([0.001, 0.1, 2.0])}, relative=True)
    np.testing.assert_allclose(fig.data[0].y, [0.0005, 0.05, 1.0])
    raw = charts.gradient_norms({"rnn": np.array([0.001, 0.1, 2.0])}, relative=False)
    np.testing.assert_allclose(raw.data[0].y, [0.001, 0.1, 2.0])


def test_gap_is_train_minus_validation_and_names_are_escaped():
    rows = [{"epoch": 1, "train_acc": 0.9, "val_acc": 0.8}, {"epoch": 2, "train_acc": 0.95, "val_acc": 0.8}]
    fig = charts.generalization_gap([("<img src=x onerror=alert(1)>", rows)])
    np.testing.assert_allclose(fig.data[0].y, [0.1, 0.15])
    assert "<img" not in fig.data[0].name and "&lt;img" in fig.data[0].name


def test_confusion_and_probabilities():
    fig = charts.confusion([[5, 1], [2, 7]], ["airplane", "bird"])
    assert fig.data[0].z.tolist() == [[5, 1], [2, 7]]
    bars = charts.probabilities([0.1, 0.7, 0.2], ["a", "b", "c"])
    assert bars.data[0].marker.color[1] != bars.data[0].marker.color[0]  # the winner stands out
