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


def test_one_runs_one_epoch_gets_an_accuracy_axis_whose_labels_differ():
    """Walkthrough: one run of one epoch drew "95.4%" eight times up its accuracy axis (autorange ~0.001 wide),
    and its gap axis "0.0%" three times; the axes now span at least a point around what they show."""
    curves = {"train_acc": ([1], [0.954], [0.954], [0.954]), "val_acc": ([1], [0.9541], [0.9541], [0.9541]),
              "train_loss": ([1], [0.2], [0.2], [0.2]), "val_loss": ([1], [0.2], [0.2], [0.2]),
              "gap": ([1], [-0.0001], [-0.0001], [-0.0001])}
    series = [{"name": "#1", "color_id": 1, "n": 1, "curves": curves}]
    low, high = charts.variant_curves(series).layout.yaxis2.range
    assert high - low >= 0.01 and low < 0.954 < 0.9541 < high
    low, high = charts.variant_gap(series).layout.yaxis.range
    assert high - low >= 0.01 and low < -0.0001 < 0 < high
    spread = dict(curves, val_acc=([1, 2], [0.5, 0.9], [0.5, 0.9], [0.5, 0.9]))  # a real spread: plotly's own range
    assert charts.variant_curves([{**series[0], "curves": spread}]).layout.yaxis2.range is None


def test_a_models_weight_bars_keep_its_runs_colour_beside_any_other():
    """Issue 31: Inside's weight-movement bars took colours by position (#7 blue alone, red beside another)."""
    from playground.probes import LayerChange

    rows = [LayerChange("conv1", 10, 0.5), LayerChange("fc", 20, 0.2)]

    def colours(ids: dict[str, int]) -> dict[str, str]:
        return {bar.name: bar.marker.color for bar in charts.weight_change({n: rows for n in ids}, ids).data}

    alone, beside = colours({"#7 CNN": 7}), colours({"#2 LeNet": 2, "#7 CNN": 7})
    assert alone["#7 CNN"] == beside["#7 CNN"] == charts.run_color(7)
    assert beside["#2 LeNet"] == charts.run_color(2)


def test_images_and_saliency_maps_draw_no_tick_dashes_grid_or_zero_lines():
    """Issue 31: stray tick dashes beside "Model input, 28x28" and the Why? maps: nothing a learner reads."""
    for fig in (charts.image(np.zeros((28, 28)), "Model input, 28×28"), charts.attribution(np.ones((28, 28)))):
        for axis in (fig.layout.xaxis, fig.layout.yaxis):
            assert (axis.showticklabels, axis.ticks, axis.showgrid, axis.zeroline) == (False, "", False, False)


def test_a_gradient_curve_keeps_its_runs_colour_whatever_else_is_drawn():
    """Issue 31: a curve's colour came from its place among those drawn (#3 blue alone, red after another)."""
    g = np.array([0.1, 1.0])

    def colours(names: list[str], ids: dict[str, int], untrained=()) -> dict[str, tuple[str, str]]:
        fig = charts.gradient_norms({n: g for n in names}, ids=ids, untrained=untrained)
        return {d.name: (d.line.color, d.line.dash) for d in fig.data}

    ids = {"#3 LSTM": 3, "#5 GRU": 5, "#2 RNN": 2, "#3 LSTM, untrained": 3}
    alone = colours(["#3 LSTM"], ids)
    among = colours(["#2 RNN", "#5 GRU", "#3 LSTM", "#3 LSTM, untrained"], ids, untrained=["#3 LSTM, untrained"])
    assert alone["#3 LSTM"] == among["#3 LSTM"] == (charts.run_color(3), "solid")  # as on every page
    assert among["#3 LSTM, untrained"] == (charts.run_color(3), "dash")  # its run's colour, dashed
    assert among["#5 GRU"] == colours(["#5 GRU", "#2 RNN"], ids)["#5 GRU"]  # in any order
    assert len({among[n][0] for n in ("#2 RNN", "#5 GRU", "#3 LSTM")}) == 3
    # Runs 3 and 13 share a palette colour: the higher id moves to a free one, in either order.
    both = {"#3 LSTM": 3, "#13 GRU": 13}
    first, second = colours(["#3 LSTM", "#13 GRU"], both), colours(["#13 GRU", "#3 LSTM"], both)
    assert first == second and first["#3 LSTM"] != first["#13 GRU"]
    # Without ids a curve's colour still follows its name, not its place.
    assert colours(["a", "b"], {})["b"] == colours(["b"], {})["b"]


def test_gap_is_train_minus_validation_and_names_are_escaped():
    from playground.compare import group_variants, variant_series
    from playground.errors import RunStatus
    from playground.store import RunRecord

    from conftest import tiny

    rows = [{"epoch": 1, "train_acc": 0.9, "val_acc": 0.8, "train_loss": 0.3, "val_loss": 0.5},
            {"epoch": 2, "train_acc": 0.95, "val_acc": 0.8, "train_loss": 0.2, "val_loss": 0.5}]
    rec = RunRecord(id=1, name="<img src=x onerror=alert(1)>", status=RunStatus.FINISHED, config=tiny())
    fig = charts.variant_gap(variant_series(group_variants([(rec, rows)])))
    np.testing.assert_allclose(fig.data[0].y, [0.1, 0.15])
    assert "<img" not in fig.data[0].name and "&lt;img" in fig.data[0].name
    runs = charts.compare_curves([("<b>x</b>", rows)])
    assert all("<b>" not in t.name for t in runs.data)


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


def test_l2_axis_starts_at_zero_with_short_ticks():
    """Issue 13: a 0.3% drift of the L2 term drew as a steep climb under 7-digit ticks."""
    rows = [{"step": i, "loss": 0.5, "l2": 0.0123 * (1 + 0.003 * i / 500)} for i in range(1, 501)]
    fig = charts.step_loss(rows)
    assert fig.layout.yaxis2.rangemode == "tozero"  # a 0.3% drift stays a flat line near the top
    assert fig.layout.yaxis2.tickformat == ".2~g"  # 0.012, never 0.0123412
    assert fig.layout.yaxis.rangemode == "tozero"


def test_a_one_step_run_is_a_point_not_an_empty_chart():
    fig = charts.step_loss([{"step": 1, "loss": 2.3, "l2": 0.01}])
    assert fig.data and all(t.mode == "markers" for t in fig.data) and all(len(t.x) == 1 for t in fig.data)
    assert all(t.mode == "lines" for t in charts.step_loss([{"step": s, "loss": 1.0} for s in (1, 2)]).data)


def test_step_and_epoch_axes_tick_whole_numbers():
    short = charts.step_loss([{"step": s, "loss": 1.0} for s in (1, 2, 3)])
    assert short.layout.xaxis.dtick == 1 and short.layout.xaxis.tick0 == 0  # no 1.5, no 1.2
    one = charts.epoch_curves([{"epoch": 1, "train_loss": 0.3, "train_acc": 0.9, "val_loss": 0.4, "val_acc": 0.88}])
    assert one.layout.xaxis.dtick == 1 and one.layout.xaxis2.dtick == 1
    assert one.layout.yaxis.rangemode == "tozero"  # one point: the loss axis does not pad below 0
    rows = [{"epoch": e, "train_loss": 1 / e, "train_acc": 0.5, "val_loss": 1 / e, "val_acc": 0.5}
            for e in range(1, 101)]
    long = charts.epoch_curves(rows)
    assert long.layout.xaxis.dtick is None  # plotly's own ticks (<= 10 of them) are whole numbers there


def test_compare_charts_tick_whole_epochs():
    rows = [{"epoch": e, "train_loss": 1.0 / e, "val_loss": 1.1 / e, "train_acc": 0.5, "val_acc": 0.4}
            for e in (1, 2, 3)]
    for fig in (charts.compare_curves([("a", rows)]),):
        assert fig.layout.xaxis.dtick == 1, fig.layout.xaxis  # no 1.5 or 2.5 between epochs


def test_a_schedules_learning_rate_gets_a_panel_under_the_loss():
    """Issue 23: the rate of each step, drawn below the loss on the same steps (the L2 term keeps its axis)."""
    rows = [{"step": i, "loss": 1.0 / i, "l2": 0.01, "lr": 0.1 if i <= 5000 else 0.01} for i in range(1, 9001)]
    fig = charts.step_loss(rows)
    *_, l2, lr = fig.data
    assert l2.yaxis == "y2" and (lr.xaxis, lr.yaxis) == ("x2", "y3") and lr.line.shape == "hv"
    assert fig.layout.yaxis2.tickmode == "auto"  # plotly's synced ticks read -2.5e-7 for 0 above the panel
    assert fig.layout.xaxis.matches == "x2" and fig.layout.xaxis2.title.text == "step"
    assert fig.layout.yaxis3.title.text == "learning rate" and fig.layout.yaxis3.rangemode == "tozero"
    assert len(lr.x) <= charts.MAX_RAW_POINTS + 2 and (lr.x[-1], lr.y[-1]) == (9000, 0.01)  # ends where the run is
    assert max(lr.y) == 0.1 and fig.layout.yaxis3.domain[1] < fig.layout.yaxis.domain[0]  # below the loss
    constant = charts.step_loss([{"step": i, "loss": 1.0, "lr": 0.01} for i in (1, 2, 3)])
    assert len(constant.data) == 2 and constant.layout.xaxis.title.text == "step"  # a constant rate: no panel
    older = charts.step_loss([{"step": i, "loss": 1.0, "lr": None} for i in (1, 2, 3)])
    assert len(older.data) == 2  # rows stored before schedules have no rate
    flat = charts.step_loss([{"step": i, "loss": 1.0, "lr": 0.01} for i in (1, 2, 3)], show_lr=True)
    assert flat.data[-1].name == "learning rate"  # a step schedule before its first drop still shows its rate


def test_setting_scatters_give_each_setting_its_own_chart_log_where_wide():
    rows = [{"run": i, "lr": lr, "optimizer": opt, "metric": m}
            for i, (lr, opt, m) in enumerate([(1e-4, "sgd", 0.5), (1e-2, "adam", 0.9), (1e-1, "adam", 0.7)], 1)]
    fig = charts.setting_scatters(rows, ["lr", "optimizer"])
    assert [a.text for a in fig.layout.annotations] == ["lr", "optimizer"] and len(fig.data) == 2
    assert fig.layout.xaxis.type == "log" and fig.layout.xaxis2.type != "log"
    assert list(fig.data[1].x) == ["sgd", "adam", "adam"] and list(fig.data[0].customdata) == [1, 2, 3]


def test_curves_of_a_run_evaluated_every_few_epochs_say_so():
    rows = [{"epoch": e, "train_loss": 1.0, "train_acc": 0.5, "val_loss": 1.1, "val_acc": 0.4}
            for e in (1, 6, 12, 18, 20)]
    titles = [a.text for a in charts.epoch_curves(rows).layout.annotations]
    assert titles == ["Loss (measured every 6 epochs)", "Accuracy (measured every 6 epochs)"]
    dense = [a.text for a in charts.epoch_curves([{**rows[0], "epoch": e} for e in (1, 2, 3)]).layout.annotations]
    assert dense == ["Loss per epoch", "Accuracy per epoch"]


def test_close_results_get_a_decimal_on_their_percent_ticks_and_hover_keeps_whole_names():
    rows = [{"run": i, "lr": lr, "metric": m, "gap": 0.1} for i, (lr, m) in enumerate([(0.01, 0.812), (0.02, 0.825),
                                                                                      (0.03, 0.83)])]
    assert charts.setting_scatters(rows, ["lr"]).layout.yaxis.tickformat == ".1%"
    fig = charts.parallel_settings(rows, ["lr"])
    assert fig.data[0].line.colorbar.tickformat == ".1%"
    spread = [{**r, "metric": m} for r, m in zip(rows, [0.5, 0.7, 0.9], strict=True)]
    assert charts.setting_scatters(spread, ["lr"]).layout.yaxis.tickformat == ".0%"
    assert fig.layout.hoverlabel.namelength == -1


def test_the_epoch_curves_mark_the_epoch_early_stopping_kept():
    """Issue 31: a star on validation loss and accuracy at the kept epoch, a dotted line on both charts; none
    without early stopping."""
    rows = [{"epoch": e, "train_loss": 1 / e, "train_acc": 0.5 + e / 20, "val_loss": 0.5 + abs(e - 3) / 10,
             "val_acc": 0.8 - abs(e - 3) / 20} for e in range(1, 7)]
    fig = charts.epoch_curves(rows, kept_epoch=3)
    stars = [t for t in fig.data if t.name == "kept: epoch 3"]
    assert [(t.x, t.y) for t in stars] == [((3,), (0.5,)), ((3,), (0.8,))]
    assert [s.x0 for s in fig.layout.shapes] == [3, 3]
    plain = charts.epoch_curves(rows)
    assert not plain.layout.shapes and all(t.name in ("train", "val") for t in plain.data)


def test_a_run_has_the_colour_of_its_id_in_learn_as_in_compare():
    """Issue 31: a baseline was blue in Learn (its place in the lesson) and orange or pink in Compare (its id)."""
    rows = [{"epoch": 1, "train_loss": 0.5, "val_loss": 0.6, "train_acc": 0.8, "val_acc": 0.7}]
    fig = charts.compare_curves([("baseline", rows), ("dropout", rows)], ids=[12, 13])
    colours = {t.name.split(" (")[0]: t.line.color for t in fig.data}
    assert colours == {"baseline": charts.run_color(12), "dropout": charts.run_color(13)}


def test_feature_map_tiles_show_no_ticks_or_channel_numbers():
    """Issue 31: stray tick dashes and channel numbers overlapping at four tiles a row."""
    for fig in (charts.map_grid(np.random.default_rng(0).normal(size=(8, 4, 4))),
                charts.filter_grid(np.random.default_rng(0).normal(size=(4, 3, 3, 3)))):
        assert not fig.layout.annotations
        axes = [a for name, a in fig.layout.to_plotly_json().items() if name.startswith(("xaxis", "yaxis"))]
        assert axes and all(a["ticks"] == "" and a["showticklabels"] is False for a in axes)


def test_a_feature_map_grid_is_one_heatmap_with_each_tile_in_place():
    """Issue 36: a subplot per tile took the browser ~10x as long to draw; one heatmap shows the same tiles, each
    hover naming its map, row, column and true value, and a per-map scale still stretches each map to ±1."""
    maps = np.random.default_rng(0).normal(size=(10, 3, 4))
    for shared in (True, False):
        fig = charts.map_grid(maps, shared_scale=shared, cols=4)
        [heat] = fig.data
        z, about = np.asarray(heat.z, dtype=float), np.asarray(heat.customdata, dtype=float)
        assert z.shape == (3 * 4 - 1, 4 * 5 - 1)  # 3 rows of 4 tiles, a gap between tiles
        for i in range(10):
            r, c = divmod(i, 4)
            tile = np.s_[r * 4:r * 4 + 3, c * 5:c * 5 + 4]
            expected = maps[i] if shared else maps[i] / np.abs(maps[i]).max()
            np.testing.assert_allclose(z[tile], expected, rtol=1e-6)
            # the true value, either scale: z where it is the colour, else kept beside it for the hover
            np.testing.assert_allclose(z[tile] if shared else about[tile][..., 3], maps[i], rtol=1e-6)
            assert (about[tile][..., 0] == i + 1).all() and about[tile][0, 1, 1:3].tolist() == [1, 2]
        assert np.isnan(z[3]).all() and np.isnan(z[:, 4]).all()  # the gaps: nothing drawn, nothing to hover
        assert np.isnan(z[8:, 10:]).all()  # two tiles in the last row
        assert heat.hoverongaps is False and ("%{z:.3f}" if shared else "%{customdata[3]:.3f}") in heat.hovertemplate
        # Evenly spaced cells (gaps a cell wide): plotly draws the heatmap as one pixelated image, half the time
        assert heat.x is None and heat.y is None and heat.dx == heat.dy == 1


def test_a_confusion_colour_bar_counts_in_whole_numbers():
    """Issue 31: three drawings gave a colour bar of 0.5, 1.5, 2.5."""
    small = charts.confusion(np.array([[2, 1], [0, 3]]), ["0", "1"]).data[0].colorbar
    assert (small.tick0, small.dtick) == (0, 1)
    big = charts.confusion(np.array([[970, 3], [12, 1100]]), ["0", "1"]).data[0].colorbar
    assert big.dtick == 220 and float(big.dtick).is_integer()


def _luminance(color: str) -> float:
    rgb = [int(color.lstrip("#")[i:i + 2], 16) / 255 for i in (0, 2, 4)]
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def test_a_confusion_matrix_count_is_readable_on_every_cell_colour():
    """Issue 31: counts on the middle blues of "Blues" were unreadable; whole-number colour bar ticks only."""
    from plotly.colors import find_intermediate_color, hex_to_rgb, label_rgb, unlabel_rgb

    heat = charts.confusion(np.array([[50, 3], [0, 100]]), ["0", "1"]).data[0]
    assert heat.textfont.color and heat.zmin == 0 and heat.zmax == 100
    assert heat.colorbar.tickformat == "d" and heat.colorbar.dtick >= 1
    text = _luminance(heat.textfont.color)
    (lo, low), (hi, high) = [(p, tuple(hex_to_rgb(c))) for p, c in heat.colorscale]
    for z in (0, 3, 50, 100):  # the cell colours of this matrix, interpolated as plotly does
        rgb = unlabel_rgb(label_rgb(find_intermediate_color(low, high, (z / 100 - lo) / (hi - lo))))
        cell = _luminance("#" + "".join(f"{round(c):02x}" for c in rgb))
        assert (max(cell, text) + 0.05) / (min(cell, text) + 0.05) >= 4.5, z  # WCAG AA for text
    assert charts.confusion(np.zeros((2, 2), int), ["0", "1"]).data[0].colorbar.dtick == 1
    digits = [str(d) for d in range(10)]
    layout = charts.confusion(np.eye(10, dtype=int), digits).layout  # in a narrow column plotly named 0, 2, 4, ...
    assert list(layout.xaxis.tickvals) == digits and list(layout.yaxis.tickvals) == digits


def test_one_epochs_curves_span_that_epoch_not_zero_to_two():
    """Issue 31: a one-epoch run's x axis ran from 0 to 2; it fits the points, with whole ticks."""
    one = charts.epoch_curves([{"epoch": 1, "train_loss": 0.3, "train_acc": 0.9, "val_loss": 0.4, "val_acc": 0.88}])
    for axis in (one.layout.xaxis, one.layout.xaxis2):
        assert list(axis.range) == [0.5, 1.5] and axis.dtick == 1
    three = charts.epoch_curves([{"epoch": e, "train_loss": 0.3, "train_acc": 0.9, "val_loss": 0.4,
                                  "val_acc": 0.88} for e in (1, 2, 3)])
    assert list(three.layout.xaxis.range) == [0.5, 3.5]
    assert list(charts.step_loss([{"step": 1, "loss": 2.3}]).layout.xaxis.range) == [0.5, 1.5]


def test_the_map_is_one_svg_trace_coloured_by_class_with_a_key_per_class():
    """Issue 36: a WebGL trace per class drew ~3x slower in Chromium; the same dots, colours and hover remain."""
    from plotly.colors import qualitative

    points = np.array([[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]])
    fig = charts.projection(points, np.array([0, 2, 0]), ["a", "<b>", "c"], np.array([0, 0, 2]), "map",
                            extra=np.array([[1.0, 1.0]]))
    key, dots, star = fig.data[:2], fig.data[2], fig.data[3]
    assert [t.name for t in key] == ["a", "c"] and all(t.x == (None,) for t in key)  # classes present only
    assert dots.type == "scatter" and list(dots.x) == [0.0, 2.0, 4.0] and not dots.showlegend
    assert list(dots.marker.color) == [qualitative.D3[0], qualitative.D3[2], qualitative.D3[0]]
    assert [list(row) for row in dots.customdata] == [["0", "a", "a"], ["1", "a", "c"], ["2", "c", "a"]]
    assert star.name == "your drawing" and fig.layout.legend.itemclick is False
