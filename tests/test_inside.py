"""Inside page under AppTest, on checkpoints made here: CNNs (plain, batch-norm, LeNet) and RNN/LSTM/GRU
(one stacked LSTM); and the Inside charts' own promises (1-based rows, cut maps said, the cell's colour bar)."""
import base64
import html
import json
import re

import numpy as np
import pytest
import torch

from playground import charts
from playground.engine.training import Trainer
from playground.store import RunStore
from ui.inside_pick import (
    CNN_VIEWS,
    GRADIENT,
    MAPS,
    MATH,
    PIXELS,
    PROJECTION,
    RECURRENT_VIEWS,
    STATES,
    WEIGHTS,
)
from ui.inside_recurrent import share

from conftest import app_page, inside_view, probability_bars, tiny


@pytest.fixture(scope="module")
def inside_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("inside")
    store = RunStore(home)
    configs = {
        "cnn standard": tiny(arch="cnn", epochs=1, limit=300, normalize="standard"),
        "lstm unit": tiny(arch="lstm", epochs=1, limit=300, normalize="unit"),  # the others: "half"
        "cnn plain": tiny(arch="cnn", epochs=1, limit=300),
        "cnn bn": tiny(arch="cnn", epochs=1, limit=300, batchnorm=True),
        "lenet": tiny(arch="lenet", epochs=1, limit=300),
        "rnn": tiny(arch="rnn", epochs=1, limit=300),
        "gru": tiny(arch="gru", epochs=1, limit=300),
        "lstm": tiny(arch="lstm", epochs=1, limit=300),
        "lstm 2 layers": tiny(arch="lstm", epochs=1, limit=300, hidden=16, layers=2),
    }
    ids = {}
    for name, cfg in configs.items():
        ids[name] = store.create_run(cfg, name)
        assert Trainer(cfg, store, ids[name]).run().status == "finished"
    store.close()
    return home, ids


def chart_texts(at) -> list[str]:
    """Each plotly chart's spec as readable text (titles, subplot titles)."""
    return [json.dumps(json.loads(c.proto.spec), ensure_ascii=False) for c in at.get("plotly_chart")]


def titles(at) -> list[str]:
    out = []
    for c in at.get("plotly_chart"):
        title = json.loads(c.proto.spec)["layout"].get("title", {})
        out.append(one_line(title.get("text", "") if isinstance(title, dict) else str(title)))
    return out


def grids(at) -> list[str]:
    """Each model's grid in the map charts, "<model> · <shape>: <stage>": one chart for every stage (the
    first-layer filters the last), a row each, its title over it, the models side by side, each grid labelled."""
    out = []
    for c in at.get("plotly_chart"):
        layout = json.loads(c.proto.spec)["layout"]
        title = one_line(layout.get("title", {}).get("text", ""))
        heads = headings(layout)
        out += [f"{html.unescape(a['text'])}: {heads.get(a.get('yref'), title)}"
                for a in layout.get("annotations", []) if " · " in a["text"] and not a["text"].startswith("<b>")]
    return out


def headings(layout: dict) -> dict[str, str]:
    """A stage chart's stage titles (bold, over each row), by the y axis their row is on ("y2 domain")."""
    return {a["yref"]: html.unescape(a["text"].removeprefix("<b>").removesuffix("</b>"))
            for a in layout.get("annotations", []) if a["text"].startswith("<b>")}


def stage(at, heading: str) -> list[dict]:
    """The heatmaps of the stage titled `heading` in Inside's map chart."""
    [layout_data] = [spec for spec in (json.loads(c.proto.spec) for c in at.get("plotly_chart"))
                     if headings(spec["layout"])]
    [axis] = [ref.split()[0] for ref, text in headings(layout_data["layout"]).items() if text == heading]
    return [t for t in layout_data["data"] if t.get("yaxis", "y") == axis]


def one_line(title: str) -> str:
    """A title as written, from the lines a narrow column broke it into ("#1 CNN, trained:<br>after ...")."""
    return title.replace("<br>", " ")


def array(value) -> np.ndarray:
    """A plotly spec's array: plain lists, or plotly's typed-array encoding {dtype, bdata, shape}."""
    if isinstance(value, dict):
        flat = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
        return flat.reshape([int(n) for n in str(value["shape"]).split(",")]) if "shape" in value else flat
    return np.asarray(value, dtype=float)


def chart(at, title: str) -> dict:
    [spec] = [json.loads(c.proto.spec) for c in at.get("plotly_chart")
              if one_line(json.loads(c.proto.spec)["layout"].get("title", {}).get("text", "")) == title]
    return spec


def captions(at) -> str:
    return " ".join(c.value for c in at.caption)


def open_inside(inside_home, monkeypatch, model: str, view: str | None = None, **params):
    """Inside on `model`, its tab `view` open (the default one, else)."""
    home, ids = inside_home
    monkeypatch.setenv("PLAYGROUND_HOME", str(home))
    at = app_page("pages/inside.py")
    at.session_state["inside_model"] = ids[model]
    if view is not None:
        at.session_state["inside_view"] = view
    for key, value in params.items():
        at.query_params[key] = value
    return at.run(), ids


def over_views(at, views) -> tuple[str, list[str]]:
    """The captions and chart titles of each of `views`, opened in turn (only the open tab is built)."""
    text, t = [], []
    for view in views:
        inside_view(at, view)
        assert not at.exception, view
        text.append(captions(at))
        t += titles(at)
    return " ".join(text), t


def test_cnn_trained_and_untrained_at_once_with_predictions_and_weight_movement(inside_home, monkeypatch):
    at, ids = open_inside(inside_home, monkeypatch, "cnn plain")
    assert not at.exception
    i = ids["cnn plain"]
    table = at.table[0].value
    assert "⌊(28 + 2·1 − 3) / 1⌋ + 1 = 28" in set(table["output size"])
    g = grids(at)
    bars = [b["title"] for b in probability_bars(at)]
    for name in (f"#{i} CNN, trained", f"#{i} CNN, untrained"):  # both at once, not a toggle; the arch named
        assert f"{name} · 8×7×7: after max-pool 2 (2×2)" in g and f"{name} · 16×3×3: first-layer filters" in g
        assert f"{name}: class probabilities" in bars
    assert [m.label.split(" predicts")[0] for m in at.metric] == [f"#{i} CNN, trained", f"#{i} CNN, untrained"]
    assert all("sure" in m.label and not m.delta for m in at.metric)  # "97% sure" as plain text, not a change
    assert not any("features." in str(v) for v in table["layer"]) and "conv 1 (16 filters 3×3)" in set(table["layer"])
    inside_view(at, WEIGHTS)
    assert not at.exception
    [moved] = [c for c in at.get("plotly_chart") if "moved from its initial weights" in c.proto.spec]
    bars = json.loads(moved.proto.spec)["data"]
    assert len(bars) == 1 and bars[0]["y"][0] == "conv 1 (16 filters 3×3)" and all(0 < v < 10 for v in bars[0]["x"])
    assert "feature maps look alike" in captions(at)


def test_cnn_side_by_side_with_another_checkpoint(inside_home, monkeypatch):
    at, ids = open_inside(inside_home, monkeypatch, "cnn plain")
    at.selectbox(key="inside_other").set_value(ids["cnn bn"]).run()
    assert not at.exception
    g = grids(at)
    assert f"#{ids['cnn bn']} CNN, trained · 16×3×3: first-layer filters" in g
    assert f"#{ids['cnn plain']} CNN, trained · 16×3×3: first-layer filters" in g
    inside_view(at, WEIGHTS)
    assert not at.exception
    [moved] = [c for c in at.get("plotly_chart") if "moved from its initial weights" in c.proto.spec]
    assert len(json.loads(moved.proto.spec)["data"]) == 2  # each checkpoint against its own start


def test_lenet_gets_an_untrained_copy_and_its_whole_layer_table(inside_home, monkeypatch):
    at, ids = open_inside(inside_home, monkeypatch, "lenet")
    assert not at.exception
    assert f"#{ids['lenet']} LeNet, untrained · 6×28×28: after conv 1 (6 filters 5×5)" in grids(at)
    table = at.table[0]
    assert len(table.value) >= 10  # a static table: all of it shown (no scroll box), checked in the browser


def test_lstm_side_by_side_with_untrained_labelled_and_in_the_gradient(inside_home, monkeypatch):
    at, ids = open_inside(inside_home, monkeypatch, "lstm")
    assert not at.exception
    i = ids["lstm"]
    t = titles(at)
    assert f"#{i} LSTM, trained: hidden state h_t" in t and f"#{i} LSTM, untrained: hidden state h_t" in t
    assert f"#{i} LSTM, untrained: gates over time" in t
    assert f"#{i} LSTM, untrained: how the prediction forms, row by row" in t
    inside_view(at, GRADIENT)
    assert not at.exception
    [gtt] = [c for c in at.get("plotly_chart") if '"Gradient through time"' in c.proto.spec]
    names = [d["name"] for d in json.loads(gtt.proto.spec)["data"]]
    # One of each kind: this LSTM (not the newer stacked one), the RNN, the GRU; and this LSTM untrained.
    assert names == [f"#{ids['rnn']} RNN", f"#{i} LSTM", f"#{ids['gru']} GRU", f"#{i} LSTM, untrained"]
    caption = " ".join(c.value for c in at.caption)
    for curve in json.loads(gtt.proto.spec)["data"]:  # the caption reads each curve on screen: row 1 / last row
        y = array(curve["y"])
        assert f"{curve['name']}'s row 1 gets {share(y[0] / y[-1])} of the last row's signal" in caption
    theory = " ".join(m.value for m in at.markdown)
    assert "tanh units saturate" in theory and "tanh units saturate" not in caption  # the theory: an expander
    assert "falling = vanishing" not in caption


def test_the_gradient_chart_defaults_to_the_newest_finished_rnn_lstm_and_gru(inside_home, monkeypatch):
    at, ids = open_inside(inside_home, monkeypatch, "gru", GRADIENT)
    # The stacked LSTM is the newest LSTM; the model looked at stands for the GRUs.
    assert at.multiselect(key="inside_gtt_models").value == [ids["rnn"], ids["lstm 2 layers"], ids["gru"]]
    assert not at.exception


def test_gradient_defaults_one_of_each_kind():
    from types import SimpleNamespace as NS

    from ui.inside_pick import gradient_defaults

    def rec(run_id, arch, status="finished"):
        return NS(id=run_id, status=status, config=NS(model=NS(arch=arch)))

    runs = [rec(9, "gru", "stopped"), rec(8, "gru"), rec(7, "lstm"), rec(6, "gru"), rec(5, "lstm"), rec(4, "rnn")]
    assert gradient_defaults(5, runs) == [4, 5, 8]  # this LSTM, the newest finished RNN and GRU
    assert gradient_defaults(9, runs) == [4, 7, 9]  # a stopped run looked at still stands for its kind
    assert gradient_defaults(6, runs[:5]) == [7, 6]  # no RNN: none shown, no second GRU in its place
    assert gradient_defaults(3, []) == []


def test_the_gates_title_has_room_above_the_panel_titles():
    g = {n: np.zeros((28, 4)) for n in ("input gate", "forget gate", "output gate", "cell state")}
    fig = charts.gates(g, "#16 trained: gates over time")
    panel_titles = [a.text for a in fig.layout.annotations]
    assert panel_titles == ["input", "forget", "output", "cell state"]
    assert fig.layout.margin.t >= 70 and fig.layout.title.yanchor == "top"


def test_the_cell_state_has_its_own_colour_bar():
    g = {n: np.random.default_rng(1).random((28, 6)) for n in ("input gate", "forget gate", "output gate")}
    g["cell state"] = np.random.default_rng(2).normal(size=(28, 6)) * 3
    fig = charts.gates(g)
    scales = [(t.showscale, t.colorbar.title.text) for t in fig.data]
    assert scales[0] == (True, "gate") and scales[3] == (True, "cell") and not scales[1][0]
    assert fig.data[0].colorbar.y != fig.data[3].colorbar.y  # one above the other, never overlapping


def test_a_stacked_lstm_has_a_layer_picker(inside_home, monkeypatch):
    at, ids = open_inside(inside_home, monkeypatch, "lstm 2 layers")
    i = ids["lstm 2 layers"]
    picker = at.selectbox(key=f"inside_layer-{i}")
    assert picker.value == 2 and f"#{i} LSTM, trained: hidden state h_t (layer 2 of 2)" in titles(at)
    picker.set_value(1).run()
    assert not at.exception
    assert f"#{i} LSTM, untrained: gates over time (layer 1 of 2)" in titles(at)


def test_gru_and_a_random_input_within_the_test_set(inside_home, monkeypatch):
    at, ids = open_inside(inside_home, monkeypatch, "gru")
    box = at.number_input(key="inside_index")
    assert box.max == 9_999  # MNIST's test set, no silent wrap beyond it
    for _ in range(3):
        [b for b in at.button if "Random" in b.label][0].click().run()
        assert not at.exception and 0 <= at.number_input(key="inside_index").value <= 9_999
    assert any("update gate" in t for t in chart_texts(at))


def test_an_index_beyond_the_test_set_is_brought_back_in_range(inside_home, monkeypatch):
    home, ids = inside_home
    monkeypatch.setenv("PLAYGROUND_HOME", str(home))
    at = app_page("pages/inside.py")
    at.session_state["inside_model"] = ids["cnn plain"]
    at.session_state["inside_index"] = 50_000
    at.run()
    assert not at.exception
    assert at.number_input(key="inside_index").value == 0
    for junk in ("²", "9" * 5000, "-3", "x"):  # '²' passed isdigit() and crashed int(); 5,000 digits too
        bad = app_page("pages/inside.py")
        bad.query_params["model"], bad.query_params["index"] = str(ids["cnn plain"]), junk
        bad.run()
        assert not bad.exception and bad.number_input(key="inside_index").value == 0, junk[:20]


def test_the_model_and_comparison_survive_a_reload(inside_home, monkeypatch):
    at, ids = open_inside(inside_home, monkeypatch, "gru")
    at.selectbox(key="inside_other").set_value("nothing").run()
    at.number_input(key="inside_index").set_value(5).run()  # the test image too (a reload showed image 0 again)
    assert at.query_params["model"] == str(ids["gru"]) and at.query_params["vs"] == "nothing"
    assert at.query_params["index"] == "5"
    reloaded = app_page("pages/inside.py")  # a new session: only the URL is left
    for key, value in at.query_params.items():
        reloaded.query_params[key] = value
    reloaded.run()
    assert not reloaded.exception
    assert reloaded.selectbox(key="inside_model").value == ids["gru"]
    assert reloaded.selectbox(key="inside_other").value == "nothing"
    assert reloaded.number_input(key="inside_index").value == 5
    assert not any("untrained" in t for t in titles(reloaded))


def test_rows_count_from_one_and_cut_maps_say_so():
    fig = charts.image(np.zeros((28, 28)))
    assert list(fig.data[0].y)[0] == 1 and list(fig.data[0].x)[0] == 1  # row 1 = step 1
    rows = charts.image_rows(np.zeros((28, 28)), row=3)
    assert [s.y0 for s in rows.layout.shapes] == [3.5, 2.5]  # rows 4..28 dimmed, row 3 framed
    grid = charts.map_grid(np.zeros((64, 4, 4)), title="block 1 after conv (64×4×4)")
    assert "first 32 of 64 maps" in grid.layout.title.text and int(np.nanmax(grid.data[0].customdata[..., 0])) == 32
    assert "first" not in charts.map_grid(np.zeros((8, 4, 4)), title="t").layout.title.text


def test_a_photo_is_drawn_as_a_picture_with_no_legend():
    """A CIFAR input is an RGB image trace, which has no `showlegend` (the legend's margin rule read it)."""
    fig = charts.image(np.zeros((32, 32, 3), dtype=np.uint8), "Input")
    assert [t.type for t in fig.data] == ["image"] and fig.layout.margin.t == 40


def test_a_broken_checkpoint_to_compare_with_is_a_warning_not_a_crash(store, home):
    cfg = tiny(arch="cnn", epochs=1, limit=300)
    good = store.create_run(cfg, "good")
    assert Trainer(cfg, store, good).run().status == "finished"
    broken = store.create_run(cfg, "broken")
    path = store.save_checkpoint(broken, torch.load(store.checkpoint_path(good), weights_only=True))
    size = path.stat().st_size
    path.write_bytes(path.read_bytes()[:200].ljust(size, b"\0"))  # corrupted in place (a file of another size
    # is not the run's own: the store shows none)
    store.update_run(broken, status="finished")
    at = app_page("pages/inside.py")
    at.session_state["inside_model"] = good
    at.run()
    at.selectbox(key="inside_other").set_value(broken).run()
    assert not at.exception
    assert any(f"run-{broken}.pt" in w.value for w in at.warning)
    # the good model's views are all still there
    assert f"#{good} CNN, trained: feature maps" in titles(at) and stage(at, "first-layer filters · 16×3×3")


def _alone(home, run_id: int):
    """A model loaded on its own, as Draw and `predict` load it; and test image 0 as its training normalized it."""
    from playground.data import sample
    from playground.inference import load_checkpoint

    store = RunStore(home)
    loaded = load_checkpoint(store.get_run(run_id).checkpoint)
    store.close()
    x, image, label = sample(loaded.config, 0)
    return loaded, x, image, label


def test_each_model_side_by_side_reads_the_input_as_its_own_training_normalized_it(inside_home, monkeypatch):
    """An LSTM trained on [0, 1] pixels beside an RNN trained on [-1, 1] ones: each model's answers on the page
    equal that model's own `predict`, row by row and in the gradient chart (issue 18: the RNN got the LSTM's)."""
    from playground import probes
    from playground.inference import predict_digits

    home, ids = inside_home
    at, _ = open_inside(inside_home, monkeypatch, "lstm unit", GRADIENT)
    at.selectbox(key="inside_other").set_value(ids["rnn"]).run()
    at.multiselect(key="inside_gtt_models").set_value([ids["lstm unit"], ids["rnn"]]).run()
    at.toggle(key="inside_gtt_relative").set_value(False).run()  # raw norms, comparable with the probe's
    assert not at.exception
    gradients = {d["name"]: array(d["y"]) for d in chart(at, "Gradient through time")["data"]}
    inside_view(at, STATES)  # the rows' answers
    assert not at.exception
    for name, run in ((f"#{ids['lstm unit']} LSTM, trained", "lstm unit"), (f"#{ids['rnn']} RNN, trained", "rnn")):
        loaded, x, image, label = _alone(home, ids[run])
        own = predict_digits(loaded, image[None] / 255.0)[0]  # the Draw / CLI path
        rows = array(chart(at, f"{name}: how the prediction forms, row by row")["data"][0]["z"])  # (classes, T)
        np.testing.assert_allclose(rows[:, -1], own, atol=1e-5)
        arch = loaded.config.model.arch.upper()
        np.testing.assert_allclose(gradients[f"#{ids[run]} {arch}"],
                                   probes.gradient_through_time(loaded.model, x, label), rtol=1e-4)
    assert {c.config.data.normalize for c in (_alone(home, ids["lstm unit"])[0], _alone(home, ids["rnn"])[0])} \
        == {"unit", "half"}


def test_a_cnn_side_by_side_reads_the_input_as_its_own_training_normalized_it(inside_home, monkeypatch):
    from playground.inference import predict_digits

    home, ids = inside_home
    at, _ = open_inside(inside_home, monkeypatch, "cnn plain")
    at.selectbox(key="inside_other").set_value(ids["cnn standard"]).run()
    assert not at.exception
    bars = {b["title"]: b["probs"] for b in probability_bars(at)}
    for name, run in ((f"#{ids['cnn plain']} CNN, trained", "cnn plain"),
                      (f"#{ids['cnn standard']} CNN, trained", "cnn standard")):
        loaded, _, image, _ = _alone(home, ids[run])
        shown = np.asarray(bars[f"{name}: class probabilities"])  # written to 4 decimals
        np.testing.assert_allclose(shown, predict_digits(loaded, image[None] / 255.0)[0], atol=1e-4)


def _scales(spec: dict) -> list[tuple]:
    return [(t.get("zmin"), t.get("zmax")) for t in spec["data"] if t["type"] == "heatmap"]


def test_side_by_side_maps_share_one_colour_scale_and_every_one_has_a_colour_bar(inside_home, monkeypatch):
    at, ids = open_inside(inside_home, monkeypatch, "cnn plain")
    i = ids["cnn plain"]
    tanh = {"data": stage(at, "after tanh 1")}  # a row of the maps' chart, each model's grid a heatmap in it
    assert grids(at)[2:4] == [f"#{i} CNN, {k} · 16×28×28: after tanh 1" for k in ("trained", "untrained")]
    assert len(_scales(tanh)) == 2 and len(set(_scales(tanh))) == 1  # one scale for both models at this stage
    lo, hi = _scales(tanh)[0]
    assert lo == -hi  # diverging about 0: white is 0
    assert [t["showscale"] for t in tanh["data"]] == [True, False]  # so one colour bar: one scale
    assert "shared by the models side by side" in captions(at)
    at.radio(key="inside_scale").set_value("one per model").run()
    assert not at.exception
    own = {"data": stage(at, "after tanh 1")}
    assert len(set(_scales(own))) == 2 and all(t["showscale"] for t in own["data"])  # a colour bar each
    assert [t["colorbar"]["title"]["text"] for t in own["data"]] == ["trained", "untrained"]
    at.radio(key="inside_scale").set_value("one per map").run()
    assert not at.exception
    per_map = {"data": stage(at, "after tanh 1")}
    assert per_map["data"][0]["showscale"] and "+its max" in per_map["data"][0]["colorbar"]["ticktext"]
    assert "its own largest value" in captions(at)


def test_recurrent_panels_share_one_scale_and_the_cell_state_is_not_washed_out(inside_home, monkeypatch):
    at, ids = open_inside(inside_home, monkeypatch, "lstm")
    i = ids["lstm"]
    hidden = [chart(at, f"#{i} LSTM, {k}: hidden state h_t") for k in ("trained", "untrained")]
    assert len({_scales(h)[-1] for h in hidden}) == 1  # the state's heatmap (the input image comes first)
    gates = [chart(at, f"#{i} LSTM, {k}: gates over time") for k in ("trained", "untrained")]
    cells = [g["data"][3] for g in gates]
    assert cells[0]["zmax"] == cells[1]["zmax"] and all(c["showscale"] for c in cells)
    z = np.abs(array(cells[0]["z"]))
    assert np.mean(z < 0.2 * cells[0]["zmax"]) < 0.9  # most cells show a colour, not white
    text = captions(at)
    assert "one scale for the models side by side" in text and "larger values saturate" in text


def test_every_view_has_a_caption_and_recurrent_layers_have_readable_names(inside_home, monkeypatch):
    at, ids = open_inside(inside_home, monkeypatch, "lstm 2 layers")
    assert not at.exception
    text, _ = over_views(at, RECURRENT_VIEWS)
    for words in ("hidden state h_t after", "forget gate near 1", "rows 1 to t", "‖∂loss/∂h_t‖", "‖w − w₀‖"):
        assert words in text, words
    assert "feature maps" not in text and "hidden states and gates look alike" in text
    inside_view(at, WEIGHTS)
    bars = chart(at, "How far each layer moved from its initial weights")["data"][0]["y"]
    assert list(bars) == ["LSTM layer 1", "LSTM layer 2", "output (16 → 10 classes)"]
    at2, _ = open_inside(inside_home, monkeypatch, "rnn")
    _, t = over_views(at2, RECURRENT_VIEWS)
    inside_view(at2, WEIGHTS)
    bars = chart(at2, "How far each layer moved from its initial weights")["data"][0]["y"]
    assert bars[0] == "RNN layer 1" and "gate" not in " ".join(t)


def test_cnn_views_have_captions(inside_home, monkeypatch):
    at, _ = open_inside(inside_home, monkeypatch, "lenet")
    text, _ = over_views(at, CNN_VIEWS)
    for words in ("Each bar is the probability", "One row per layer", "Each tile is one channel",
                  "one kernel of the first conv layer", "‖w − w₀‖"):
        assert words in text, words


def test_the_side_by_side_label_follows_the_model_at_once(inside_home, monkeypatch):
    at, ids = open_inside(inside_home, monkeypatch, "gru")
    assert f"#{ids['gru']} untrained" in at.selectbox(key="inside_other").options[0]
    at.selectbox(key="inside_model").set_value(ids["rnn"]).run()
    assert not at.exception
    assert f"#{ids['rnn']} untrained" in at.selectbox(key="inside_other").options[0]


def test_the_models_own_map_separates_classes_after_training(inside_home, monkeypatch):
    at, ids = open_inside(inside_home, monkeypatch, "lstm", PROJECTION)
    assert not at.exception
    assert PROJECTION in [tab.label for tab in at.tabs]
    specs = " ".join(c.proto.spec for c in at.get("plotly_chart"))
    assert "component 1" in specs and "untrained" in specs
    shares = [float(c.value.split("%")[0].split(": ")[1]) for c in at.caption if c.value.startswith("Classes kept")]
    assert len(shares) == 2 and all(0 <= v <= 100 for v in shares)  # these tiny models are barely trained


def test_training_pulls_the_classes_apart_on_the_map(trained):
    """The caption's claim, on a real lstm64 (bench/README.md: 90% trained vs 21% untrained)."""
    from playground import explain
    from playground.data import Normalizer, load_dataset
    from playground.inference import load_checkpoint
    from playground.models import untrained

    loaded = load_checkpoint(trained.checkpoint)
    ds = load_dataset("mnist")
    x = Normalizer.of("mnist", loaded.config.data.normalize)(ds.test_x[:1000])
    y = ds.test_y[:1000].numpy()
    share = {name: explain.separation(explain.pca(explain.features(m, x)).points, y)
             for name, m in (("trained", loaded.model), ("untrained", untrained(loaded.config)))}
    assert share["trained"] > 0.75 and share["untrained"] < 0.45, share


def test_separation_and_pca_against_hand_worked_answers():
    import numpy as np

    from playground import explain

    apart = np.array([[0.0, 0.0], [0.0, 0.1], [10.0, 0.0], [10.0, 0.1]])
    assert explain.separation(apart, np.array([0, 0, 1, 1])) > 0.99
    assert explain.separation(apart, np.array([0, 1, 0, 1])) < 0.01
    line = np.array([[1.0, 1.0, 0.0], [2.0, 2.0, 0.0], [3.0, 3.0, 0.0]])
    proj = explain.pca(line)
    assert proj.explained == pytest.approx(1.0) and abs(abs(proj.axes[0] @ np.array([1, 1, 0]) / np.sqrt(2)) - 1) < 1e-9


def test_one_pass_gives_the_features_and_the_models_own_outputs(trained):
    from playground import explain
    from playground.data import Normalizer, load_dataset
    from playground.inference import load_checkpoint

    loaded = load_checkpoint(trained.checkpoint)
    x = Normalizer.of("mnist", loaded.config.data.normalize)(load_dataset("mnist").test_x[:50])
    feats, outputs = explain.features_and_outputs(loaded.model, x)
    with torch.no_grad():
        assert np.allclose(outputs, loaded.model.eval()(x).numpy(), atol=1e-5)
    assert feats.shape == (50, loaded.config.model.hidden)


def test_tsne_keeps_clusters_apart_and_places_a_new_point_among_its_neighbours():
    from playground import explain

    rng = np.random.default_rng(0)
    centres = rng.normal(0, 20, (3, 8))
    labels = np.repeat(np.arange(3), 30)
    feats = centres[labels] + rng.normal(0, 1, (90, 8))
    mapped = explain.tsne(feats)
    assert mapped.points.shape == (90, 2) and explain.separation(mapped.points, labels) > 0.9
    # A copy of cluster 2's centre lands inside cluster 2 on the map, nearer its points than any other's.
    placed = mapped.place(centres[2:3])[0]
    distance = {c: np.linalg.norm(mapped.points[labels == c].mean(0) - placed) for c in range(3)}
    assert min(distance, key=distance.get) == 2
    one = explain.NeighbourMap(np.array([[0.0, 0.0], [5.0, 5.0]]), np.array([[0.0], [1.0]]))
    assert np.allclose(one.place(np.array([[0.9]])), [[2.5, 2.5]])  # both neighbours when there are only two


def test_the_map_can_be_drawn_with_tsne(inside_home, monkeypatch):
    at, ids = open_inside(inside_home, monkeypatch, "lstm", PROJECTION)
    at.radio(key=f"map-method-{ids['lstm']}").set_value("tsne").run()
    assert not at.exception
    assert "t-SNE (scikit-learn)" in captions(at)
    shares = [c.value for c in at.caption if c.value.startswith("Classes kept")]
    assert len(shares) == 2 and "variance" not in shares[0]  # t-SNE keeps no variance to report


def test_tsne_of_two_or_three_images_is_a_map_and_of_one_a_reason():
    """Issue 30: a user's own folder with 1-2 test images raised 'perplexity must be less than n_samples'."""
    from playground import explain
    from playground.errors import PlaygroundError

    for n in (2, 3):
        mapped = explain.tsne(np.random.default_rng(n).normal(size=(n, 8)))
        assert mapped.points.shape == (n, 2) and np.isfinite(mapped.points).all()
    with pytest.raises(PlaygroundError, match="at least 2 test images"):
        explain.tsne(np.zeros((1, 8)))
    for feats in (np.ones((1, 8)), np.arange(5.0)[:, None]):  # one image; a layer of one unit (hidden=1)
        assert explain.pca(feats).points.shape == (len(feats), 2)


@pytest.mark.parametrize("count", [1, 2])
def test_inside_draws_the_map_of_a_test_set_of_one_or_two_images(home, store, monkeypatch, count):
    """A user's own folder with one or two test images: PCA and t-SNE draw them, or t-SNE says why not."""
    from playground import data

    full = data.load_dataset("mnist")
    few = data.Dataset(full.spec, full.train_x[:40], full.train_y[:40], full.test_x[:count], full.test_y[:count],
                       "a folder of my own")
    monkeypatch.setitem(data._cache, "mnist", few)
    cfg = tiny(epochs=1, hidden=8, limit=0)
    run_id = store.create_run(cfg, "few")
    assert Trainer(cfg, store, run_id).run().status == "finished"
    at = app_page("pages/inside.py")
    at.session_state["inside_model"] = run_id
    inside_view(at, PROJECTION)
    assert not at.exception
    at.radio(key=f"map-method-{run_id}").set_value("tsne").run()
    assert not at.exception
    shares = [c.value for c in at.caption if c.value.startswith("Classes kept")]
    assert len(shares) == (2 if count == 2 else 0)
    assert (count == 2) != any("at least 2 test images" in i.value for i in at.info)


def saliency_maps(at) -> dict[str, dict]:
    """The "Which pixels decided it" maps by title (their titles end in the Σ of the map)."""
    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    return {one_line(html.unescape(s["layout"]["title"]["text"])): s for s in specs
            if " · Σ " in s["layout"].get("title", {}).get("text", "")}


def test_which_pixels_shows_each_model_side_by_side_on_one_scale_and_the_sum_in_logits(inside_home, monkeypatch):
    at, ids = open_inside(inside_home, monkeypatch, "cnn plain", PIXELS)
    at.selectbox(key="inside_other").set_value(ids["cnn bn"]).run()
    assert not at.exception
    maps = saliency_maps(at)
    names = sorted(t.split(":")[0] for t in maps)
    assert names == sorted([f"#{ids['cnn plain']} CNN, trained", f"#{ids['cnn bn']} CNN, trained"])
    assert all(re.search(r"· Σ [+-][\d.e+-]+ logit$", t) for t in maps)
    assert len({(m["data"][0]["zmin"], m["data"][0]["zmax"]) for m in maps.values()}) == 1  # one colour scale
    text = captions(at)
    assert "one colour scale for the maps side by side" in text and "logits" in text
    assert "untrained copy's map" not in text  # no untrained copy is shown here
    at.selectbox(key="inside_other").set_value("nothing").run()
    assert len(saliency_maps(at)) == 1 and "one colour scale for the maps side by side" not in captions(at)


def test_a_blank_grad_cam_map_says_why(inside_home, monkeypatch):
    from playground import explain

    at, ids = open_inside(inside_home, monkeypatch, "cnn plain", PIXELS)
    real = explain.saliency
    monkeypatch.setattr(explain, "saliency", lambda *a, **k: real(*a, **k) * 0)  # as an untrained copy's often is
    at.radio(key=f"why-method-inside-{ids['cnn plain']}").set_value("gradcam").run()
    assert not at.exception
    for name in ("trained", "untrained"):
        assert f"#{ids['cnn plain']} CNN, {name}: all white, because no region" in captions(at)
    at.radio(key=f"why-method-inside-{ids['cnn plain']}").set_value("ig").run()
    assert "all white" not in captions(at)  # said of Grad-CAM's blank maps only


@pytest.mark.parametrize("model", ["cnn plain", "lstm"])
def test_no_chart_on_inside_shows_plotlys_toolbar_but_the_zoomable_map(inside_home, monkeypatch, model):
    """Issue 31: the class probabilities, hidden states, gates and saliency maps still showed it over their titles;
    only the model's own map of the inputs (many points, worth zooming into) keeps it."""
    at, ids = open_inside(inside_home, monkeypatch, model)
    assert not at.exception
    # the class probabilities: HTML bars, no toolbar at all
    assert [b["title"] for b in probability_bars(at)][0].endswith(": class probabilities")
    for view in CNN_VIEWS if model == "cnn plain" else RECURRENT_VIEWS:
        inside_view(at, view)
        assert not at.exception, view
        shown = [c for c in at.get("plotly_chart") if not (c.proto.id or "").count("projection-")]
        assert shown or view == PROJECTION, view
        left = [json.loads(c.proto.spec)["layout"].get("title", {}).get("text", "?") for c in shown
                if json.loads(c.proto.config or "{}").get("displayModeBar") is not False]
        assert left == [], view


def test_only_the_open_tabs_charts_are_built(inside_home, monkeypatch):
    """Issue 36: all views at once were 25 charts drawn on every visit; the tabs build the open one only."""
    at, ids = open_inside(inside_home, monkeypatch, "cnn plain")
    assert not at.exception
    i = ids["cnn plain"]
    assert [tab.label for tab in at.tabs] == list(CNN_VIEWS) and at.session_state["inside_view"] == MAPS
    assert [bool(tab.children) for tab in at.tabs] == [v == MAPS for v in CNN_VIEWS]
    t = titles(at)
    assert f"#{i} CNN, trained · 16×3×3: first-layer filters" in grids(at) and at.table
    assert "How far each layer moved from its initial weights" not in t and not saliency_maps(at)
    assert not [c for c in at.get("plotly_chart") if "projection-" in (c.proto.id or "")]
    inside_view(at, WEIGHTS)
    assert not at.exception
    assert [bool(tab.children) for tab in at.tabs] == [v == WEIGHTS for v in CNN_VIEWS]
    assert titles(at) == ["How far each layer moved from its initial weights"]  # no feature map, filter
    assert not at.table and "One row per layer" not in captions(at)
    assert [b["title"] for b in probability_bars(at)] == [f"#{i} CNN, {k}: class probabilities"
                                                          for k in ("trained", "untrained")]  # above the tabs


def test_the_open_tab_is_kept_in_the_url_and_a_link_opens_it(inside_home, monkeypatch):
    at, ids = open_inside(inside_home, monkeypatch, "cnn plain")
    assert at.query_params["view"] == "maps"
    inside_view(at, PIXELS)
    assert not at.exception and at.query_params["view"] == "pixels"
    reloaded = app_page("pages/inside.py")  # a new session: only the URL is left
    reloaded.query_params["model"] = str(ids["cnn plain"])
    reloaded.query_params["view"] = "weights"
    reloaded.run()
    assert not reloaded.exception
    assert reloaded.session_state["inside_view"] == WEIGHTS and reloaded.query_params["view"] == "weights"
    assert "How far each layer moved from its initial weights" in titles(reloaded) and not reloaded.table
    other = app_page("pages/inside.py")  # a recurrent model's view on a CNN: its default view instead
    other.query_params["model"] = str(ids["cnn plain"])
    other.query_params["view"] = "gradient"
    other.run()
    assert not other.exception
    assert other.session_state["inside_view"] == MAPS and other.query_params["view"] == "maps"


def test_a_view_both_kinds_of_model_have_sits_at_the_same_tab_in_both():
    """A model change from a LeNet on "How far the weights moved" to a GRU once opened "The model's map of inputs",
    unbuilt (Streamlit's tabs took the new index from the old labels): a shared view keeps its index."""
    shared = [v for v in CNN_VIEWS if v in RECURRENT_VIEWS]
    assert shared and all(CNN_VIEWS.index(v) == RECURRENT_VIEWS.index(v) for v in shared)


def test_a_recurrent_models_tabs_replace_a_cnns_and_a_tab_both_have_stays_open(inside_home, monkeypatch):
    at, ids = open_inside(inside_home, monkeypatch, "cnn plain", WEIGHTS)
    at.selectbox(key="inside_model").set_value(ids["lstm"]).run()
    assert not at.exception
    assert [tab.label for tab in at.tabs] == list(RECURRENT_VIEWS)
    assert at.session_state["inside_view"] == WEIGHTS and at.query_params["view"] == "weights"
    assert [bool(tab.children) for tab in at.tabs] == [v == WEIGHTS for v in RECURRENT_VIEWS]
    bars = chart(at, "How far each layer moved from its initial weights")["data"][0]["y"]
    assert bars[0] == "LSTM layer 1"
    inside_view(at, GRADIENT)  # a view a CNN has not: its default one on a CNN
    at.selectbox(key="inside_model").set_value(ids["cnn plain"]).run()
    assert not at.exception
    assert [tab.label for tab in at.tabs] == list(CNN_VIEWS)
    assert at.session_state["inside_view"] == MAPS and at.query_params["view"] == "maps"
    assert f"#{ids['cnn plain']} CNN, trained · 16×3×3: first-layer filters" in grids(at)


def test_each_answer_is_marked_right_or_wrong_and_the_caption_quotes_its_probabilities(inside_home, monkeypatch):
    """Walkthrough: a trained GRU answered 9 for a 7 at 26% beside a caption saying a trained model puts almost
    all of it on one class; nothing near the answer said it was wrong."""
    at, ids = open_inside(inside_home, monkeypatch, "cnn plain")
    i = ids["cnn plain"]
    verdicts = [c.value for c in at.caption if c.value in ("✓ right", "✗ wrong: the true class is 7")]  # image 0: a 7
    assert len(verdicts) == 2, captions(at)
    bars = {b["title"].split(":")[0]: max(b["probs"]) for b in probability_bars(at)}
    said = captions(at)
    assert "almost all of it" not in said and "an even spread would give each 10%" in said
    for name in (f"#{i} CNN, trained", f"#{i} CNN, untrained"):
        assert f"{name} gives its answer {bars[name]:.0%}" in said


def test_the_math_and_map_say_when_the_model_beside_is_not_in_them(inside_home, monkeypatch):
    at, ids = open_inside(inside_home, monkeypatch, "cnn plain", MATH)
    assert "worked out for" not in captions(at)  # beside: its untrained copy, part of the step by hand's story
    at.selectbox(key="inside_other").set_value(ids["cnn bn"]).run()
    assert not at.exception and f"worked out for #{ids['cnn plain']} CNN alone" in captions(at)
    inside_view(at, PROJECTION)
    assert not at.exception and f"The map of #{ids['cnn plain']} CNN alone" in captions(at)
