"""Helpers for the real-browser tests: a streamlit server on a free port, and Debian's chromium."""
from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("PLAYGROUND_CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


def require_chromium() -> None:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing in CI (.ci/run installs Debian's chromium)")
        pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def streamlit_server(home: Path, log: Path, env: dict[str, str] | None = None, root: Path = ROOT,
                     start_s: float = 60):
    """`streamlit run app.py` of the checkout `root` on localhost; yields its base URL and process; always
    stopped at the end. bench/page_speed.py runs two checkouts side by side through it."""
    port = free_port()
    env = {**os.environ, "PLAYGROUND_HOME": str(home), **(env or {})}
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                                 "--server.address", "127.0.0.1", "--server.headless", "true"],
                                cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + start_s
        while True:
            with contextlib.suppress(OSError):
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).status == 200:
                    break
            if proc.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"streamlit did not start: {log.read_text()[-2000:]}")
            time.sleep(0.3)
        yield url, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


@contextlib.contextmanager
def browser_page(name: str, width: int = 1400, flags: tuple[str, ...] = (), permissions: tuple[str, ...] = ()):
    """A chromium page `width` px wide (more `flags`, granted `permissions`); on failure a screenshot lands in
    test-artifacts/<name>.png."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[*FLAGS, *flags], headless=True)
        page = browser.new_context(viewport={"width": width, "height": 1000},
                                   permissions=list(permissions)).new_page()
        try:
            yield page
        except BaseException:
            ARTIFACTS.mkdir(exist_ok=True)
            with contextlib.suppress(Exception):
                page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
            raise
        finally:
            browser.close()


def wait_idle(page, timeout: float = 30) -> None:
    """Until streamlit is not running a script (its status widget gone)."""
    page.wait_for_timeout(300)
    page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached", timeout=timeout * 1000)


def open_train(page, url: str) -> None:
    """Train, loaded and idle: its form ready to fill."""
    page.goto(f"{url}/train")
    page.get_by_role("button", name="Train", exact=True).wait_for(timeout=60_000)
    wait_idle(page)


def set_epochs(page, epochs: int) -> None:
    page.get_by_label("Epochs", exact=True).fill(str(epochs))
    page.get_by_label("Epochs", exact=True).press("Enter")
    wait_idle(page)


def start_training(page, url: str, epochs: int) -> None:
    """Open Train, set the epochs, press Train (the form's defaults otherwise)."""
    open_train(page, url)
    set_epochs(page, epochs)
    page.get_by_role("button", name="Train", exact=True).click()


def draw_a_one(page, box: dict, across: float) -> None:
    """A vertical mouse stroke (a "1") on the canvas, `across` of the way from its left edge."""
    x = box["x"] + box["width"] * across
    page.mouse.move(x, box["y"] + 40)
    page.mouse.down()
    for k in range(1, 21):
        page.mouse.move(x + k * 0.5, box["y"] + 40 + k * 10)
    page.mouse.up()


def first_answer(page, timeout: float = 30_000) -> str:
    """The first model's answer on Draw, once shown."""
    predicted = page.get_by_test_id("stMetricValue").first
    predicted.wait_for(timeout=timeout)
    return predicted.inner_text().strip()


def open_draw(page, url: str, timeout: float = 60_000):
    """Draw, loaded and idle; its canvas (the locator strokes go to)."""
    page.goto(f"{url}/draw")
    canvas = page.locator("canvas.upper-canvas")
    canvas.wait_for(timeout=timeout)
    wait_idle(page)
    return canvas


CLICK_NOW_JS = """(text) => { const b = [...document.querySelectorAll('button')].find(b => b.innerText.includes(text));
                               if (!b) return false; b.click(); return true; }"""


def click_now(page, text: str, timeout: float = 30_000) -> None:
    """Click the button showing `text` in one browser call: a live fragment redraws it every second, and
    Playwright's click (find, wait until stable, click) kept finding it detached on a loaded machine."""
    page.wait_for_function(CLICK_NOW_JS, arg=text, timeout=timeout)
