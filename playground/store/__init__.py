"""Run store: one playground home's SQLite database (WAL, schema-versioned) and checkpoint files.

schema.py: tables, errors and migrations; database.py: the connection and its transactions;
runs.py: runs, metrics, liveness and checkpoints; keep.py: drawings and lessons.
"""
from __future__ import annotations

from pathlib import Path

from ..errors import ACTIVE
from .database import default_home
from .keep import Drawing, KeptTables, encode_drawing
from .runs import (
    EPOCH_FIELDS,
    HEARTBEAT_STALE,
    HOST,
    PROCESS_TOKEN,
    STEP_FIELDS,
    RunRecord,
    RunTables,
    clean_name,
    save_atomic,
)
from .schema import SCHEMA_VERSION, NewerSchema, Refused, RunDeleted, StoreBusy, StoreError

__all__ = ["ACTIVE", "EPOCH_FIELDS", "HEARTBEAT_STALE", "HOST", "PROCESS_TOKEN", "SCHEMA_VERSION", "STEP_FIELDS",
           "Drawing", "NewerSchema", "Refused", "RunDeleted", "RunRecord", "RunStore", "StoreBusy", "StoreError",
           "clean_name",
           "default_home", "encode_drawing", "save_atomic"]


class RunStore(RunTables, KeptTables):
    """Thread-safe access to one playground home (one connection, serialized by a lock)."""

    def __init__(self, home: str | Path | None = None, timeout: float = 15.0):
        super().__init__(home, timeout)
        self._beats_seen: dict[int, tuple[float | None, float]] = {}  # other hosts' runs: (heartbeat, first seen)
        self._remove_stale_temp_files()
        self.keep_reserve()
        self.recover_interrupted()
