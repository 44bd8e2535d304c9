"""Settings from the environment (PLAYGROUND_*), validated once, with messages that say what to fix."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .errors import PlaygroundError


class SettingError(PlaygroundError, ValueError):
    """A PLAYGROUND_* variable holds a value the app cannot use."""


@dataclass(frozen=True)
class Settings:
    home: Path
    max_concurrent: int | None  # None: follow the executor (2 on a CPU, 5 on a GPU, a cluster's slots)
    threads_per_run: int
    ray_address: str | None

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        from .store import default_home

        return cls(home=Path(env["PLAYGROUND_HOME"]) if env.get("PLAYGROUND_HOME") else default_home(),
                   max_concurrent=_int(env, "PLAYGROUND_MAX_CONCURRENT", None, 1, 64),
                   # One intra-op thread per run: with two, a step slowed 3-4x whenever the browser, the
                   # server or another run wanted a core (bench/README.md has the numbers).
                   threads_per_run=_int(env, "PLAYGROUND_THREADS", 1, 1, 256),
                   ray_address=env.get("PLAYGROUND_RAY_ADDRESS", "").strip() or None)


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
