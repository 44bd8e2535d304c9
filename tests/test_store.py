"""The run store: transactions, schema and migration, checkpoints, filters, unreadable rows,
cross-process runs, machine faults, names, drawings and lessons. No training: rows are written by hand."""
import errno
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import torch

import playground.store as store_mod
from playground.engine.publish import checkpoint_payload
from playground.errors import PlaygroundError, RunStatus
from playground.inference import load_checkpoint
from playground.models import build_model
from playground.store import HEARTBEAT_STALE, PROCESS_TOKEN, NewerSchema, Refused, RunStore, StoreBusy, StoreError

from conftest import ROOT, tiny

# The schema every runs.db had before it was versioned (user_version 0), verbatim.
OLD_SCHEMA = """
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
EPOCH = {"epoch": 1, "train_loss": 1.0, "train_acc": 0.5, "val_loss": 1.1, "val_acc": 0.4, "l2": 0.0,
         "seconds": 1.0, "samples_per_s": 10.0}


def steps(n: int, start: int = 1) -> list[dict]:
    return [{"step": i, "epoch": 1, "loss": 2.0 / i, "l2": 0.0} for i in range(start, start + n)]


def save_tiny_checkpoint(store: RunStore, run_id: int):
    cfg = tiny(hidden=8)
    return store.save_checkpoint(run_id, checkpoint_payload(cfg, build_model(cfg), {}, run_id))


def raw(store: RunStore, sql: str, args=()) -> None:
    """A write behind the API's back (a row from a newer version, another process's bookkeeping)."""
    store._execute(sql, args)


# ------------------------------------------------------------------ transactions and reads
def write_statements_outside_a_transaction(store: RunStore, action) -> list[str]:
    trace: list[str] = []
    store._db.set_trace_callback(trace.append)
    try:
        action()
    finally:
        store._db.set_trace_callback(None)
    loose, inside = [], False
    for sql in (s.strip().upper() for s in trace):
        if sql.startswith("BEGIN IMMEDIATE"):
            inside = True
        elif sql.startswith(("COMMIT", "ROLLBACK")):
            inside = False
        elif sql.startswith(("INSERT", "UPDATE", "DELETE", "REPLACE")) and not inside:
            loose.append(sql)
    return loose


def test_every_write_runs_inside_begin_immediate(store, tmp_path):
    run = store.create_run(tiny(), "a", status="finished")
    other = store.create_run(tiny(), "b")
    raw(store, "UPDATE runs SET owner = 'gone', pid = 999999999 WHERE id = ?", (other,))
    writes = [
        lambda: store.create_run(tiny(), "c"),
        lambda: store.update_run(run, message="m", result={"test_acc": 0.5}),
        lambda: store.rename(run, "renamed"),
        lambda: store.add_steps(run, steps(3)),
        lambda: store.add_epoch(run, EPOCH),
        lambda: store.beat(run),
        lambda: store.request_stop(run),
        lambda: store.recover_interrupted(),
        lambda: store.save_lesson("l1", guess="x", run_ids=[run], done=True),
        lambda: store.relabel_drawing(store.add_drawing(np.zeros((28, 28)), 3), 4),
        lambda: store.delete_drawing(1),
        lambda: store.delete_run(run),
    ]
    for write in writes:
        assert write_statements_outside_a_transaction(store, write) == []
    assert store.get_run(other).status == RunStatus.INTERRUPTED and store.get_run(run) is None


def test_a_failed_write_rolls_back_and_leaves_the_connection_usable(store):
    with pytest.raises(ZeroDivisionError), store._transaction() as db:
        db.execute("INSERT INTO drawings (created, label, pixels) VALUES (0, 1, x'00')")
        raise ZeroDivisionError
    assert not store._db.in_transaction and store.list_drawings() == []
    with pytest.raises(sqlite3.IntegrityError):  # the CHECK on status, behind the API's back
        raw(store, "INSERT INTO runs (name, status, config, created) VALUES ('x', 'bogus', '{}', 0)")
    assert not store._db.in_transaction
    assert store.create_run(tiny(), "after") == 1


def test_reads_return_fetched_rows_and_threads_share_the_store(store):
    assert isinstance(store._rows("SELECT * FROM runs"), list)  # no cursor leaves the lock
    errors: list[BaseException] = []

    def work(k: int) -> None:
        try:
            for i in range(15):
                run = store.create_run(tiny(), f"t{k}-{i}", status="finished")
                store.add_steps(run, steps(5))
                assert len(store.steps(run)) == 5 and store.list_runs(ids=[run])
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads) and errors == []
    assert len(store.list_runs()) == 60


# ------------------------------------------------------------------ schema and migration
def make_old_db(home) -> dict:
    """A version-0 runs.db as users have it, with a few rows of each kind."""
    (home / "checkpoints").mkdir(parents=True)
    db = sqlite3.connect(home / "runs.db", isolation_level=None)
    db.executescript(OLD_SCHEMA)
    cfg = tiny().to_json()
    add = "INSERT INTO runs (name, status, config, created, checkpoint, result, owner, pid) VALUES (?,?,?,?,?,?,?,?)"
    finished = db.execute(add, ("done", "finished", cfg, 1.0, str(home / "checkpoints" / "run-1.pt"),
                                json.dumps({"test_acc": 0.9}), "old", 1)).lastrowid
    cut = db.execute(add, ("cut", "interrupted", cfg, 2.0, None, None, "old", 1)).lastrowid
    dead = db.execute(add, ("dead", "running", cfg, 3.0, None, None, "old", 999999999)).lastrowid
    gone = db.execute(add, ("deleted later", "finished", cfg, 4.0, None, None, "old", 1)).lastrowid
    db.execute("DELETE FROM runs WHERE id = ?", (gone,))  # the old delete could leave metric rows behind
    for run in (finished, cut, gone):
        db.executemany("INSERT INTO step_metrics VALUES (?,?,?,?,?)", [(run, s, 1, 1.0 / s, 0.0) for s in (1, 2, 3)])
    db.execute("INSERT INTO epoch_metrics VALUES (?,1,1.0,0.5,1.1,0.4,0.0,1.0,10.0)", (finished,))
    pixels = bytes(range(256)) * 3 + b"\0" * 16
    db.execute("INSERT INTO drawings (created, label, pixels) VALUES (1.0, 7, ?)", (pixels,))
    db.close()
    for run in (finished, cut):  # the interrupted run's file existed, with no link to it
        torch.save({"run": run}, home / "checkpoints" / f"run-{run}.pt")
    return {"finished": finished, "cut": cut, "dead": dead, "gone": gone}


def test_a_version_0_store_is_migrated_keeping_its_rows(home):
    ids = make_old_db(home)
    store = RunStore(home)
    assert store.schema_version == store_mod.SCHEMA_VERSION == 5
    done = store.get_run(ids["finished"])
    assert done.name == "done" and done.status == "finished" and done.config == tiny()
    assert done.result == {"test_acc": 0.9} and done.checkpoint == str(home / "checkpoints" / "run-1.pt")
    assert len(store.steps(ids["finished"])) == 3 and store.epochs(ids["finished"])[0]["val_acc"] == 0.4
    assert all(r["lr"] is None for r in store.steps(ids["finished"]))  # stored before rows had a rate
    assert store.get_run(ids["cut"]).checkpoint  # now linked: every saved file counts
    assert store.get_run(ids["dead"]).status == "interrupted"  # its process is gone
    assert store._rows("SELECT count(*) FROM step_metrics WHERE run_id = ?", (ids["gone"],))[0][0] == 0
    digits, labels = store.drawings()
    assert labels.tolist() == [7] and digits[0].flat[255] == 1.0
    assert store.create_run(tiny(), "new") > ids["gone"]  # a deleted run's id is never reused
    store.close()
    assert RunStore(home).schema_version == 5  # a second open finds nothing to do


def test_the_migrated_schema_has_foreign_keys_cascade_and_a_status_check(home):
    ids = make_old_db(home)
    store = RunStore(home)
    fks = {t: store._rows(f"PRAGMA foreign_key_list({t})") for t in ("step_metrics", "epoch_metrics")}
    assert all(r["table"] == "runs" and r["on_delete"] == "CASCADE" for rows in fks.values() for r in rows)
    assert all(fks.values())
    assert store._rows("PRAGMA foreign_keys")[0][0] == 1
    with pytest.raises(sqlite3.IntegrityError):
        raw(store, "UPDATE runs SET status = 'bogus' WHERE id = ?", (ids["finished"],))
    with pytest.raises(sqlite3.IntegrityError):  # a metric row needs its run
        raw(store, "INSERT INTO step_metrics (run_id, step, epoch, loss, l2) VALUES (12345, 1, 1, 1.0, 0.0)")
    store.delete_run(ids["finished"])
    assert store._rows("SELECT count(*) FROM epoch_metrics")[0][0] == 0
    assert store.steps(ids["finished"]) == []


def test_a_fresh_store_has_the_same_schema_as_a_migrated_one(tmp_path):
    fresh = RunStore(tmp_path / "fresh")
    make_old_db(tmp_path / "old")
    old = RunStore(tmp_path / "old")

    def shape(s: RunStore) -> dict:
        return {t: [tuple(c) for c in s._rows(f"PRAGMA table_info({t})")]
                for t in ("runs", "step_metrics", "epoch_metrics", "drawings", "lessons", "collections",
                          "counters")}
    assert shape(fresh) == shape(old)
    assert fresh.schema_version == old.schema_version == 5


def test_a_version_1_store_gains_each_steps_learning_rate_keeping_its_rows(home):
    """Schema 2 (learning-rate schedules): step rows keep their rate; rows stored before have none."""
    run = make_old_db(home)["finished"]
    store = RunStore(home)
    store._execute("ALTER TABLE step_metrics DROP COLUMN lr")  # back to version 1's table, its rows kept
    store._execute("ALTER TABLE runs DROP COLUMN saved")
    store._execute("PRAGMA user_version = 1")
    store.close()
    store = RunStore(home)
    assert store.schema_version == 5 and [r["lr"] for r in store.steps(run)] == [None] * 3
    store.add_steps(run, [{"step": 4, "epoch": 1, "loss": 0.5, "l2": 0.0, "lr": 0.003},
                          {"step": 5, "epoch": 1, "loss": 0.5, "l2": 0.0}])  # a row from an earlier worker
    assert [r["lr"] for r in store.steps(run)] == [None, None, None, 0.003, None]
    store.close()


def test_a_store_from_a_newer_version_is_refused_and_left_alone(home):
    RunStore(home).close()
    db = sqlite3.connect(home / "runs.db")
    db.execute("PRAGMA user_version = 99")
    db.close()
    before = (home / "runs.db").read_bytes()
    with pytest.raises(NewerSchema, match="newer Playground"):
        RunStore(home)
    assert (home / "runs.db").read_bytes() == before


# ------------------------------------------------------------------ checkpoints
def test_checkpoint_links_survive_moving_the_home(tmp_path):
    old_home, new_home = tmp_path / "a", tmp_path / "b"
    store = RunStore(old_home)
    run = store.create_run(tiny(hidden=8), "moved", status="finished")
    save_tiny_checkpoint(store, run)
    store.close()
    shutil.move(old_home, new_home)
    rec = RunStore(new_home).get_run(run)
    assert rec.checkpoint == str(new_home / "checkpoints" / f"run-{run}.pt")
    assert load_checkpoint(rec.checkpoint).config.model.hidden == 8
    assert str(old_home) not in json.dumps(RunStore(new_home).export_run(run))  # no absolute path is stored


@pytest.mark.parametrize("status", ["interrupted", "diverged", "failed", "stopped", "running"])
def test_every_saved_checkpoint_counts(store, status):
    run = store.create_run(tiny(), status, status=status)
    assert store.get_run(run).checkpoint is None
    path = save_tiny_checkpoint(store, run)
    assert store.get_run(run).checkpoint == str(path)
    with pytest.raises(ValueError):  # the path follows from the run id; it is not a column
        store.update_run(run, checkpoint="/elsewhere/x.pt")


def test_delete_run_removes_its_checkpoint_files_only(store):
    keep, drop = (store.create_run(tiny(), n, status="finished") for n in ("keep", "drop"))
    for run in (keep, drop):
        save_tiny_checkpoint(store, run)
    leftover = store.checkpoints / f".run-{drop}.pt.deadbeef.tmp"
    leftover.write_bytes(b"half")
    store.delete_run(drop)
    assert not store.checkpoint_path(drop).exists() and not leftover.exists()
    assert store.get_run(keep).checkpoint
    live = store.create_run(tiny(), "live", status="running")
    with pytest.raises(Refused, match="stop the run"):
        store.delete_run(live)
    assert store.get_run(live) is not None and not store._db.in_transaction
    store.delete_run(9999)  # unknown: nothing to do


def test_opening_the_store_removes_only_old_temp_files(home):
    RunStore(home).close()
    old = home / "checkpoints" / ".run-3.pt.0badf00d.tmp"
    young = home / "checkpoints" / ".run-4.pt.1badf00d.tmp"
    other = home / "checkpoints" / "notes.tmp"
    for path in (old, young, other):
        path.write_bytes(b"x")
    os.utime(old, (time.time() - 120, time.time() - 120))
    RunStore(home).close()
    assert not old.exists() and young.exists() and other.exists()


# ------------------------------------------------------------------ filters and unreadable rows
def test_list_runs_filters_in_sql(store):
    a = store.create_run(tiny(arch="lstm"), "a", status="finished")
    b = store.create_run(tiny(arch="gru"), "b", status="failed")
    c = store.create_run(tiny(arch="cnn", dataset="cifar2", normalize="standard"), "c", status="finished")
    d = store.create_run(tiny(arch="gru"), "d")

    def ids(**kw) -> list[int]:
        return [r.id for r in store.list_runs(**kw)]
    assert ids() == [d, c, b, a]
    assert ids(dataset="mnist") == [d, b, a] and ids(dataset="cifar2") == [c]
    assert ids(arch="gru") == [d, b] and ids(dataset="mnist", arch="cnn") == []
    assert ids(status="finished") == [c, a] and ids(status=RunStatus.QUEUED) == [d]
    assert ids(status=["failed", RunStatus.QUEUED]) == [d, b] and ids(status=[]) == []
    assert ids(ids=[a, c, 999]) == [c, a] and ids(ids=[]) == []
    assert ids(arch="gru", status="failed", ids=[b, d]) == [b]
    with pytest.raises(ValueError):
        store.list_runs(status="bogus")


def test_unreadable_rows_do_not_take_down_listing(store):
    good = store.create_run(tiny(), "good", status="finished")
    newer = store.create_run(tiny(), "from a newer version", status="finished")
    config = json.loads(tiny().to_json())
    config["model"]["attention"] = True
    raw(store, "UPDATE runs SET config = ? WHERE id = ?", (json.dumps(config), newer))
    garbled = store.create_run(tiny(), "garbled", status="finished")
    raw(store, "UPDATE runs SET config = 'not json {' WHERE id = ?", (garbled,))
    bad_result = store.create_run(tiny(), "bad result", status="finished")
    raw(store, "UPDATE runs SET result = '[1, 2' WHERE id = ?", (bad_result,))

    assert [r.id for r in store.list_runs()] == [good] and store.get_run(good).readable
    every = store.list_runs(include_unreadable=True)
    assert [r.id for r in every] == [bad_result, garbled, newer, good]
    broken = {r.id: r for r in every if not r.readable}
    assert broken[newer].config is None and "attention" in broken[newer].problem
    assert broken[garbled].config is None and broken[garbled].problem
    assert broken[bad_result].problem and broken[bad_result].result == {}
    assert store.get_run(newer).problem == broken[newer].problem
    assert [r.id for r in store.list_runs(dataset="mnist", include_unreadable=True)] == [bad_result, newer, good]


def test_an_unreadable_run_can_be_exported_and_deleted(store):
    run = store.create_run(tiny(), "odd", status="finished")
    store.add_steps(run, steps(4))
    store.add_epoch(run, EPOCH)
    raw(store, "UPDATE runs SET config = '{\"future\": 1}' WHERE id = ?", (run,))
    save_tiny_checkpoint(store, run)
    exported = store.export_run(run)
    json.dumps(exported)  # plain data
    assert exported["run"]["config"] == '{"future": 1}' and exported["run"]["name"] == "odd"
    assert len(exported["steps"]) == 4 and exported["epochs"] == [EPOCH]
    assert exported["checkpoint"] == f"run-{run}.pt" and exported["schema_version"] == 5
    store.delete_run(run)
    assert store.get_run(run) is None and not store.checkpoint_path(run).exists()
    with pytest.raises(Refused):
        store.export_run(run)


# ------------------------------------------------------------------ runs that other processes train
def test_records_say_who_trains_a_run(store):
    run = store.create_run(tiny(), "mine")
    rec = store.get_run(run)
    assert rec.pid == os.getpid() and rec.host == socket.gethostname() and rec.owned_here
    assert rec.owner == PROCESS_TOKEN and rec.heartbeat is None and not rec.stop_requested
    raw(store, "UPDATE runs SET owner = 'other' WHERE id = ?", (run,))
    assert not store.get_run(run).owned_here


def test_beat_and_stop_requests(store):
    run = store.create_run(tiny(), "r", status="running")
    before = time.time()
    store.beat(run)
    assert before <= store.get_run(run).heartbeat <= time.time()
    assert store.stop_requested(run) is False
    store.request_stop(run)
    assert store.stop_requested(run) is True and store.get_run(run).stop_requested
    assert store.stop_requested(9999) is False


def other_process_run(store: RunStore, status: str = "running", host: str | None = None, pid: int = 999999999,
                      heartbeat: float | None = None) -> int:
    run = store.create_run(tiny(), f"{status} elsewhere", status=status)
    raw(store, "UPDATE runs SET owner = 'other', host = ?, pid = ?, heartbeat = ? WHERE id = ?",
        (host or socket.gethostname(), pid, heartbeat, run))
    return run


def test_recover_interrupted_judges_by_pid_here_and_heartbeat_anywhere(store):
    now, stale = time.time(), time.time() - HEARTBEAT_STALE - 1
    cases = {
        other_process_run(store): "interrupted",  # same host, pid gone
        other_process_run(store, status="queued"): "interrupted",
        other_process_run(store, pid=os.getppid()): "running",  # same host, pid alive
        other_process_run(store, pid=os.getppid(), heartbeat=stale): "interrupted",  # a reused pid: beats stopped
        other_process_run(store, host="elsewhere", heartbeat=now): "running",
        # Another host's heartbeat is judged by whether it moves, never against this host's clock: at first
        # sight even an old-looking one is alive (its clock may be behind ours).
        other_process_run(store, host="elsewhere", heartbeat=stale): "running",
        other_process_run(store, host="elsewhere"): "running",  # never beat, pid not ours to check
        other_process_run(store, status="finished"): "finished",
    }
    mine = store.create_run(tiny(), "mine", status="running")
    raw(store, "UPDATE runs SET heartbeat = ? WHERE id = ?", (stale, mine))
    cases[mine] = "running"  # this process's runs are never judged
    assert store.recover_interrupted() == 3
    assert {run: store.get_run(run).status for run in cases} == cases
    rec = store.get_run(next(r for r, s in cases.items() if s == "interrupted"))
    assert rec.ended and "metrics up to the last flush" in rec.message


def test_another_hosts_run_is_judged_by_its_heartbeat_moving_on_this_viewers_clock(store, monkeypatch):
    """Adversarial test: a viewer whose clock ran 20 s ahead marked a live run interrupted at once."""
    clock = [1000.0]
    monkeypatch.setattr(store, "clock", lambda: clock[0])
    ahead = time.time() + 3600  # the other host's clock, an hour off: it does not matter
    beating = other_process_run(store, host="elsewhere", heartbeat=ahead)
    silent = other_process_run(store, host="elsewhere", heartbeat=time.time() - 10 * HEARTBEAT_STALE)
    assert store.recover_interrupted() == 0  # first sight: nothing to judge by yet
    clock[0] += HEARTBEAT_STALE - 1
    raw(store, "UPDATE runs SET heartbeat = ? WHERE id = ?", (ahead + 5, beating))
    assert store.recover_interrupted() == 0
    clock[0] += 2  # the silent one has not moved for HEARTBEAT_STALE seconds of our clock
    assert store.recover_interrupted() == 1
    assert store.get_run(silent).status == "interrupted" and store.get_run(beating).status == "running"


def test_recover_interrupted_is_one_read_when_there_is_nothing_to_do(store):
    other_process_run(store, pid=os.getppid())
    trace: list[str] = []
    store._db.set_trace_callback(trace.append)
    assert store.recover_interrupted() == 0
    store._db.set_trace_callback(None)
    assert len(trace) == 1 and trace[0].lstrip().upper().startswith("SELECT")


CHILD = """
import sys, time
from playground.config import RunConfig
from playground.store import RunStore
store = RunStore(sys.argv[1])
run = store.create_run(RunConfig(), "child", status="running")
store.beat(run)
print(run, flush=True)
while not store.stop_requested(run):
    time.sleep(0.05)
print("stop seen", flush=True)
time.sleep(60)
"""


@pytest.mark.slow
def test_a_run_of_a_killed_process_is_interrupted_and_stop_crosses_processes(home):
    store = RunStore(home)
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(home)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    watchdog = threading.Timer(60, child.kill)  # a stuck child closes its pipe: readline cannot hang
    watchdog.start()
    try:
        run = int(child.stdout.readline())
        rec = store.get_run(run)
        assert rec.status == "running" and rec.pid == child.pid and not rec.owned_here
        assert store.recover_interrupted() == 0  # alive
        store.request_stop(run)
        assert child.stdout.readline().strip() == "stop seen"
        child.kill()
        child.wait(10)
        assert store.recover_interrupted() == 1
        assert store.get_run(run).status == "interrupted"
    finally:
        watchdog.cancel()
        if child.poll() is None:
            child.kill()
        child.stdout.close()
        store.close()


# ------------------------------------------------------------------ faults of the machine
@pytest.mark.parametrize("failure", [
    OSError(errno.ENOSPC, "No space left on device"),
    RuntimeError("[enforce fail at inline_container.cc:595] . unexpected pos 4096 vs 4032"),
    RuntimeError("PytorchStreamWriter failed writing file data/0: file write failed"),
])
def test_disk_full_while_writing_a_checkpoint_names_the_file(store, monkeypatch, failure):
    def full(obj, f):
        f.write(b"PK half")
        raise failure
    monkeypatch.setattr(torch, "save", full)
    with pytest.raises(StoreError, match=r"disk full while writing .*run-5\.pt"):
        store.save_checkpoint(5, {"state_dict": {}})
    assert list(store.checkpoints.iterdir()) == []


def test_other_checkpoint_errors_pass_through(store, monkeypatch):
    def broken(obj, f):
        raise RuntimeError("something else")
    monkeypatch.setattr(torch, "save", broken)
    with pytest.raises(RuntimeError, match="something else"):
        store.save_checkpoint(5, {})


def test_a_full_database_says_disk_full_and_recovers(store):
    run = store.create_run(tiny(), "r", status="running")
    pages = store._rows("PRAGMA page_count")[0][0]
    store._db.execute(f"PRAGMA max_page_count = {pages}")  # the disk is full now, as far as SQLite knows
    many = [{"step": i, "epoch": 1, "loss": 1.0, "l2": 0.0} for i in range(1, 5001)]
    with pytest.raises(StoreError, match=r"disk full while writing .*runs\.db"):
        store.add_steps(run, many)
    assert not store._db.in_transaction and store.steps(run) == []  # all or nothing
    store._db.execute("PRAGMA max_page_count = 1073741823")
    store.add_steps(run, many)
    assert len(store.steps(run)) == 5000


def test_a_lock_held_elsewhere_raises_store_busy_and_the_rows_can_be_retried(home):
    store = RunStore(home, timeout=0.2)
    run = store.create_run(tiny(), "r", status="running")
    holder = sqlite3.connect(home / "runs.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process's write (a backup, another trainer)
    try:
        pending = steps(10)
        t0 = time.time()
        with pytest.raises(StoreBusy, match="locked") as info:
            store.add_steps(run, pending)
        assert time.time() - t0 < 5 and isinstance(info.value, StoreError)
        assert store.get_run(run).status == "running"  # reads still work under WAL
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    store.add_steps(run, pending)  # the caller kept its rows: nothing lost
    assert len(store.steps(run)) == 10 and not store._db.in_transaction
    store.close()


# ------------------------------------------------------------------ names
@pytest.mark.parametrize("given, stored", [
    ("  plain  ", "plain"),
    ("<b>x</b> [x](javascript:alert(1))", "<b>x</b> [x](javascript:alert(1))"),  # text, shown as text
    ("\x1b[31mred\x1b[0m run", "red run"),
    ("\x1b]0;title\x07ok", "ok"),
    ("two\nlines\tand\r\ntabs", "two lines and tabs"),
    ("bell\x07\x00nul\x9bc1", "bell nul c1"),
    ("a\u202eevil\u202c", "aevil"),
    ("x" * 300, "x" * 120),
])
def test_names_are_plain_text(store, given, stored):
    run = store.create_run(tiny(), given)
    assert store.get_run(run).name == stored
    store.rename(run, "other")
    store.rename(run, given)
    assert store.get_run(run).name == stored


@pytest.mark.parametrize("name", ["", "   ", "\x1b[0m", "\n\t\x00"])
def test_names_empty_after_cleaning_are_refused(store, name):
    with pytest.raises(Refused) as info:
        store.create_run(tiny(), name)
    assert isinstance(info.value, ValueError) and isinstance(info.value, PlaygroundError)
    run = store.create_run(tiny(), "kept")
    with pytest.raises(ValueError):
        store.rename(run, name)
    assert store.get_run(run).name == "kept" and len(store.list_runs()) == 1


# ------------------------------------------------------------------ drawings
def test_drawings_round_trip_from_every_encoding(store):
    digit = np.zeros((28, 28), np.float32)
    digit[5:20, 12:15] = 1.0
    digit[4, 12] = 0.5
    as_float = store.add_drawing(digit, 1)
    as_uint8 = store.add_drawing((digit * 255).round().astype(np.uint8), np.int64(2))
    as_bytes = store.add_drawing((digit * 255).round().astype(np.uint8).tobytes(), 3)
    kept = store.list_drawings()
    assert [d.id for d in kept] == [as_float, as_uint8, as_bytes] and [d.label for d in kept] == [1, 2, 3]
    for d in kept:
        assert d.pixels.shape == (28, 28) and d.pixels.dtype == np.float32 and d.created > 0
        assert np.abs(d.pixels - digit).max() <= 0.5 / 255 + 1e-6
    digits, labels = store.drawings()  # the older view, unchanged
    assert digits.shape == (3, 28, 28) and digits.dtype == np.float32 and labels.tolist() == [1, 2, 3]


def test_drawings_relabel_delete_and_refuse_bad_input(store):
    first = store.add_drawing(np.zeros((28, 28)), 4)
    second = store.add_drawing(np.ones((28, 28)), 5)
    store.relabel_drawing(first, 9)
    store.delete_drawing(second)
    assert [(d.id, d.label) for d in store.list_drawings()] == [(first, 9)]
    bad = [(np.zeros((27, 28)), 1), (np.full((28, 28), 255.0), 1), (np.full((28, 28), np.nan), 1),
           (b"\0" * 783, 1), (np.zeros((28, 28)), 10), (np.zeros((28, 28)), "x"), (np.full((28, 28), 300), 1)]
    for pixels, label in bad:
        with pytest.raises(Refused):
            store.add_drawing(pixels, label)
    with pytest.raises(Refused):
        store.relabel_drawing(first, -1)
    empty = RunStore(store.home / "empty")
    assert empty.list_drawings() == [] and empty.drawings()[0].shape == (0, 28, 28)


# ------------------------------------------------------------------ lessons
def test_lessons_upsert_only_the_fields_given(store):
    assert store.lessons() == {}
    store.save_lesson("overfitting", guess="the gap grows")
    store.save_lesson("overfitting", run_ids=[3, 4])
    store.save_lesson("vanishing", done=123.0)
    before = time.time()
    store.save_lesson("overfitting", done=True)
    store.save_lesson("overfitting")  # nothing given: nothing changes
    got = store.lessons()
    assert got["vanishing"] == {"guess": None, "run_ids": [], "done": 123.0}
    assert got["overfitting"]["guess"] == "the gap grows" and got["overfitting"]["run_ids"] == [3, 4]
    assert before <= got["overfitting"]["done"] <= time.time()


# ------------------------------------------------------------------ compatibility
def test_dead_code_is_gone():
    assert store_mod.ACTIVE == ("queued", "running")
    assert not hasattr(store_mod.RunRecord, "seconds") and not hasattr(store_mod, "STATUSES")


# ------------------------------------------------------------------ checkpoints that are not the run's (issue 19)
def test_a_link_in_checkpoints_is_no_runs_checkpoint(store, tmp_path):
    run = store.create_run(tiny(), "linked", status="finished")
    secret = tmp_path / "secret.txt"
    secret.write_text("not yours")
    store.checkpoint_path(run).symlink_to(secret)
    assert store.get_run(run).checkpoint is None and store.export_run(run)["checkpoint"] is None


def test_a_checkpoints_folder_linked_outside_the_home_serves_nothing(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    home = tmp_path / "home"
    home.mkdir()
    (home / "checkpoints").symlink_to(outside)
    store = RunStore(home)
    run = store.create_run(tiny(), "r", status="finished")
    save_tiny_checkpoint(store, run)
    assert (outside / f"run-{run}.pt").is_file() and store.get_run(run).checkpoint is None
    store.close()


def test_a_file_older_than_its_run_is_another_runs(store):
    run = store.create_run(tiny(), "new #1", status="finished")
    path = save_tiny_checkpoint(store, run)
    assert store.get_run(run).checkpoint == str(path)
    created = store.get_run(run).created
    os.utime(path, (created - 3600, created - 3600))  # left by the run #1 of a runs.db moved aside
    assert store.get_run(run).checkpoint is None


@pytest.mark.parametrize("change, why", [
    (lambda d: d["data"].update(dataset="svhn"), "svhn"),
    (lambda d: d["model"].update(arch="transformer"), "transformer"),
    (lambda d: d["model"].update(hidden="64"), "hidden"),
])
def test_rows_that_parse_but_fail_validation_are_unreadable(store, change, why):
    """Adversarial test: a newer version's row crashed Train, Inside, Compare, Draw and `runs`."""
    run = store.create_run(tiny(), "from a newer version", status="finished")
    config = json.loads(tiny().to_json())
    change(config)
    raw(store, "UPDATE runs SET config = ? WHERE id = ?", (json.dumps(config), run))
    [rec] = store.list_runs(include_unreadable=True)
    assert not rec.readable and why in rec.problem


def test_a_result_with_a_non_numeric_accuracy_is_unreadable(store):
    run = store.create_run(tiny(), "odd result", status="finished")
    raw(store, "UPDATE runs SET result = ? WHERE id = ?", (json.dumps({"test_acc": "high"}), run))
    [rec] = store.list_runs(include_unreadable=True)
    assert not rec.readable and "test_acc is not a number" in rec.problem


def test_a_newer_or_corrupt_store_is_left_byte_for_byte_without_wal_files(tmp_path):
    """Adversarial test: WAL mode was switched on (header bytes, -wal/-shm files) before the refusal."""
    newer = tmp_path / "newer"
    newer.mkdir()
    db = sqlite3.connect(newer / "runs.db")  # a rollback-journal file, as another tool might leave it
    db.execute("CREATE TABLE runs (id INTEGER PRIMARY KEY)")
    db.execute("PRAGMA user_version = 99")
    db.close()
    before = (newer / "runs.db").read_bytes()
    with pytest.raises(NewerSchema):
        RunStore(newer)
    assert (newer / "runs.db").read_bytes() == before
    assert not (newer / "runs.db-wal").exists() and not (newer / "runs.db-shm").exists()


def test_a_read_only_home_says_so_and_does_not_call_the_file_corrupt(home, monkeypatch):
    """Adversarial test: "may be corrupt or locked; move it aside" for a healthy file in a read-only home
    (root ignores file modes, so the read-only home is simulated)."""
    import playground.store.database as database

    RunStore(home).close()

    def readonly(*args, **kwargs):
        raise sqlite3.OperationalError("attempt to write a readonly database")
    monkeypatch.setattr(database.sqlite3, "connect", readonly)
    monkeypatch.setattr(database.os, "access", lambda path, mode: False)
    with pytest.raises(StoreError, match="read-only") as info:
        RunStore(home)
    assert "corrupt" not in str(info.value) and "do not move it aside" in str(info.value)


@pytest.mark.parametrize("name", ["\u200b", "\u2060\ufeff", "\u3164", "\u2800", "\u00ad", "\u0301\u0302"])
def test_names_of_invisible_characters_only_are_refused(store, name):
    """Adversarial test: such names were accepted and displayed as nothing."""
    with pytest.raises(Refused, match="visible"):
        store.create_run(tiny(), name)
    assert store.get_run(store.create_run(tiny(), "é\u200b")).name == "é\u200b"  # one visible is enough


# ------------------------------------------------------------------ issue 30: a checkpoint is the run's own
def test_a_checkpoint_the_run_did_not_write_is_never_shown_as_its_own(home):
    """A new store whose run #1 found the old store's run-1.pt (another recipe, even with a newer mtime): Inside
    crashed ('SmallCNN' object has no attribute 'rnn') and a never-trained run showed a checkpoint."""
    old = RunStore(home)
    cnn = tiny(arch="cnn", dataset="mnist", width=4)
    first = old.create_run(cnn, "old", status="finished")
    old.save_checkpoint(first, checkpoint_payload(cnn, build_model(cnn), {}, first))
    old.close()
    for name in ("runs.db", "runs.db-wal", "runs.db-shm"):  # runs.db moved aside; checkpoints/ stays
        (home / name).unlink(missing_ok=True)
    store = RunStore(home)
    run = store.create_run(tiny(hidden=8), "new, never trained", status="failed")
    assert run == first
    later = time.time() + 5
    os.utime(store.checkpoint_path(run), (later, later))  # not older than the new run: the old rule took it
    assert store.get_run(run).checkpoint is None and store.list_runs()[0].checkpoint is None
    assert store.export_run(run)["checkpoint"] is None
    path = save_tiny_checkpoint(store, run)  # its own write ties the file to it
    assert store.get_run(run).checkpoint == str(path)
    assert load_checkpoint(store.get_run(run).checkpoint).config.model.arch == "lstm"
    payload = checkpoint_payload(cnn, build_model(cnn), {}, run)
    torch.save(payload, path)  # replaced behind the store's back by another file
    assert store.get_run(run).checkpoint is None
    store.close()


def test_a_checkpoint_written_for_a_deleted_run_is_refused_and_removed(store):
    run = store.create_run(tiny(hidden=8), "gone")
    raw(store, "DELETE FROM runs WHERE id = ?", (run,))  # another process deleted it
    with pytest.raises(store_mod.RunDeleted, match=f"run #{run} was deleted"):
        save_tiny_checkpoint(store, run)
    assert not store.checkpoint_path(run).exists()
    with pytest.raises(store_mod.RunDeleted):  # before: sqlite3.IntegrityError: FOREIGN KEY constraint failed
        store.add_steps(run, steps(3))
    with pytest.raises(store_mod.RunDeleted):
        store.must_stop(run)


def test_a_full_disk_frees_the_space_held_for_final_statuses(store, monkeypatch):
    """On a disk filled by something else, even the run's final status could not reach the store (it stayed
    'running'); the store holds a little space back and frees it at the first disk-full error."""
    import playground.store.runs as runs_mod
    reserve = store.home / store_mod.database.RESERVE_NAME
    assert reserve.stat().st_size == store_mod.database.RESERVE_BYTES
    run = store.create_run(tiny(hidden=8), "full")

    def full(payload, path):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(runs_mod, "save_atomic", full)
    with pytest.raises(StoreError, match="disk full"):
        save_tiny_checkpoint(store, run)
    assert not reserve.exists()
    store.update_run(run, status="failed", message="disk full")
    RunStore(store.home).close()  # the next open takes the space back
    assert reserve.stat().st_size == store_mod.database.RESERVE_BYTES


def test_drawings_say_what_a_delete_restore_or_relabel_did_and_skip_damaged_rows(store):
    """Issue 30: two tabs deleting one drawing both undid it (kept twice); a relabel of a deleted drawing was lost
    silently; one damaged row crashed every reader of the drawings."""
    kept = store.add_drawing(np.zeros((28, 28)), 4)
    [drawing] = store.list_drawings()
    assert store.delete_drawing(kept) and not store.delete_drawing(kept)  # only the first delete deleted it
    assert not store.relabel_drawing(kept, 5)  # nothing there to relabel: said, not silently lost
    assert store.restore_drawing(drawing) and not store.restore_drawing(drawing)  # back once, under its id
    assert [(d.id, d.label) for d in store.list_drawings()] == [(kept, 4)] and store.relabel_drawing(kept, 5)
    with store._transaction() as db:
        damaged = [db.execute("INSERT INTO drawings (created, label, pixels) VALUES (1, ?, ?)", row).lastrowid
                   for row in ((3, b"\0" * 783), (10, b"\0" * 784), (3, "text"), ("x", b"\0" * 784))]
    readable, unreadable = store.read_drawings()
    assert [d.id for d in readable] == [kept] and unreadable == damaged
    digits, labels = store.drawings()
    assert digits.shape == (1, 28, 28) and labels.tolist() == [5]


def test_a_version_3_store_gains_collections_and_keeps_its_drawings(home):
    """Issue 33: classes of your own. A store of version 3 is migrated: its drawings stay digits (collection NULL),
    a collection's drawings never enter the digit test set, and labels are checked against its classes."""
    store = RunStore(home)
    kept = store.add_drawing(np.full((28, 28), 0.5, np.float32), 3)
    store._execute("DROP TABLE collections")
    store._execute("ALTER TABLE drawings DROP COLUMN collection")
    store._execute("PRAGMA user_version = 3")
    store.close()
    store = RunStore(home)
    assert store.schema_version == 5 and [d.id for d in store.list_drawings()] == [kept]
    store.add_collection("marks", ["check", "cross"])
    with pytest.raises(Refused, match="exists already"):
        store.add_collection("marks", ["a", "b"])
    with pytest.raises(Refused, match="not 2"):
        store.add_example("marks", np.zeros((28, 28), np.float32), 2)
    with pytest.raises(Refused, match="no collection"):
        store.add_example("letters", np.zeros((28, 28), np.float32), 0)
    mark = store.add_example("marks", np.ones((28, 28), np.float32), 1)
    assert [d.id for d in store.list_drawings()] == [kept]  # the digit test set is digits only
    assert [(d.id, d.label) for d in store.examples("marks")] == [(mark, 1)]
    assert store.collections() == {"marks": ("check", "cross")}


# ------------------------------------------------------------------ study numbers
def test_study_numbers_launched_at_once_from_several_connections_all_differ(home):
    """Two sessions (or a page and a CLI) launching a study at once each took one past the runs' names: the same
    number, one study's runs mixed into the other's. The store hands them out in one transaction; each
    connection here is a process's own, as two CLIs or two app servers have."""
    from playground.compare import new_study

    RunStore(home).create_run(tiny(), "cnn · baseline · seed 0 · study 7", status="finished")  # before counters
    stores = [RunStore(home) for _ in range(6)]
    start, got, errors = threading.Barrier(len(stores)), [], []

    def launch(store: RunStore) -> None:
        try:
            start.wait(30)
            got.extend(new_study(store) for _ in range(5))
        except Exception as exc:  # noqa: BLE001  reported by the assertion below
            errors.append(exc)
    threads = [threading.Thread(target=launch, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors and sorted(got) == list(range(8, 8 + 30))  # all different, past the names' study 7
    for store in stores:
        store.close()


def test_a_version_4_store_gains_the_study_counter_past_its_runs_names(home):
    from playground.compare import new_study

    store = RunStore(home)
    store.create_run(tiny(), "lstm64 · baseline · seed 0 · study 3", status="finished")
    store._execute("DROP TABLE counters")
    store._execute("PRAGMA user_version = 4")
    store.close()
    store = RunStore(home)
    assert store.schema_version == 5
    assert new_study(store) == 4 and new_study(store) == 5 and store.new_study() == 6
    store.close()
