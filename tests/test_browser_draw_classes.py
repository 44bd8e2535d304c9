"""In real Chromium: a stroke on Draw's canvas read by a model of your own classes, answered in their names."""
import pytest

from playground.engine.training import Trainer
from playground.store import RunStore
from tests.conftest import tiny
from tests.test_draw_classes import MARKS, _marks

from browser import (
    ARTIFACTS,
    browser_page,
    draw_a_one,
    first_answer,
    open_draw,
    require_chromium,
    streamlit_server,
    wait_idle,
)

pytestmark = pytest.mark.browser

# Each model's probability bars (plain HTML, playground/bars.py): its class names, in order.
BAR_CLASSES = """() => [...document.querySelectorAll('figure.pg-bars')].map(
    f => [...f.querySelectorAll('[data-class]')].map(b => b.getAttribute('data-class')))"""


def test_a_stroke_is_read_by_a_model_of_your_own_classes(tmp_path, monkeypatch):
    require_chromium()
    home = tmp_path / "home"
    monkeypatch.setenv("PLAYGROUND_HOME", str(home))
    store = RunStore(home)
    cfg = tiny(dataset=_marks(store), epochs=2, limit=0, batch_size=8, hidden=16)
    assert Trainer(cfg, store, store.create_run(cfg, "marks")).run().status == "finished"
    store.close()
    with streamlit_server(home, ARTIFACTS / "browser-draw-classes.log") as (url, server), \
            browser_page("draw-classes") as page:
        canvas = open_draw(page, url)
        draw_a_one(page, canvas.bounding_box(), 0.5)
        assert first_answer(page) in MARKS
        page.wait_for_function(f"({BAR_CLASSES})().length >= 1", timeout=30_000)
        assert page.evaluate(BAR_CLASSES)[0] == MARKS  # its probabilities over its own classes, not 0-9
        page.get_by_text("classes check, cross").first.wait_for(timeout=10_000)  # the picked model's label
        wait_idle(page)
        page.screenshot(path=str(ARTIFACTS / "draw-own-classes.png"), full_page=True)
    log = (ARTIFACTS / "browser-draw-classes.log").read_text()
    assert "Traceback" not in log, log[-3000:]
