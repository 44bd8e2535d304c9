"""In real Chromium: Draw's canvas keeps the drawing on screen across reruns it did not send (issue 31: after
a deep link to a fresh server, picking another model blanked it while the models still read the old ink)."""
import pytest
from test_browser_why import stroke

from browser import ARTIFACTS, browser_page, open_draw, require_chromium, streamlit_server, wait_idle
from conftest import tiny

pytestmark = pytest.mark.browser

# White pixels on the drawing's own canvas; it lives in the component's shadow DOM, so each root is searched.
INK_JS = """() => {
  const find = (root) => { const hit = root.querySelector('canvas.dc-canvas.lower-canvas'); if (hit) return hit;
    for (const e of root.querySelectorAll('*')) if (e.shadowRoot) { const h = find(e.shadowRoot); if (h) return h; }
    return null; };
  const c = find(document); if (!c) return -1;
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let n = 0;
  for (let i = 0; i < d.length; i += 4) if (d[i] > 128) n++;
  return n; }"""
# The run is over: nothing on the page is left from the run before (Streamlit fades those while it runs).
SETTLED_JS = """(text) => document.body.innerText.includes(text) && ![...document.querySelectorAll('[data-stale=true]')]
  .some(e => { const r = e.getBoundingClientRect(); return r.width > 0 && r.height > 0; })"""


@pytest.fixture(scope="module")
def two_models(tmp_path_factory):
    from playground.engine.training import Trainer
    from playground.store import RunStore

    home = tmp_path_factory.mktemp("canvas")
    store = RunStore(home)
    for hidden in (16, 24):
        cfg = tiny(epochs=1, limit=300, hidden=hidden)
        assert Trainer(cfg, store, store.create_run(cfg, f"tiny{hidden}")).run().status == "finished"
    store.close()
    return home


def test_the_drawing_stays_on_the_canvas_when_another_model_is_picked(two_models):
    require_chromium()
    log = ARTIFACTS / "browser-canvas-server.log"
    with streamlit_server(two_models, log) as (url, server), browser_page("canvas-kept") as page:
        canvas = open_draw(page, url, timeout=180_000)  # a deep link to a fresh server: its first run is not app.py's
        stroke(page, canvas.bounding_box(), (0.5, 0.15), (0.52, 0.85))
        page.get_by_test_id("stMetricValue").first.wait_for(timeout=120_000)
        page.wait_for_function(SETTLED_JS, arg="Your own test set", timeout=120_000)
        drawn = page.evaluate(INK_JS)
        assert drawn > 1000, drawn
        page.get_by_test_id("stMultiSelect").first.click()  # a second model: a whole-page rerun
        page.get_by_role("option").first.click()
        page.keyboard.press("Escape")
        page.wait_for_function(SETTLED_JS, arg="Side by side", timeout=120_000)
        page.wait_for_timeout(500)  # a remounted canvas loads its (empty) start asynchronously
        assert page.evaluate(INK_JS) == drawn  # the same strokes, still on screen
        page.screenshot(path=str(ARTIFACTS / "canvas-kept-after-model.png"), full_page=True)
    assert "Traceback" not in log.read_text(), log.read_text()[-3000:]


# Clicks on the canvas toolbar's "send now" button, which lives in the component's shadow DOM (read the path).
SEND_CLICKS_JS = """(label) => { window.__sends = 0; document.addEventListener('click', (e) => {
  if (e.composedPath().some(n => n instanceof Element && n.getAttribute('aria-label') === label)) window.__sends++;
}, true); }"""


def sizes_sent(page) -> list[int]:
    """The sizes of the messages the page sends its server from now on (a drawing's is a PNG of ~8 KB)."""
    sent: list[int] = []
    page.on("websocket", lambda ws: ws.on("framesent", lambda payload: sent.append(len(payload))))
    return sent


def test_a_stroke_is_sent_once_as_the_pen_lifts(two_models):
    """Issue 36: the canvas sent a finished stroke only after its own 200 ms debounce, most of a stroke's time to
    an answer; now lifting the pen presses its "send now", which cancels that wait: one message, not two."""
    from ui.draw_input import SEND_NOW

    require_chromium()
    log = ARTIFACTS / "browser-canvas-send.log"
    with streamlit_server(two_models, log) as (url, server), browser_page("canvas-send") as page:
        sent = sizes_sent(page)
        canvas = open_draw(page, url, timeout=180_000)
        page.evaluate(SEND_CLICKS_JS, SEND_NOW)
        sent.clear()
        stroke(page, canvas.bounding_box(), (0.5, 0.15), (0.52, 0.85))
        page.get_by_test_id("stMetricValue").first.wait_for(timeout=120_000)
        page.wait_for_function(SETTLED_JS, arg="Your own test set", timeout=120_000)
        assert page.evaluate("() => window.__sends") == 1  # pressed by the pen-up script, once
        drawings = [n for n in sent if n > 2000]  # a message that carries the drawing (a PNG of ~8 KB)
        assert len(drawings) == 1, sent
    assert "Traceback" not in log.read_text(), log.read_text()[-3000:]


# White pixels of the drawing's own canvas in its left and right halves.
HALVES_JS = INK_JS.replace("let n = 0;", "let n = [0, 0];").replace(
    "if (d[i] > 128) n++;", "if (d[i] > 128) n[((i / 4) % c.width) < c.width / 2 ? 0 : 1]++;")


def test_a_second_stroke_stays_and_each_stroke_is_sent_once(two_models):
    """A fragment's rerun read as a page's arrival gave the canvas the previous run's strokes back as its start:
    a second stroke was undone, and the canvas flipped between the two drawings, sending each, rerun after rerun."""
    require_chromium()
    log = ARTIFACTS / "browser-canvas-two.log"
    with streamlit_server(two_models, log) as (url, server), browser_page("canvas-two") as page:
        sent = sizes_sent(page)
        canvas = open_draw(page, url, timeout=180_000)
        sent.clear()
        stroke(page, canvas.bounding_box(), (0.3, 0.15), (0.3, 0.85))
        stroke(page, canvas.bounding_box(), (0.7, 0.15), (0.7, 0.85))  # at once, the first still on its way
        page.get_by_test_id("stMetricValue").first.wait_for(timeout=120_000)
        wait_idle(page)
        left, right = page.evaluate(HALVES_JS)
        assert left > 500 and right > 500, (left, right)  # both strokes on the canvas
        assert len([n for n in sent if n > 2000]) == 2, sent  # one message a stroke, no flipping back and forth
        page.screenshot(path=str(ARTIFACTS / "canvas-two-strokes.png"))
    assert "Traceback" not in log.read_text(), log.read_text()[-3000:]
