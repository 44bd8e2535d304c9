"""What pollers and the job registry see of a run (`LiveRun`): its own module so that the publishing code
(publish.py) and the runner (runner.py), which imports it, both name it without an import circle."""
from __future__ import annotations

import threading

from ..config import RunConfig
from ..errors import RunStatus
from .metrics import MetricsStream, Snapshot
from .recorder import NullRecorder, Recorder, end_run


class LiveRun:
    """What pollers and the job registry see of a run: its metrics stream, and a stop within one batch."""

    def __init__(self, config: RunConfig):
        self.config = config
        self.stream = MetricsStream(config.optim.epochs)
        self.recorder: Recorder = NullRecorder()
        self.run_id: int | None = None  # in the store; None for a run that lives only in its stream
        self._stop = threading.Event()
        self._stop_reason = "stopped by the user"

    def stop(self, reason: str = "stopped by the user") -> None:
        self._stop_reason = reason
        self._stop.set()

    def snapshot(self, steps_from: int = 0) -> Snapshot:
        return self.stream.snapshot(steps_from)

    def end_if_waiting(self, reason: str = "stopped by the user") -> bool:
        """End now as stopped if the run waits on others to start (a group's run: True); else False, and a stop
        ends it within a batch."""
        return False

    def end(self, status: RunStatus, message: str | None) -> None:
        """Give the run its final status: in the stream at once, in the store as soon as it takes it."""
        end_run(self.stream, self.recorder, status, message)
