"""Run store: SQLite (WAL, schema-versioned) for runs, metrics, drawings and lessons; checkpoint files beside it.

Every write goes through one transaction helper (BEGIN IMMEDIATE ... COMMIT, ROLLBACK on any
exception); every read fetches its rows while holding the lock, so no cursor outlives it.
Checkpoints are not stored as paths: a run's file is always `checkpoints/run-<id>.pt` under the
home, so moving the home keeps every link and every save counts.
"""
from __future__ import annotations

import errno
import json
import os
import re
import socket
import sqlite3
import threading
import time
import unicodedata
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import settings
from .config import DataConfig, ModelConfig, RunConfig
from .errors import ACTIVE, PlaygroundError, RunStatus

STATUSES = tuple(RunStatus)  # kept for older importers; RunStatus is the source
__all__ = ["ACTIVE", "STATUSES", "HEARTBEAT_STALE", "PROCESS_TOKEN", "Drawing", "NewerSchema", "Refused", "RunRecord",
           "RunStore", "StoreBusy", "StoreError", "clean_name", "default_home", "encode_drawing", "save_atomic"]

# Identifies this process's runs, so a restart (even one that reuses a pid) can tell them apart.
PROCESS_TOKEN = uuid.uuid4().hex
HOST = socket.gethostname()
SCHEMA_VERSION = 1
HEARTBEAT_STALE = 15  # seconds without a beat after which a run's process counts as gone
TEMP_MAX_AGE = 60  # seconds: a younger .tmp may be another process's checkpoint being written
NAME_MAX = 120
INTERRUPTED_MESSAGE = "the process running it stopped; metrics up to the last flush are kept"

EPOCH_FIELDS = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "l2", "seconds", "samples_per_s")
STEP_FIELDS = ("step", "epoch", "loss", "l2")

_STATUS_LIST = ", ".join(f"'{s}'" for s in RunStatus)
_ACTIVE_LIST = ", ".join(f"'{s}'" for s in ACTIVE)
# Tables of schema version 1; {suffix} lets the migration build them beside the old ones.
RUNS_TABLE = f"""
CREATE TABLE runs{{suffix}} (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ({_STATUS_LIST})),
    config TEXT NOT NULL,
    device TEXT, params INTEGER,
    created REAL NOT NULL, started REAL, ended REAL,
    message TEXT, result TEXT,
    owner TEXT, pid INTEGER, host TEXT, heartbeat REAL,
    stop_requested INTEGER NOT NULL DEFAULT 0,
    executor TEXT, node TEXT
)"""
STEP_TABLE = """
CREATE TABLE step_metrics{suffix} (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    step INTEGER NOT NULL, epoch INTEGER NOT NULL, loss REAL, l2 REAL,
    PRIMARY KEY (run_id, step)
)"""
EPOCH_TABLE = """
CREATE TABLE epoch_metrics{suffix} (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    epoch INTEGER NOT NULL,
    train_loss REAL, train_acc REAL, val_loss REAL, val_acc REAL, l2 REAL, seconds REAL, samples_per_s REAL,
    PRIMARY KEY (run_id, epoch)
)"""
OTHER_TABLES = """
CREATE TABLE IF NOT EXISTS drawings (
    id INTEGER PRIMARY KEY AUTOINCREMENT, created REAL NOT NULL, label INTEGER NOT NULL, pixels BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS lessons (lesson TEXT PRIMARY KEY, guess TEXT, run_ids TEXT, done REAL);
CREATE INDEX IF NOT EXISTS runs_by_status ON runs (status);
"""
# Version 0 (before user_version) had the same runs columns up to pid, plus an absolute `checkpoint`.
V0_RUN_COLUMNS = "id, name, status, config, device, params, created, started, ended, message, result, owner, pid"

# A run counts as abandoned when it is not ours and its process is gone. Runs that never beat
# (queued ones, or rows from version 0) are judged by their pid alone, and only on their own host.
_ABANDONED = (f"status IN ({_ACTIVE_LIST}) AND owner IS NOT :token AND "
              "((coalesce(host, :host) = :host AND NOT pid_alive(pid)) OR heartbeat < :stale)")
_UPDATABLE = {"name", "status", "device", "params", "started", "ended", "message", "result",
              "host", "pid", "heartbeat", "executor", "node"}
# ANSI CSI / OSC sequences and two-character escapes, removed whole so no "[31m" is left behind.
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]?")
# Bidirectional overrides can make a name display as something else; they carry no text.
_BIDI = dict.fromkeys([0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)])


class StoreError(PlaygroundError, RuntimeError):
    """The run store cannot be opened or used; the message says why and what to do."""


class StoreBusy(StoreError):
    """Another connection held the database lock past the timeout: keep what you meant to write and retry."""


class NewerSchema(StoreError):
    """The database was written by a newer version of Playground; it is left untouched."""


class Refused(PlaygroundError, ValueError):
    """The store refuses a value or an action (an empty name, deleting a live run, a bad drawing)."""


def default_home() -> Path:
    return settings.current().home


def clean_name(name: str) -> str:
    """A run name as plain text: escapes and control characters out, whitespace collapsed, at most 120 chars."""
    text = _ANSI.sub("", str(name)).translate(_BIDI)
    text = "".join(" " if unicodedata.category(c) == "Cc" else c for c in text)
    text = " ".join(text.split())[:NAME_MAX].rstrip()
    if not text:
        raise Refused("a run name needs at least one visible character")
    return text


@dataclass
class RunRecord:
    """One stored run. `config` is None and `problem` says why when this version cannot read the row."""

    id: int
    name: str
    status: RunStatus
    config: RunConfig | None
    device: str | None = None
    params: int | None = None
    created: float = 0.0
    started: float | None = None
    ended: float | None = None
    message: str | None = None
    checkpoint: str | None = None  # absolute path of the run's checkpoint file when it exists
    result: dict[str, Any] = field(default_factory=dict)
    owner: str | None = None
    pid: int | None = None
    host: str | None = None
    heartbeat: float | None = None
    stop_requested: bool = False
    executor: str | None = None
    node: str | None = None
    problem: str | None = None

    @property
    def readable(self) -> bool:
        return self.problem is None

    @property
    def owned_here(self) -> bool:
        """This process created (and trains or queues) the run."""
        return self.owner == PROCESS_TOKEN


@dataclass(frozen=True)
class Drawing:
    """A kept drawing: pixels are (28, 28) floats in [0, 1]."""

    id: int
    created: float
    label: int
    pixels: np.ndarray


class RunStore:
    """Thread-safe access to one playground home (one connection, serialized by a lock)."""

    def __init__(self, home: str | Path | None = None, timeout: float = 15.0):
        self.home = Path(home) if home is not None else default_home()
        self.checkpoints = self.home / "checkpoints"
        self.db_path = self.home / "runs.db"
        self.timeout = timeout
        self._lock = threading.RLock()
        self._db: sqlite3.Connection | None = None
        try:
            self.checkpoints.mkdir(parents=True, exist_ok=True)
            self._db = self._connect(timeout)
            self._upgrade()
        except (sqlite3.Error, OSError, StoreError) as exc:
            if self._db is not None:
                self._db.close()
                self._db = None
            if isinstance(exc, NewerSchema):
                raise
            raise StoreError(f"cannot open the run store {self.db_path}: {exc}. The file may be corrupt or "
                             f"locked; move it aside or set PLAYGROUND_HOME to a fresh folder.") from exc
        self._remove_stale_temp_files()
        self.recover_interrupted()

    # ------------------------------------------------------------ low level
    def _connect(self, timeout: float) -> sqlite3.Connection:
        db = sqlite3.connect(self.db_path, timeout=timeout, check_same_thread=False, isolation_level=None)
        try:
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            if db.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                raise sqlite3.DatabaseError("integrity check failed")
            db.create_function("pid_alive", 1, _pid_alive)
        except BaseException:
            db.close()
            raise
        return db

    @contextmanager
    def _sqlite_errors(self) -> Iterator[None]:
        """SQLite's operational errors as StoreBusy / StoreError with a message a user can act on."""
        try:
            yield
        except sqlite3.OperationalError as exc:
            code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
            text = str(exc).lower()
            if code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) or "locked" in text:
                raise StoreBusy(f"the run store {self.db_path} is locked by another connection (waited "
                                f"{self.timeout:g} s); try again") from exc
            if code == sqlite3.SQLITE_FULL or "disk is full" in text:
                raise StoreError(f"disk full while writing {self.db_path}; free some space") from exc
            raise StoreError(f"the run store {self.db_path} failed: {exc}") from exc

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT under the lock; ROLLBACK on any exception. Every write uses it."""
        with self._lock, self._sqlite_errors():
            db = self._conn()
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
                db.execute("COMMIT")
            except BaseException:
                # SQLite may already have rolled back (disk full); a second ROLLBACK would then raise
                # "no transaction is active" and hide the real error.
                if db.in_transaction:
                    with suppress(sqlite3.Error):
                        db.execute("ROLLBACK")
                raise

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            raise StoreError(f"the run store {self.db_path} is closed")
        return self._db

    def _rows(self, sql: str, args: Iterable[Any] | dict[str, Any] = ()) -> list[sqlite3.Row]:
        """Run a read and fetch every row before the lock is released."""
        with self._lock, self._sqlite_errors():
            return self._conn().execute(sql, args if isinstance(args, dict) else tuple(args)).fetchall()

    def _row(self, sql: str, args: Iterable[Any] = ()) -> sqlite3.Row | None:
        rows = self._rows(sql, args)
        return rows[0] if rows else None

    def _execute(self, sql: str, args: Iterable[Any] = ()) -> int:
        """One write statement in its own transaction; returns the new row id (for INSERTs)."""
        with self._transaction() as db:
            return int(db.execute(sql, tuple(args)).lastrowid or 0)

    def _write_many(self, sql: str, rows: list[tuple]) -> None:
        with self._transaction() as db:
            db.executemany(sql, rows)

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    # ------------------------------------------------------------ schema
    def _upgrade(self) -> None:
        """Bring the file to SCHEMA_VERSION (creating or migrating it), then turn foreign keys on."""
        db = self._conn()
        if self._version(db) != SCHEMA_VERSION:
            db.execute("PRAGMA foreign_keys=OFF")  # a table rebuild must not cascade; only outside a transaction
            with self._transaction():
                version = self._version(db)  # again: another process may have migrated while we waited
                if version < SCHEMA_VERSION:
                    if _has_table(db, "runs"):
                        for step in range(version, SCHEMA_VERSION):
                            MIGRATIONS[step](db)
                    else:
                        _create_schema(db)
                    if db.execute("PRAGMA foreign_key_check").fetchall():
                        raise StoreError(f"migrating {self.db_path} left rows without their run")
                    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        db.execute("PRAGMA foreign_keys=ON")

    def _version(self, db: sqlite3.Connection) -> int:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise NewerSchema(f"the run store {self.db_path} was written by a newer Playground (schema {version}, "
                             f"this one reads {SCHEMA_VERSION}); update, or set PLAYGROUND_HOME to another folder.")
        return version

    @property
    def schema_version(self) -> int:
        return int(self._rows("PRAGMA user_version")[0][0])

    # ------------------------------------------------------------ runs
    def create_run(self, config: RunConfig, name: str, status: str = RunStatus.QUEUED) -> int:
        """Record a run owned by this process (token, pid, host); returns its id."""
        return self._execute(
            "INSERT INTO runs (name, status, config, created, owner, pid, host) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (clean_name(name), str(RunStatus(status)), config.to_json(), time.time(), PROCESS_TOKEN,
             os.getpid(), HOST))

    def update_run(self, run_id: int, **values: Any) -> None:
        # The checkpoint's path follows from the run id; older callers still pass it.
        values.pop("checkpoint", None)
        bad = set(values) - _UPDATABLE
        if bad:
            raise ValueError(f"cannot update {sorted(bad)}")
        if "status" in values:
            values["status"] = str(RunStatus(values["status"]))
        if "name" in values:
            values["name"] = clean_name(values["name"])
        if "result" in values:  # without a checkpoint path: it follows from the id, a stored one goes stale
            values["result"] = json.dumps({k: v for k, v in values["result"].items() if k != "checkpoint"})
        if values:
            cols = ", ".join(f"{k} = ?" for k in values)
            self._execute(f"UPDATE runs SET {cols} WHERE id = ?", (*values.values(), run_id))

    def rename(self, run_id: int, name: str) -> None:
        self.update_run(run_id, name=name)

    def get_run(self, run_id: int) -> RunRecord | None:
        """The run, readable or not (an unreadable one has config None and a `problem`)."""
        row = self._row("SELECT * FROM runs WHERE id = ?", (run_id,))
        return None if row is None else self._record(row)

    def list_runs(self, dataset: str | None = None, arch: str | None = None,
                  status: str | Iterable[str] | None = None, ids: Iterable[int] | None = None,
                  include_unreadable: bool = False) -> list[RunRecord]:
        """Runs, newest first, filtered in SQL; rows this version cannot read only on request."""
        where, args = _run_filters(dataset, arch, status, ids)
        records = [self._record(row) for row in self._rows(f"SELECT * FROM runs {where} ORDER BY id DESC", args)]
        return records if include_unreadable else [r for r in records if r.readable]

    def delete_run(self, run_id: int) -> None:
        """Delete a run that is not queued or running, its metrics (by cascade) and its checkpoint files."""
        with self._transaction() as db:
            row = db.execute("SELECT status FROM runs WHERE id = ?", (run_id,)).fetchone()
            if row is None:
                return
            if row["status"] in ACTIVE:
                raise Refused("stop the run before deleting it")
            db.execute("DELETE FROM runs WHERE id = ?", (run_id,))
        for path in [self.checkpoint_path(run_id), *self.checkpoints.glob(f".run-{run_id}.pt.*.tmp")]:
            path.unlink(missing_ok=True)

    def export_run(self, run_id: int) -> dict[str, Any]:
        """The raw row and its metrics as plain data (JSON-ready), readable by this version or not."""
        with self._lock:  # one consistent view of the row and its metrics
            row = self._row("SELECT * FROM runs WHERE id = ?", (run_id,))
            if row is None:
                raise Refused(f"there is no run #{run_id}")
            path = self.checkpoint_path(run_id)
            return {"schema_version": SCHEMA_VERSION, "run": dict(row), "epochs": self.epochs(run_id),
                    "steps": self.steps(run_id), "checkpoint": path.name if path.is_file() else None}

    def _record(self, row: sqlite3.Row) -> RunRecord:
        config, problem = _read_config(row["config"])
        result, result_problem = _read_result(row["result"])
        path = self.checkpoint_path(row["id"])
        return RunRecord(
            id=row["id"], name=row["name"], status=RunStatus(row["status"]), config=config,
            device=row["device"], params=row["params"], created=row["created"], started=row["started"],
            ended=row["ended"], message=row["message"], checkpoint=str(path) if path.is_file() else None,
            result=result, owner=row["owner"], pid=row["pid"], host=row["host"], heartbeat=row["heartbeat"],
            stop_requested=bool(row["stop_requested"]), executor=row["executor"], node=row["node"],
            problem=problem or result_problem)

    # ------------------------------------------------------------ runs other processes train
    def beat(self, run_id: int) -> None:
        """The run's process is alive: called by whoever trains it, every few seconds."""
        self._execute("UPDATE runs SET heartbeat = ? WHERE id = ?", (time.time(), run_id))

    def request_stop(self, run_id: int) -> None:
        """Ask the process training the run (this one or another) to stop it; it polls stop_requested."""
        self._execute("UPDATE runs SET stop_requested = 1 WHERE id = ?", (run_id,))

    def stop_requested(self, run_id: int) -> bool:
        row = self._row("SELECT stop_requested FROM runs WHERE id = ?", (run_id,))
        return bool(row and row["stop_requested"])

    def recover_interrupted(self) -> int:
        """Mark as interrupted the queued/running runs of other processes that are gone; returns how many.

        One read in the usual case (pages call this while polling); a write only when there is work.
        """
        args = {"token": PROCESS_TOKEN, "host": HOST, "stale": time.time() - HEARTBEAT_STALE}
        if not self._rows(f"SELECT 1 FROM runs WHERE {_ABANDONED} LIMIT 1", args):
            return 0
        with self._transaction() as db:
            cur = db.execute(f"UPDATE runs SET status = '{RunStatus.INTERRUPTED}', ended = :now, message = :msg "
                             f"WHERE {_ABANDONED}", {**args, "now": time.time(), "msg": INTERRUPTED_MESSAGE})
            return cur.rowcount

    # ------------------------------------------------------------ metrics
    def add_steps(self, run_id: int, rows: list[dict[str, float]]) -> None:
        if rows:
            self._write_many("INSERT OR REPLACE INTO step_metrics (run_id, step, epoch, loss, l2) VALUES (?,?,?,?,?)",
                             [(run_id, *(r[k] for k in STEP_FIELDS)) for r in rows])

    def add_epoch(self, run_id: int, row: dict[str, float]) -> None:
        self._write_many(f"INSERT OR REPLACE INTO epoch_metrics (run_id, {', '.join(EPOCH_FIELDS)}) "
                         f"VALUES (?{', ?' * len(EPOCH_FIELDS)})", [(run_id, *(row[k] for k in EPOCH_FIELDS))])

    def steps(self, run_id: int) -> list[dict[str, float]]:
        rows = self._rows(f"SELECT {', '.join(STEP_FIELDS)} FROM step_metrics WHERE run_id = ? ORDER BY step",
                          (run_id,))
        return [dict(r) for r in rows]

    def epochs(self, run_id: int) -> list[dict[str, float]]:
        rows = self._rows(f"SELECT {', '.join(EPOCH_FIELDS)} FROM epoch_metrics WHERE run_id = ? ORDER BY epoch",
                          (run_id,))
        return [dict(r) for r in rows]

    # ------------------------------------------------------------ checkpoints
    def checkpoint_path(self, run_id: int) -> Path:
        """Where run `run_id`'s checkpoint lives; derived, never stored, so moving the home keeps it."""
        return self.checkpoints / f"run-{int(run_id)}.pt"

    def save_checkpoint(self, run_id: int, payload: dict[str, Any]) -> Path:
        """Write the run's checkpoint atomically; it is linked to the run as soon as it exists."""
        path = self.checkpoint_path(run_id)
        try:
            save_atomic(payload, path)
        except (OSError, RuntimeError) as exc:
            if _disk_full(exc):
                raise StoreError(f"disk full while writing {path}; free some space") from exc
            raise
        return path

    def _remove_stale_temp_files(self) -> None:
        """Remove checkpoint temp files a killed writer left; young ones may still be being written."""
        for tmp in self.checkpoints.glob(".run-*.tmp"):
            try:
                if time.time() - tmp.stat().st_mtime > TEMP_MAX_AGE:
                    tmp.unlink()
            except OSError:
                pass  # gone meanwhile, or not ours to remove: harmless either way

    # ------------------------------------------------------------ drawings (the user's own test set)
    def add_drawing(self, digit: np.ndarray | bytes, label: int) -> int:
        """Keep a drawing: (28, 28) floats in [0, 1] or uint8, or 784 raw bytes; returns its id."""
        return self._execute("INSERT INTO drawings (created, label, pixels) VALUES (?, ?, ?)",
                             (time.time(), _label(label), encode_drawing(digit)))

    def list_drawings(self) -> list[Drawing]:
        rows = self._rows("SELECT id, created, label, pixels FROM drawings ORDER BY id")
        return [Drawing(r["id"], r["created"], r["label"], _decode_pixels(r["pixels"])) for r in rows]

    def relabel_drawing(self, drawing_id: int, label: int) -> None:
        self._execute("UPDATE drawings SET label = ? WHERE id = ?", (_label(label), drawing_id))

    def delete_drawing(self, drawing_id: int) -> None:
        self._execute("DELETE FROM drawings WHERE id = ?", (drawing_id,))

    def drawings(self) -> tuple[np.ndarray, np.ndarray]:
        """The kept drawings as (N, 28, 28) floats in [0, 1] and their (N,) labels."""
        rows = self._rows("SELECT label, pixels FROM drawings ORDER BY id")
        digits = np.stack([_decode_pixels(r["pixels"]) for r in rows]) if rows \
            else np.zeros((0, 28, 28), np.float32)
        return digits, np.array([r["label"] for r in rows], dtype=np.int64)

    # ------------------------------------------------------------ lessons (the Learn page's progress)
    def save_lesson(self, lesson: str, guess: str | None = None, run_ids: Iterable[int] | None = None,
                    done: float | bool | None = None) -> None:
        """Create or update a lesson's progress; only the fields given change. done=True means now."""
        values: dict[str, Any] = {}
        if guess is not None:
            values["guess"] = str(guess)
        if run_ids is not None:
            values["run_ids"] = json.dumps([int(i) for i in run_ids])
        if done is not None:
            values["done"] = time.time() if done is True else float(done)
        cols = ", ".join(["lesson", *values])
        marks = ", ".join("?" * (1 + len(values)))
        action = "UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in values) if values else "NOTHING"
        self._execute(f"INSERT INTO lessons ({cols}) VALUES ({marks}) ON CONFLICT (lesson) DO {action}",
                      (str(lesson), *values.values()))

    def lessons(self) -> dict[str, dict[str, Any]]:
        """Every lesson's progress: {lesson: {"guess", "run_ids", "done"}}."""
        return {r["lesson"]: {"guess": r["guess"], "run_ids": _json_list(r["run_ids"]), "done": r["done"]}
                for r in self._rows("SELECT lesson, guess, run_ids, done FROM lessons ORDER BY lesson")}


# ------------------------------------------------------------ schema and migrations
def _has_table(db: sqlite3.Connection, name: str) -> bool:
    return db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)).fetchone() is not None


def _create_schema(db: sqlite3.Connection) -> None:
    for table in (RUNS_TABLE, STEP_TABLE, EPOCH_TABLE):
        db.execute(table.format(suffix=""))
    _run_script(db, OTHER_TABLES)


def _run_script(db: sqlite3.Connection, script: str) -> None:
    # executescript would COMMIT the open transaction first; statement by statement keeps it atomic.
    for statement in filter(str.strip, script.split(";")):
        db.execute(statement)


def _migrate_0_to_1(db: sqlite3.Connection) -> None:
    """Rebuild version 0's tables with foreign keys, the status CHECK and the cross-process columns.

    The rows are kept; metric rows of runs deleted long ago (nothing could show them) are not, and
    the absolute checkpoint column goes: the file's path follows from the run id.
    """
    seq = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'runs'").fetchone()
    db.execute(RUNS_TABLE.format(suffix="_v1"))
    status = f"CASE WHEN status IN ({_STATUS_LIST}) THEN status ELSE '{RunStatus.INTERRUPTED}' END"
    db.execute(f"INSERT INTO runs_v1 ({V0_RUN_COLUMNS}) SELECT {V0_RUN_COLUMNS.replace('status', status, 1)} "
               f"FROM runs")
    for table, template in (("step_metrics", STEP_TABLE), ("epoch_metrics", EPOCH_TABLE)):
        db.execute(template.format(suffix="_v1"))
        db.execute(f"INSERT INTO {table}_v1 SELECT * FROM {table} WHERE run_id IN (SELECT id FROM runs)")
    for table in ("step_metrics", "epoch_metrics", "runs"):
        db.execute(f"DROP TABLE {table}")
        db.execute(f"ALTER TABLE {table}_v1 RENAME TO {table}")
    if seq is not None:  # ids of deleted runs are never handed out again (their files may linger)
        db.execute("UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = 'runs'", (seq[0],))
    _run_script(db, OTHER_TABLES)


MIGRATIONS = {0: _migrate_0_to_1}  # from version N to N + 1


# ------------------------------------------------------------ rows
def _run_filters(dataset: str | None, arch: str | None, status: str | Iterable[str] | None,
                 ids: Iterable[int] | None) -> tuple[str, list[Any]]:
    """A WHERE clause and its arguments; a config that is not JSON matches no dataset or arch."""
    # A key left out of a stored config means its default, as RunConfig.from_dict reads it.
    setting = "CASE WHEN json_valid(config) THEN coalesce(json_extract(config, '{}'), ?) END = ?"
    clauses: list[str] = []
    args: list[Any] = []
    if dataset:
        clauses.append(setting.format("$.data.dataset"))
        args += [DataConfig.dataset, dataset]
    if arch:
        clauses.append(setting.format("$.model.arch"))
        args += [ModelConfig.arch, arch]
    if status is not None:
        wanted = [str(RunStatus(s)) for s in ([status] if isinstance(status, str) else status)]
        clauses.append(f"status IN ({', '.join('?' * len(wanted))})" if wanted else "0")
        args += wanted
    if ids is not None:
        wanted_ids = [int(i) for i in ids]
        clauses.append(f"id IN ({', '.join('?' * len(wanted_ids))})" if wanted_ids else "0")
        args += wanted_ids
    return ("WHERE " + " AND ".join(clauses)) if clauses else "", args


def _read_config(text: str) -> tuple[RunConfig | None, str | None]:
    try:
        return RunConfig.from_json(text), None
    except (ValueError, TypeError, KeyError, AttributeError) as exc:  # JSON errors are ValueErrors
        return None, f"its settings cannot be read by this version: {exc}"


def _read_result(text: str | None) -> tuple[dict[str, Any], str | None]:
    if not text:
        return {}, None
    try:
        result = json.loads(text)
    except ValueError as exc:
        return {}, f"its result cannot be read: {exc}"
    return (result, None) if isinstance(result, dict) else ({}, "its result is not a mapping")


def _json_list(text: str | None) -> list[Any]:
    try:
        value = json.loads(text) if text else []
    except ValueError:
        return []
    return value if isinstance(value, list) else []


# ------------------------------------------------------------ drawings
def encode_drawing(digit: np.ndarray | bytes | bytearray | memoryview) -> bytes:
    """784 uint8 bytes from raw bytes, a uint8/integer array or floats in [0, 1] (as the Draw page makes)."""
    if isinstance(digit, (bytes, bytearray, memoryview)):
        data = bytes(digit)
        if len(data) != 28 * 28:
            raise Refused(f"a drawing is 28x28 = 784 bytes, not {len(data)}")
        return data
    a = np.asarray(digit)
    if a.shape not in ((28, 28), (784,)):
        raise Refused(f"a drawing is 28x28 pixels, not {a.shape}")
    if np.issubdtype(a.dtype, np.floating):
        # A small overshoot comes from resampling; a 0-255 float image is a caller's mistake.
        if not np.isfinite(a).all() or a.min() < -1e-3 or a.max() > 1 + 1e-3:
            raise Refused("a drawing's float pixels must be finite and in [0, 1]")
        a = (np.clip(a, 0.0, 1.0) * 255).round()
    elif not np.issubdtype(a.dtype, np.integer) or a.min() < 0 or a.max() > 255:
        raise Refused("a drawing's pixels must be floats in [0, 1] or integers in 0-255")
    return a.astype(np.uint8).tobytes()


def _decode_pixels(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, np.uint8).reshape(28, 28).astype(np.float32) / 255.0


def _label(label: int) -> int:
    try:
        value = int(label)
    except (TypeError, ValueError):
        value = -1
    if not 0 <= value <= 9:
        raise Refused(f"a drawing's label is a digit 0-9, not {label!r}")
    return value


# ------------------------------------------------------------ files and processes
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


def _disk_full(exc: BaseException) -> bool:
    """ENOSPC as the OS or as torch's zip writer reports it ("enforce fail", "file write failed")."""
    if isinstance(exc, OSError):
        return exc.errno in (errno.ENOSPC, errno.EDQUOT)
    text = str(exc)
    return "enforce fail" in text or "file write failed" in text


def _pid_alive(pid: int | None) -> bool:
    if not pid or pid == os.getpid():
        return False  # our own pid with another token: the old owner died and the pid was reused
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):  # no such process, or no pid this machine can have
        return False
    except PermissionError:  # alive, under another user
        return True
    return True
