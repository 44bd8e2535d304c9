"""Draw page, your own data (issue 33): keep and clear, the camera, and teaching a model your handwriting."""
import io

import numpy as np
from PIL import Image

from playground.engine import finetune
from tests.conftest import on_canvas
from tests.test_draw import draw_page, mnist_digit, page_text, tiny_home  # noqa: F401 - fixtures used below
from ui.draw_own import CAMERA_OPEN


def photo_of(digit: np.ndarray, side: int = 480) -> bytes:
    """A JPEG 'photo' of a digit drawn in dark ink on light, unevenly lit paper."""
    ink = np.asarray(Image.fromarray(digit).resize((side // 2, side // 2), Image.BILINEAR), np.float32) / 255
    paper = np.full((side, side), 215.0) + np.linspace(-20, 20, side)[None, :]  # light falling off to one side
    y = x = side // 4
    paper[y:y + side // 2, x:x + side // 2] *= 1 - 0.8 * ink
    buf = io.BytesIO()
    Image.fromarray(paper.clip(0, 255).astype(np.uint8)).convert("RGB").save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def test_keep_and_clear_empties_the_canvas_and_labels_the_next_drawing(draw_page):  # noqa: F811
    at, canvas, store = draw_page
    canvas["ink"] = on_canvas(mnist_digit(0), 200, 40, 40)
    at.run()
    at.selectbox(key="true_label").set_value(7)
    at.radio(key="keep_then").set_value("next")
    n = at.session_state["canvas_n"]
    at.button(key="draw_keep_clear").click().run()
    [kept] = store.list_drawings()
    assert kept.label == 7 and at.session_state["canvas_n"] == n + 1  # a new canvas key: an empty canvas
    canvas["ink"] = on_canvas(mnist_digit(1), 200, 40, 40)  # the next drawing on it
    at.run()
    assert at.selectbox(key="true_label").value == 8  # cycled on from 7, as asked
    at.radio(key="keep_then").set_value("same")
    at.button(key="draw_keep_clear").click().run()
    canvas["ink"] = on_canvas(mnist_digit(2), 200, 40, 40)
    at.run()
    assert at.selectbox(key="true_label").value == 8 and [d.label for d in store.list_drawings()] == [7, 8]
    assert not at.exception


def test_the_camera_is_built_only_while_its_panel_is_open(draw_page):  # noqa: F811
    """Issue 36: shut, the camera widget was still built and mounted, the last thing each visit to Draw drew."""
    at, _canvas, _store = draw_page
    at.run()
    assert not at.get("camera_input") and not at.exception
    at.session_state[CAMERA_OPEN] = True
    at.run()
    assert len(at.get("camera_input")) == 1 and not at.exception


def test_a_camera_photo_is_read_like_an_upload_and_kept_with_its_label(draw_page):  # noqa: F811
    at, _canvas, store = draw_page
    at.session_state[CAMERA_OPEN] = True
    at.run()
    at.camera_input(key="draw_camera").set_value(("shot.jpg", photo_of(mnist_digit(0)), "image/jpeg")).run()
    assert not at.exception
    at.button(key="draw_keep_photo").click().run()
    assert any("Pick the digit" in w.value for w in at.warning) and not store.list_drawings()
    at.selectbox(key="photo_label").set_value(7).run()
    at.button(key="draw_keep_photo").click().run()
    [kept] = store.list_drawings()
    assert kept.label == 7 and kept.pixels.max() > 0.9 and kept.pixels[0, 0] == 0  # white ink on black, MNIST-like


def test_a_blank_or_broken_photo_says_why_and_keeps_nothing(draw_page):  # noqa: F811
    at, _canvas, store = draw_page
    at.session_state[CAMERA_OPEN] = True
    at.run()
    buf = io.BytesIO()
    Image.new("RGB", (320, 240), (200, 200, 200)).save(buf, format="JPEG")
    at.camera_input(key="draw_camera").set_value(("shot.jpg", buf.getvalue(), "image/jpeg")).run()
    assert "ink" in page_text(at).lower() and not at.exception
    at.camera_input(key="draw_camera").set_value(("shot.jpg", b"\xff\xd8 not really", "image/jpeg")).run()
    assert "cannot be used" in page_text(at) and not at.exception and not store.list_drawings()


def _teach_button(at):
    return next(b for b in at.button if b.label.startswith("Teach #"))


def test_teach_refuses_too_few_drawings_then_starts_a_fine_tune_that_reports_before_and_after(draw_page,  # noqa: F811
                                                                                              monkeypatch):
    import time

    from playground import data

    monkeypatch.setattr(finetune, "MNIST_CHECK", 300)
    at, _canvas, store = draw_page
    at.run()
    _teach_button(at).click().run()
    assert "Not started" in page_text(at) and "at least 2 classes" in page_text(at) and not at.exception
    test_y = data.load_dataset("mnist").test_y
    for digit in range(4):
        for i in (test_y == digit).nonzero().flatten()[:4].tolist():
            store.add_drawing(mnist_digit(i), digit)
    at.number_input(key="teach_epochs").set_value(2)
    _teach_button(at).click().run()
    text = page_text(at)
    assert "your handwriting" in text and "Not started" not in text, text
    run_id = max(r.id for r in store.list_runs())
    deadline = time.monotonic() + 300
    while store.get_run(run_id).status.active and time.monotonic() < deadline:
        time.sleep(0.2)  # polls the run's own end, whatever the machine's speed
    assert store.get_run(run_id).status == "finished", store.get_run(run_id).message
    at.run()
    assert "Latest (#" in page_text(at) and not at.exception


def test_a_zipped_folder_of_letters_imports_and_exports_on_the_draw_page(draw_page):  # noqa: F811
    import zipfile

    from playground import own

    at, _canvas, _store = draw_page
    at.run()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for i in range(24):
            a = np.zeros((28, 28), np.uint8)
            a[4:24, 10 + i % 4:14 + i % 4] = 255
            if i % 2:
                a[4:8, 4:24] = 255  # a T, else an I
            png = io.BytesIO()
            Image.fromarray(a).save(png, format="PNG")
            z.writestr(f"letters/{'TI'[i % 2 == 0]}/{i}.png", png.getvalue())
    at.text_input(key="own_import_name").set_value("letters")
    at.file_uploader(key="own_import_zip").set_value(("letters.zip", buf.getvalue(), "application/zip"))
    at.run()
    at.button(key="own_import").click().run()
    assert "Imported as own:letters-" in page_text(at) and not at.exception, page_text(at)
    snap = next(s for s in own.list_snapshots() if s.name.startswith("letters-"))
    assert snap.classes == ("I", "T")
    at.run()
    assert at.get("download_button") and not at.exception
    at.file_uploader(key="own_import_zip").set_value(("bad.zip", b"not a zip", "application/zip"))
    at.run()
    at.button(key="own_import").click().run()
    assert "Not imported: not a readable zip" in page_text(at)


def test_classes_of_your_own_are_drawn_kept_and_made_a_dataset(draw_page):  # noqa: F811
    at, canvas, store = draw_page
    at.run()
    at.text_input(key="own_new_name").set_value("marks")
    at.text_input(key="own_new_classes").set_value("check, cross")
    next(b for b in at.button if b.label == "Create").click().run()
    assert store.collections() == {"marks": ("check", "cross")} and not at.exception
    at.button(key="own_make_dataset").click().run()
    assert "Not made: training needs examples of at least 2 classes" in page_text(at)
    canvas["ink"] = on_canvas(mnist_digit(0), 200, 40, 40)
    at.run()
    at.radio(key="own_class_label").set_value("cross")
    at.button(key="own_keep_example").click().run()
    assert [d.label for d in store.examples("marks")] == [1] and "Kept as 'cross' in marks" in page_text(at)
    assert not store.list_drawings()  # not a digit of the test set
    for i in range(10):
        store.add_example("marks", mnist_digit(i + 1) / 255.0, 0)
    at.button(key="own_make_dataset").click().run()
    assert "'cross' has 1" in page_text(at)
    for i in range(9):
        store.add_example("marks", mnist_digit(i + 20) / 255.0, 1)
    at.button(key="own_make_dataset").click().run()
    assert "Dataset own:marks-" in page_text(at) and not at.exception, page_text(at)
