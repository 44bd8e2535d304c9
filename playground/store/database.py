"""One SQLite connection to a home's runs.db: opening, the schema upgrade, transactions and reads.

Every write goes through one transaction helper (BEGIN IMMEDIATE ... COMMIT, ROLLBACK on any
exception); every read fetches its rows while holding the lock, so no cursor outlives it.
"""
from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from .. import settings
from .schema import MIGRATIONS, SCHEMA_VERSION, NewerSchema, StoreBusy, StoreError, create_schema, has_table

# Space held back for the end of runs: on a full disk, SQLite cannot even append the page of a run's final status
# to its log, and the run stayed "running" for ever. The first disk-full error frees this file, so the final
# status ("failed: disk full ...") still reaches the store; the next open of the store takes it back.
RESERVE_NAME, RESERVE_BYTES = ".space-for-final-status", 256 * 1024
log = logging.getLogger(__name__)


def default_home() -> Path:
    return settings.current().home


class Database:
    """The connection, serialized by a lock; the store's parts (runs, drawings, lessons) build on it."""

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
            if not self._writable():
                raise StoreError(f"cannot write to the run store in {self.home}: the folder or {self.db_path.name} "
                                 "is read-only (the file itself is fine; do not move it aside). Make it writable, "
                                 "or set PLAYGROUND_HOME to a folder you can write.") from exc
            raise StoreError(f"cannot open the run store {self.db_path}: {exc}. The file may be corrupt or "
                             f"locked; move it aside or set PLAYGROUND_HOME to a fresh folder.") from exc

    def _writable(self) -> bool:
        """Whether this process can write the home and its database (a read-only home is not a corrupt one)."""
        targets = [self.home, *(p for p in (self.db_path, self.checkpoints) if p.exists())]
        return all(os.access(p, os.W_OK) for p in targets) if self.home.exists() else True

    # ------------------------------------------------------------ low level
    def _connect(self, timeout: float) -> sqlite3.Connection:
        db = sqlite3.connect(self.db_path, timeout=timeout, check_same_thread=False, isolation_level=None)
        try:
            db.row_factory = sqlite3.Row
            # Read-only checks first: a newer or corrupt file is refused before WAL mode writes its header
            # and creates -wal/-shm files, so "left untouched" stays true.
            self._version(db)
            if db.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                raise sqlite3.DatabaseError("integrity check failed")
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.create_function("pid_alive", 1, pid_alive)
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
                self.release_reserve()
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

    def keep_reserve(self) -> None:
        """Hold RESERVE_BYTES in the home for final statuses (see RESERVE_NAME); quietly none when it cannot."""
        path = self.home / RESERVE_NAME
        if path.is_file() and path.stat().st_size >= RESERVE_BYTES:
            return
        tmp = path.with_name(f"{RESERVE_NAME}.{os.getpid()}.tmp")
        try:
            with open(tmp, "wb") as f:
                f.write(bytes(RESERVE_BYTES))  # written, not sparse: the blocks are really held
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except OSError:
            pass  # a full or read-only disk: no reserve until the next open
        finally:
            with suppress(OSError):
                tmp.unlink(missing_ok=True)

    def release_reserve(self) -> None:
        """The disk is full: free the reserve so this process's final writes have room."""
        with suppress(OSError):
            (self.home / RESERVE_NAME).unlink()
            log.warning("disk full: freed %d KB held in %s for the runs' final status", RESERVE_BYTES // 1024,
                        self.home)

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
                    if has_table(db, "runs"):
                        for step in range(version, SCHEMA_VERSION):
                            MIGRATIONS[step](db)
                    else:
                        create_schema(db)
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


def pid_alive(pid: int | None) -> bool:
    if not pid or pid == os.getpid():
        return False  # our own pid with another token: the old owner died and the pid was reused
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):  # no such process, or no pid this machine can have
        return False
    except PermissionError:  # alive, under another user
        return True
    return True
