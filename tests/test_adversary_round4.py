"""Adversary, round four (issues 29 and 31's newest surfaces): hostile input to your own data's import, the
Train link, lesson 10 and the "not a digit" check. Each test fails without the fix it names."""
import io
import subprocess
import sys
import zipfile

import numpy as np
import pytest
from PIL import EpsImagePlugin, Image

from playground import codegen, own
from playground.links import PAGE_PARAMS
from ui.inside_pick import BESIDE_PARAM, INDEX_PARAM, INPUT_PARAM, MODEL_PARAM, VIEW_PARAM

from conftest import app_page, tiny, with_a_tiny_run


def _png(value: int = 10) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((28, 28), value, np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def _zip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    return buf.getvalue()


def _two_classes(first: str, second: str = "b", n: int = 10, data: bytes | None = None) -> bytes:
    return _zip({**{f"{first}/{i}.png": data or _png() for i in range(n)},
                 **{f"{second}/{i}.png": _png() for i in range(n)}})


def test_a_class_folder_with_a_trailing_space_imports_as_its_name():
    # "a /0.png": the class list held "a" and the label lookup "a " (ValueError, a stack trace on Draw).
    classes, labels, images = own.read_zip(_two_classes("a "))
    assert classes == ("a", "b") and labels == [0] * 10 + [1] * 10 and len(images) == 20


def test_one_accented_class_spelt_two_ways_is_one_class():
    # macOS zips write "é" decomposed (e + U+0301): two folders that look alike must not be two classes "é", "é".
    classes, labels, _ = own.read_zip(_zip({**{f"\u00e9/{i}.png": _png() for i in range(5)},
                                            **{f"e\u0301/{i}.png": _png() for i in range(5)},
                                            **{f"b/{i}.png": _png() for i in range(10)}}))
    assert classes == ("b", "\u00e9") and labels.count(1) == 10


def test_an_eps_named_png_is_refused_without_reaching_ghostscript(monkeypatch):
    calls = []
    monkeypatch.setattr(EpsImagePlugin, "Ghostscript", lambda *a, **k: calls.append(a) or Image.new("L", (28, 28)))
    monkeypatch.setattr(EpsImagePlugin, "has_ghostscript", lambda: True)
    eps = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 28 28\n0 0 moveto 28 28 lineto stroke\nshowpage\n"
    with pytest.raises(own.OwnDataError, match="a/0.png: not a readable image"):
        own.read_zip(_two_classes("a", data=eps))
    assert calls == []


def test_a_train_link_to_own_data_not_in_this_home_is_a_message_not_a_stack_trace(home):
    # A link copied from another machine (or own data deleted since): the estimate (KeyError), the batch
    # preview (ValueError) and "Show the code" (KeyError) each broke the form with a stack trace.
    at = app_page("pages/train.py")
    at.session_state["panel-batch"] = at.session_state["panel-form-code"] = True  # built only while open
    at.query_params.update({"recipe": "cnn", "dataset": "own:mine-0123abcd"})
    at.run()
    assert not at.exception
    shown = [e.value for e in at.warning] + [e.value for e in at.caption]
    assert any("No script for the form's settings: unknown dataset 'own:mine-0123abcd'" in t for t in shown)
    assert any(t.startswith("No preview: unknown dataset 'own:mine-0123abcd'") for t in shown)


def test_inside_writes_back_only_its_own_keys(home):
    # /inside?model=1&junk=<10 KB>: Inside was not in links.PAGE_PARAMS, so put_in_url kept every key a link brought.
    assert PAGE_PARAMS["inside"] == {MODEL_PARAM, BESIDE_PARAM, INPUT_PARAM, VIEW_PARAM, INDEX_PARAM}
    with_a_tiny_run(home)
    at = app_page("pages/inside.py")
    at.query_params.update({"model": "1", "junk": "x" * 10_000, "recipe": "cnn"})
    at.run()
    assert not at.exception
    assert dict(at.query_params) == {"model": "1", "vs": "untrained", "view": "states"}  # its open tab


def test_a_lessons_try_next_link_opens_inside_on_the_lessons_run(home):
    # Learn's "🔬 Its hidden state over the 28 rows" linked /inside?run=1; Inside reads ?model=, so it opened the
    # newest run (here the CNN #2) and showed "its" hidden state of another model.
    from playground import lessons
    from playground.config import RunConfig

    with_a_tiny_run(home)  # #1: the lesson's recurrent run
    with_a_tiny_run(home, RunConfig().override(arch="cnn", epochs=1, limit=300, device="cpu"))  # #2, newer
    lesson = lessons.BY_KEY["rnn-rows"]
    [link] = [link for link in lesson.next if link.page == "inside"]
    params = lessons.link_params(link, {"rnn": 1}, lesson, "tiny")
    assert set(params) <= PAGE_PARAMS["inside"]
    at = app_page("pages/inside.py")
    at.query_params.update(params)
    at.run()
    assert not at.exception
    assert at.selectbox(key="inside_model").value == 1


@pytest.mark.parametrize("stray", ["epoch", "Epochs", "x" * 10_000])
def test_a_train_link_with_a_setting_this_version_does_not_know_says_so(home, stray):
    # /train?recipe=cnn&epoch=5: the typo was dropped unseen and the form claimed the link's settings (100 epochs).
    at = app_page("pages/train.py")
    at.query_params.update({"recipe": "cnn", stray: "5"})
    at.run()
    assert not at.exception
    [warning] = [w.value for w in at.sidebar.warning]
    assert "unknown setting" in warning and stray[:40].replace("_", "\\_") in warning and len(warning) < 2_000
    assert not any("holds the settings of the link" in i.value for i in at.info)


def test_a_links_bad_value_is_shown_as_text_not_as_a_link(home):
    at = app_page("pages/train.py")
    at.query_params.update({"recipe": "[Claim your prize](https://example.com)"})
    at.run()
    [warning] = [w.value for w in at.sidebar.warning]
    assert "](https" not in warning and "\\[Claim your prize\\]" in warning


def test_a_compare_links_bad_id_is_shown_as_text_not_as_a_link(home):
    with_a_tiny_run(home)  # with no runs Compare reads no link
    at = app_page("pages/compare.py")
    at.query_params.update({"ids": "[a](https://t.co/x)"})  # 19 characters: run_id echoes up to 20
    at.run()
    assert not at.exception
    [warning] = [w.value for w in at.warning if "cannot be read" in w.value]
    assert "](https" not in warning and "\\[a\\]" in warning


def test_the_exported_script_refuses_zero_epochs_with_a_line_not_a_traceback(tmp_path):
    # With patience, `python train.py --epochs 0` reached load_state_dict(None): a TypeError traceback.
    path = tmp_path / "train.py"
    path.write_text(codegen.script(tiny(patience=2)))
    got = subprocess.run([sys.executable, str(path), "--epochs", "0"], capture_output=True, text=True, timeout=120)
    assert got.returncode == 2 and "must be at least 1" in got.stderr and "Traceback" not in got.stderr


def test_draw_zips_your_own_data_only_when_asked(home, monkeypatch):
    # The export's download button was handed the zip itself, built on every Draw rerun (every stroke): a 10,000-image
    # import took seconds a stroke here. Now it is built on the click.
    with_a_tiny_run(home)  # Draw with no model shows only how to get one
    rng = np.random.default_rng(0)
    own.write_snapshot(list(range(20)), [i % 2 for i in range(20)],
                       [rng.integers(0, 255, (28, 28), dtype=np.uint8) for _ in range(20)], classes=("a", "b"),
                       name="marks", per_class=own.MIN_PER_OWN_CLASS)
    calls = []
    real = own.export_zip
    monkeypatch.setattr(own, "export_zip", lambda snap: calls.append(snap) or real(snap))
    at = app_page("pages/draw.py")
    at.run()
    assert not at.exception
    assert any(b.proto.label.startswith("Download it (zip") for b in at.get("download_button"))
    assert calls == []


def test_a_filled_square_on_the_canvas_is_called_a_blot_not_too_little_ink():
    # An 80x80 filled square (under a third of the 280 px canvas) was refused as "too little ink (a dot or a dash)".
    from playground.preprocess import NotADigit, mnist_style

    with pytest.raises(NotADigit, match="covers most of its area"):
        mnist_style(np.pad(np.full((80, 80), 255, np.uint8), 100))


def test_a_learn_link_to_a_lesson_that_does_not_exist_says_so(home):
    # /learn?lesson=<a key from another version or a typo> opened lesson 1 without a word.
    from ui.lesson_view import LESSON

    at = app_page("pages/learn.py")
    at.query_params["lesson"] = "[rnn](https://t.co/x)" + "x" * 10_000
    at.run()
    assert not at.exception and at.radio(key=LESSON).value == "rnn-rows"
    [warning] = [w.value for w in at.warning if "link's lesson" in w.value]
    assert "is not one of these lessons" in warning and "](https" not in warning and len(warning) < 300
    assert dict(at.query_params) == {"lesson": "rnn-rows"}
