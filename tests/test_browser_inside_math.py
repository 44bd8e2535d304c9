"""Issue 32 in real Chromium: click a feature-map cell on Inside and get that cell's computation."""
import pytest

from browser import ARTIFACTS, browser_page, require_chromium, streamlit_server, wait_idle

pytestmark = pytest.mark.browser

# The pixel position of (row, col) on the clickable map (the figure titled "... click a cell"), scrolled into view.
CELL_AT = """([row, col]) => {
  const gd = [...document.querySelectorAll('.js-plotly-plot')].find(
      g => g._fullLayout && String(g._fullLayout.title.text).includes('click a cell'));
  gd.scrollIntoView({block: 'center'});  // a mouse click lands only inside the viewport
  const L = gd._fullLayout, box = gd.getBoundingClientRect();
  return {x: box.left + L.xaxis._offset + L.xaxis.d2p(col), y: box.top + L.yaxis._offset + L.yaxis.d2p(row)};
}"""


def test_clicking_a_feature_map_cell_shows_how_it_was_computed(tmp_path):
    require_chromium()
    from playground.engine.training import Trainer
    from playground.store import RunStore

    from conftest import tiny

    home = tmp_path / "home"
    store = RunStore(home)
    cfg = tiny(arch="lenet", epochs=1, limit=300)
    run_id = store.create_run(cfg, "lenet")
    assert Trainer(cfg, store, run_id).run().status == "finished"
    store.close()
    with streamlit_server(home, ARTIFACTS / "browser-inside-math.log") as (url, server), \
            browser_page("inside-math-click") as page:
        page.goto(f"{url}/inside?model={run_id}&vs=nothing&view=math")  # the math's tab
        page.wait_for_function(
            "[...document.querySelectorAll('.js-plotly-plot')].some(g => g._fullLayout && "
            "String(g._fullLayout.title.text).includes('click a cell'))", timeout=90_000)
        wait_idle(page, 60)
        where = page.evaluate(CELL_AT, [10, 15])
        page.mouse.click(where["x"], where["y"])
        row = page.get_by_label("Row (1 to 28)")
        page.wait_for_function("() => [...document.querySelectorAll('input')].some(i => "
                               "i.getAttribute('aria-label') === 'Row (1 to 28)' && i.value === '10')",
                               timeout=30_000)
        wait_idle(page, 60)
        assert row.input_value() == "10" and page.get_by_label("Column (1 to 28)").input_value() == "15"
        page.get_by_text("PyTorch's conv gives", exact=False).first.scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / "inside-math-click.png"))
        page.get_by_text("One training step by hand").click()
        after = page.get_by_text("The loss after the step", exact=False).first
        after.wait_for(timeout=30_000)
        after.scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / "inside-math-step.png"))
