"""Issue 31's Inside walkthrough in real Chromium, at 1,280 and 1,600 px: every chart title whole (plotly cuts a
title at the figure's edge: "16×32×3", "row by ro…", "Σ +!"), "What this cell sees" readable (it was ~110 px),
and the math view's input-channel words following the clicked cell (they kept the cell picked before)."""
import pytest

from ui.inside_pick import CNN_VIEWS, MATH, RECURRENT_VIEWS, SLUGS, WEIGHTS

from browser import ARTIFACTS, browser_page, require_chromium, streamlit_server, wait_idle

pytestmark = pytest.mark.browser

# Each titled chart: its title as the layout has it (tags and line breaks out) and as drawn, with how far the drawn
# title reaches past the figure's left and right edges (> 0: cut).
TITLES = """() => [...document.querySelectorAll('.js-plotly-plot')].filter(g => g.querySelector('.gtitle')).map(g => {
  const t = g.querySelector('.gtitle'), b = g.getBoundingClientRect(), r = t.getBoundingClientRect();
  const div = document.createElement('div');
  div.innerHTML = String(g._fullLayout.title.text).replace(/<br>/g, '');
  return {want: div.textContent.replace(/\\s/g, ''), got: t.textContent.replace(/\\s/g, ''),
          left: b.left - r.left, right: r.right - b.right, width: b.width};
})"""
FIELD_WIDTH = """() => { const g = [...document.querySelectorAll('.js-plotly-plot')].find(
  g => g._fullLayout && String(g._fullLayout.title.text).includes('What this cell sees'));
  return g ? g.getBoundingClientRect().width : null; }"""
CELL_AT = """([row, col]) => {
  const gd = [...document.querySelectorAll('.js-plotly-plot')].find(
      g => g._fullLayout && String(g._fullLayout.title.text).includes('click a cell'));
  gd.scrollIntoView({block: 'center'});
  const L = gd._fullLayout, box = gd.getBoundingClientRect();
  return {x: box.left + L.xaxis._offset + L.xaxis.d2p(col), y: box.top + L.yaxis._offset + L.yaxis.d2p(row)};
}"""
# Blocks reaching past their element's box (cut, or scrolled sideways): KaTeX equations, a unit's numbers.
OVERFLOW = """() => [...document.querySelectorAll('.katex-display .katex, [data-testid="stCode"] pre')].filter(e => {
  const box = e.closest('[data-testid="stElementContainer"]').getBoundingClientRect(), r = e.getBoundingClientRect();
  return r.right > box.right + 1 || e.scrollWidth > e.clientWidth + 1; }).map(e => e.textContent.slice(0, 60))"""
SHOWN = "e => e.textContent + ' ' + [...e.querySelectorAll('input')].map(i => i.value).join(' ')"  # a selectbox's
# The open tab's charts, all drawn (only the open tab is built: the others' panels are empty)
DRAWN = """() => { const p = [...document.querySelectorAll('[role=tabpanel] .js-plotly-plot')];
  return p.length > 0 && p.every(g => g._fullLayout && g.querySelector('.main-svg')); }"""
OPEN_TAB = "() => document.querySelector('[role=tab][aria-selected=true]')?.textContent"
TAB_LABELS = "() => [...document.querySelectorAll('[role=tab]')].map(t => t.textContent)"


@pytest.fixture(scope="module")
def runs(tmp_path_factory, generated_cifar2):
    """A CIFAR-2 CNN, a LeNet and a GRU (its math lines are the longest), tiny, finished; Inside served on them
    (one server for the module)."""
    from playground.engine.training import Trainer
    from playground.store import RunStore

    from conftest import tiny

    require_chromium()
    home = tmp_path_factory.mktemp("inside-layout")
    store = RunStore(home)
    ids = {}
    env = {"PLAYGROUND_CIFAR2_DIR": str(generated_cifar2)}  # made before the per-test cifar2_source: set here
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PLAYGROUND_CIFAR2_DIR", env["PLAYGROUND_CIFAR2_DIR"])
        for name, cfg in {"cifar cnn": tiny(dataset="cifar2", arch="cnn", epochs=1, limit=300),
                          "lenet": tiny(arch="lenet", epochs=1, limit=300),
                          "gru": tiny(arch="gru", epochs=1, limit=300, hidden=16)}.items():
            ids[name] = store.create_run(cfg, name)
            assert Trainer(cfg, store, ids[name]).run().status == "finished"
    records = {r.id: r for r in store.list_runs()}
    store.close()
    ARTIFACTS.mkdir(exist_ok=True)  # a fresh clone has none yet
    with streamlit_server(home, ARTIFACTS / "browser-inside-layout.log", env=env) as (url, _):
        yield url, ids, records


def open_inside(page, url: str, run_id: int, vs: str = "untrained", view: str | None = None) -> None:
    """Inside on `run_id`, the tab `view` open (by the URL), its charts drawn."""
    page.set_viewport_size({"width": page.viewport_size["width"], "height": 6000})  # every chart drawn at once
    page.goto(f"{url}/inside?model={run_id}&vs={vs}" + (f"&view={SLUGS[view]}" if view else ""))
    page.wait_for_function(DRAWN, timeout=120_000)
    wait_idle(page, 90)
    page.wait_for_function(DRAWN, timeout=60_000)


def open_tab(page, view: str) -> None:
    """A click on the tab `view`, then its charts drawn."""
    page.get_by_role("tab", name=view, exact=True).click()
    page.wait_for_function("(v) => document.querySelector('[role=tab][aria-selected=true]')?.textContent === v",
                           arg=view, timeout=30_000)
    wait_idle(page, 90)
    page.wait_for_function(DRAWN, timeout=60_000)


# At 1,280 px every model (titles are cut first there); at 1,600 the photo model, whose titles are longest.
@pytest.mark.parametrize(("width", "models"), [(1280, ("cifar cnn", "lenet", "gru")), (1600, ("cifar cnn",))])
def test_every_title_is_whole_and_the_cell_view_readable(runs, width, models):
    url, ids, _ = runs
    with browser_page(f"inside-layout-{width}", width=width) as page:
        for name in models:
            open_inside(page, url, ids[name])
            titles = []
            for view in RECURRENT_VIEWS if name == "gru" else CNN_VIEWS:  # each tab in turn, by a click
                open_tab(page, view)
                page.screenshot(path=str(ARTIFACTS / f"inside-layout-{name.replace(' ', '-')}-{SLUGS[view]}-"
                                                     f"{width}.png"))
                titles += page.evaluate(TITLES)
                for t in page.evaluate(TITLES):
                    assert t["got"] == t["want"], (view, t)
                    assert t["left"] <= 1 and t["right"] <= 1, f"cut at {width} px in {view}: {t}"
                if name != "gru" and view == MATH:
                    assert page.evaluate(FIELD_WIDTH) >= 200
                if name == "gru" and view == MATH:  # the GRU cell's equations and a unit's numbers, whole
                    assert page.evaluate(OVERFLOW) == [], f"cut at {width} px: {page.evaluate(OVERFLOW)}"
            assert len(titles) >= 8, titles


def test_a_tab_both_kinds_of_model_have_stays_open_when_the_model_changes(runs):
    url, ids, _ = runs
    with browser_page("inside-tabs", width=1280) as page:
        open_inside(page, url, ids["lenet"], view=WEIGHTS)
        assert page.evaluate(OPEN_TAB) == WEIGHTS and page.evaluate(TAB_LABELS) == list(CNN_VIEWS)
        page.get_by_test_id("stSelectbox").filter(has_text="Model").locator("input").click()
        page.get_by_role("option").filter(has_text=f"#{ids['gru']} ").click()
        page.wait_for_function(f"(want) => JSON.stringify(({TAB_LABELS})()) === JSON.stringify(want)",
                               arg=list(RECURRENT_VIEWS), timeout=60_000)  # the GRU's tabs
        wait_idle(page, 90)
        page.wait_for_function(DRAWN, timeout=60_000)
        assert page.evaluate(OPEN_TAB) == WEIGHTS and "view=weights" in page.url
        assert any("movedfromitsinitialweights" in t["want"] for t in page.evaluate(TITLES))  # spaces out
        open_tab(page, MATH)
        assert "view=math" in page.url


def test_the_input_channel_words_follow_the_clicked_cell(runs):
    import numpy as np

    from playground import by_hand
    from playground.data import sample
    from playground.inference import load_checkpoint

    url, ids, records = runs
    run_id = ids["cifar cnn"]
    loaded = load_checkpoint(records[run_id].checkpoint)
    x, _, _ = sample(loaded.config, 0)  # the page's first input: test image 0
    with browser_page("inside-channel", width=1280) as page:
        open_inside(page, url, run_id, vs="nothing", view=MATH)
        words = page.get_by_text("Each input channel's products add up to")
        picker = page.get_by_test_id("stSelectbox").filter(has_text="Input channel")
        for row, col in ((10, 15), (20, 5)):
            where = page.evaluate(CELL_AT, [row, col])
            page.mouse.click(where["x"], where["y"])
            page.wait_for_function("([r, c]) => [...document.querySelectorAll('input')].some(i => "
                                   "i.getAttribute('aria-label') === 'Row (1 to 32)' && i.value === String(r)) && "
                                   "[...document.querySelectorAll('input')].some(i => "
                                   "i.getAttribute('aria-label') === 'Column (1 to 32)' && i.value === String(c))",
                                   arg=[row, col], timeout=30_000)
            wait_idle(page, 60)
            sums = by_hand.conv_cell(loaded.model, x, 1, 0, row - 1, col - 1).products.reshape(3, -1).sum(1)
            best = int(np.abs(sums).argmax())
            text = words.inner_text()
            assert all(f"{c + 1}: {v:+.3f}" in text for c, v in enumerate(sums)), (row, col, text)
            shown = picker.evaluate(SHOWN)
            assert shown.count("input channel") == 1 and f"input channel {best + 1}" in shown, (row, col, shown)
        box = words.bounding_box()  # the math view around the words (the page is 6,000 px tall)
        page.screenshot(path=str(ARTIFACTS / "inside-channel.png"),
                        clip={"x": 0, "y": max(0, box["y"] - 200), "width": 1280, "height": 700})
