"""Responsiveness that a test can check without timing: what a fresh server sends before its slow imports,
and what a rerun of a page does not redo (bench/page_profile.py and bench/page_speed.py measure the time)."""
import json
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT

# A fresh interpreter (no torch, no pandas yet), the app under AppTest on its home page: which texts Streamlit had
# been sent when the first slow import began.
FIRST_PAINT = """
import importlib.abc, json, sys
from streamlit.runtime.scriptrunner_utils.script_run_context import ScriptRunContext
from streamlit.testing.v1 import AppTest

sent, seen = [], {}
real = ScriptRunContext.enqueue
def enqueue(self, msg):
    sent.append(str(msg))
    return real(self, msg)
ScriptRunContext.enqueue = enqueue

class Watch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name in ("torch", "pandas") and name not in seen:  # the placeholder, and Home's own text, sent before
            seen[name] = [any("Loading" in m for m in sent), any("watch how they learn" in m for m in sent)]
        return None
sys.meta_path.insert(0, Watch())
assert "torch" not in sys.modules and "pandas" not in sys.modules
at = AppTest.from_file("app.py", default_timeout=120).run()
assert not at.exception, at.exception
print(json.dumps({"seen": seen, "title": [t.value for t in at.title]}))
"""


@pytest.mark.slow
def test_a_fresh_server_sends_a_placeholder_before_its_slow_imports(home):
    proc = subprocess.run([sys.executable, "-c", FIRST_PAINT], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.splitlines()[-1])
    assert out["seen"] == {"pandas": [True, True], "torch": [True, True]}, out  # Home's text: no pandas needed
    assert out["title"] == ["🧪 Playground"]


# ------------------------------------------------------------------ what a rerun does not redo
def test_a_figure_is_built_once_per_distinct_arguments():
    import numpy as np

    from ui.figures import charts, image_tiles

    maps = np.stack([np.full((12, 12), i, np.float32) for i in range(24)])
    grid = charts.map_grid(maps, title="maps")
    assert charts.map_grid(maps, title="maps") is grid  # the same, not rebuilt
    maps = maps.copy()
    maps[23, 11, 11] += 1  # one value of one map: another figure
    other = charts.map_grid(maps, title="maps")
    assert other is not grid and other.to_plotly_json() != grid.to_plotly_json()
    images = [np.full((28, 28), i * 10, np.uint8) for i in range(24)]
    tiles = image_tiles(images, ["1"] * 24, ["2"] * 24, cols=12)  # the HTML test-image grid: 24 PNGs, once
    assert image_tiles(images, ["1"] * 24, ["2"] * 24, cols=12) is tiles
    assert charts.STATIC == {"displayModeBar": False}  # constants pass through
    assert charts.colour_range([np.arange(4.0)]) == (0.0, 3.0)  # and functions that build no figure


def test_a_cached_figure_is_serialized_once_and_sent_as_a_fresh_one_would_be(monkeypatch):
    import plotly.basedatatypes
    from streamlit.testing.v1 import AppTest

    from playground import charts as raw
    from ui.figures import charts

    maps = np.random.default_rng(0).normal(size=(6, 12, 12)).astype(np.float32)
    calls = []
    real = plotly.basedatatypes.BaseFigure.to_dict
    monkeypatch.setattr(plotly.basedatatypes.BaseFigure, "to_dict", lambda self: calls.append(1) or real(self))
    fresh, cached = raw.map_grid(maps, title="maps"), charts.map_grid(maps, title="maps")

    def page(fresh, cached):
        import streamlit as st

        for i, fig in enumerate((fresh, cached, cached, cached)):  # the cached one drawn three times
            st.plotly_chart(fig, key=f"chart-{i}")

    at = AppTest.from_function(page, args=(fresh, cached)).run()
    assert not at.exception, at.exception
    specs = [json.loads(el.proto.spec) for el in at.get("plotly_chart")]
    assert len(specs) == 4 and all(spec == specs[0] for spec in specs)  # the same bytes a fresh figure sends
    assert len(calls) == 2  # the fresh one once, the cached one once for its three draws (was 4)


@pytest.fixture(scope="module")
def one_model_home(tmp_path_factory):
    """A home with one tiny MNIST LSTM and three kept drawings."""
    from playground.store import RunStore

    from conftest import with_a_tiny_run

    home = with_a_tiny_run(tmp_path_factory.mktemp("responsive"))
    store = RunStore(home)
    for label in (1, 2, 3):
        store.add_drawing(np.eye(28, dtype=np.float32) * label / 3, label)
    store.close()
    return home


def test_a_stroke_on_draw_runs_in_a_fragment_and_does_not_evaluate_the_kept_drawings_again(one_model_home,
                                                                                          monkeypatch):
    from streamlit.runtime.scriptrunner_utils.script_run_context import ThreadState

    import ui.draw_input
    import ui.draw_keep
    from playground.data import load_dataset

    from conftest import app_page, on_canvas

    monkeypatch.setenv("PLAYGROUND_HOME", str(one_model_home))
    ink, fragments, evaluated = {"now": None}, [], []

    def canvas(key):
        fragments.append(ThreadState.get().fragment_id)  # Streamlit's own record of the fragment running
        return ink["now"]

    real = ui.draw_keep.predictions
    monkeypatch.setattr(ui.draw_input, "canvas_ink", canvas)
    monkeypatch.setattr(ui.draw_keep, "predictions", lambda *a: evaluated.append(1) or real(*a))
    ui.draw_keep._evaluation.clear()
    at = app_page("pages/draw.py").run()
    for i in range(3):  # three strokes: three inputs, three answers
        ink["now"] = on_canvas(load_dataset("mnist").test_x[i, 0].numpy(), 200, 40, 40)
        at.run()
        assert not at.exception and at.metric
    assert all(fragments), fragments  # the canvas is drawn inside a fragment: a stroke reruns only that
    assert len(evaluated) == 1  # the kept drawings were evaluated once, not once per stroke
