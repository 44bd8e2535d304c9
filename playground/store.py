"""Run store: SQLite (WAL) for runs and metrics, atomic checkpoint files beside it."""
from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import torch

from .config import RunConfig
from .data import PROJECT_ROOT
from .errors import PlaygroundError

STATUSES = ("queued", "running", "finished", "stopped", "diverged", "failed", "interrupted")
ACTIVE = ("queued", "running")
# Identifies this process's runs, so a restart (even one that reuses a pid) can tell them apart.
PROCESS_TOKEN = uuid.uuid4().hex

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    config TEXT NOT NULL,
    device TEXT,
    params INTEGER,
    created REAL NOT NULL,
    started REAL,
    ended REAL,
    message TEXT,
    checkpoint TEXT,
    result TEXT,
    owner TEXT,
    pid INTEGER
);
CREATE TABLE IF NOT EXISTS step_metrics (
    run_id INTEGER NOT NULL, step INTEGER NOT NULL, epoch INTEGER NOT NULL,
    loss REAL, l2 REAL,
    PRIMARY KEY (run_id, step)
);
CREATE TABLE IF NOT EXISTS epoch_metrics (
    run_id INTEGER NOT NULL, epoch INTEGER NOT NULL,
    train_loss REAL, train_acc REAL, val_loss REAL, val_acc REAL, l2 REAL,
    seconds REAL, samples_per_s REAL,
    PRIMARY KEY (run_id, epoch)
);
CREATE TABLE IF NOT EXISTS drawings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created REAL NOT NULL,
    label INTEGER NOT NULL,
    pixels BLOB NOT NULL
);
"""

EPOCH_FIELDS = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "l2", "seconds", "samples_per_s")
STEP_FIELDS = ("step", "epoch", "loss", "l2")


class StoreError(PlaygroundError, RuntimeError):
    """The run store cannot be opened or used; the message says why and what to do."""


def default_home() -> Path:
    return Path(os.environ.get("PLAYGROUND_HOME", PROJECT_ROOT / "runs"))


@dataclass
class RunRecord:
    id: int
    name: str
    status: str
    config: RunConfig
    device: str | None = None
    params: int | None = None
    created: float = 0.0
    started: float | None = None
    ended: float | None = None
    message: str | None = None
    checkpoint: str | None = None
    result: dict[str, Any] = field(default_factory=dict)

    @property
    def seconds(self) -> float | None:
        if self.started is None:
            return None
        return (self.ended or time.time()) - self.started


class RunStore:
    """Thread-safe access to one playground home (one connection, serialized by a lock)."""

    def __init__(self, home: str | Path | None = None, timeout: float = 15.0):
        self.home = Path(home) if home is not None else default_home()
        self.checkpoints = self.home / "checkpoints"
        self.db_path = self.home / "runs.db"
        self._lock = threading.RLock()
        try:
            self.checkpoints.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.db_path, timeout=timeout, check_same_thread=False, isolation_level=None)
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(SCHEMA)
            if self._db.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                raise sqlite3.DatabaseError("integrity check failed")
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open the run store {self.db_path}: {exc}. The file may be corrupt or "
                             f"locked; move it aside or set PLAYGROUND_HOME to a fresh folder.") from exc
        self.recover_interrupted()

    # ------------------------------------------------------------ low level
    def _execute(self, sql: str, args: Iterable[Any] = ()) -> sqlite3.Cursor:
        with self._lock:
            return self._db.execute(sql, tuple(args))

    def _write_many(self, sql: str, rows: list[tuple]) -> None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(sql, rows)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # ------------------------------------------------------------ runs
    def create_run(self, config: RunConfig, name: str, status: str = "queued") -> int:
        cur = self._execute(
            "INSERT INTO runs (name, status, config, created, owner, pid) VALUES (?, ?, ?, ?, ?, ?)",
            (name, status, config.to_json(), time.time(), PROCESS_TOKEN, os.getpid()))
        return int(cur.lastrowid)

    def update_run(self, run_id: int, **values: Any) -> None:
        allowed = {"name", "status", "device", "params", "started", "ended", "message", "checkpoint", "result"}
        bad = set(values) - allowed
        if bad:
            raise ValueError(f"cannot update {sorted(bad)}")
        if "status" in values and values["status"] not in STATUSES:
            raise ValueError(f"unknown status {values['status']}")
        if "result" in values:
            values["result"] = json.dumps(values["result"])
        cols = ", ".join(f"{k} = ?" for k in values)
        self._execute(f"UPDATE runs SET {cols} WHERE id = ?", (*values.values(), run_id))

    def rename(self, run_id: int, name: str) -> None:
        name = name.strip()
        if not name or len(name) > 120:
            raise ValueError("a run name must have 1 to 120 characters")
        self.update_run(run_id, name=name)

    def get_run(self, run_id: int) -> RunRecord | None:
        row = self._execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        return None if row is None else self._record(row)

    def list_runs(self, dataset: str | None = None, arch: str | None = None,
                  status: str | None = None) -> list[RunRecord]:
        rows = self._execute("SELECT * FROM runs ORDER BY id DESC").fetchall()
        out = []
        for row in rows:
            rec = self._record(row)
            if dataset and rec.config.data.dataset != dataset:
                continue
            if arch and rec.config.model.arch != arch:
                continue
            if status and rec.status != status:
                continue
            out.append(rec)
        return out

    def delete_run(self, run_id: int) -> None:
        rec = self.get_run(run_id)
        if rec is None:
            return
        if rec.status in ACTIVE:
            raise ValueError("stop the run before deleting it")
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            for table, key in (("step_metrics", "run_id"), ("epoch_metrics", "run_id"), ("runs", "id")):
                self._db.execute(f"DELETE FROM {table} WHERE {key} = ?", (run_id,))
            self._db.execute("COMMIT")
        if rec.checkpoint:
            Path(rec.checkpoint).unlink(missing_ok=True)

    @staticmethod
    def _record(row: sqlite3.Row) -> RunRecord:
        return RunRecord(
            id=row["id"], name=row["name"], status=row["status"], config=RunConfig.from_json(row["config"]),
            device=row["device"], params=row["params"], created=row["created"], started=row["started"],
            ended=row["ended"], message=row["message"], checkpoint=row["checkpoint"],
            result=json.loads(row["result"]) if row["result"] else {})

    def recover_interrupted(self) -> int:
        """Mark runs left queued/running by a process that no longer runs them as interrupted."""
        rows = self._execute("SELECT id, owner, pid FROM runs WHERE status IN ('queued', 'running')").fetchall()
        dead = [r["id"] for r in rows if r["owner"] != PROCESS_TOKEN and not _pid_alive(r["pid"])]
        for run_id in dead:
            self.update_run(run_id, status="interrupted", ended=time.time(),
                            message="the process running it stopped; metrics up to the last flush are kept")
        return len(dead)

    # ------------------------------------------------------------ metrics
    def add_steps(self, run_id: int, rows: list[dict[str, float]]) -> None:
        if rows:
            self._write_many("INSERT OR REPLACE INTO step_metrics (run_id, step, epoch, loss, l2) VALUES (?,?,?,?,?)",
                             [(run_id, *(r[k] for k in STEP_FIELDS)) for r in rows])

    def add_epoch(self, run_id: int, row: dict[str, float]) -> None:
        self._write_many(f"INSERT OR REPLACE INTO epoch_metrics (run_id, {', '.join(EPOCH_FIELDS)}) "
                         f"VALUES (?{', ?' * len(EPOCH_FIELDS)})", [(run_id, *(row[k] for k in EPOCH_FIELDS))])

    def steps(self, run_id: int) -> list[dict[str, float]]:
        rows = self._execute(f"SELECT {', '.join(STEP_FIELDS)} FROM step_metrics WHERE run_id = ? ORDER BY step",
                             (run_id,)).fetchall()
        return [dict(r) for r in rows]

    def epochs(self, run_id: int) -> list[dict[str, float]]:
        rows = self._execute(f"SELECT {', '.join(EPOCH_FIELDS)} FROM epoch_metrics WHERE run_id = ? ORDER BY epoch",
                             (run_id,)).fetchall()
        return [dict(r) for r in rows]

    # ------------------------------------------------------------ checkpoints
    def checkpoint_path(self, run_id: int) -> Path:
        return self.checkpoints / f"run-{run_id}.pt"

    def save_checkpoint(self, run_id: int, payload: dict[str, Any]) -> Path:
        path = self.checkpoint_path(run_id)
        save_atomic(payload, path)
        return path

    # ------------------------------------------------------------ drawings (the user's own test set)
    def add_drawing(self, pixels: bytes, label: int) -> int:
        if len(pixels) != 28 * 28 or not 0 <= int(label) <= 9:
            raise ValueError("a drawing is 28x28 uint8 pixels with a label 0-9")
        cur = self._execute("INSERT INTO drawings (created, label, pixels) VALUES (?, ?, ?)",
                            (time.time(), int(label), pixels))
        return int(cur.lastrowid)

    def drawings(self) -> tuple[np.ndarray, np.ndarray]:
        """The kept drawings as (N, 28, 28) floats in [0, 1] and their (N,) labels."""
        rows = self._execute("SELECT label, pixels FROM drawings ORDER BY id").fetchall()
        digits = np.stack([np.frombuffer(r["pixels"], np.uint8).reshape(28, 28) for r in rows]) if rows \
            else np.zeros((0, 28, 28), np.uint8)
        return digits.astype(np.float32) / 255.0, np.array([r["label"] for r in rows], dtype=np.int64)


def save_atomic(payload: dict[str, Any], path: Path) -> None:
    """torch.save to a temporary file, fsync, then rename: readers never see half a file."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "wb") as f:
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _pid_alive(pid: int | None) -> bool:
    if not pid or pid == os.getpid():
        return False  # our own pid with another token: the old owner died and the pid was reused
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
