"""End to end in real Chromium: train from the page, watch it live, reload, stop."""
import pytest

from browser import (
    ARTIFACTS,
    browser_page,
    click_now,
    draw_a_one,
    first_answer,
    open_draw,
    open_train,
    require_chromium,
    set_epochs,
    streamlit_server,
    wait_idle,
)

pytestmark = pytest.mark.browser

# The last step drawn in the live loss chart, once it is above `above` (else false: keep waiting).
# Not the number of points: the chart thins a long curve to <= MAX_RAW_POINTS, so the count can fall
# while training goes on. Read and compared in one call: between two calls plotly may be mid-redraw,
# with no _fullData. _fullData holds decoded arrays (numpy data arrives as typed-array specs in .data).
LAST_STEP_ABOVE_JS = """(above) => { const p = document.querySelector('.js-plotly-plot');
                                    const x = p && p._fullData && p._fullData.length ? p._fullData[0].x : [];
                                    const last = x.length ? Number(x[x.length - 1]) : 0;
                                    return last > above ? last : false; }"""


def last_step_above(page, above: float, timeout: float = 30_000) -> float:
    """Wait until the live chart has drawn a step after `above`; that step."""
    return page.wait_for_function(LAST_STEP_ABOVE_JS, arg=above, timeout=timeout).json_value()


def test_train_live_reload_and_stop(tmp_path):
    require_chromium()
    ARTIFACTS.mkdir(exist_ok=True)
    with streamlit_server(tmp_path / "home", ARTIFACTS / "browser-server.log") as (url, server), \
            browser_page("train-live") as page:
        open_train(page, url)
        set_epochs(page, 50)  # far more than the test lasts: it stops the run
        page.get_by_label("Run name (optional)").fill("browser run")
        page.get_by_label("Run name (optional)").press("Enter")
        wait_idle(page)
        # Once in a full suite the run trained 1 epoch: the 50 had not reached the server. Say so if it recurs.
        assert page.get_by_label("Epochs", exact=True).input_value() == "50", "the Epochs field lost its value"
        page.get_by_role("button", name="Train", exact=True).click()
        page.get_by_text("/50 · step", exact=False).first.wait_for(timeout=60_000)  # the run has 50 epochs

        # The live chart appears and gains points with no click: the fragment polls by itself.
        first = last_step_above(page, 0, timeout=60_000)
        last_step_above(page, first)

        # A reload shows the same run, still live, with its history so far.
        page.reload()
        page.get_by_text("browser run").first.wait_for(timeout=60_000)
        last_step_above(page, first - 1)

        # A second tab polls the same run at the same time.
        second = page.context.new_page()
        second.goto(page.url)
        now = last_step_above(second, 0, timeout=60_000)
        last_step_above(second, now)
        second.close()

        click_now(page, "Stop")
        page.get_by_text("stopped by the user").first.wait_for(timeout=60_000)
        page.screenshot(path=str(ARTIFACTS / "train-after-stop.png"))
    log = (ARTIFACTS / "browser-server.log").read_text()
    assert "Traceback" not in log and "missing ScriptRunContext" not in log, log[-3000:]
    # A source watcher over a tree with .venv in it overflows inotify and rescans in a loop (a core).
    assert "Inotify" not in log, log[-3000:]


def test_draw_a_stroke_and_see_the_prediction(trained_home):
    require_chromium()
    with streamlit_server(trained_home, ARTIFACTS / "browser-draw-server.log") as (url, server), \
            browser_page("draw") as page:
        canvas = open_draw(page, url)
        draw_a_one(page, canvas.bounding_box(), 0.5)
        answer = first_answer(page)
        # The 28x28 the model got (an HTML picture) and its probability bars beside the answer
        page.wait_for_function("document.querySelector('figure.pg-picture img') && "
                               "document.querySelector('figure.pg-bars')", timeout=30_000)
        assert answer == "1"
        # A deep link on a fresh server still goes through app.py's navigation (its titles, in its order),
        # not Streamlit's legacy pages/ listing (file names, app.py as "app"), and the stroke drawn after
        # that first render was read: the widgets kept their ids.
        nav = [line for line in page.get_by_test_id("stSidebarNav").inner_text().split("\n") if line.isalpha()]
        assert nav == ["Home", "Learn", "Train", "Compare", "Draw", "Inside"], nav
        page.screenshot(path=str(ARTIFACTS / "draw.png"), full_page=True)


def test_the_canvas_fits_a_narrow_window_and_the_drawing_survives_another_page(trained_home):
    """New-user issues: at 800 px only 148 of the canvas's 280 px showed (strokes in the hidden half were
    lost), and after Compare and back the canvas showed the drawing but the page asked for one."""
    require_chromium()
    with streamlit_server(trained_home, ARTIFACTS / "browser-draw-narrow.log") as (url, server), \
            browser_page("draw-narrow", width=800) as page:
        canvas = open_draw(page, url)
        canvas.scroll_into_view_if_needed()
        box = canvas.bounding_box()
        assert box["width"] >= 279 and box["x"] >= 0 and box["x"] + box["width"] <= 800, box
        draw_a_one(page, box, 0.75)  # in what used to be the hidden half
        assert first_answer(page) == "1"
        page.screenshot(path=str(ARTIFACTS / "draw-800.png"), full_page=True)
        page.get_by_test_id("stSidebarNav").get_by_text("Compare").click()
        page.get_by_text("Regularization study", exact=False).first.wait_for(timeout=30_000)
        wait_idle(page)
        page.get_by_test_id("stSidebarNav").get_by_text("Draw").click()
        page.locator("canvas.upper-canvas").wait_for(timeout=60_000)
        assert first_answer(page) == "1"
        page.get_by_text("Look inside with this drawing").wait_for(timeout=30_000)


CELL_POSITION = """() => {
  const gd = [...document.querySelectorAll('.js-plotly-plot')].find(
      g => g._fullLayout && String(g._fullLayout.title.text).includes('On its'));
  const z = gd.calcdata[0][0].z;  // rows true, columns predicted, decoded (data's z may be typed-array bytes)
  let best = [0, 1, -1];
  Array.from(z).forEach((row, t) => Array.from(row).forEach((n, p) => {
    if (t !== p && n > best[2]) best = [t, p, n];
  }));
  gd.scrollIntoView({block: 'center'});  // a mouse click lands only inside the viewport
  const L = gd._fullLayout, box = gd.getBoundingClientRect();
  const x = box.left + L.xaxis._offset + L.xaxis.d2p(gd.data[0].x[best[1]]);
  const y = box.top + L.yaxis._offset + L.yaxis.d2p(gd.data[0].y[best[0]]);
  return {x, y, t: gd.data[0].y[best[0]], p: gd.data[0].x[best[1]]};
}"""


# The mistakes grid (HTML tiles, playground/tiles.py): every tile's title a ❌ holding `part`
MISTAKE_TITLES_ARE = """(part) => [...document.querySelectorAll('.pg-tiles')].some(g => {
  const notes = [...g.querySelectorAll('figure')].map(f => f.getAttribute('title'));
  return notes.length > 0 && notes.every(t => t.startsWith('❌')) && notes.every(t => t.includes(part));
})"""


def test_clicking_a_confusion_cell_shows_its_images(trained_home):
    """Issue 22: click a cell of the run's confusion matrix to see the test images behind it."""
    require_chromium()
    with streamlit_server(trained_home, ARTIFACTS / "browser-confusion.log") as (url, server), \
            browser_page("confusion-click") as page:
        page.goto(f"{url}/train?run=1")  # the clickable matrix in the open (issue 31: it hid in an expander)
        page.wait_for_function(
            "[...document.querySelectorAll('.js-plotly-plot')].some(g => g._fullLayout && "
            "String(g._fullLayout.title.text).includes('On its'))", timeout=60_000)
        wait_idle(page)
        cell = page.evaluate(CELL_POSITION)
        page.mouse.click(cell["x"], cell["y"])
        # The mistakes grid (the figure whose every title is a ❌) then shows that cell's images only.
        page.wait_for_function(MISTAKE_TITLES_ARE, arg=f"❌ {cell['p']} ", timeout=30_000)
        page.wait_for_function(MISTAKE_TITLES_ARE, arg=f"({cell['t']})", timeout=30_000)
        wait_idle(page)
        page.get_by_text("Click a cell off the diagonal").scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / "confusion-click.png"))


def test_back_and_forward_return_to_the_views_they_left(tmp_path):
    """A link's settings edited, another page, Back: Train as it was left (the edit is in its history entry, not an
    entry of its own, tests/test_browser_history.py); Forward: the other page again."""
    require_chromium()
    with streamlit_server(tmp_path / "home", ARTIFACTS / "history-server.log") as (url, _), \
            browser_page("history") as page:
        page.goto(f"{url}/train?recipe=lstm64&epochs=3")
        page.get_by_role("button", name="Train", exact=True).wait_for(timeout=60_000)
        wait_idle(page)
        assert page.get_by_label("Epochs", exact=True).input_value() == "3"  # the link's view
        page.get_by_label("Epochs", exact=True).fill("7")
        page.get_by_label("Epochs", exact=True).press("Enter")
        wait_idle(page)
        page.wait_for_url("**epochs=7**", timeout=30_000)
        page.get_by_test_id("stSidebarNav").get_by_text("Compare", exact=True).click()
        page.wait_for_url("**/compare**", timeout=30_000)
        wait_idle(page)
        page.go_back()
        page.wait_for_url("**/train?**epochs=7**", timeout=30_000)
        wait_idle(page)
        page.wait_for_function("() => document.querySelector('input[aria-label=\"Epochs\"]').value === '7'",
                               timeout=30_000)
        page.go_forward()
        page.wait_for_url("**/compare**", timeout=30_000)
        page.get_by_role("heading", name="Compare").first.wait_for(timeout=30_000)


SIDEBAR_VALUES_JS = """() => Object.fromEntries([...document.querySelectorAll('[data-testid=stSidebar] input')]
                                .map(i => [i.getAttribute('aria-label'), i.value]))"""


def test_the_train_form_survives_a_visit_to_another_page_by_the_sidebar(tmp_path):
    """Issue 31: a recipe picked, edited and training, Compare by the sidebar, Train by the sidebar: the same form
    (it came back as lstm64, or with the recipe's activation read back at the widget's default)."""
    require_chromium()
    ARTIFACTS.mkdir(exist_ok=True)
    with streamlit_server(tmp_path / "home", ARTIFACTS / "sidebar-form-server.log") as (url, _), \
            browser_page("sidebar-form") as page:
        open_train(page, url)
        page.get_by_label("Recipe", exact=True).click()
        page.get_by_role("option", name="lenet", exact=True).click()
        wait_idle(page)
        set_epochs(page, 1)
        page.get_by_role("button", name="Train", exact=True).click()  # left while it trains: the form was lost
        page.get_by_text("queued or training").wait_for(timeout=60_000)
        page.wait_for_function(f"() => !('Hidden size' in ({SIDEBAR_VALUES_JS})())", timeout=30_000)  # LSTM's gone
        before = page.evaluate(SIDEBAR_VALUES_JS)
        assert (before["Architecture"], before["Activation"], before["Epochs"]) == ("lenet", "relu", "1")
        for other in ("Compare", "Draw"):
            page.get_by_test_id("stSidebarNav").get_by_text(other, exact=True).click()
            page.wait_for_url(f"**/{other.lower()}**", timeout=30_000)
            wait_idle(page)
            page.get_by_test_id("stSidebarNav").get_by_text("Train", exact=True).click()
            page.get_by_role("button", name="Train", exact=True).wait_for(timeout=60_000)
            wait_idle(page)
            after = page.evaluate(SIDEBAR_VALUES_JS)
            assert {k: after.get(k) for k in before} == before, f"after {other}"
