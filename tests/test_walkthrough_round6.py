"""What a new user's walkthrough of the tabbed Inside, Train and Compare found (issue 36's round), each fixed."""
import numpy as np
import torch

from playground import by_hand, charts
from playground.models import build_model
from ui.inside_math import clickable_map
from ui.why_views import untrained_words

from conftest import tiny


def test_the_clickable_confusion_matrix_gives_its_bar_room_to_the_cells_and_frames_the_cell_shown():
    """Train's matrix in its two-fifths column was ~95 px wide beside a colour bar; a click's orange highlight
    stayed on a cell after another was picked in the list beside it."""
    m = np.array([[5, 2, 0], [1, 6, 3], [0, 0, 9]])
    fig = charts.confusion(m, ["a", "b", "c"], clickable=True, bar=False, outlined=(1, 2))
    heat, clicks = fig.data
    assert heat.showscale is False and fig.layout.margin.r < charts.COLOUR_BAR_PX  # counts are in the cells
    assert clicks.selected.marker.opacity == 0  # no highlight of its own: the frame follows what is shown
    [frame] = fig.layout.shapes
    assert (frame.x0, frame.x1, frame.y0, frame.y1) == (1.5, 2.5, 0.5, 1.5)  # predicted c, true b
    assert not charts.confusion(m, ["a", "b", "c"], clickable=True, outlined=(None, None)).layout.shapes
    assert charts.confusion(m, ["a", "b", "c"]).data[0].showscale is not False  # elsewhere the bar stays


def test_what_is_said_of_the_untrained_copys_map_follows_its_numbers():
    """The caption said an untrained copy's score hardly moves beside an untrained GRU whose Σ was larger."""
    assert "fainter" in untrained_words({"#1 CNN, trained": 4.0, "#1 CNN, untrained": 0.1})
    said = untrained_words({"#4 GRU, trained": 0.092, "#4 GRU, untrained": -0.1})
    assert "as much or more" in said and "0.1 against 0.092" in said
    assert untrained_words({"#1 LeNet, trained": 2.0, "#2 CNN, trained": 0.1}) == ""  # no untrained copy shown


def test_a_cell_whose_window_runs_past_the_edge_says_so():
    """'The red box: the 3×3 image pixels' beside a 5×5 kernel: the window was cut at the image's corner."""
    model = build_model(tiny(arch="lenet")).eval()
    x = torch.rand(1, 1, 28, 28)
    corner, inside = by_hand.conv_cell(model, x, 1, 0, 0, 0), by_hand.conv_cell(model, x, 1, 0, 10, 10)
    assert corner.field_rows == (0, 2) and corner.field_cut and not inside.field_cut
    deep = by_hand.conv_cell(model, x, 2, 0, 5, 5)
    assert deep.field_rows == (8, 21) and not deep.field_cut  # conv 2 sees 14 rows through conv 1 and the pool


def test_the_clicked_map_spans_its_cells_only():
    """Its axes ran 0 to 30 beside row and column inputs of 1 to 28."""
    fig = clickable_map(np.zeros((28, 28)), "filter 1", (1, 1))
    assert list(fig.layout.xaxis.range) == [0.5, 28.5] and list(fig.layout.yaxis.range) == [28.5, 0.5]
