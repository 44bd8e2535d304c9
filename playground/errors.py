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


def first_line(exc: BaseException, last: bool = False) -> str:
    """An exception's first (or last: a remote traceback's) line of text, or its type's name when it has none."""
    lines = str(exc).strip().splitlines()
    return (lines[-1] if last else lines[0]) if lines else type(exc).__name__
