"""Draw with a model of your own classes (issue 33): its answers in its class names, beside digit models."""

import numpy as np
import pytest
import torch

import ui.draw_input
from playground import own
from playground.data import load_dataset
from playground.engine.finetune import output_layer
from playground.engine.training import Trainer
from playground.inference import (
    CheckpointError,
    drawing_checkpoints,
    load_checkpoint,
    mnist_checkpoints,
    named,
    predict_digits,
    predict_drawings,
)
from playground.store import RunStore
from tests.conftest import app_page, on_canvas, tiny
from tests.test_draw import mnist_digit, page_text, probability_bars
from ui.common import plain

MARKS = ["check", "cross"]  # sorted, as a snapshot numbers its classes


def _marks(store) -> str:
    """A collection 'marks' of 10 MNIST 0s ('check') and 10 MNIST 1s ('cross'), made a dataset; its name."""
    store.add_collection("marks", MARKS)
    ds = load_dataset("mnist")
    for label, digit in enumerate((0, 1)):
        for i in (ds.test_y == digit).nonzero().flatten()[:10].tolist():
            store.add_example("marks", ds.test_x[i, 0].numpy() / 255.0, label)
    kept = store.examples("marks")
    return own.write_snapshot([d.id for d in kept], [d.label for d in kept], [d.pixels for d in kept],
                              classes=MARKS, name="marks", per_class=own.MIN_PER_OWN_CLASS).dataset


@pytest.fixture(scope="module")
def classes_home(tmp_path_factory):
    """A home with a tiny MNIST LSTM (#1) and a tiny LSTM of the classes 'check' and 'cross' (#2)."""
    home = tmp_path_factory.mktemp("classes")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PLAYGROUND_HOME", str(home))
        store = RunStore(home)
        for cfg, name in ((tiny(epochs=1, limit=300, hidden=16), "digits"),
                          (tiny(dataset=_marks(store), epochs=2, limit=0, batch_size=8, hidden=16), "marks")):
            assert Trainer(cfg, store, store.create_run(cfg, name)).run().status == "finished", name
        store.close()
    return home


def test_a_model_of_own_classes_answers_in_their_names(classes_home, monkeypatch, tmp_path):
    monkeypatch.setenv("PLAYGROUND_HOME", str(classes_home))
    runs = RunStore(classes_home).list_runs()
    digits, marks = sorted(runs, key=lambda r: r.id)
    assert sorted(r.id for r in drawing_checkpoints(runs)) == [digits.id, marks.id]
    assert [r.id for r in mnist_checkpoints(runs)] == [digits.id]  # the digit-only uses (CLI predict) keep refusing
    loaded = load_checkpoint(marks.checkpoint)
    # The reference: an output layer that only says 'cross' (class 1), whatever the input.
    layer = output_layer(loaded.model)
    with torch.no_grad():
        layer.weight.zero_()
        layer.bias.copy_(torch.tensor([0.0, 8.0]))
    drawings = np.stack([mnist_digit(i) / 255.0 for i in range(3)])
    probs = predict_drawings(loaded, drawings)
    assert loaded.classes == tuple(MARKS) and probs.shape == (3, 2)
    np.testing.assert_allclose(probs[:, 1], 1 / (1 + np.exp(-8.0)), rtol=1e-5)
    assert named(loaded, probs[0]) == ("cross", pytest.approx(float(probs[0, 1])))
    with pytest.raises(CheckpointError, match="needs an MNIST model"):
        predict_digits(loaded, drawings)
    assert named(load_checkpoint(digits.checkpoint), np.eye(10)[7]) == ("7", 1.0)


@pytest.fixture
def classes_page(classes_home, monkeypatch):
    monkeypatch.setenv("PLAYGROUND_HOME", str(classes_home))
    canvas = {"ink": None}
    monkeypatch.setattr(ui.draw_input, "canvas_ink", lambda key: canvas["ink"])
    store = RunStore(classes_home)
    for d in store.list_drawings():
        store.delete_drawing(d.id)
    yield app_page("pages/draw.py"), canvas, store
    store.close()


def _titles(at) -> list[str]:
    return [b["title"] for b in probability_bars(at)]


def _bars(at) -> list[list[str]]:
    return [b["classes"] for b in probability_bars(at)]


def test_draw_shows_each_model_in_its_own_class_names(classes_page):
    at, canvas, store = classes_page
    digits, marks = sorted(store.list_runs(), key=lambda r: r.id)
    at.run()
    assert at.multiselect(key="draw_models").value == [digits.id]  # the canvas asks for a digit: a digit model
    assert "classes check, cross" in at.multiselect(key="draw_models").format_func(marks.id)
    at.multiselect(key="draw_models").set_value([digits.id, marks.id]).run()
    at.selectbox(key="draw_detail").set_value(marks.id)
    canvas["ink"] = on_canvas(mnist_digit(2), 200, 40, 40)  # an MNIST 1
    at.run()
    assert not at.exception, at.exception
    assert at.metric[0].value in MARKS and f"#{marks.id} predicts" in at.metric[0].label
    bars = _bars(at)
    assert bars[0] == MARKS and sorted(map(tuple, bars[1:])) == [tuple("0123456789"), tuple(MARKS)]  # side by side
    side = [t for t in _titles(at) if t.startswith(f"#{marks.id} ")]
    assert side and side[0].rsplit(": ", 1)[1] in MARKS
    text = page_text(at)
    assert "Reads your own classes (check, cross)" in text and "A model must answer one of 0–9" not in text
    assert f"#{marks.id} reads your own classes, not digits" in text  # no 'teach your handwriting' for it
    assert "Not scored on your kept drawings" not in text  # none kept yet
    # A kept digit drawing scores the digit model only, and the page says why the other is left out.
    at.selectbox(key="true_label").set_value(1)
    at.button(key="draw_keep").click().run()
    assert len(store.list_drawings()) == 1 and not at.exception
    table = at.table[0].value
    assert list(table["model"]) == [plain(at.multiselect(key="draw_models").format_func(digits.id))]  # markdown
    assert "Not scored on your kept drawings, which are labelled with digits" in page_text(at)


def test_a_link_with_a_model_opens_draw_on_it(classes_home, monkeypatch):
    """A lesson's "✏️ Draw …" link names its run; Draw read no parameter and kept the last pick (adversary, round 4)."""
    from playground import lessons

    monkeypatch.setenv("PLAYGROUND_HOME", str(classes_home))
    digits, marks = sorted(RunStore(classes_home).list_runs(), key=lambda r: r.id)
    [link] = [x for x in lessons.BY_KEY["look"].next if x.page == "draw"]
    assert lessons.link_params(link, {"lenet": marks.id}, lessons.BY_KEY["look"], "tiny") == {"model": str(marks.id)}
    at = app_page("pages/draw.py")
    at.query_params["model"] = str(marks.id)
    at.run()
    assert not at.exception and at.multiselect(key="draw_models").value == [marks.id]  # not the default digit model
    at = app_page("pages/draw.py")
    at.query_params["model"] = "999"  # no such model: the default, no error
    at.run()
    assert not at.exception and at.multiselect(key="draw_models").value == [digits.id]


def test_draws_url_keeps_its_models_for_a_reload(classes_home, monkeypatch):
    """A reload (a new session) lost Draw's picked models: they are in its URL now, `?models=3,5`."""
    monkeypatch.setenv("PLAYGROUND_HOME", str(classes_home))
    digits, marks = sorted(RunStore(classes_home).list_runs(), key=lambda r: r.id)
    at = app_page("pages/draw.py").run()
    assert at.multiselect(key="draw_models").value == [digits.id] and at.query_params["models"] == str(digits.id)
    at.multiselect(key="draw_models").set_value([marks.id, digits.id]).run()
    assert at.query_params["models"] == f"{marks.id},{digits.id}"
    again = app_page("pages/draw.py")  # the reload: a new session on the same URL
    again.query_params["models"] = at.query_params["models"]
    again.run()
    assert not again.exception and again.multiselect(key="draw_models").value == [marks.id, digits.id]
    # No such model, not ids, digits int() reads but a URL's ids are not ('²' crashed the page, '٣' named run 3),
    # 5,000 digits (int() refuses over 4,300): the default. A model repeated: once; after 6 unknown ids: kept.
    for junk, kept in (("999", [digits.id]), ("x,,-1", [digits.id]), ("²", [digits.id]), ("①,٣", [digits.id]),
                       ("1" * 5000, [digits.id]), (",".join([str(marks.id)] * 50), [marks.id]),
                       ("99,98,97,96,95,94," + str(marks.id), [marks.id])):
        bad = app_page("pages/draw.py")
        bad.query_params["models"] = junk
        bad.run()
        assert not bad.exception and bad.multiselect(key="draw_models").value == kept, junk[:20]
    for junk in ("²", "9" * 5000):  # a lesson's ?model= as bad: the URL's models, no crash
        bad = app_page("pages/draw.py")
        bad.query_params["models"], bad.query_params["model"] = str(marks.id), junk
        bad.run()
        assert not bad.exception and bad.multiselect(key="draw_models").value == [marks.id], junk[:20]
