"""Errors the user can act on, and the run statuses every layer shares."""
from __future__ import annotations

from enum import StrEnum


class PlaygroundError(Exception):
    """An error whose message tells the user what went wrong and what to do; never a bug."""


class RunStatus(StrEnum):
    """Where a run is in its life; stored as its string value."""

    QUEUED = "queued"
    RUNNING = "running"
    FINISHED = "finished"
    STOPPED = "stopped"
    DIVERGED = "diverged"
    FAILED = "failed"
    INTERRUPTED = "interrupted"

    @property
    def active(self) -> bool:
        """Queued or running: it may still change."""
        return self in (RunStatus.QUEUED, RunStatus.RUNNING)


ACTIVE = (RunStatus.QUEUED, RunStatus.RUNNING)
