"""The store's schema: version-1 tables and the migrations since, the errors a store raises."""
from __future__ import annotations

import sqlite3

from ..errors import ACTIVE, PlaygroundError, RunStatus

SCHEMA_VERSION = 5  # 2: step_metrics.lr, the learning rate of each step (schedules); 3: runs.saved;
# 4: collections (classes of your own) and drawings.collection; 5: counters (study numbers)
# runs.saved of rows from before version 3: their files are judged as then (not older than the run).
SAVED_BEFORE_V3 = "before version 3"

STATUS_LIST = ", ".join(f"'{s}'" for s in RunStatus)
ACTIVE_LIST = ", ".join(f"'{s}'" for s in ACTIVE)
# Tables of schema version 1; {suffix} lets the migration build them beside the old ones.
RUNS_TABLE = f"""
CREATE TABLE runs{{suffix}} (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ({STATUS_LIST})),
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

class StoreError(PlaygroundError, RuntimeError):
    """The run store cannot be opened or used; the message says why and what to do."""


class StoreBusy(StoreError):
    """Another connection held the database lock past the timeout: keep what you meant to write and retry."""


class NewerSchema(StoreError):
    """The database was written by a newer version of Playground; it is left untouched."""


class RunDeleted(StoreError):
    """The run was deleted from the store (by another process) while it trained or was being recorded."""


class Refused(PlaygroundError, ValueError):
    """The store refuses a value or an action (an empty name, deleting a live run, a bad drawing)."""


def has_table(db: sqlite3.Connection, name: str) -> bool:
    return db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)).fetchone() is not None


def create_schema(db: sqlite3.Connection) -> None:
    """A new store: version 1's tables, then the migrations since, so a fresh store is a migrated one exactly."""
    for table in (RUNS_TABLE, STEP_TABLE, EPOCH_TABLE):
        db.execute(table.format(suffix=""))
    _run_script(db, OTHER_TABLES)
    for version in range(1, SCHEMA_VERSION):
        MIGRATIONS[version](db)


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
    status = f"CASE WHEN status IN ({STATUS_LIST}) THEN status ELSE '{RunStatus.INTERRUPTED}' END"
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


def _migrate_1_to_2(db: sqlite3.Connection) -> None:
    """Each step's learning rate (it moves under a schedule); rows stored before have none (NULL)."""
    db.execute("ALTER TABLE step_metrics ADD COLUMN lr REAL")


def _migrate_2_to_3(db: sqlite3.Connection) -> None:
    """runs.saved: the size and time of the checkpoint the run itself last wrote ("<bytes>:<mtime ns>"), so a
    file left by another store's run of the same number, or none written, is never shown as this run's."""
    db.execute("ALTER TABLE runs ADD COLUMN saved TEXT")
    db.execute("UPDATE runs SET saved = ?", (SAVED_BEFORE_V3,))


def _migrate_3_to_4(db: sqlite3.Connection) -> None:
    """Classes of your own (issue 33): a collection names its classes; a drawing kept in one says which
    (NULL: a digit, as every drawing kept before)."""
    db.execute("CREATE TABLE IF NOT EXISTS collections (name TEXT PRIMARY KEY, classes TEXT NOT NULL, "
               "created REAL NOT NULL)")
    if "collection" not in {row[1] for row in db.execute("PRAGMA table_info(drawings)")}:  # as a step re-run
        db.execute("ALTER TABLE drawings ADD COLUMN collection TEXT")


def _migrate_4_to_5(db: sqlite3.Connection) -> None:
    """Counters handed out in one transaction (study numbers: two sessions launching at once got the same one
    when each took one more than the runs' names carried)."""
    db.execute("CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL)")


MIGRATIONS = {0: _migrate_0_to_1, 1: _migrate_1_to_2, 2: _migrate_2_to_3, 3: _migrate_3_to_4,
              4: _migrate_4_to_5}  # N to N + 1
