"""How quickly the app answers in Chromium: every page's second visit until idle, and a stroke on Draw until every
selected model's answer is on screen (1 and 4 models), quiet and beside one busy process.

    .venv/bin/python -m bench.page_speed                          # this checkout (~2 min on a quiet 2-core machine)
    git worktree add /tmp/before <commit>
    .venv/bin/python -m bench.page_speed --before /tmp/before     # the same, both versions side by side (~5 min)

One home with four finished tiny MNIST runs (LSTM, GRU, RNN, LeNet) and 20 kept drawings,
made by each version's own code;
one `streamlit run app.py` per version, both up throughout, measured in alternation (the order swapped every
round), so both see the same load and a ratio means something on a loaded machine where a time does not.
"Idle": no DOM change for QUIET_S and no script running; a time is the last DOM change (plotly's drawing
included) minus the click or the stroke's mouse-up, both read from the page's own clock. Needs /usr/bin/chromium.
Writes bench/results/page_speed.json.
"""
from __future__ import annotations

import argparse
import contextlib
import inspect
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from bench.busy_cpu import SPIN  # noqa: E402
from bench.page_profile import make_home  # noqa: E402
from tests.browser import CHROMIUM, FLAGS, streamlit_server  # noqa: E402

PAGES = {"Home": "", "Learn": "learn", "Train": "train", "Compare": "compare", "Draw": "draw", "Inside": "inside"}
QUIET_S = 1.0
# The page's own clock: the last DOM change and the last mouse-up (a stroke's end), kept from the first script on.
WATCH_JS = """
window.__pg = {last: performance.now(), up: 0, placeholder: null, h1: null, answer: 0};
const ANSWER = '[data-testid="stMetric"], figure.pg-bars';  // a model's answer: Draw's metric, its bars
const answers = (n) => n instanceof Element && (n.closest(ANSWER) || n.querySelector(ANSWER));
new MutationObserver((ms) => {
  const g = window.__pg; g.last = performance.now();
  // Answers only on Draw: the search costs the page's own time, ~0.1 s of a Train visit's 15,000 changes
  if (location.pathname.endsWith('/draw') && ms.some((m) => answers(m.target) || [...m.addedNodes].some(answers)))
    g.answer = g.last;
  if (g.h1 === null && document.querySelector('h1')) g.h1 = g.last;  // a page's title: the page is painting
  if (g.placeholder === null && g.h1 === null && document.body && document.body.textContent.includes('Loading…'))
    g.placeholder = g.last;
}).observe(document, {subtree: true, childList: true, attributes: true, characterData: true});
document.addEventListener('mouseup', () => { window.__pg.up = performance.now(); }, true);
"""
# A sidebar link's text is its icon and its title on two lines.
NAV_LINK_JS = """(title) => [...document.querySelectorAll('[data-testid="stSidebarNav"] a')]
  .find(a => a.innerText.split('\\n').map(s => s.trim()).includes(title))"""
CLICK_NAV_JS = f"""(title) => {{ const a = ({NAV_LINK_JS})(title);
  if (!a) return null; const t = performance.now(); a.click(); return t; }}"""
HAS_NAV_JS = f"(title) => !!({NAV_LINK_JS})(title)"
STATE_JS = """() => [performance.now(), window.__pg.last, window.__pg.up,
                     !!document.querySelector('[data-testid="stStatusWidget"]')]"""


def home_made_by(root: Path, home: Path) -> None:
    """make_home's runs written by the checkout at `root` itself: an older version cannot read a newer store's
    schema, so each version trains its own four tiny runs (same configs, same seeds)."""
    code = f"import numpy as np\nfrom pathlib import Path\n{inspect.getsource(make_home)}\n" \
           f"make_home(Path({str(home)!r}), archs=('lstm', 'gru', 'rnn', 'lenet'))\n"
    env = {**os.environ, "PLAYGROUND_HOME": str(home), "PYTHONPATH": f"{root}{os.pathsep}{root / 'tests'}"}
    subprocess.run([sys.executable, "-c", code], cwd=root, env=env, check=True)


def settle(page, t0: float, timeout: float = 120, changed: bool = False) -> float:
    """Seconds from t0 (page clock, ms) to the page's last change before it went idle; `changed`: it must change
    after t0 first (a stroke always redraws the answers, but a loaded server may start that rerun late)."""
    end = time.time() + timeout
    while time.time() < end:
        now, last, _, running = page.evaluate(STATE_JS)
        if not running and now - last >= QUIET_S * 1000 and now - t0 >= 300 and (last > t0 or not changed):
            return max(0.0, last - t0) / 1000
        page.wait_for_timeout(50)
    raise TimeoutError("the page never went idle")


def visit(page, title: str) -> float:
    page.wait_for_function(HAS_NAV_JS, arg=title, timeout=120_000)
    t0 = page.evaluate(CLICK_NAV_JS, title)
    if t0 is None:
        raise RuntimeError(f"no sidebar link '{title}'")
    page.wait_for_function("(t) => document.querySelector('h1') && document.querySelector('h1').innerText"
                           ".includes(t)", arg=title if title != "Home" else "Playground", timeout=120_000)
    return settle(page, t0)


def stroke(page, n: int) -> tuple[float, float]:
    """One pen stroke on an empty canvas, a "1" (a little aslant, somewhere else each time: strokes added to one
    drawing made a scribble whose 'not a digit' message did not change); seconds from mouse-up until idle, and
    until the last change to a model's answer (Draw's metric and probability bars: every selected model's answer
    on screen, the issue's measure; 0 for a version that draws its bars with plotly)."""
    box = page.locator("canvas.upper-canvas").first.bounding_box()
    x0, y0 = box["x"] + 110 + 10 * (n % 6), box["y"] + 50
    page.mouse.move(x0, y0)
    page.mouse.down()
    for k in range(1, 13):
        page.mouse.move(x0 + k * (n % 3 - 1), y0 + k * 15)
    page.mouse.up()
    up = page.evaluate("() => window.__pg.up")
    idle = settle(page, up, changed=True)
    answer = page.evaluate("() => window.__pg.answer")
    return idle, max(0.0, answer - up) / 1000 if answer > up else 0.0


def choose_models(page, count: int) -> None:
    """Draw's model picker holds `count` models (it starts with one; the home has exactly four)."""
    tags = page.locator('[data-testid="stMultiSelect"] [data-tag]')
    for _ in range(count):
        if tags.count() >= count:
            break
        page.get_by_role("combobox").first.click()
        page.keyboard.press("Enter")  # the first option: "select all" where Streamlit offers it, else the next model
        page.keyboard.press("Escape")
        settle(page, page.evaluate("() => performance.now()"))
    assert tags.count() == count, tags.count()


def clear(page) -> None:
    page.get_by_role("button", name="Clear", exact=True).click()
    settle(page, page.evaluate("() => performance.now()"))


def open_page(browser, url: str):
    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    page.add_init_script(WATCH_JS)
    page.goto(url)
    page.wait_for_selector("h1", timeout=120_000)
    settle(page, 0)
    return page


class Version:
    """One server, two sessions: one visits the pages and strokes with Draw's one default model, one keeps four."""

    def __init__(self, name: str, url: str, browser):
        self.name, self.page = name, open_page(browser, url)
        # The server's first request: ms from navigation start to the placeholder and to the page's title.
        self.first_request = {k: (v / 1000 if v is not None else None)
                              for k, v in self.page.evaluate("() => window.__pg").items() if k in ("placeholder", "h1")}
        for title in PAGES:  # the first visits: caches warm, modules imported
            visit(self.page, title)
        self.four = open_page(browser, f"{url}/draw")
        choose_models(self.four, 4)

    def visits(self) -> dict[str, float]:
        return {title: visit(self.page, title) for title in PAGES}

    def strokes(self, models: int, count: int) -> list[tuple[float, float]]:
        page = self.four if models == 4 else self.page
        if page.locator("h1").first.inner_text().strip() != "Draw":
            visit(page, "Draw")
        out = []
        for n in range(count):
            clear(page)  # each stroke on an empty canvas: a "1" whose answers always replace the prompt
            out.append(stroke(page, n))
        return out


def measure(versions: list[Version], rounds: int, strokes: int) -> dict:
    """Per version: every visit and stroke time, taken in alternation (the order swapped each round)."""
    out = {v.name: {"visits": {t: [] for t in PAGES}, "stroke_1": [], "stroke_4": [], "answers_1": [],
                    "answers_4": []} for v in versions}
    for r in range(rounds):
        order = versions if r % 2 == 0 else versions[::-1]
        for v in order:
            for title, s in v.visits().items():
                out[v.name]["visits"][title].append(s)
        for models in (1, 4):
            for v in order:
                for idle, answers in v.strokes(models, strokes):
                    out[v.name][f"stroke_{models}"].append(idle)
                    out[v.name][f"answers_{models}"].append(answers)
        print(f"round {r + 1}/{rounds} done", flush=True)
    return out


def summary(times: dict) -> dict:
    med = statistics.median
    return {"visit_median_s": {t: round(med(s), 3) for t, s in times["visits"].items()},
            "visit_worst_page_s": round(max(med(s) for s in times["visits"].values()), 3),
            "stroke_1_median_s": round(med(times["stroke_1"]), 3),
            "stroke_4_median_s": round(med(times["stroke_4"]), 3),
            "answers_1_median_s": round(med(times.get("answers_1") or [0]), 3),
            "answers_4_median_s": round(med(times.get("answers_4") or [0]), 3)}


def main() -> None:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", help="another checkout (git worktree) measured beside this one")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--strokes", type=int, default=3, help="per round, per version, per model count")
    parser.add_argument("--no-busy", action="store_true", help="skip the phase beside one busy process")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "page_speed.json"))
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="pg-speed-"))
    roots = {"after": ROOT} | ({"before": Path(args.before).resolve()} if args.before else {})
    results = {"date": time.strftime("%Y-%m-%d %H:%M"), "cpus": os.cpu_count(), "quiet_s": QUIET_S,
               "rounds": args.rounds, "strokes": args.strokes, "phases": {}}
    with contextlib.ExitStack() as stack, sync_playwright() as p:
        urls = {}
        for name, root in roots.items():
            home = base / name
            home_made_by(root, home)
            urls[name], _ = stack.enter_context(streamlit_server(home, home / "server.log", root=root, start_s=120,
                                                                 env={"PYTHONPATH": str(root)}))  # its own code
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        versions = [Version(name, url, browser) for name, url in urls.items()]
        results["first_request_s"] = {v.name: v.first_request for v in versions}
        print("a fresh server's first request, s to the placeholder / the page:", results["first_request_s"])
        for phase in ("quiet",) + (() if args.no_busy else ("busy",)):
            spinner = subprocess.Popen([sys.executable, "-c", SPIN]) if phase == "busy" else None
            try:
                load = os.getloadavg()[0]
                times = measure(versions, args.rounds, args.strokes)
            finally:
                if spinner is not None:
                    spinner.kill()
                    spinner.wait()
            results["phases"][phase] = {"load_1min_at_start": load, "times": times,
                                        "summary": {n: summary(t) for n, t in times.items()}}
            report(phase, results["phases"][phase]["summary"], load)
        browser.close()
    Path(args.out).write_text(json.dumps(results, indent=1) + "\n")
    print(f"wrote {args.out}")


def report(phase: str, summ: dict, load: float) -> None:
    print(f"\n{phase} (load {load:.1f} on {os.cpu_count()} CPUs): median seconds" +
          (", after/before" if "before" in summ else ""))
    rows = [(f"{t} second visit", ("visit_median_s", t)) for t in PAGES]
    rows += [("stroke -> idle, 1 model", ("stroke_1_median_s",)), ("stroke -> idle, 4 models", ("stroke_4_median_s",)),
             ("stroke -> answers, 1 model", ("answers_1_median_s",)),
             ("stroke -> answers, 4 models", ("answers_4_median_s",))]
    for label, path in rows:
        vals = {n: s[path[0]][path[1]] if len(path) > 1 else s[path[0]] for n, s in summ.items()}
        ratio = f"  {vals['after'] / vals['before']:.2f}x" if "before" in vals and vals["before"] else ""
        print(f"  {label:30s} " + "  ".join(f"{n} {v:6.2f}" for n, v in vals.items()) + ratio)


if __name__ == "__main__":
    main()
