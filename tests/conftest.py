"""Fixtures and helpers shared by the tests: homes, tiny configs, a trained model, images, the CLI."""
import io
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from playground.config import RunConfig
from playground.store import RunStore

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A fresh playground home for one test."""
    monkeypatch.setenv("PLAYGROUND_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture
def store(home):
    s = RunStore(home)
    yield s
    s.close()


def tiny(**overrides) -> RunConfig:
    """A config that trains in about a second on CPU."""
    base = dict(dataset="mnist", arch="lstm", hidden=32, epochs=2, lr=0.01, limit=600, batch_size=32,
                device="cpu", seed=1)
    base.update(overrides)
    return RunConfig().override(**base)


@pytest.fixture
def tiny_config():
    return tiny()


def pytest_configure(config):
    # Markers are declared in pyproject.toml; this only tells the app it runs under tests.
    os.environ.setdefault("PLAYGROUND_TEST", "1")


@pytest.fixture(scope="session")
def trained_home(tmp_path_factory):
    """A home holding one real lstm64 model (one epoch on all of MNIST, ~5 s on 2 cores)."""
    from playground.config import recipe
    from playground.engine.training import Trainer

    home = tmp_path_factory.mktemp("trained")
    store = RunStore(home)
    cfg = recipe("lstm64").override(device="cpu")
    snap = Trainer(cfg, store, store.create_run(cfg, "lstm64 (tests)")).run()
    assert snap.status == "finished" and snap.result["test_acc"] > 0.93, snap
    store.close()
    return home


@pytest.fixture
def trained(trained_home, monkeypatch):
    """The trained home as this test's PLAYGROUND_HOME; yields the stored run record."""
    monkeypatch.setenv("PLAYGROUND_HOME", str(trained_home))
    return RunStore(trained_home).list_runs()[-1]


def app_page(path: str, timeout: float = 60):
    """AppTest of the whole app (navigation included) opened on one page, as a browser would."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=timeout)
    if path != "app.py":
        at.switch_page(path)
    return at


# ------------------------------------------------------------------ images
def png(array: np.ndarray) -> bytes:
    """The PNG file bytes of a uint8 array (grey, RGB or RGBA)."""
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def on_canvas(digit: np.ndarray, size: int, top: int, left: int, canvas: int = 280) -> np.ndarray:
    """A uint8 digit scaled (bilinear) to size x size at (top, left) on a black square canvas, cut at its edges."""
    big = np.asarray(Image.fromarray(digit).resize((size, size), Image.Resampling.BILINEAR))
    out = np.zeros((canvas, canvas), np.uint8)
    h, w = min(size, canvas - top), min(size, canvas - left)
    out[top:top + h, left:left + w] = big[:h, :w]
    return out


def rgba(grey: np.ndarray) -> np.ndarray:
    """A grey canvas as st_canvas hands it over: the ink in R, G and B, fully opaque."""
    return np.dstack([grey, grey, grey, np.full_like(grey, 255)])


def canvas_of(digit: np.ndarray, size: int, top: int, left: int) -> np.ndarray:
    """An MNIST digit drawn large and off-centre on the Draw page's 280x280 RGBA canvas."""
    return rgba(on_canvas(digit, size, top, left))


# ------------------------------------------------------------------ the command line
def cli_args(*args: str) -> list[str]:
    """The argv of `python -m playground ARGS` in this interpreter (for Popen)."""
    return [sys.executable, "-m", "playground", *args]


def run_cli(*args: str, home: Path, timeout: float = 300, **kwargs) -> subprocess.CompletedProcess:
    """Run `python -m playground ARGS` with its own PLAYGROUND_HOME; text output captured, time bounded."""
    env = {**os.environ, "PLAYGROUND_HOME": str(home), **kwargs.pop("env", {})}
    return subprocess.run(cli_args(*args), cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout,
                          **kwargs)


def need_ray():
    """The ray module; skipped where Ray is not installed, but a failure in CI, which installs it."""
    try:
        import ray
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("Ray is missing in CI (requirements-dev.txt installs it)", pytrace=False)
        pytest.skip("Ray not installed (pip install -r requirements-cluster.txt)", allow_module_level=True)
    return ray


def poll_until(at, done, seconds: float = 90):
    """AppTest never fires run_every by itself: rerun as the browser's timer would, until `done(at)`."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        at.run()
        assert not at.exception, at.exception
        if done(at):
            return at
        time.sleep(0.5)
    raise AssertionError("condition not reached")


def refused_without_blocking(call, error: type[Exception], seconds: float = 10) -> str:
    """Run `call` in a thread (a FIFO would block it for ever); the message of the `error` it raised."""
    result = {}

    def attempt():
        try:
            call()
        except error as exc:
            result["error"] = str(exc)
    thread = threading.Thread(target=attempt, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), "blocked"
    return result["error"]
