"""Inside's map, filter and image figures: square cells for MNIST's 28×28 and CIFAR's 32×32 alike (CIFAR's maps were
drawn as tall rectangles), and long titles broken into lines instead of cut at the figure's edge (issue 31)."""
import numpy as np
import pytest

from playground import by_hand, charts
from playground.models import build_model
from ui.inside_math import clickable_map, patch_figure

from conftest import tiny

rng = np.random.default_rng(0)


def square_axes(fig) -> list[str]:
    """Each y axis of `fig` that is not scaled 1:1 to the x axis of its own subplot (empty: all square)."""
    bad = []
    for name in [k for k in fig.layout.to_plotly_json() if k.startswith("yaxis")]:
        axis = fig.layout[name]
        own_x = "x" + name.removeprefix("yaxis")
        if axis.scaleanchor != own_x or (axis.scaleratio or 1) != 1:
            bad.append(name)
    return bad


@pytest.mark.parametrize("shape", [(6, 28, 28), (16, 32, 32), (16, 16, 16), (8, 7, 7)])
def test_feature_map_grids_have_square_cells(shape):
    fig = charts.map_grid(rng.normal(size=shape), title="maps", cols=4)
    assert fig.layout.yaxis.scaleanchor == "x" and not square_axes(fig)
    assert fig.layout.xaxis.constrain == fig.layout.yaxis.constrain == "domain"  # the plot shrinks, not the range


@pytest.mark.parametrize("channels", [1, 3])
def test_filter_grids_have_square_cells_grey_and_rgb(channels):
    fig = charts.filter_grid(rng.normal(size=(16, channels, 3, 3)))
    assert {t.type for t in fig.data} == ({"image"} if channels == 3 else {"heatmap"})
    ys = [k for k in fig.layout.to_plotly_json() if k.startswith("yaxis")]
    assert len(ys) == (16 if channels == 3 else 1) and not square_axes(fig)


@pytest.mark.parametrize("image", [rng.random((28, 28)), rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)])
def test_input_images_and_the_clickable_map_have_square_pixels(image):
    assert not square_axes(charts.image(image, "Input"))
    assert not square_axes(clickable_map(rng.normal(size=image.shape[:2]), "click a cell", (0, 0)))


@pytest.mark.parametrize("dataset", ["mnist", "cifar2"])
def test_the_patch_kernel_and_products_have_square_cells(dataset):
    cfg = tiny(dataset=dataset, arch="cnn")
    model = build_model(cfg).eval()
    channels = 3 if dataset == "cifar2" else 1
    x = __import__("torch").randn(1, channels, 32 if channels == 3 else 28, 32 if channels == 3 else 28)
    fig = patch_figure(by_hand.conv_cell(model, x, 1, 0, 5, 5), 0)
    assert len([k for k in fig.layout.to_plotly_json() if k.startswith("yaxis")]) == 3 and not square_axes(fig)


def test_long_titles_break_after_the_name_then_at_separators():
    assert charts.title_lines("#2 CNN, untrained: after conv 1 (16 filters 3×3) · 16×32×32", 53) == [
        "#2 CNN, untrained:", "after conv 1 (16 filters 3×3) · 16×32×32"]
    assert charts.title_lines("#3 LSTM, untrained: '3' · Σ -0.16 logit", 20) == ["#3 LSTM, untrained:",
                                                                                 "'3' · Σ -0.16 logit"]
    assert charts.title_lines("#3 LSTM, untrained: '3' · Σ -0.16 logit", 16) == ["#3 LSTM,", "untrained:", "'3'",
                                                                                 "Σ -0.16 logit"]
    assert charts.title_lines("short: enough", 53) == ["short: enough"]
    assert charts.title_lines("short: enough", None) == ["short: enough"]
    assert all(len(line) <= 10 for line in charts.title_lines("a very long title without separators", 10))


def test_a_broken_title_gets_room_above_the_plot_and_is_escaped_per_line():
    one = charts.row_predictions(rng.random((28, 10)), list("0123456789"), title="#3 LSTM, trained: how it forms")
    two = charts.row_predictions(rng.random((28, 10)), list("0123456789"), title="#3 LSTM, trained: how it forms",
                                 title_chars=20)
    assert two.layout.title.text == "#3 LSTM, trained:<br>how it forms"
    assert two.layout.margin.t == one.layout.margin.t + charts.TITLE_LINE_PX
    fig = charts.attribution(rng.normal(size=(28, 28)), "#1 <b>net</b>, trained: '7' · Σ +1 logit", title_chars=24)
    assert fig.layout.title.text == "#1 &lt;b&gt;net&lt;/b&gt;, trained:<br>'7' · Σ +1 logit"


def test_a_stage_of_two_models_is_one_chart_with_a_labelled_grid_each():
    """Issue 36: a chart per model per stage drew slower than one chart per stage with the models side by side."""
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(6, 12, 12)), rng.normal(size=(6, 12, 12)) * 3
    shared = charts.map_grids({"#1 CNN, trained": a, "#1 CNN, untrained": b}, title="after conv 1")
    assert [t.type for t in shared.data] == ["heatmap", "heatmap"]
    assert shared.data[0].zmax == shared.data[1].zmax == pytest.approx(np.abs(b).max(), rel=1e-6)  # one scale
    assert [t.showscale for t in shared.data] == [True, False]  # one colour bar for it
    assert [a.text for a in shared.layout.annotations] == ["#1 CNN, trained · 6×12×12", "#1 CNN, untrained · 6×12×12"]
    # side by side, the second right of the first: a grid 4×13-1 cells wide from x0 - 0.5
    assert shared.data[1].x0 - 0.5 > shared.data[0].x0 - 0.5 + shared.data[0].z.shape[1]
    own = charts.map_grids({"#1 CNN, trained": a, "#2 CNN, trained": b}, "per model")
    assert own.data[0].zmax < own.data[1].zmax and all(t.showscale for t in own.data)
    assert [t.colorbar.title.text for t in own.data] == ["#1 CNN", "#2 CNN"]  # which bar is whose
    missing = charts.map_grids({"#1 CNN, trained": a, "#2 LeNet, trained": None})
    assert len(missing.data) == 1 and "#2 LeNet, trained: no such stage" in [a.text for a in missing.layout.annotations]
    hover = shared.data[1].hovertemplate
    assert hover.startswith("#1 CNN, untrained<br>map %{customdata[0]}")  # a cell says whose map it is


def test_a_colour_bar_per_model_is_tall_enough_to_read():
    """Walkthrough: two rows of tiles made each of two stacked colour bars ~30 px tall, their ticks overlapping."""
    rng = np.random.default_rng(0)
    flat = {"#1 LeNet, trained": rng.normal(size=(6, 5, 5)), "#1 LeNet, untrained": rng.normal(size=(6, 5, 5))}
    assert charts.map_grids(flat, "per model").layout.height >= 300
    assert charts.map_grids(flat, "shared").layout.height < 300  # one bar: the tiles' own height


def test_stages_stack_in_one_chart_each_on_its_own_axes_with_its_title_and_colour_bar():
    """Issue 36: Inside drew a chart per stage (7 on its default tab); one chart holds them all, a row each."""
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(6, 12, 12)), rng.random(size=(16, 5, 5))  # signed, and all ≥ 0
    fig = charts.stage_grids([charts.Stage("after conv 1", {"#1 CNN, trained": a, "#1 CNN, untrained": a * 2}),
                              charts.Stage("first-layer filters", {"#1 CNN, trained": b, "#1 CNN, untrained": b},
                                           scale="per model", noun="filters")], "Feature maps", cols=4)
    assert [(t.xaxis, t.yaxis) for t in fig.data] == [("x", "y"), ("x", "y"), ("x2", "y2"), ("x2", "y2")]
    top, bottom = fig.layout.yaxis.domain, fig.layout.yaxis2.domain
    assert 0 <= bottom[0] < bottom[1] < top[0] < top[1] <= 1  # the first stage above the second, apart
    assert not square_axes(fig) and fig.layout.yaxis2.autorange == "reversed"  # square cells, row 1 at the top
    heads = {a.text: a.yref for a in fig.layout.annotations if a.text.startswith("<b>")}
    assert heads == {"<b>after conv 1</b>": "y domain", "<b>first-layer filters</b>": "y2 domain"}
    labels = [a.text for a in fig.layout.annotations if a.yref == "y2 domain" and not a.text.startswith("<b>")]
    assert labels == ["#1 CNN, trained · 16×5×5", "#1 CNN, untrained · 16×5×5"]
    # A shared bar for the first stage, one per model for the second: each within its own stage's band
    bars = [(t.colorbar.y, t.colorbar.len) for t in fig.data if t.showscale]
    assert len(bars) == 3 and top[0] <= bars[0][0] <= top[1]
    assert all(bottom[0] <= y - size / 2 and y + size / 2 <= bottom[1] for y, size in bars[1:])
    assert fig.data[0].colorscale != fig.data[2].colorscale  # diverging for the signed maps, not for b
    assert fig.data[0].dx == fig.data[0].dy == 1  # evenly spaced cells: drawn as one image
    with pytest.raises(ValueError):
        charts.stage_grids([])
