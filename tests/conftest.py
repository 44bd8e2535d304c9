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
