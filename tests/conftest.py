import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playground.config import RunConfig  # noqa: E402
from playground.store import RunStore  # noqa: E402


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
    config.addinivalue_line("markers", "browser: real Chromium end-to-end test (needs /usr/bin/chromium)")
    config.addinivalue_line("markers", "soak: bounded load test")
    os.environ.setdefault("PLAYGROUND_TEST", "1")


@pytest.fixture(scope="session")
def trained_home(tmp_path_factory):
    """A home holding one real lstm64 model (one epoch on all of MNIST, ~5 s on 2 cores)."""
    from playground.config import recipe
    from playground.training import Trainer

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
