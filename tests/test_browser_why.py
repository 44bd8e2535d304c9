"""In real Chromium: Draw's "Why?" panel stays open while the learner goes on drawing (issue 31: it shut at
every stroke and every new answer)."""
import pytest

from browser import ARTIFACTS, browser_page, open_draw, require_chromium, streamlit_server, wait_idle
from conftest import with_a_tiny_run

pytestmark = pytest.mark.browser

# The saliency maps' titles on the page (they end in "· Σ ... logit"), read in one call.
MAP_TITLES_JS = """() => [...document.querySelectorAll('.js-plotly-plot')]
    .map(g => g._fullLayout ? String(g._fullLayout.title.text) : '').filter(t => t.includes(' Σ '))"""


@pytest.fixture(scope="module")
def tiny_home(tmp_path_factory):
    """One tiny MNIST LSTM: its answers are poor, but this test is about the panel, not the answer."""
    return with_a_tiny_run(tmp_path_factory.mktemp("why"))


def stroke(page, box: dict, start: tuple[float, float], end: tuple[float, float], steps: int = 20) -> None:
    """A mouse stroke on the canvas from `start` to `end` (fractions of its width and height)."""
    x0, y0 = box["x"] + box["width"] * start[0], box["y"] + box["height"] * start[1]
    x1, y1 = box["x"] + box["width"] * end[0], box["y"] + box["height"] * end[1]
    page.mouse.move(x0, y0)
    page.mouse.down()
    for k in range(1, steps + 1):
        page.mouse.move(x0 + (x1 - x0) * k / steps, y0 + (y1 - y0) * k / steps)
    page.mouse.up()


def test_the_why_panel_stays_open_across_a_new_stroke(tiny_home):
    require_chromium()
    with streamlit_server(tiny_home, ARTIFACTS / "browser-why-server.log") as (url, server), \
            browser_page("why-open") as page:
        canvas = open_draw(page, url, timeout=180_000)  # a cold server on a busy machine
        stroke(page, canvas.bounding_box(), (0.5, 0.15), (0.52, 0.85))  # a "1"
        page.get_by_test_id("stMetricValue").first.wait_for(timeout=120_000)  # first use: the model's features
        wait_idle(page)
        why = page.get_by_test_id("stExpander").filter(has_text="Why?")
        why.locator("summary").click()
        page.wait_for_function(f"({MAP_TITLES_JS})().length === 2", timeout=60_000)
        before = page.evaluate(MAP_TITLES_JS)
        # A new drawing: a "7" drawn over the "1" (test_browser_draw_canvas: the canvas keeps its strokes).
        canvas.scroll_into_view_if_needed()  # opening the panel scrolled the page: a stroke must land on the canvas
        stroke(page, canvas.bounding_box(), (0.6, 0.15), (0.9, 0.15))
        wait_idle(page)
        stroke(page, canvas.bounding_box(), (0.9, 0.15), (0.7, 0.85))
        page.wait_for_function(f"(b) => {{ const t = ({MAP_TITLES_JS})(); return t.length === 2 && "
                               "t.join() !== b.join(); }", arg=before, timeout=60_000)
        wait_idle(page)
        assert why.locator("details").get_attribute("open") is not None  # still open after the stroke
        assert len(page.evaluate(MAP_TITLES_JS)) == 2  # and its maps are of the new drawing
        explain = page.evaluate("() => [...document.querySelectorAll('[data-testid=stExpander] input')]"
                                ".map(i => i.value + ' | ' + (i.placeholder || '') + ' | ' + "
                                "(i.getAttribute('aria-label') || ''))")
        assert any("its answer" in e for e in explain), explain  # the choice, not "Choose an option"
        answer = page.get_by_test_id("stMetricValue").first.inner_text().strip()
        # The label follows the new answer: a keyed selectbox kept "its answer, 1" over maps of '8' (walkthrough).
        assert any(f"its answer, {answer}" in e for e in explain), (answer, explain)
        page.screenshot(path=str(ARTIFACTS / "why-open-after-stroke.png"), full_page=True)
    log = (ARTIFACTS / "browser-why-server.log").read_text()
    assert "Traceback" not in log, log[-3000:]
