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


def test_hidden_states_line_up_with_the_image_rows_they_read():
    rng = np.random.default_rng(0)
    hidden, image = rng.normal(size=(28, 5)), rng.random((28, 28))
    fig = charts.hidden_states(hidden, image)
    picture, heat = fig.data
    # Image row t and h_t share one y axis and one coordinate: step t = row t, 1-based, top down.
    assert fig.layout.yaxis2.matches == "y" and fig.layout.yaxis.autorange == "reversed"
    assert list(picture.y) == list(heat.y) == list(range(1, 29))
    np.testing.assert_array_equal(heat.z, hidden)

    ranked = charts.hidden_states(hidden, image, sort_units=True).data[1]
    means = hidden.mean(0)
    assert [means[int(u)] for u in ranked.x] == sorted(means, reverse=True)
    np.testing.assert_array_equal(ranked.z[:, 0], hidden[:, int(np.argmax(means))])

    colour = charts.hidden_states(rng.normal(size=(32, 4)), rng.integers(0, 255, (32, 32, 3), dtype=np.uint8))
    assert colour.data[0].type == "image" and colour.data[0].y0 == 1  # CIFAR rows: 32 steps


def test_gates_are_steps_by_units_on_one_reversed_axis():
    g = {name: np.random.default_rng(1).random((28, 6)) for name in ("input gate", "forget gate")}
    fig = charts.gates(g)
    assert [list(t.y) for t in fig.data] == [list(range(1, 29))] * 2
    assert fig.layout.yaxis.autorange == "reversed" and fig.layout.yaxis2.matches == "y"
    np.testing.assert_array_equal(fig.data[1].z, g["forget gate"])


def test_a_one_epoch_run_is_drawn_in_the_comparison():
    rows = [{"epoch": 1, "train_loss": 0.2, "train_acc": 0.95, "val_loss": None, "val_acc": None}]
    fig = charts.compare_curves([("lstm64", rows)])
    assert [t.name for t in fig.data] == ["lstm64 (train)", "lstm64 (train)"]  # loss and accuracy
    assert all("markers" in t.mode for t in fig.data)  # a single point: a line alone draws nothing
