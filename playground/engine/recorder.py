"""Where a run's events go: step rows, epoch rows, checkpoints and status.

`StoreRecorder` writes them to the run store (buffering step rows, retrying while the database is
busy, and reading stop requests from other processes); `NullRecorder`
drops them, for a run that lives only in its metrics stream. A remote recorder (the cluster work)
implements the same five methods.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Protocol

from ..store import RunStore, StoreBusy

log = logging.getLogger(__name__)

STORE_FLUSH_SECONDS = 2.0  # step rows reach SQLite at least this often
POLL_SECONDS = 1.0  # heartbeat and cross-process stop requests, at most this often


class Recorder(Protocol):
    def update(self, **values: Any) -> None: ...
    def add_steps(self, rows: list[dict[str, float]]) -> None: ...
    def add_epoch(self, row: dict[str, Any]) -> None: ...
    def save_checkpoint(self, payload: dict[str, Any]) -> str | None: ...
    def poll(self) -> bool: ...
    def flush(self) -> None: ...


class NullRecorder:
    """A run without a store: nothing is kept beyond its metrics stream."""

    def update(self, **values: Any) -> None:
        pass

    def add_steps(self, rows: list[dict[str, float]]) -> None:
        pass

    def add_epoch(self, row: dict[str, Any]) -> None:
        pass

    def save_checkpoint(self, payload: dict[str, Any]) -> str | None:
        return None

    def poll(self) -> bool:
        """True when someone elsewhere asked this run to stop."""
        return False

    def flush(self) -> None:
        pass


class StoreRecorder:
    """A run recorded in the store; step rows are buffered and never dropped while the store is busy."""

    def __init__(self, store: RunStore, run_id: int, flush_seconds: float | None = None):
        self.store, self.run_id = store, run_id
        self.flush_seconds = STORE_FLUSH_SECONDS if flush_seconds is None else flush_seconds
        self._steps: list[dict[str, float]] = []
        self._epochs: list[dict[str, Any]] = []
        self._last_flush = time.monotonic()
        self._last_poll = 0.0

    def update(self, **values: Any) -> None:
        self.store.update_run(self.run_id, **values)

    def add_steps(self, rows: list[dict[str, float]]) -> None:
        self._steps += rows
        if time.monotonic() - self._last_flush >= self.flush_seconds:
            self.flush()

    def add_epoch(self, row: dict[str, Any]) -> None:
        self._epochs.append(row)
        self.flush()

    def flush(self) -> None:
        """Write buffered rows; if the database stays locked, keep them for the next try."""
        self._last_flush = time.monotonic()
        try:
            if self._steps:
                self.store.add_steps(self.run_id, self._steps)
                self._steps = []
            while self._epochs:
                self.store.add_epoch(self.run_id, self._epochs[0])
                self._epochs.pop(0)
        except StoreBusy as exc:
            log.warning("run %s: store busy, %d step rows kept for the next flush (%s)",
                        self.run_id, len(self._steps), exc)

    def save_checkpoint(self, payload: dict[str, Any]) -> str | None:
        return str(Path(self.store.save_checkpoint(self.run_id, payload)))

    def poll(self) -> bool:
        """True when another process asked this run to stop (the job registry beats the heartbeat)."""
        now = time.monotonic()
        if now - self._last_poll < POLL_SECONDS:
            return False
        self._last_poll = now
        try:
            return self.store.stop_requested(self.run_id)
        except StoreBusy:
            return False
