"""Fixtures and helpers shared by the tests: homes, tiny configs, a trained model, images, the CLI."""
import html
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
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


TRAINING_THREADS = ("job-", "trainer-", "group-")  # the engine's thread names (jobs.py, training.py, group.py)


class StepGate:
    """Holds training at a chosen forward pass (the steps before it done and published) until released:
    a test that needs a run "still in epoch 0" or "still running after three submits" says so, not a speed."""

    def __init__(self, monkeypatch, at: int, every_after: bool = False):
        import torch.nn.functional as F

        real, calls, lock = F.cross_entropy, [0], threading.Lock()
        self.reached, self.released = threading.Event(), threading.Event()

        def gated(*args, **kwargs):
            if every_after and not threading.current_thread().name.startswith(TRAINING_THREADS):
                return real(*args, **kwargs)  # a page's speed probe is not a run's step
            with lock:
                calls[0] += 1
                hold = calls[0] >= at if every_after else calls[0] == at
            if hold:
                self.reached.set()
                self.released.wait(120)
            return real(*args, **kwargs)
        monkeypatch.setattr(F, "cross_entropy", gated)

    def wait(self, seconds: float = 120) -> None:
        assert self.reached.wait(seconds), "training never reached the gate"


@pytest.fixture
def step_gate(monkeypatch):
    """step_gate(n): a StepGate at forward pass n (with every_after=True: at a training thread's pass n and
    every pass after it, so several runs all hold); released at the end of the test whatever happens."""
    gates = []
    yield lambda at, every_after=False: gates.append(StepGate(monkeypatch, at, every_after)) or gates[-1]
    for gate in gates:
        gate.released.set()


@pytest.fixture
def tiny_config():
    return tiny()


def pytest_configure(config):
    # Markers are declared in pyproject.toml; this only tells the app it runs under tests.
    os.environ.setdefault("PLAYGROUND_TEST", "1")


def pytest_collection_modifyitems(items):
    # Chromium, soak and Ray tests are slow by nature: `pytest -m "not slow"` is the fast loop.
    for item in items:
        if any(item.get_closest_marker(m) for m in ("browser", "soak", "ray")):
            item.add_marker(pytest.mark.slow)


# ------------------------------------------------------------------ CIFAR-2 without ../shared
def make_cifar2_folder(root: Path, train_per_class: int = 400, test_per_class: int = 100) -> Path:
    """A small CIFAR-2-shaped ImageFolder (32x32 RGB PNGs) that a CNN can learn: airplanes are a dark bar
    across a blue sky, birds a dark blob on green; noise and positions vary with a fixed seed."""
    rng = np.random.default_rng(0)
    for split, n in (("train", train_per_class), ("test", test_per_class)):
        for label, cls in enumerate(("airplane", "bird")):
            (root / split / cls).mkdir(parents=True, exist_ok=True)
            sky = np.array([90, 140, 210]) if label == 0 else np.array([80, 150, 70])
            for i in range(n):
                img = np.clip(sky + rng.normal(0, 25, (32, 32, 3)), 0, 255)
                r, c = rng.integers(6, 22, size=2)
                if label == 0:
                    img[r:r + 3, max(c - 10, 0):c + 10] = 30
                else:
                    img[r - 4:r + 4, c - 4:c + 4] = 40
                Image.fromarray(img.astype(np.uint8)).save(root / split / cls / f"{i:04d}.png")
    return root


GENERATED_CIFAR2 = ROOT / "data" / "generated-cifar2-v1"  # ignored by git; versioned by its name


@pytest.fixture(scope="session")
def generated_cifar2() -> Path:
    """Made once per checkout (a fixed path, so its decoded copy is cached too); renamed into place whole, so
    test sessions running side by side never see half a folder."""
    if not GENERATED_CIFAR2.is_dir():
        GENERATED_CIFAR2.parent.mkdir(parents=True, exist_ok=True)
        partial = Path(tempfile.mkdtemp(prefix=".cifar2-", dir=GENERATED_CIFAR2.parent))
        make_cifar2_folder(partial)
        try:
            partial.rename(GENERATED_CIFAR2)
        except OSError:  # another session put it there first
            shutil.rmtree(partial, ignore_errors=True)
    return GENERATED_CIFAR2


@pytest.fixture(autouse=True)
def quiet_machine(monkeypatch):
    """Pages say "this machine is busy" beside an estimate when the load average is high: a test of what a page
    says must not depend on what else runs on the machine (tests of the note pass their load explicitly)."""
    monkeypatch.setattr(os, "getloadavg", lambda: (0.0, 0.0, 0.0))


@pytest.fixture(autouse=True)
def cifar2_source(request, monkeypatch, generated_cifar2):
    """Tests read CIFAR-2 from a small generated folder, so the suite runs in a clone without ../shared and
    offline; a test marked `real_cifar` reads the real images instead and is skipped (failed in CI) without them."""
    from playground import data

    if request.node.get_closest_marker("real_cifar") is None:
        monkeypatch.setenv("PLAYGROUND_CIFAR2_DIR", str(generated_cifar2))
        yield
        return
    if not data.CIFAR_SHARED.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"{data.CIFAR_SHARED} is missing in CI", pytrace=False)
        pytest.skip(f"needs the real CIFAR-10 airplane/bird JPEGs in {data.CIFAR_SHARED}")
    monkeypatch.delenv("PLAYGROUND_CIFAR2_DIR", raising=False)
    data._cache.pop("cifar2", None)  # the generated set may be cached in this process
    yield
    data._cache.pop("cifar2", None)


def with_a_tiny_run(home: Path, cfg: RunConfig | None = None) -> Path:
    """`home` holding one finished run of `cfg`, by default a tiny MNIST LSTM (1 epoch, 300 images): for tests
    about a page, not about the model's answers."""
    from playground.engine.training import Trainer

    cfg = cfg or tiny(epochs=1, limit=300, hidden=16)
    store = RunStore(home)
    try:
        assert Trainer(cfg, store, store.create_run(cfg, "tiny")).run().status == "finished"
    finally:
        store.close()
    return home


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
    if path == "pages/compare.py":  # its forms are built only while their panels are open: open, as a user of
        for panel in COMPARE_PANELS:  # them has them (tests/test_compare.py checks the shut page builds none)
            at.session_state[panel] = True
    return at


COMPARE_PANELS = ("panel-study", "panel-sweep", "panel-rename", "panel-delete-many")


def inside_view(at, view: str):
    """Inside with the tab `view` open (a label of ui.inside_pick's CNN_VIEWS / RECURRENT_VIEWS), as a click on it
    does: only the open tab's content is built."""
    at.session_state["inside_view"] = view
    return at.run()


def probability_bars(at) -> list[dict]:
    """The probability bars on a page (plain HTML, playground.bars) as {title, classes, probs}, in page order."""
    out = []
    for element in at.get("html"):
        body = element.proto.body
        if 'class="pg-bars"' in body:
            out.append({"title": html.unescape(re.search(r"<figcaption[^>]*>(.*?)</figcaption>", body).group(1)),
                        "classes": [html.unescape(c) for c in re.findall(r'data-class="([^"]*)"', body)],
                        "probs": [float(v) for v in re.findall(r'data-p="([^"]*)"', body)]})
    return out


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
