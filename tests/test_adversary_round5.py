"""Adversarial round 5: Inside's stage charts with a checkpoint of another architecture beside, the colour bars
of 'one per map', and own-dataset class names in plotly's legends (escaping and the margin made for them)."""
import html
import json

import numpy as np
import pytest

from playground import charts
from playground.engine.training import Trainer
from playground.store import RunStore
from ui.inside_pick import MAPS

from conftest import app_page, inside_view, tiny


@pytest.fixture(scope="module")
def cnn_and_lenet(tmp_path_factory):
    """A tanh CNN and a ReLU LeNet on MNIST: the same stages (conv, activation, pool), other layers."""
    home = tmp_path_factory.mktemp("round5")
    store = RunStore(home)
    ids = {}
    for name, cfg in {"cnn tanh": tiny(arch="cnn", epochs=1, limit=300, activation="tanh"),
                      "lenet relu": tiny(arch="lenet", epochs=1, limit=300, activation="relu")}.items():
        ids[name] = store.create_run(cfg, name)
        assert Trainer(cfg, store, ids[name]).run().status == "finished"
    store.close()
    return home, ids


def _map_charts(at) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")
            if any(" · " in a.get("text", "") for a in json.loads(c.proto.spec)["layout"].get("annotations", []))]


def test_a_stage_chart_names_each_models_own_layer(cnn_and_lenet, monkeypatch):
    """A tanh CNN beside a ReLU LeNet: the chart of block 1's activation was titled "after tanh 1" over both
    grids, the LeNet's being after ReLU 1 (and "after conv 1 (16 filters 3×3)" over LeNet's 6 filters 5×5)."""
    home, ids = cnn_and_lenet
    monkeypatch.setenv("PLAYGROUND_HOME", str(home))
    at = app_page("pages/inside.py")
    at.query_params["model"], at.query_params["vs"] = str(ids["cnn tanh"]), str(ids["lenet relu"])
    inside_view(at.run(), MAPS)
    assert not at.exception
    rows: dict[str, list[str]] = {}  # each stage's row of the one map chart: its title and model labels
    for spec in _map_charts(at):
        for a in spec["layout"]["annotations"]:
            rows.setdefault(a["yref"], []).append(html.unescape(a["text"]))
    assert len(rows) >= 6 and any("<br>" in t for texts in rows.values() for t in texts), rows
    for texts in rows.values():
        text = " | ".join(texts)
        if "tanh 1" in text:  # the activation of block 1: the LeNet's is a ReLU, and the row must say so
            assert "ReLU 1" in text, text[:400]
        if "16 filters 3×3" in text:
            assert "5×5" in text, text[:400]
        for label in [t for t in texts if "<b>" not in t and "<br>" in t]:  # a model's own layer: a line of its own
            assert label.split("<br>")[1].startswith("after "), label


def test_one_per_map_draws_no_grid_in_colours_its_colour_bar_does_not_show():
    """'One per map' with one model's maps signed (tanh) and the other's all ≥ 0 (ReLU): the first grid was drawn
    red-white-blue with the only colour bar ("−its max … +its max"), the second in Viridis with none."""
    rng = np.random.default_rng(0)
    signed, positive = rng.normal(size=(4, 6, 6)), np.abs(rng.normal(size=(4, 6, 6)))
    fig = charts.map_grids({"#1 CNN, trained": signed, "#2 LeNet, trained": positive}, "per map", "after x")
    scales = {json.dumps(t.colorscale) for t in fig.data}
    barred = {json.dumps(t.colorscale) for t in fig.data if t.showscale}
    assert scales == barred, "a grid is drawn in a colour scale no colour bar explains"


def test_first_layer_filters_cut_at_32_say_filters_not_maps():
    """A 64-wide CNN alone: its filter chart said "first-layer filters · first 32 of 64 maps"."""
    w = np.random.default_rng(0).normal(size=(64, 1, 3, 3))
    title = charts.filter_grid(w, "#3 CNN, trained: first-layer filters").layout.title.text
    assert "maps" not in title, title


def test_a_class_name_with_a_double_quote_shows_as_written_in_a_legend():
    """Plotly decodes &lt; &gt; &amp; and numeric entities, not &quot;: the Inside projection's legend read
    `&quot;quote'` for a class folder named `"quote'` (Chromium, own dataset)."""
    points = np.random.default_rng(0).normal(size=(6, 2))
    labels = np.array([0, 1, 0, 1, 0, 1])
    fig = charts.projection(points, labels, ['"quote\'', "<b>bold"], labels)
    names = [t.name for t in fig.data if t.showlegend is not False]
    assert all("&quot;" not in n for n in names), names


def test_the_projection_legend_margin_counts_the_characters_shown_not_their_escapes():
    """A 40-character class name of '&' (a legal folder name) asked for a right margin of 80 + 7 × 200 px: at
    1,280 px Chromium drew the projection's plot 2 px wide. The legend shows 40 characters."""
    points = np.random.default_rng(0).normal(size=(6, 2))
    labels = np.array([0, 1, 0, 1, 0, 1])
    fig = charts.projection(points, labels, ["&" * 40, "b"], labels)
    assert fig.layout.margin.r <= charts.LEGEND_SIDE_PX + 7 * 40, fig.layout.margin.r
