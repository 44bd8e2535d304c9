"""A run's live metrics: the lock-guarded stream its training thread writes and the snapshots pollers read."""
from __future__ import annotations

import bisect
import copy
import threading
import time
from dataclasses import dataclass
from typing import Any

from ..errors import ACTIVE, RunStatus

MAX_STEP_ROWS = 4000  # step rows a live stream keeps (a chart's worth); the store keeps every one
NO_STEP_ROWS = 2**62  # as `steps_from`: a snapshot without step rows, for callers that need only counts


@dataclass(slots=True)
class Snapshot:
    """A copy of a run's state for pollers; safe to read without any lock."""
    status: RunStatus
    message: str | None
    epoch: int  # epochs completed
    epochs: int
    step: int  # optimizer steps done
    total_steps: int
    steps_per_epoch: int
    started: float | None
    ended: float | None
    samples_per_s: float | None
    step_rows: list[dict[str, float]]
    epoch_rows: list[dict[str, float]]
    result: dict[str, Any]
    seconds_per_step: float | None = None  # training time only: no data loading, no evaluation

    @property
    def elapsed(self) -> float:
        if self.started is None:
            return 0.0
        return (self.ended or time.time()) - self.started

    @property
    def fraction(self) -> float:
        return min(1.0, self.step / self.total_steps) if self.total_steps else 0.0

    @property
    def eta(self) -> float | None:
        if not self.step or self.status != RunStatus.RUNNING:
            return None
        # The training step rate, when known: elapsed time also counts data loading at the start.
        per_step = self.seconds_per_step or self.elapsed / self.step
        return per_step * (self.total_steps - self.step)

    @property
    def done(self) -> bool:
        return self.status not in ACTIVE


def decimate(rows: list[dict[str, float]], every: int) -> list[dict[str, float]]:
    """The rows whose step is a multiple of `every`, and always the last (the chart ends where the run is)."""
    kept = [r for r in rows if int(r["step"]) % every == 0]
    if rows and (not kept or kept[-1] is not rows[-1]):
        kept.append(rows[-1])
    return kept


def chart_rows(rows: list[dict[str, float]]) -> list[dict[str, float]]:
    """At most MAX_STEP_ROWS of `rows`, every k-th step (k a power of two), for charts and pollers."""
    every = 1
    while len(rows) > MAX_STEP_ROWS:
        every *= 2
        rows = decimate(rows, every)
    return rows


class MetricsStream:
    """What the training thread publishes; readers take snapshots under the same lock.

    Step rows are kept at most MAX_STEP_ROWS: past that, every other one goes and only every
    `step_every`-th step is kept (the store has them all), so a 1,000-epoch run costs pollers the same.
    """

    def __init__(self, epochs: int):
        self._lock = threading.Lock()
        self._s = Snapshot(RunStatus.QUEUED, None, 0, epochs, 0, 0, 0, None, None, None, [], [], {})
        self.step_every = 1

    def update(self, **values: Any) -> None:
        with self._lock:
            for k, v in values.items():
                setattr(self._s, k, v)

    def result(self) -> dict[str, Any]:
        with self._lock:
            return dict(self._s.result)

    def status(self) -> RunStatus:
        with self._lock:
            return self._s.status

    def add_steps(self, rows: list[dict[str, float]], step: int) -> None:
        with self._lock:
            kept = self._s.step_rows
            if kept and kept[-1]["step"] % self.step_every:
                kept.pop()  # the last row was kept only as the newest; a newer one replaces it
            kept.extend(decimate(rows, self.step_every))
            while len(kept) > MAX_STEP_ROWS:
                self.step_every *= 2
                kept[:] = decimate(kept, self.step_every)
            self._s.step = step

    def add_epoch(self, row: dict[str, float]) -> None:
        with self._lock:
            self._s.epoch_rows.append(row)
            self._s.epoch = int(row["epoch"])

    def snapshot(self, steps_from: int = 0) -> Snapshot:
        """A copy; `steps_from` (a step number) skips the step rows before it, which the caller has."""
        with self._lock:
            s = copy.copy(self._s)
            rows = self._s.step_rows
            first = bisect.bisect_left(rows, steps_from, key=lambda r: r["step"]) if steps_from else 0
            s.step_rows = rows[first:]
            s.epoch_rows = list(self._s.epoch_rows)
            s.result = dict(self._s.result)
            return s
