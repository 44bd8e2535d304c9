"""Draw: rendered canvases through the shared preprocessing, and the page under AppTest."""
import html
import json
import os
import re

import numpy as np
import pytest
from PIL import Image

import ui.draw_input
import ui.draw_keep
from playground import data
from playground.engine.training import Trainer
from playground.inference import load_checkpoint, predict_image
from playground.preprocess import BadImage, NoInk, NotADigit, load_image
from playground.store import RunStore
from ui.draw_input import CANVAS, UPLOAD, newest

from conftest import app_page, on_canvas, png, probability_bars, rgba, tiny, with_a_tiny_run


def canvas_of(digit: np.ndarray, size: int, top: int, left: int) -> np.ndarray:
    """An MNIST digit drawn large and off-centre on a 280x280 black canvas, as RGBA like st_canvas gives."""
    big = np.asarray(Image.fromarray(digit).resize((size, size), Image.Resampling.BILINEAR))
    canvas = np.zeros((280, 280), np.uint8)
    canvas[top:top + size, left:left + size] = big
    return np.dstack([canvas, canvas, canvas, np.full_like(canvas, 255)])


def test_the_trained_model_reads_rendered_canvases(trained):
    model = load_checkpoint(trained.checkpoint)
    ds = data.load_dataset("mnist")
    rng = np.random.default_rng(0)
    correct = 0
    for i in range(40):
        size = int(rng.integers(120, 260))
        top, left = (int(rng.integers(0, 280 - size + 1)) for _ in range(2))
        _, probs = predict_image(model, canvas_of(ds.test_x[i, 0].numpy(), size, top, left))
        correct += int(probs.argmax()) == int(ds.test_y[i])
    assert correct >= 36  # the model's own test accuracy is ~95%


def rgba_canvas(strokes: list[list[tuple[int, int]]], width: int = 18) -> np.ndarray:
    """What st_canvas returns: RGBA, opaque black background, white freehand strokes of `width`."""
    from PIL import ImageDraw

    im = Image.new("RGBA", (280, 280), (0, 0, 0, 255))
    d = ImageDraw.Draw(im)
    for points in strokes:
        if len(points) > 1:
            d.line(points, fill=(255, 255, 255, 255), width=width, joint="curve")
        for x, y in (points[0], points[-1]):
            d.ellipse([x - width / 2, y - width / 2, x + width / 2, y + width / 2], fill=(255, 255, 255, 255))
    return np.asarray(im)


def test_canvas_input_that_is_no_digit_gets_no_prediction(trained):
    model = load_checkpoint(trained.checkpoint)
    zigzag = [(10 + (260 if k % 2 else 0), 10 + k * 12) for k in range(22)]
    for strokes, error in (([], NoInk), ([[(140, 140)]], NotADigit), ([[(140, 140), (143, 140)]], NotADigit),
                           ([zigzag], NotADigit)):
        try:
            predict_image(model, rgba_canvas(strokes) if strokes else np.dstack([np.zeros((280, 280, 3), np.uint8),
                                                                                 np.full((280, 280), 255, np.uint8)]))
        except error:
            continue
        raise AssertionError(f"{strokes[:1]} got a digit")


def test_a_drawn_seven_on_the_canvas_reads_as_seven(trained):
    model = load_checkpoint(trained.checkpoint)
    _, probs = predict_image(model, rgba_canvas([[(70, 60), (210, 60), (120, 240)]]))
    assert int(probs.argmax()) == 7


def test_draw_page_without_models_points_to_train(home):
    at = app_page("pages/draw.py").run()
    assert not at.exception
    assert any("Train" in i.value for i in at.info)


def test_draw_page_with_a_model_asks_for_a_digit_and_lists_models(trained):
    at = app_page("pages/draw.py").run()
    assert not at.exception
    assert any("Draw a digit" in i.value for i in at.info)
    assert at.multiselect(key="draw_models").value == [trained.id]
    if not RunStore(os.environ["PLAYGROUND_HOME"]).list_drawings():  # no kept drawings: no table to point at
        assert not any("In the table above" in c.value for c in at.caption)


# ------------------------------------------------------------------ the page: inputs, keeping, the gallery


@pytest.fixture(scope="module")
def tiny_home(tmp_path_factory):
    """A home with one tiny MNIST LSTM (its answers are poor; these tests are about the page)."""
    return with_a_tiny_run(tmp_path_factory.mktemp("draw"))


@pytest.fixture
def draw_page(tiny_home, monkeypatch):
    """The Draw page on the tiny home, its canvas replaced by `canvas["ink"]` (AppTest has no canvas)."""
    monkeypatch.setenv("PLAYGROUND_HOME", str(tiny_home))
    canvas = {"ink": None}
    monkeypatch.setattr(ui.draw_input, "canvas_ink", lambda key: canvas["ink"])
    ui.draw_input.prepare_upload.clear()
    store = RunStore(tiny_home)
    for d in store.list_drawings():
        store.delete_drawing(d.id)
    yield gallery_open(app_page("pages/draw.py")), canvas, store
    store.close()


def gallery_open(at):
    """The kept-drawings gallery open, as a learner opens it: shut, its tiles are not built (issue 36)."""
    at.session_state[ui.draw_keep.GALLERY] = True
    return at


def mnist_digit(i: int) -> np.ndarray:
    return data.load_dataset("mnist").test_x[i, 0].numpy()


def page_text(at) -> str:
    return " ".join(e.value for kind in ("caption", "markdown", "info", "warning", "success", "error")
                    for e in at.get(kind) if isinstance(e.value, str))


def upload(at, content: bytes, name: str = "digit.png"):
    at.file_uploader[0].set_value((name, content, "image/png"))
    return at.run()


def test_newest_input_wins_and_removing_one_falls_back_to_the_other():
    state: dict = {}
    assert newest(state, None, None) is None
    assert newest(state, None, "u1") == UPLOAD
    assert newest(state, "c1", "u1") == CANVAS  # drawn after the upload
    assert newest(state, "c1", "u1") == CANVAS  # a rerun changes nothing
    assert newest(state, "c1", "u2") == UPLOAD  # another file
    assert newest(state, "c1", None) == CANVAS  # the upload removed: the drawing is still there
    assert newest(state, None, None) is None


@pytest.mark.parametrize("data", [b"GIF89a but not really an image", b"\x89PNG\r\n\x1a\n cut short"])
def test_messages_never_name_python_exceptions(data):
    with pytest.raises(BadImage) as caught:
        load_image(data)
    assert not re.search(r"[A-Z]\w*(Error|Exception)", str(caught.value)), caught.value


def test_upload_is_shown_and_a_later_drawing_wins_over_it(draw_page):
    at, canvas, _ = draw_page
    at.run()
    upload(at, png(on_canvas(mnist_digit(0), 200, 40, 40)), "three.png")
    assert not at.exception
    assert "The models see **the uploaded image**" in page_text(at)
    assert any("uploaded: three.png" in str(i.proto) for i in at.get("image"))  # the original, beside the canvas
    assert at.metric[0].value.isdigit() and "sure" in at.metric[0].label and "↑" not in at.metric[0].label
    canvas["ink"] = on_canvas(mnist_digit(1), 200, 40, 40)
    at.run()
    assert "The models see **your drawing on the canvas**" in page_text(at) and "not used" in page_text(at)
    [b for b in at.button if b.label == "Clear"][0].click().run()
    canvas["ink"] = np.zeros((280, 280), np.uint8)  # the new, empty canvas
    at.run()
    assert not at.exception
    assert any("Draw a digit" in i.value for i in at.info)  # Clear removed the upload too
    assert not at.file_uploader[0].value


@pytest.mark.parametrize("content, expected", [
    (png(np.full((280, 280), 255, np.uint8)), "no ink"),  # a blank white page
    (png(on_canvas(np.pad(np.full((4, 20), 255, np.uint8), 4), 200, 40, 40)), "doesn't look like a digit"),  # dash
    (b"GIF89a but not really an image", "not a readable image"),
])
def test_uploads_without_a_digit_say_why_in_words(draw_page, content, expected):
    at, _, _ = draw_page
    at.run()
    upload(at, content)
    assert not at.exception
    text = page_text(at)
    assert expected in text, text
    assert "Error" not in text and "Exception" not in text
    assert not at.metric  # no prediction


def test_a_scribble_on_the_canvas_gets_not_a_digit(draw_page):
    at, canvas, _ = draw_page
    canvas["ink"] = rgba_canvas([[(10 + (260 if k % 2 else 0), 10 + k * 12) for k in range(22)]])[..., 0]
    at.run()
    assert not at.exception
    assert any("doesn't look like a digit" in w.value for w in at.warning)


def test_the_upload_is_decoded_once_per_file(draw_page, monkeypatch):
    at, _, _ = draw_page
    calls = []
    real = ui.draw_input.load_image
    monkeypatch.setattr(ui.draw_input, "load_image", lambda b: calls.append(1) or real(b))
    at.run()
    upload(at, png(on_canvas(mnist_digit(2), 200, 40, 40)))
    at.run()
    at.run()
    assert len(calls) == 1


def test_keep_needs_a_label_the_user_picked_then_relabel_and_delete(draw_page):
    at, canvas, store = draw_page
    canvas["ink"] = on_canvas(mnist_digit(0), 200, 40, 40)
    at.run()
    assert at.selectbox(key="true_label").value is None  # never the model's guess
    at.button(key="draw_keep").click().run()
    assert any("Pick the digit" in w.value for w in at.warning) and not store.list_drawings()
    at.selectbox(key="true_label").set_value(7).run()
    at.button(key="draw_keep").click().run()
    assert not at.exception
    [kept] = store.list_drawings()
    assert kept.label == 7 and any("Kept as a 7" in s.value for s in at.success)
    assert at.selectbox(key="true_label").value is None  # the next keep needs its own label
    assert "1 drawing kept" in page_text(at)
    assert any("on your 1 drawing" in json.dumps(json.loads(c.proto.spec)) for c in at.get("plotly_chart"))
    at.selectbox(key=f"relabel-{kept.id}").set_value(3).run()
    assert store.list_drawings()[0].label == 3
    at.button(key=f"delete-{kept.id}").click().run()
    assert not at.exception and not store.list_drawings()
    at.button(key="draw_undo").click().run()  # a delete can be taken back
    [back] = store.list_drawings()
    assert back.label == 3 and np.array_equal(back.pixels, kept.pixels)
    [gallery] = [e for e in at.expander if e.label.startswith("Your kept drawings")]
    assert gallery.proto.expanded  # the gallery stays open after a delete


def test_a_fast_keep_keeps_the_digit_it_was_pressed_for(draw_page):
    at, canvas, store = draw_page
    canvas["ink"] = on_canvas(mnist_digit(0), 200, 40, 40)
    at.run()
    shown = at.session_state["last_digit"].copy()
    at.selectbox(key="true_label").set_value(7)
    canvas["ink"] = on_canvas(mnist_digit(1), 200, 40, 40)  # the next stroke arrives with the click
    at.button(key="draw_keep").click().run()
    [kept] = store.list_drawings()
    assert np.abs(kept.pixels - shown).max() < 1 / 255 + 1e-6  # the digit on screen at the click, not the new one


# ------------------------------------------------------------------ which model, a letter, Inside, a page switch
def letter(ch: str = "A") -> np.ndarray:
    """A typed letter drawn large, white on black, as a canvas gives it (RGBA)."""
    from PIL import ImageDraw, ImageFont

    im = Image.new("L", (280, 280), 0)
    font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf", 200)
    ImageDraw.Draw(im).text((40, 20), ch, fill=255, font=font)
    return rgba(np.asarray(im))


def test_a_letter_is_flagged_as_unlike_the_digits_and_a_digit_is_not(draw_page):
    at, canvas, _ = draw_page
    canvas["ink"] = letter("A")[..., 0]
    at.run()
    assert not at.exception
    assert any("unlike the handwritten digits" in w.value for w in at.warning)
    assert "must answer one of 0–9" in page_text(at)
    canvas["ink"] = on_canvas(mnist_digit(0), 200, 40, 40)
    at.run()
    assert not any("unlike the handwritten digits" in w.value for w in at.warning)


def test_the_unlike_digits_warning_stands_beside_each_models_answer(tmp_path, monkeypatch):
    store = RunStore(tmp_path)
    for seed in (0, 1):
        cfg = tiny(epochs=1, limit=300, hidden=16, seed=seed)
        assert Trainer(cfg, store, store.create_run(cfg, f"tiny {seed}")).run().status == "finished"
    ids = [r.id for r in store.list_runs()]
    store.close()
    monkeypatch.setenv("PLAYGROUND_HOME", str(tmp_path))
    canvas = {"ink": letter("A")[..., 0]}
    monkeypatch.setattr(ui.draw_input, "canvas_ink", lambda key: canvas["ink"])
    at = app_page("pages/draw.py")
    at.session_state["draw_models"] = ids
    at.run()
    assert not at.exception
    text = page_text(at)
    for i in ids:  # each model's own answer gets its own verdict, naming why
        assert re.search(rf"❓ Unlike the digits #{i} learned from \(in pixels[^)]*\)", text), text
    assert "of letters drawn the same way" in text  # the caption's measured rates
    canvas["ink"] = on_canvas(mnist_digit(0), 200, 40, 40)
    at.run()
    assert "❓ Unlike" not in page_text(at) and not at.warning  # a real digit: no verdict against it


def test_the_default_model_is_the_best_finished_one_never_one_training(tmp_path):
    from playground.errors import RunStatus
    from playground.inference import best_finished
    from playground.store import RunRecord

    def rec(i, status, acc=None):
        return RunRecord(id=i, name=f"#{i}", status=status, config=tiny(), device="cpu", params=1, created=0.0,
                         result={} if acc is None else {"test_acc": acc})

    runs = [rec(4, RunStatus.RUNNING), rec(3, RunStatus.FINISHED, 0.91), rec(2, RunStatus.FINISHED, 0.97),
            rec(1, RunStatus.STOPPED)]
    assert [r.id for r in best_finished(runs)] == [2]
    assert [r.id for r in best_finished([runs[0], runs[3]])] == [1]  # nothing finished: not the one training
    assert best_finished([runs[0]]) == []


def test_the_detail_picker_the_inside_link_and_a_page_switch_keep_the_choice(draw_page):
    at, canvas, _ = draw_page
    canvas["ink"] = on_canvas(mnist_digit(0), 200, 40, 40)
    at.run()
    chosen = at.multiselect(key="draw_models").value
    assert at.selectbox(key="draw_detail").value == chosen[0]
    link = next(p for p in at.get("page_link") if "Look inside" in p.proto.label)
    assert link.proto.query_string == f"model={chosen[0]}&input=drawing"
    at.switch_page("pages/compare.py").run()
    at.switch_page("pages/draw.py").run()
    assert at.multiselect(key="draw_models").value == chosen


def test_inside_opens_on_the_drawing_its_link_names(draw_page):
    at, canvas, _ = draw_page
    canvas["ink"] = on_canvas(mnist_digit(0), 200, 40, 40)
    at.run()
    model = at.multiselect(key="draw_models").value[0]
    at.switch_page("pages/inside.py")
    at.query_params.update({"model": str(model), "input": "drawing"})
    at.run()
    assert not at.exception
    assert at.radio(key="inside_source").value == "my drawing"
    assert at.selectbox(key="inside_model").value == model


def test_why_shows_the_saliency_of_the_model_beside_its_untrained_copy(draw_page):
    at, canvas, _ = draw_page
    canvas["ink"] = on_canvas(mnist_digit(0), 200, 40, 40)
    at.session_state["why-open-draw"] = True  # opened (computed only while open)
    at.run()
    assert not at.exception
    assert any(e.label.startswith("🔍 Why") for e in at.expander)
    specs = " ".join(c.proto.spec for c in at.get("plotly_chart"))
    specs = specs.replace("\\u003cbr\\u003e", " ").replace("<br>", " ")  # titles broken into lines
    assert specs.count("trained: ") >= 2 and "untrained: " in specs and "per row" in specs  # an LSTM: rows too
    figures = [json.loads(c.proto.spec) for c in at.get("plotly_chart") if "per row" in c.proto.spec]
    ranges = {tuple(f["layout"]["xaxis"]["range"]) for f in figures}
    assert len(figures) == 2 and len(ranges) == 1  # trained and untrained rows on one scale, as the maps are
    heatmaps = [json.loads(c.proto.spec)["data"][0] for c in at.get("plotly_chart")
                if json.loads(c.proto.spec)["data"][0]["type"] == "heatmap" and "trained:" in c.proto.spec]
    assert len({(h["zmin"], h["zmax"]) for h in heatmaps}) == 1
    assert "Saliency shows what the model *used*" in page_text(at)
    at.radio(key="why-method-draw").set_value("occlusion").run()
    assert not at.exception and "Occlusion" in page_text(at)


def why_titles(at) -> list[str]:
    """Why?'s map titles as written: a narrow column breaks them into lines ("#1 LSTM, trained:<br>'2' · Σ …")."""
    titles = [html.unescape(json.loads(c.proto.spec)["layout"]["title"]["text"]).replace("<br>", " ")
              for c in at.get("plotly_chart") if "per row" not in c.proto.spec]
    return [t for t in titles if "trained: " in t]


def explain_box(at):
    """Why?'s "Explain" selectbox (keyed by the answer it explains: ui.why_views.why_class_key)."""
    return next(s for s in at.selectbox if s.label == "Explain")


def test_why_stays_open_across_drawings_and_explains_the_class_picked(draw_page):
    at, canvas, _ = draw_page
    canvas["ink"] = on_canvas(mnist_digit(0), 200, 40, 40)
    at.run()
    assert not why_titles(at)  # shut: nothing computed
    at.session_state["why-open-draw"] = True  # the learner opens it (AppTest cannot click an expander)
    at.run()
    assert len(why_titles(at)) == 2
    explain_box(at).set_value(2).run()
    assert all(re.search(r"trained: '2' · Σ [+-][\d.e+-]+ logit$", t) for t in why_titles(at))
    canvas["ink"] = on_canvas(mnist_digit(1), 180, 60, 30)  # a new drawing (another answer, perhaps)
    at.run()
    assert not at.exception
    assert len(why_titles(at)) == 2 and all("'2'" in t for t in why_titles(at))  # still open, still on 2
    assert explain_box(at).format_func(2) in ("why not 2?", "why 2?")
    explain_box(at).set_value("answer").run()
    answer = at.get("metric")[0].value
    assert all(f"'{answer}'" in t for t in why_titles(at))  # back to explaining its answer
    assert explain_box(at).value == "answer"  # shown as a choice, not "Choose an option"
    at.switch_page("pages/compare.py").run()
    at.switch_page("pages/draw.py").run()
    assert len(why_titles(at)) == 2  # open again after a visit to another page
    figure = next(json.loads(c.proto.spec) for c in at.get("plotly_chart") if "trained:" in c.proto.spec)
    assert [t["type"] for t in figure["data"]] == ["heatmap", "contour"]  # the digit's outline over the map


def test_the_gallery_can_show_a_models_mistakes_first(draw_page):
    at, canvas, store = draw_page
    for i, label in ((0, 7), (1, 2), (2, 1), (3, 0), (0, 3), (1, 5)):  # the last two labelled wrong on purpose
        store.add_drawing(mnist_digit(i) / 255.0, label)
    at.run()
    at.toggle(key="draw_gallery_mistakes").set_value(True).run()
    assert not at.exception
    marks = [str(img.proto) for img in at.get("image")  # tile captions: "#12 ✗3" or "#12 ✓"
             if "#" in str(img.proto) and ("✗" in str(img.proto) or "✓" in str(img.proto))]
    wrong = ["✗" in c for c in marks]
    assert any(wrong) and wrong == sorted(wrong, reverse=True)  # every mistake before every right answer


# ------------------------------------------------------------------ kept drawings: damaged rows, two tabs
def _raw_drawing(home, label, pixels) -> int:
    import sqlite3
    import time

    db = sqlite3.connect(home / "runs.db")
    with db:
        row = db.execute("INSERT INTO drawings (created, label, pixels) VALUES (?, ?, ?)", (time.time(), label, pixels))
    db.close()
    return row.lastrowid


def test_an_unreadable_kept_drawing_is_left_out_with_a_note_not_a_crash(draw_page, tiny_home):
    at, _canvas, store = draw_page
    good = store.add_drawing(mnist_digit(0) / 255.0, 7)
    bad = [_raw_drawing(tiny_home, 7, b"\0" * 10), _raw_drawing(tiny_home, 12, b"\0" * 784),
           _raw_drawing(tiny_home, 3, "not pixels")]
    at.run()
    assert not at.exception
    assert "1 drawing kept" in page_text(at)
    assert any(all(f"#{i}" in w.value for i in bad) and "could not be read" in w.value for w in at.warning)
    at.button(key="draw_delete_unreadable").click().run()
    assert not at.exception and not any("could not be read" in w.value for w in at.warning)
    assert store.read_drawings()[1] == [] and [d.id for d in store.list_drawings()] == [good]


def test_two_tabs_deleting_one_drawing_keep_it_once_after_undo(draw_page):
    """Both tabs offered Undo and both re-added it: kept twice. Now only the tab whose delete deleted it."""
    at, _canvas, store = draw_page
    kept = store.add_drawing(mnist_digit(0) / 255.0, 7)
    other = gallery_open(app_page("pages/draw.py"))
    at.run()
    other.run()
    at.button(key=f"delete-{kept}").click().run()
    other.button(key=f"delete-{kept}").click().run()
    assert not other.exception and any("already deleted" in w.value for w in other.warning)
    for tab in (at, other):
        for undo in [b for b in tab.button if b.key == "draw_undo"]:
            undo.click().run()
    assert [d.id for d in store.list_drawings()] == [kept]  # back once, under its own number


def test_a_relabel_from_a_stale_tab_is_reported_not_lost_silently(draw_page):
    at, _canvas, store = draw_page
    kept = store.add_drawing(mnist_digit(0) / 255.0, 7)
    other = gallery_open(app_page("pages/draw.py"))
    at.run()
    other.run()
    at.button(key=f"delete-{kept}").click().run()
    other.selectbox(key=f"relabel-{kept}").set_value(2).run()
    assert not other.exception and any(f"#{kept} is no longer kept" in w.value for w in other.warning)
    # A relabel in one tab shows in the other on its next run, not the label it first drew.
    at.button(key="draw_undo").click().run()
    other.run()
    other.selectbox(key=f"relabel-{kept}").set_value(4).run()
    at.run()
    assert at.selectbox(key=f"relabel-{kept}").value == 4 and store.list_drawings()[0].label == 4


def test_the_gallery_says_what_undo_did_and_its_delete_buttons_fit(draw_page):
    """Issue 31: Undo brought a drawing back without a word; "🗑 Delete" was cut to "De…" in a tile; the
    caption sent the learner to "the ✗ tiles below", inside a collapsed expander."""
    at, _canvas, store = draw_page
    ids = [store.add_drawing(mnist_digit(i) / 255.0, 7) for i in range(3)]
    at.run()
    assert not at.exception
    assert all(at.button(key=f"delete-{i}").label == "🗑" for i in ids)
    assert not any("tiles below" in c.value for c in at.caption)
    at.button(key=f"delete-{ids[0]}").click().run()
    at.button(key="draw_undo").click().run()
    assert not at.exception and [d.id for d in store.list_drawings()] == ids
    assert any(f"#{ids[0]} is back, labelled 7" in s.value for s in at.success)


def toolbars(at) -> list[str]:
    """The titles of the charts that still show Plotly's toolbar (its buttons cover a title on hover)."""
    return [json.loads(c.proto.spec)["layout"].get("title", {}).get("text", "?") for c in at.get("plotly_chart")
            if json.loads(c.proto.config or "{}").get("displayModeBar") is not False]


def test_no_chart_on_draw_shows_plotlys_toolbar(draw_page):
    """Issue 31: the class probabilities (and row by row, the Why? maps) still showed it over their titles."""
    at, canvas, _ = draw_page
    canvas["ink"] = on_canvas(mnist_digit(0), 200, 40, 40)
    at.session_state["why-open-draw"] = True
    at.run()
    assert not at.exception
    texts = " ".join(c.proto.spec for c in at.get("plotly_chart"))
    assert "per row" in texts and "row by row" in texts  # all of them drawn
    assert [b["title"] for b in probability_bars(at)] == ["Class probabilities"]  # HTML bars: no toolbar at all
    assert toolbars(at) == []


def test_the_answers_are_sent_before_why_computes_its_maps(draw_page, monkeypatch):
    """Issue 31: with Why? open, a stroke left the previous drawing's row-by-row and side-by-side charts on
    screen, faded, until the saliency maps above them were done; now the slow maps come last, in their place."""
    from streamlit.elements.html import HtmlMixin
    from streamlit.elements.plotly_chart import PlotlyMixin

    import ui.why_views

    sent, draw, explain = [], PlotlyMixin.plotly_chart, ui.why_views.explain.saliency
    markup = HtmlMixin.html

    def recorded(self, figure, *args, **kwargs):
        sent.append(html.unescape(str(figure.layout.title.text)))
        return draw(self, figure, *args, **kwargs)

    def recorded_html(self, body, *args, **kwargs):
        if "pg-bars" in str(body):
            sent.append(html.unescape(re.search(r"<figcaption[^>]*>(.*?)</figcaption>", body).group(1)))
        return markup(self, body, *args, **kwargs)

    def computed(*args, **kwargs):
        sent.append("saliency")
        return explain(*args, **kwargs)

    monkeypatch.setattr(PlotlyMixin, "plotly_chart", recorded)
    monkeypatch.setattr(HtmlMixin, "html", recorded_html)
    monkeypatch.setattr(ui.why_views.explain, "saliency", computed)
    at, canvas, _ = draw_page
    canvas["ink"] = on_canvas(mnist_digit(0), 200, 40, 40)
    at.session_state["why-open-draw"] = True
    at.run()
    assert not at.exception
    first_map = sent.index("saliency")
    assert {"Class probabilities", "How the prediction forms, row by row"} <= set(sent[:first_map]), sent
    on_screen = [text for text in in_order(at.main) if text.startswith(("🔍 Why", "How the prediction forms"))]
    assert [t[:5] for t in on_screen] == ["🔍 Why", "How t"]  # the panel still above the rows, where it was


def in_order(node) -> list[str]:
    """The page's expanders' labels and subheaders, top to bottom."""
    if getattr(node, "type", "") == "expander":
        return [node.label] + [t for child in node.children.values() for t in in_order(child)]
    if hasattr(node, "children"):
        return [t for child in node.children.values() for t in in_order(child)]
    return [node.value] if getattr(node, "type", "") == "subheader" else []


def test_a_shut_gallery_builds_no_tiles_and_opening_it_shows_them(draw_page):
    """Issue 36: each stroke built every kept drawing's tile (an image, a label box, a delete button) though the
    gallery was shut."""
    at, canvas, store = draw_page
    ids = [store.add_drawing(mnist_digit(i) / 255.0, 7) for i in range(3)]
    at.session_state[ui.draw_keep.GALLERY] = False
    canvas["ink"] = on_canvas(mnist_digit(0), 200, 40, 40)
    at.run()
    assert not at.exception and "3 drawings kept" in page_text(at)
    [gallery] = [e for e in at.expander if e.label.startswith("Your kept drawings")]
    assert not gallery.proto.expanded and not [w for w in at.selectbox if w.key.startswith("relabel-")]
    at.session_state[ui.draw_keep.GALLERY] = True  # what a click on it does
    at.run()
    assert sorted(int(w.key.split("-")[1]) for w in at.selectbox if w.key.startswith("relabel-")) == ids


def test_the_taught_model_warning_shows_only_beside_a_taught_model(draw_page):
    """Walkthrough: "a model taught your handwriting has trained on some of your drawings" showed whenever any
    drawing was kept, with no taught model in the table."""
    at, canvas, store = draw_page
    store.add_drawing(mnist_digit(0) / 255.0, 7)
    canvas["ink"] = on_canvas(mnist_digit(0), 200, 40, 40)
    at.run()
    assert not at.exception
    assert not any("taught your handwriting has trained" in c.value for c in at.caption)
