"""What the browser waits for: each Plotly chart a page sends, drawn alone by plotly.js in headless Chromium.

    .venv/bin/python -m bench.chart_render [--root <checkout>] [--pages train,inside] [--rounds 4]   (~2 min)

The pages run under AppTest on page_profile's home (finished tiny LSTM, GRU, RNN and LeNet runs, 20 kept drawings)
in the checkout at --root (default: this one; `git worktree add /tmp/before <commit>` for a before); each chart's
spec and config, as Streamlit would send them, is drawn with Plotly.newPlot in a blank page, and the time until
the next frame is kept, the least of --rounds (the machine is shared: the least is the least disturbed).
Writes bench/results/chart_render[-<label>].json: per page, per chart its title, traces, spec size and ms.
Streamlit's own work (its React elements, the dataframes' canvases) is not in these numbers.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGES = ("train", "compare", "draw", "inside")

# Run inside the checkout measured (its own code and tests/conftest.py): every chart of each page, as sent.
SPECS = """
import json, os, sys
from pathlib import Path
root = Path(sys.argv[1]); sys.path[:0] = [str(root), str(root / "tests")]
os.chdir(root)
from bench.page_profile import strokes
import ui.draw_input
ink = strokes(1)[0]
ui.draw_input.canvas_ink = lambda key: ink  # Draw shows its answers to one stroke
from conftest import app_page
out = {}
for page in sys.argv[2].split(","):
    at = app_page(f"pages/{page}.py", timeout=300).run()
    at.run()  # a second run: what a rerun sends
    assert not at.exception, at.exception
    out[page] = [[c.proto.spec, c.proto.config or "{}"] for c in at.get("plotly_chart")]
print(json.dumps(out))
"""

DRAW_JS = """async ([spec, config]) => {
  const s = JSON.parse(spec), d = document.getElementById('chart');
  Plotly.purge(d);
  const t = performance.now();
  await Plotly.newPlot(d, s.data, s.layout, JSON.parse(config));
  await new Promise(r => requestAnimationFrame(() => setTimeout(r, 0)));
  return performance.now() - t;
}"""


def specs(root: Path, home: Path, pages: list[str]) -> dict[str, list]:
    env = {**os.environ, "PLAYGROUND_HOME": str(home), "PYTHONPATH": f"{root}{os.pathsep}{root / 'tests'}"}
    out = subprocess.run([sys.executable, "-c", SPECS, str(root), ",".join(pages)], cwd=root, env=env, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def title(spec: dict) -> str:
    t = spec.get("layout", {}).get("title")
    return str((t.get("text") if isinstance(t, dict) else t) or "(untitled)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", default=str(ROOT))
    parser.add_argument("--pages", default=",".join(PAGES))
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--label", default="", help="added to the output's name: chart_render-<label>.json")
    args = parser.parse_args()
    sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
    from playwright.sync_api import sync_playwright

    from bench.page_speed import home_made_by
    from tests.browser import CHROMIUM, FLAGS

    root = Path(args.root).resolve()
    home = Path(tempfile.mkdtemp(prefix="pg-render-"))
    home_made_by(root, home)
    sent = specs(root, home, args.pages.split(","))
    plotly_js = next((ROOT / ".venv").glob("lib/python*/site-packages/plotly/package_data/plotly.min.js")).read_text()
    best: dict[tuple[str, int], float] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_content('<html><body><div id="chart" style="width:1100px"></div></body></html>')
        page.add_script_tag(content=plotly_js)
        for _ in range(args.rounds):
            for name, charts in sent.items():
                for i, chart in enumerate(charts):
                    ms = page.evaluate(DRAW_JS, chart)
                    best[name, i] = min(best.get((name, i), float("inf")), ms)
        browser.close()
    results = {"date": time.strftime("%Y-%m-%d %H:%M"), "load_1min": os.getloadavg()[0], "cpus": os.cpu_count(),
               "root": str(root), "rounds": args.rounds, "clock": "least ms of the rounds, newPlot to next frame",
               "pages": {}}
    for name, charts in sent.items():
        rows = [{"title": title(json.loads(spec)), "traces": len(json.loads(spec)["data"]),
                 "spec_kb": round(len(spec) / 1000), "ms": round(best[name, i])} for i, (spec, _) in enumerate(charts)]
        results["pages"][name] = {"charts": len(rows), "total_ms": sum(r["ms"] for r in rows), "each": rows}
        print(f"{name:8s} {len(rows):3d} charts  {sum(r['ms'] for r in rows):6d} ms", flush=True)
        for r in sorted(rows, key=lambda r: -r["ms"])[:5]:
            print(f"    {r['ms']:5d} ms  {r['traces']:3d} traces  {r['spec_kb']:4d} kB  {r['title'][:70]}")
    out = ROOT / "bench" / "results" / f"chart_render{'-' + args.label if args.label else ''}.json"
    out.write_text(json.dumps(results, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
