"""Where runs execute: threads of this process (the default), or Ray actors on a cluster (optional).

An executor turns (config, store, run id) into a *run*: an object with the Trainer's face
(`run()`, `stop()`, `snapshot()`, `stream`), which the JobRegistry drives from one of its threads.
Locally that is the Trainer itself. On Ray it is a `RemoteRun` (playground/engine/remote.py): the same
Trainer runs inside an actor and the app side pulls its rows into this process's store.
"""
from __future__ import annotations

from typing import Protocol

import torch

from .. import settings
from ..config import RunConfig
from ..errors import PlaygroundError, RunStatus
from ..store import RunStore
from .capacity import CPU_RUNS_AT_ONCE, GPU_RUNS_AT_ONCE
from .metrics import MetricsStream, Snapshot
from .recorder import Recorder
from .training import Trainer


class Run(Protocol):
    """What the JobRegistry drives: a Trainer, or a stand-in for one trained elsewhere."""
    config: RunConfig
    stream: MetricsStream
    recorder: Recorder

    def run(self) -> Snapshot: ...
    def stop(self, reason: str = ...) -> None: ...
    def end(self, status: RunStatus, message: str | None) -> None: ...
    def end_if_waiting(self, reason: str = ...) -> bool: ...
    def snapshot(self, steps_from: int = 0) -> Snapshot: ...


class Executor(Protocol):
    name: str
    trains_here: bool  # runs use this machine's memory: the registry's memory guard applies

    def capacity(self) -> int: ...
    def make_run(self, config: RunConfig, store: RunStore, run_id: int, threads: int | None) -> Run: ...
    def shutdown(self) -> None: ...


def runs_at_once(device: str = "auto") -> int:
    """How many runs should train at once on this machine's device."""
    gpu = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    return GPU_RUNS_AT_ONCE if gpu else CPU_RUNS_AT_ONCE


class LocalExecutor:
    """Each run a Trainer in a thread of this process (nothing to install)."""
    name = "local"
    trains_here = True

    def __init__(self, max_concurrent: int | None = None):
        self._capacity = max_concurrent or runs_at_once()

    def capacity(self) -> int:
        return self._capacity

    def make_run(self, config: RunConfig, store: RunStore, run_id: int, threads: int | None) -> Run:
        return Trainer(config, store, run_id, threads=threads)

    def shutdown(self) -> None:
        pass


def executor_from_env(address: str | None = None, max_concurrent: int | None = None) -> Executor:
    """Ray when an address is given (or PLAYGROUND_RAY_ADDRESS is set), else local threads."""
    address = address or settings.current().ray_address
    if address is None:
        return LocalExecutor(max_concurrent)
    try:
        from .remote import RayExecutor
    except ImportError as exc:
        raise PlaygroundError(f"training on Ray ({address}) needs Ray: pip install -r requirements-cluster.txt "
                              f"({exc})") from exc
    return RayExecutor(address)
