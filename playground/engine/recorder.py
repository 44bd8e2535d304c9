"""Where a run's events go: step rows, epoch rows, checkpoints and status.

`StoreRecorder` writes them to the run store (buffering step rows, retrying while the database is
busy, and reading stop requests from other processes); `NullRecorder`
drops them, for a run that lives only in its metrics stream. A remote recorder (the cluster work)
implements the same five methods.
"""
from __future__ import annotations

import contextlib
import logging
import math
import time
from pathlib import Path
from typing import Any, Protocol

from ..errors import RunStatus
from ..store import RunDeleted, RunStore, StoreBusy

log = logging.getLogger(__name__)

STORE_FLUSH_SECONDS = 2.0  # step rows reach SQLite at least this often
POLL_SECONDS = 1.0  # heartbeat and cross-process stop requests, at most this often


SETTLE_SECONDS = 600.0  # how long a run's final status is retried into a store that refuses it


class Recorder(Protocol):
    def update(self, **values: Any) -> None: ...
    def add_steps(self, rows: list[dict[str, float]]) -> None: ...
    def add_epoch(self, row: dict[str, Any]) -> None: ...
    def save_checkpoint(self, payload: dict[str, Any]) -> str | None: ...
    def poll(self) -> bool: ...
    def flush(self) -> None: ...
    def finish(self, **values: Any) -> bool: ...
    def settle(self) -> bool: ...


def end_run(stream: Any, recorder: Recorder, status: RunStatus, message: str | None) -> None:
    """The one way a run ends: the final status reaches the live stream first, then the store when it can.

    Never raises: whatever the store does, pollers and waiters see the run end. A store that refuses
    the final write (busy, disk full, I/O error) gets it again from the job registry's heartbeat.
    """
    ended = time.time()
    stream.update(status=status, message=message, ended=ended)
    recorder.finish(status=status, message=message, ended=ended, result=stream.result())


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

    def finish(self, **values: Any) -> bool:
        """Record the run's final status; True once it is stored (here: nothing to store)."""
        return True

    def settle(self) -> bool:
        """Retry a final status the store refused; True when nothing is left to write."""
        return True


class StoreRecorder:
    """A run recorded in the store; step rows are buffered and never dropped while the store is busy."""

    def __init__(self, store: RunStore, run_id: int, flush_seconds: float | None = None):
        self.store, self.run_id = store, run_id
        self.flush_seconds = STORE_FLUSH_SECONDS if flush_seconds is None else flush_seconds
        self._steps: list[dict[str, float]] = []
        self._epochs: list[dict[str, Any]] = []
        self._values: dict[str, Any] = {}  # run fields the store was too busy to take, newest value per field
        self._final: dict[str, Any] | None = None  # the final status, until the store has it
        self._give_up = math.inf
        self._last_flush = time.monotonic()
        self._last_poll = 0.0
        self.deleted: str | None = None  # why nothing is written any more: the run was deleted from the store

    def update(self, **values: Any) -> None:
        """Write run fields now; a busy store gets them at the next flush (a busy store fails no run)."""
        self._values.update(values)
        try:
            self._write_values()
        except StoreBusy as exc:
            log.warning("run %s: store busy, fields %s kept for the next flush (%s)", self.run_id,
                        sorted(self._values), exc)

    def _gone(self, exc: RunDeleted) -> None:
        if self.deleted is None:
            log.warning("run %s: %s", self.run_id, exc)
        self.deleted = str(exc)
        self._steps, self._epochs, self._values = [], [], {}
        # A checkpoint tied to the run just before it was deleted would outlive it: no file for a run that is gone.
        with contextlib.suppress(OSError):
            self.store.checkpoint_path(self.run_id).unlink(missing_ok=True)

    def _write_values(self) -> None:
        if self.deleted:
            self._values = {}
        if self._values:
            self.store.update_run(self.run_id, **self._values)
            self._values = {}

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
            self._write_rows()
        except RunDeleted as exc:
            self._gone(exc)
        except StoreBusy as exc:
            log.warning("run %s: store busy, %d step rows kept for the next flush (%s)",
                        self.run_id, len(self._steps), exc)

    def _write_rows(self) -> None:
        if self.deleted:
            self._steps, self._epochs = [], []
        if self._steps:
            self.store.add_steps(self.run_id, self._steps)
            self._steps = []
        while self._epochs:
            self.store.add_epoch(self.run_id, self._epochs[0])
            self._epochs.pop(0)
        self._write_values()

    def finish(self, **values: Any) -> bool:
        """Keep the final status and try to store it (rows first); True once the store has it."""
        self._final = values
        self._give_up = time.monotonic() + SETTLE_SECONDS
        return self.settle()

    def settle(self) -> bool:
        """Write what is left of a finished run; any store error leaves it for the next try, never raises."""
        if self._final is None or self.deleted:
            self._final = None
            return True
        try:
            try:
                self._write_rows()
            except RunDeleted:
                raise
            except Exception:  # the status first, alone: one row's page finds room where the metric rows did not
                self.store.update_run(self.run_id, **self._final)
                raise
            self.store.update_run(self.run_id, **self._final)
        except RunDeleted as exc:  # nothing left to write it to
            self._gone(exc)
            self._final = None
            return True
        except Exception as exc:  # disk full, I/O error: the run has ended all the same
            if time.monotonic() < self._give_up:
                log.warning("run %s: its final status is not stored yet (%s); retrying", self.run_id, exc)
                return False
            log.error("run %s: gave up storing its final status %s: %s", self.run_id, self._final["status"], exc)
        self._final = None
        return True

    def save_checkpoint(self, payload: dict[str, Any]) -> str | None:
        if self.deleted:
            return None
        try:
            return str(Path(self.store.save_checkpoint(self.run_id, payload)))
        except RunDeleted as exc:  # deleted since the last poll: no file is left for a run that is gone
            self._gone(exc)
            return None

    def poll(self) -> bool:
        """True when another process asked this run to stop (the job registry beats the heartbeat)."""
        now = time.monotonic()
        if now - self._last_poll < POLL_SECONDS:
            return False
        self._last_poll = now
        try:
            return self.store.must_stop(self.run_id)
        except RunDeleted as exc:  # another process deleted the run: it stops, and nothing more is written
            self._gone(exc)
            return True
        except StoreBusy:
            return False


def recorder_for(store: RunStore | None, run_id: int | None) -> Recorder:
    """Run `run_id`'s recorder into `store`; nowhere when either is missing (a run that lives only in its stream)."""
    return StoreRecorder(store, run_id) if store is not None and run_id is not None else NullRecorder()
