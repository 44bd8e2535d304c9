"""What the Trainer (training.py) and the GroupTrainer (group.py) share around the training itself: the face
a run shows pollers (`LiveRun`), and `Runner`: its thread, its device and data, its plan and its errors."""
from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import torch

from ..config import ConfigError, RunConfig
from ..data import Dataset, load_dataset
from ..errors import RunStatus
from .heap import pin_heap
from .live import LiveRun
from .publish import Outcome, failure
from .steps import GATE, graphs_enabled

log = logging.getLogger(__name__)

DRAIN_EVERY_CUDA = 50  # steps between host syncs on CUDA; on CPU every step (a sync is free there)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device 'cuda' was asked for but no CUDA GPU is available; use 'auto' or 'cpu'")
    return torch.device(name)


def uses_graphs(config: RunConfig, graphs: bool | None) -> bool:
    """Whether a run of `config` captures CUDA graphs (on a GPU): `graphs`, or the setting when None. A graph
    replays the learning rate it was captured with (a float baked into its kernels) and one set of augmentation
    draws, so a moving rate or augmentation steps eagerly; the constant schedule keeps the graph and its speed."""
    return ((graphs_enabled() if graphs is None else graphs) and config.optim.schedule == "constant"
            and not config.data.augment)


def cpu_setup(threads: int | None) -> None:
    """The training thread's CPU settings: `threads` intra-op threads (None keeps torch's default), denormals off."""
    if threads:
        torch.set_num_threads(threads)  # process-wide in effect: callers pass one value for all runs
    # Tiny values in RNN states and gradients become denormals, which x86 CPUs handle ~100x slower:
    # flushing them to zero gave RNN 128 +17% samples/s with identical accuracy (this thread's FPU flag).
    torch.set_flush_denormal(True)
    pin_heap()  # a step's buffers reused, not faulted in again each step (heap.py): CNN steps up to 1.7x faster


def with_note(message: str | None, note: str | None) -> str | None:
    """A run's final message with the step's note (a graph capture that failed: the run trained eagerly)."""
    if not note:
        return message
    return f"{message}; {note}" if message else note


class Runner:
    """A trainer's frame: `start()` runs `run()` in a daemon thread; `attempt` turns every error into an outcome."""

    threads: int | None  # intra-op CPU threads; None keeps torch's default (all cores)
    thread: threading.Thread | None = None

    def run(self) -> Any:
        raise NotImplementedError

    def thread_name(self) -> str:
        raise NotImplementedError

    def start(self) -> threading.Thread:
        self.thread = threading.Thread(target=self.run, name=self.thread_name(), daemon=True)
        self.thread.start()
        return self.thread

    def attempt(self, lives: Sequence[LiveRun], train: Callable[[], Outcome], what: str) -> Outcome:
        """Mark `lives` running and `train`; every error becomes the outcome (logged as `what`), none escapes."""
        started = time.time()
        for live in lives:
            live.stream.update(status=RunStatus.RUNNING, started=started)
        try:
            for live in lives:
                live.recorder.update(status=RunStatus.RUNNING, started=started)
            return train()
        except torch.cuda.OutOfMemoryError as exc:  # the user's to act on (its message says how): no trace
            return RunStatus.FAILED, failure(exc)
        except Exception as exc:
            log.exception("%s failed", what)
            return RunStatus.FAILED, failure(exc)
        finally:
            if torch.cuda.is_available():
                with GATE.shared():  # frees device memory: never during another run's capture
                    torch.cuda.empty_cache()

    def setup(self, cfg: RunConfig) -> tuple[torch.device, Dataset]:
        """This thread's CPU settings, the device and the dataset of `cfg`."""
        cpu_setup(self.threads)
        return resolve_device(cfg.device), load_dataset(cfg.data.dataset)


def announce(lives: Sequence[LiveRun], cfg: RunConfig, device: torch.device, params: int,
             n_train: int) -> tuple[int, int]:
    """Steps per epoch and in all for `n_train` samples, told to each run's recorder and stream with its device."""
    steps_per_epoch = math.ceil(n_train / cfg.optim.batch_size)
    total_steps = steps_per_epoch * cfg.optim.epochs
    for live in lives:
        live.recorder.update(device=str(device), params=params)
        live.stream.update(steps_per_epoch=steps_per_epoch, total_steps=total_steps)
    return steps_per_epoch, total_steps
