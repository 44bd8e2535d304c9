"""Regenerate the README screenshots by driving the real app in Debian's chromium.

    .venv/bin/python docs/screenshots.py      # ~4 minutes on 2 cores; writes docs/*.png
"""
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from playground.store import RunStore  # noqa: E402

from browser import browser_page, streamlit_server, wait_idle  # noqa: E402

DOCS = ROOT / "docs"


def click(page, name: str) -> None:
    page.get_by_role("button", name=name, exact=True).click()


def main() -> None:
    home = Path(tempfile.mkdtemp(prefix="playground-shots-"))
    for arch in ("rnn", "gru"):  # companions for the gradient-through-time chart
        subprocess.run([sys.executable, "-m", "playground", "train", "--arch", arch, "--hidden", "64",
                        "--lr", "0.002", "--limit", "20000", "--epochs", "1"], cwd=ROOT, check=True,
                       env={"PLAYGROUND_HOME": str(home), "PATH": "/usr/bin:/bin"}, capture_output=True)
    with streamlit_server(home, home / "server.log") as (url, _), browser_page("screenshots") as page:
        page.set_viewport_size({"width": 1400, "height": 1300})
        page.goto(f"{url}/train")
        page.get_by_role("button", name="Train", exact=True).wait_for(timeout=60_000)
        wait_idle(page)
        page.get_by_label("Epochs").fill("3")
        page.get_by_label("Epochs").press("Enter")
        wait_idle(page)
        click(page, "Train")
        page.wait_for_timeout(9_000)
        page.screenshot(path=str(DOCS / "train.png"))
        while any(r.status.active for r in RunStore(home).list_runs()):
            time.sleep(1)

        page.set_viewport_size({"width": 1400, "height": 2100})
        page.goto(f"{url}/compare")
        page.get_by_text("Regularization study").first.click()
        page.get_by_role("button", name="🚀 Launch study").wait_for(timeout=60_000)
        for label, value in (("Epochs", "8"), ("Seeds", "2"), ("First N samples (0 = all)", "2000")):
            box = page.get_by_role("spinbutton", name=label, exact=True)
            box.fill(value)
            box.press("Enter")
            wait_idle(page)
        click(page, "🚀 Launch study")
        page.wait_for_timeout(3_000)
        while any(r.status.active for r in RunStore(home).list_runs()):
            time.sleep(1)
        page.wait_for_timeout(3_000)
        page.screenshot(path=str(DOCS / "compare.png"), full_page=True)

        page.set_viewport_size({"width": 1400, "height": 1500})
        page.goto(f"{url}/draw")
        canvas = page.locator("canvas.upper-canvas")
        canvas.wait_for(timeout=60_000)
        wait_idle(page)
        box = canvas.bounding_box()
        x0, y0 = box["x"], box["y"]
        page.mouse.move(x0 + 90, y0 + 80)
        page.mouse.down()
        for px, py in [(140, 55), (190, 80), (185, 130), (140, 170), (95, 215), (100, 230), (195, 228)]:
            page.mouse.move(x0 + px, y0 + py, steps=8)  # a "2"
        page.mouse.up()
        page.wait_for_function("document.querySelectorAll('.js-plotly-plot').length >= 4", timeout=30_000)
        page.wait_for_timeout(1_500)
        page.screenshot(path=str(DOCS / "draw.png"), full_page=True)

        runs = RunStore(home).list_runs()
        for name, rec in (("inside-cnn", next(r for r in runs if r.config.model.arch == "cnn")),
                          ("inside-lstm", next(r for r in runs if r.config.model.arch == "lstm"))):
            page.set_viewport_size({"width": 1400, "height": 2600})  # streamlit scrolls inside its own div
            page.goto(f"{url}/inside?model={rec.id}")
            page.get_by_text("Model").first.wait_for(timeout=60_000)
            wait_idle(page)
            page.wait_for_timeout(2_000)
            page.screenshot(path=str(DOCS / f"{name}.png"), full_page=True)

        page.set_viewport_size({"width": 1400, "height": 1400})
        page.goto(f"{url}/learn")
        page.get_by_role("button", name="Run", exact=False).first.wait_for(timeout=60_000)
        wait_idle(page)
        page.screenshot(path=str(DOCS / "learn.png"), full_page=True)
    print("screenshots in", DOCS)


if __name__ == "__main__":
    main()
