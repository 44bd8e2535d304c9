"""Runs, their metrics and liveness, and their checkpoint files.

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
import stat
import time
import unicodedata
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..config import DataConfig, ModelConfig, RunConfig, validate
from ..engine.metrics import Snapshot, chart_rows  # the shape pollers read, whoever trains
from ..errors import ACTIVE, RunStatus
from .database import Database, pid_alive
from .schema import ACTIVE_LIST, SAVED_BEFORE_V3, SCHEMA_VERSION, Refused, RunDeleted, StoreError

# Identifies this process's runs, so a restart (even one that reuses a pid) can tell them apart.
PROCESS_TOKEN = uuid.uuid4().hex
HOST = socket.gethostname()
# Seconds without a beat after which a run's process counts as gone: well above a beat's interval (5 s)
# plus a store write that waits out the busy timeout (15 s), so a slow write never looks like a death.
HEARTBEAT_STALE = 60
TEMP_MAX_AGE = 60  # seconds: a younger .tmp may be another process's checkpoint being written
NAME_MAX = 120
INTERRUPTED_MESSAGE = "the process running it stopped; metrics up to the last flush are kept"

EPOCH_FIELDS = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "l2", "seconds", "samples_per_s")
STEP_FIELDS = ("step", "epoch", "loss", "l2", "lr")

# A run counts as abandoned when it is not ours and its process is gone. Runs that never beat
# (queued ones, or rows from version 0) are judged by their pid alone, and only on their own host.
# Runs another process owns, still queued or running: the candidates recover_interrupted judges.
_OTHERS = f"status IN ({ACTIVE_LIST}) AND owner IS NOT :token"
_UPDATABLE = {"name", "status", "device", "params", "started", "ended", "message", "result",
              "host", "pid", "heartbeat", "executor", "node"}
# ANSI CSI / OSC sequences and two-character escapes, removed whole so no "[31m" is left behind.
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]?")
# Bidirectional overrides can make a name display as something else; they carry no text.
_BIDI = dict.fromkeys([0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)])


def clean_name(name: str) -> str:
    """A run name as plain text: escapes and control characters out, whitespace collapsed, at most 120 chars."""
    text = _ANSI.sub("", str(name)).translate(_BIDI)
    text = "".join(" " if unicodedata.category(c) == "Cc" else c for c in text)
    text = " ".join(text.split())[:NAME_MAX].rstrip()
    if not any(_visible(c) for c in text):  # zero-width spaces, joiners, fillers, combining marks alone
        raise Refused("a run name needs at least one visible character")
    return text


# Characters that draw nothing on their own: format (Cf: U+200B, U+2060, U+FEFF, soft hyphen), marks
# (M*: combining accents), separators, and the blank "letters" Unicode lists as letters (Hangul fillers,
# the braille blank).
_BLANK = frozenset("\u115f\u1160\u3164\uffa0\u2800")


def _visible(c: str) -> bool:
    return c not in _BLANK and unicodedata.category(c)[0] not in ("C", "M", "Z")


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



class RunTables(Database):
    """The runs table, the metric tables and the checkpoint folder of one home."""

    def create_run(self, config: RunConfig, name: str, status: str = RunStatus.QUEUED) -> int:
        """Record a run owned by this process (token, pid, host); returns its id."""
        return self._execute(
            "INSERT INTO runs (name, status, config, created, owner, pid, host) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (clean_name(name), str(RunStatus(status)), config.to_json(), time.time(), PROCESS_TOKEN,
             os.getpid(), HOST))

    def new_study(self, at_least: int = 1) -> int:
        """A study number no other session or process gets: one past the last one handed out, and at least
        `at_least` (past the numbers runs' names carry), read and written in one transaction."""
        with self._transaction() as db:
            row = db.execute("SELECT value FROM counters WHERE name = 'study'").fetchone()
            number = max(int(at_least), row[0] + 1 if row else 1)
            db.execute("INSERT OR REPLACE INTO counters (name, value) VALUES ('study', ?)", (number,))
        return number

    def update_run(self, run_id: int, **values: Any) -> None:
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
            path = self.checkpoint_file(run_id, row["created"], row["saved"])
            return {"schema_version": SCHEMA_VERSION, "run": dict(row), "epochs": self.epochs(run_id),
                    "steps": self.steps(run_id), "checkpoint": path.name if path else None}

    def _record(self, row: sqlite3.Row) -> RunRecord:
        config, problem = _read_config(row["config"])
        result, result_problem = _read_result(row["result"])
        path = self.checkpoint_file(row["id"], row["created"], row["saved"])
        return RunRecord(
            id=row["id"], name=row["name"], status=RunStatus(row["status"]), config=config,
            device=row["device"], params=row["params"], created=row["created"], started=row["started"],
            ended=row["ended"], message=row["message"], checkpoint=str(path) if path else None,
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

    def must_stop(self, run_id: int) -> bool:
        """stop_requested for the run's own trainer: RunDeleted when the run is no longer in the store."""
        row = self._row("SELECT stop_requested FROM runs WHERE id = ?", (run_id,))
        if row is None:
            raise self._deleted(run_id)
        return bool(row["stop_requested"])

    def _deleted(self, run_id: int) -> RunDeleted:
        return RunDeleted(f"run #{run_id} was deleted from {self.db_path} (by another process) while it trained; "
                          "it was stopped, and nothing more of it is kept")

    def recover_interrupted(self) -> int:
        """Mark as interrupted the queued/running runs of other processes that are gone; returns how many.

        On this host: its pid is gone, or (a reused pid) its heartbeat stopped by this host's clock. On
        another host, whose clock may be off by any amount: its heartbeat value stopped changing for
        HEARTBEAT_STALE seconds of *this* viewer's clock. One read in the usual case (pages call this
        while polling); a write only when there is work.
        """
        args = {"token": PROCESS_TOKEN}
        gone = [row["id"] for row in self._rows(f"SELECT id, host, pid, heartbeat FROM runs WHERE {_OTHERS}", args)
                if self._gone(row)]
        if not gone:
            return 0
        marks = ", ".join("?" * len(gone))
        with self._transaction() as db:
            cur = db.execute(f"UPDATE runs SET status = '{RunStatus.INTERRUPTED}', ended = ?, message = ? "
                             f"WHERE id IN ({marks}) AND {_OTHERS.replace(':token', '?')}",
                             (time.time(), INTERRUPTED_MESSAGE, *gone, PROCESS_TOKEN))
            return cur.rowcount

    def _gone(self, row: sqlite3.Row) -> bool:
        if (row["host"] or HOST) == HOST:
            return not pid_alive(row["pid"]) or (row["heartbeat"] is not None
                                                 and row["heartbeat"] < time.time() - HEARTBEAT_STALE)
        seen = self._beats_seen  # run id -> (its heartbeat, when this viewer first saw that value)
        beat, now = row["heartbeat"], self.clock()
        if row["id"] not in seen or seen[row["id"]][0] != beat:
            seen[row["id"]] = (beat, now)
            return False
        return now - seen[row["id"]][1] >= HEARTBEAT_STALE

    @staticmethod
    def clock() -> float:
        """This viewer's own clock for judging other hosts' heartbeats (monotonic: never compared across hosts)."""
        return time.monotonic()

    # ------------------------------------------------------------ metrics
    def add_steps(self, run_id: int, rows: list[dict[str, float]]) -> None:
        if rows:
            # A row without "lr" (from a worker of an earlier version) is stored without one, as older rows are.
            self._write_rows(run_id, "INSERT OR REPLACE INTO step_metrics (run_id, step, epoch, loss, l2, lr) "
                             "VALUES (?,?,?,?,?,?)",
                             [(run_id, r["step"], r["epoch"], r["loss"], r["l2"], r.get("lr")) for r in rows])

    def add_epoch(self, run_id: int, row: dict[str, float]) -> None:
        self._write_rows(run_id, f"INSERT OR REPLACE INTO epoch_metrics (run_id, {', '.join(EPOCH_FIELDS)}) "
                         f"VALUES (?{', ?' * len(EPOCH_FIELDS)})", [(run_id, *(row[k] for k in EPOCH_FIELDS))])

    def _write_rows(self, run_id: int, sql: str, rows: list[tuple]) -> None:
        """A run's metric rows; RunDeleted (not a raw FOREIGN KEY error) when the run is gone."""
        try:
            self._write_many(sql, rows)
        except sqlite3.IntegrityError:
            if self._row("SELECT 1 FROM runs WHERE id = ?", (run_id,)) is None:
                raise self._deleted(run_id) from None
            raise

    def steps(self, run_id: int) -> list[dict[str, float]]:
        rows = self._rows(f"SELECT {', '.join(STEP_FIELDS)} FROM step_metrics WHERE run_id = ? ORDER BY step",
                          (run_id,))
        return [dict(r) for r in rows]

    def epochs(self, run_id: int) -> list[dict[str, float]]:
        rows = self._rows(f"SELECT {', '.join(EPOCH_FIELDS)} FROM epoch_metrics WHERE run_id = ? ORDER BY epoch",
                          (run_id,))
        return [dict(r) for r in rows]

    def snapshot(self, run_id: int, steps_from: int = 0) -> Snapshot | None:
        """A run's state rebuilt from its rows, as a live run's stream would show it (None if unknown)."""
        rec = self.get_run(run_id)
        if rec is None or rec.config is None:
            return None
        # Another process's run may have died since anyone looked.
        if RunStatus(rec.status).active and self.recover_interrupted():
            rec = self.get_run(run_id) or rec
        epochs = self.epochs(run_id)
        steps = self.steps(run_id)
        total_epochs = rec.config.optim.epochs
        done = int(epochs[-1]["epoch"]) if epochs else 0  # rows may skip epochs (eval_every)
        per_epoch = (len(steps) // done) if done and rec.status == RunStatus.FINISHED else 0
        return Snapshot(status=rec.status, message=rec.message, epoch=done, epochs=total_epochs,
                        step=len(steps), total_steps=per_epoch * total_epochs, steps_per_epoch=per_epoch,
                        started=rec.started, ended=rec.ended, samples_per_s=rec.result.get("samples_per_s"),
                        step_rows=chart_rows([r for r in steps if r["step"] >= steps_from]), epoch_rows=epochs,
                        result=rec.result)

    # ------------------------------------------------------------ checkpoints
    def checkpoint_path(self, run_id: int) -> Path:
        """Where run `run_id`'s checkpoint lives; derived, never stored, so moving the home keeps it."""
        return self.checkpoints / f"run-{int(run_id)}.pt"

    def checkpoint_file(self, run_id: int, created: float | None = None,
                        saved: str | None = SAVED_BEFORE_V3) -> Path | None:
        """The run's checkpoint when it is one: a regular file (not a link) inside the home that the run itself
        wrote (`saved`, runs.saved: its size, and not older than the write; None: the run never wrote one). An
        old run's file, left when runs.db was moved aside, is not this run's. Rows from before version 3 keep
        the rule of then: not older than the run."""
        if saved is None:
            return None
        path = self.checkpoint_path(run_id)
        try:
            st = path.lstat()
            inside = path.resolve(strict=True).is_relative_to(self.home.resolve())
        except (OSError, RuntimeError):  # missing, unreadable, or a loop of links
            return None
        if not stat.S_ISREG(st.st_mode) or not inside:
            return None
        # Both times come from the clock of the process that owns the home; a second of slack for
        # file systems (and copies, tar) that round mtimes. A copy of the home keeps a file's size.
        if saved != SAVED_BEFORE_V3:
            size, _, written = saved.partition(":")
            ok = size == str(st.st_size) and written.isdigit() and st.st_mtime >= int(written) / 1e9 - 1.0
            return path if ok else None
        return path if created is None or st.st_mtime >= created - 1.0 else None

    def save_checkpoint(self, run_id: int, payload: dict[str, Any]) -> Path:
        """Write the run's checkpoint atomically and tie it to the run (runs.saved: its size and time); a run
        deleted meanwhile gets no file (RunDeleted)."""
        path = self.checkpoint_path(run_id)
        try:
            save_atomic(payload, path)
        except (OSError, RuntimeError) as exc:
            if _disk_full(exc):
                self.release_reserve()  # the run's final status still has room to reach the store
                raise StoreError(f"disk full while writing {path}; free some space") from exc
            raise
        st = path.stat()
        with self._transaction() as db:
            tied = db.execute("UPDATE runs SET saved = ? WHERE id = ?", (f"{st.st_size}:{st.st_mtime_ns}", run_id))
            if tied.rowcount == 0:
                path.unlink(missing_ok=True)
                raise self._deleted(run_id)
        return path

    def _remove_stale_temp_files(self) -> None:
        """Remove checkpoint temp files a killed writer left; young ones may still be being written."""
        for tmp in self.checkpoints.glob(".run-*.tmp"):
            try:
                if time.time() - tmp.stat().st_mtime > TEMP_MAX_AGE:
                    tmp.unlink()
            except OSError:
                pass  # gone meanwhile, or not ours to remove: harmless either way

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
    """The row's config, validated as a new run's would be: a row that parses but holds what this version
    cannot train or show (a newer dataset, `hidden` as text) is unreadable, never a crash on a page."""
    try:
        return validate(RunConfig.from_json(text)), None
    except (ValueError, TypeError, KeyError, AttributeError) as exc:  # JSON and config errors are ValueErrors
        return None, f"its settings cannot be read by this version: {exc}"


def _read_result(text: str | None) -> tuple[dict[str, Any], str | None]:
    if not text:
        return {}, None
    try:
        result = json.loads(text)
    except ValueError as exc:
        return {}, f"its result cannot be read: {exc}"
    if not isinstance(result, dict):
        return {}, "its result is not a mapping"
    odd = [k for k in ("test_acc", "test_loss", "train_seconds") if result.get(k) is not None
           and (isinstance(result[k], bool) or not isinstance(result[k], (int, float)))]
    return (result, None) if not odd else ({}, f"its result's {', '.join(odd)} is not a number")


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
