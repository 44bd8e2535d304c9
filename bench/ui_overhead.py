"""UI overhead: the engine's throughput in the app's server with the Train page open vs closed.

    .venv/bin/python -m bench.ui_overhead [--recipe lstm64] [--rounds 2]   # from the repository root

Starts `streamlit run app.py`, presses Train in Debian's chromium, then either keeps the page
open (it polls every second and redraws the live charts) or leaves it for about:blank, and
reads the run's samples/s from the store. Needs /usr/bin/chromium. Writes bench/results/ui_overhead.json.
"""
from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from playground.store import RunStore
from tests.browser import browser_page, open_train, streamlit_server, wait_idle

ROOT = Path(__file__).resolve().parents[1]


def one_run(recipe: str, page_open: bool) -> float:
    home = Path(tempfile.mkdtemp(prefix="pg-ui-"))
    with streamlit_server(home, home / "server.log") as (url, _), browser_page("ui-overhead") as page:
        open_train(page, url)
        page.get_by_role("combobox", name="Recipe").click()
        page.get_by_role("option", name=recipe, exact=True).click()
        wait_idle(page)
        page.get_by_role("button", name="Train", exact=True).click()
        page.wait_for_selector(".js-plotly-plot", timeout=60_000)
        if not page_open:
            page.goto("about:blank")
        while True:
            runs = RunStore(home).list_runs()
            if runs and runs[0].status not in ("queued", "running"):
                return runs[0].result["samples_per_s"]
            time.sleep(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--recipe", default="lstm64")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    closed, opened = [], []
    for _ in range(args.rounds):
        closed.append(one_run(args.recipe, page_open=False))
        opened.append(one_run(args.recipe, page_open=True))
        print(f"page closed {closed[-1]:,.0f}/s   page open {opened[-1]:,.0f}/s", flush=True)
    ratio = statistics.median(opened) / statistics.median(closed)
    print(f"{args.recipe}: with the Train page open the engine keeps {ratio:.0%} of its throughput")
    out = ROOT / "bench" / "results" / "ui_overhead.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"recipe": args.recipe, "date": time.strftime("%Y-%m-%d"), "closed": closed,
                               "open": opened, "ratio": ratio}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
