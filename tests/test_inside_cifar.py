"""Inside on a photo model beside a digit model (issue 31's walkthrough): the filter caption says what is drawn
(RGB kernels for CIFAR, one colour scale for MNIST), and the math view's input-channel sums follow the cell."""
import json

import numpy as np
import pytest

from playground import by_hand
from playground.data import sample
from playground.engine.training import Trainer
from playground.inference import load_checkpoint
from playground.store import RunStore
from ui.inside_pick import MATH
from ui.inside_views import filter_caption

from conftest import app_page, tiny


@pytest.fixture(scope="module")
def two_homes(tmp_path_factory, generated_cifar2):
    home = tmp_path_factory.mktemp("inside-cifar")
    store = RunStore(home)
    ids = {}
    with pytest.MonkeyPatch.context() as mp:  # made before the per-test cifar2_source: the generated set here too
        mp.setenv("PLAYGROUND_CIFAR2_DIR", str(generated_cifar2))
        for name, cfg in {"lenet": tiny(arch="lenet", epochs=1, limit=300),
                          "cifar cnn": tiny(dataset="cifar2", arch="cnn", epochs=1, limit=300)}.items():
            ids[name] = store.create_run(cfg, name)
            assert Trainer(cfg, store, ids[name]).run().status == "finished"
    runs = {r.id: r for r in store.list_runs()}
    store.close()
    return home, ids, runs


def open_inside(two_homes, monkeypatch, model: str, beside: str = "untrained", view: str | None = None):
    home, ids, runs = two_homes
    monkeypatch.setenv("PLAYGROUND_HOME", str(home))
    at = app_page("pages/inside.py")
    at.session_state["inside_model"] = ids[model]
    at.session_state["inside_other"] = beside
    if view is not None:
        at.session_state["inside_view"] = view
    return at.run(), ids[model], load_checkpoint(runs[ids[model]].checkpoint)


def filters_caption(at) -> str:
    [text] = [c.value for c in at.caption if "kernel of the first conv layer" in c.value]
    return text


def test_cifar_filters_are_said_to_be_colour_pictures(two_homes, monkeypatch):
    at, i, _ = open_inside(two_homes, monkeypatch, "cifar cnn")
    assert not at.exception
    [spec] = [json.loads(c.proto.spec) for c in at.get("plotly_chart") if f"#{i} CNN, trained" in c.proto.spec
              and "first-layer filters" in c.proto.spec]
    assert {t["type"] for t in spec["data"]} == {"image"}  # drawn as RGB pictures ...
    text = filters_caption(at)
    assert "colour picture" in text and "red, green and blue" in text  # ... and said to be
    assert "red weight" not in text and "blue one subtracts" not in text and "one colour scale" not in text


def test_mnist_filters_are_said_to_be_on_a_diverging_scale(two_homes, monkeypatch):
    at, i, _ = open_inside(two_homes, monkeypatch, "lenet")
    assert not at.exception
    [spec] = [json.loads(c.proto.spec) for c in at.get("plotly_chart") if f"#{i} LeNet, trained" in c.proto.spec
              and "first-layer filters" in c.proto.spec]
    assert spec["data"][0]["type"] == "heatmap" and spec["data"][0]["zmin"] < 0  # one diverging scale
    text = filters_caption(at)
    assert "a red weight adds that pixel, a blue one subtracts it, white is 0" in text
    assert "one colour scale for all models" in text and "colour picture" not in text
    assert "(its first input channel)" not in text  # a 1-channel model has no other


def test_filter_caption_follows_the_weights_drawn():
    rng = np.random.default_rng(0)
    positive = {"a": np.abs(rng.normal(size=(6, 1, 5, 5)))}
    assert "every weight is ≥ 0, from dark (0) to bright" in filter_caption(positive, shared=False)
    assert "red" not in filter_caption(positive, shared=False)
    two = {"a": rng.normal(size=(6, 2, 5, 5))}  # a 2-channel input: the grid draws channel 1 on one scale
    assert "(its first input channel)" in filter_caption(two, shared=False)


def sums_caption(at) -> str:
    [text] = [c.value for c in at.caption if "Each input channel's products add up to" in c.value]
    return text


def test_the_input_channel_sums_follow_the_picked_cell(two_homes, monkeypatch):
    """A selectbox option reading "sums to +0.221" stayed stale in the browser after another cell was clicked:
    the options are fixed words now, the sums a caption of the cell shown, the channel re-picked per cell."""
    at, i, loaded = open_inside(two_homes, monkeypatch, "cifar cnn", beside="nothing", view=MATH)
    k = f"math-{i}"
    x, _, _ = sample(loaded.config, 0)
    for row, col in ((10, 15), (20, 5)):
        at.session_state[f"{k}-map"] = {"selection": {"points": [{"x": col, "y": row}], "point_indices": [0],
                                                      "box": [], "lasso": []}}  # what a click sends
        at.run()
        assert not at.exception
        cell = by_hand.conv_cell(loaded.model, x, 1, 0, row - 1, col - 1)
        sums = cell.products.reshape(3, -1).sum(1)
        text = sums_caption(at)
        best = int(np.abs(sums).argmax())
        for c, v in enumerate(sums):
            assert (f"**{c + 1}: {v:+.3f}**" if c == best else f"{c + 1}: {v:+.3f}") in text
        assert f"this cell's {cell.total:+.4f}" in text
        picker = at.selectbox(key=f"{k}-in")
        assert picker.value == best and picker.options == ["input channel 1", "input channel 2", "input channel 3"]
        [patch] = [json.loads(c.proto.spec) for c in at.get("plotly_chart") if f"{k}-patch" in (c.proto.id or "")]
        assert patch["layout"]["annotations"][0]["text"] == f"patch, channel {best + 1}"
