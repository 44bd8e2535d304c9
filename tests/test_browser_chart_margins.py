"""Every chart of Train, Compare and each Inside view is laid out once by plotly.js in Chromium: its margins hold
its colour bar and legend. Where a margin was too narrow, plotly widened it by drawing the whole chart a second
time, after the first drawing (issue 36: every feature-map grid on Inside, Train's curves, Compare's)."""
import json
from pathlib import Path

import plotly
import pytest

from browser import CHROMIUM, FLAGS, require_chromium
from conftest import app_page, tiny

pytestmark = pytest.mark.browser

PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
# Each margin plotly.js ended with beyond the one the figure asked for (plotly's defaults where it asked none).
PUSHED = """async ([spec, config]) => {
  const s = JSON.parse(spec), gd = document.getElementById('chart');
  Plotly.purge(gd);
  await Plotly.newPlot(gd, s.data, s.layout, JSON.parse(config));
  const asked = {l: 80, r: 80, t: 100, b: 80, ...(s.layout.margin || {})}, got = gd._fullLayout._size;
  return Object.fromEntries(['l', 'r', 't', 'b'].filter(k => Math.round(got[k]) > asked[k])
                            .map(k => [k, [asked[k], Math.round(got[k])]]));
}"""
INSIDE = {"lenet": ("Feature maps", "The math", "Which pixels decided it", "How far the weights moved",
                    "The model's map of inputs"),
          "lstm": ("Hidden states", "The math", "Gradient through time")}


@pytest.fixture(scope="module")
def specs(tmp_path_factory) -> dict[str, list[tuple[str, str]]]:
    """Every chart each page sends (its spec and config), on a home with a finished tiny LeNet and LSTM."""
    from playground.engine.training import Trainer
    from playground.store import RunStore

    home = tmp_path_factory.mktemp("margins")
    store = RunStore(home)
    ids = {}
    for arch in INSIDE:
        cfg = tiny(arch=arch, epochs=2, limit=300, hidden=16)
        ids[arch] = store.create_run(cfg, arch)
        assert Trainer(cfg, store, ids[arch]).run().status == "finished"
    store.close()
    out = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PLAYGROUND_HOME", str(home))
        pages = {"train": ("pages/train.py", {"run": str(ids["lenet"])}, {}),
                 "compare": ("pages/compare.py", {"ids": f"{ids['lenet']},{ids['lstm']}"}, {})}
        for arch, views in INSIDE.items():
            for view in views:
                pages[f"inside {arch}: {view}"] = ("pages/inside.py", {}, {"inside_model": ids[arch],
                                                                           "inside_view": view})
        for scale in ("one per model", "one per map"):  # a colour bar per model, and the per-map one
            pages[f"inside lenet: maps, {scale}"] = ("pages/inside.py", {}, {"inside_model": ids["lenet"],
                                                                             "inside_scale": scale})
        for name, (path, params, state) in pages.items():
            at = app_page(path)
            for key, value in params.items():
                at.query_params[key] = value
            for key, value in state.items():
                at.session_state[key] = value
            at.run(timeout=120)
            assert not at.exception, (name, at.exception)
            out[name] = [(c.proto.spec, c.proto.config or "{}") for c in at.get("plotly_chart")]
    return out


@pytest.mark.parametrize("width", [420, 1000])  # a column of four side by side at 1,280 px, and a whole page
def test_no_chart_is_drawn_twice_to_widen_its_margins(specs, width):
    require_chromium()
    from playwright.sync_api import sync_playwright

    assert all(specs.values()), {name: len(charts) for name, charts in specs.items()}  # every page drew charts
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_content(f'<html><body><div id="chart" style="width:{width}px"></div></body></html>')
        page.add_script_tag(content=PLOTLY_JS.read_text())
        pushed = {}
        for name, charts in specs.items():
            for spec, config in charts:
                if got := page.evaluate(PUSHED, [spec, config]):
                    layout = json.loads(spec)["layout"]
                    pushed[f"{name}: {layout.get('title', {}).get('text', '(untitled)')}"] = got
        browser.close()
    assert not pushed, "\n".join(f"{chart}: {got}" for chart, got in pushed.items())
