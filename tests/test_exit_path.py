"""The engine's one way out: a run always ends, whatever the store does; the registry never waits on the store."""
import threading

import pytest
import torch

import playground.engine.jobs as jobs_module
from playground.cli import bar_line
from playground.data import load_dataset, sources
from playground.engine.jobs import JobRegistry
from playground.engine.metrics import MAX_STEP_ROWS, MetricsStream, Snapshot, chart_rows
from playground.engine.steps import CaptureGate
from playground.engine.study import run_study, study_runs
from playground.errors import RunStatus, first_line
from playground.store import StoreBusy, StoreError

from conftest import tiny

WAIT = 300  # a bound for a hung run, not a speed limit: a tiny run ends in about a second


class FailingWrites:
    """Makes the store's run writes raise `error` while `failing` is set (a full disk, an I/O error)."""

    def __init__(self, store, monkeypatch, error):
        self.failing = threading.Event()
        self.failing.set()
        for name in ("update_run", "add_steps", "add_epoch"):
            real = getattr(store, name)

            def broken(*args, _real=real, **kwargs):
                if self.failing.is_set():
                    raise error
                return _real(*args, **kwargs)
            monkeypatch.setattr(store, name, broken)


@pytest.mark.parametrize("error", [StoreError("disk full while writing runs.db; free some space"),
                                   OSError(5, "Input/output error")])
def test_a_store_that_fails_every_write_still_lets_the_run_end_and_gets_its_status_later(store, monkeypatch, error):
    registry = JobRegistry(store)
    faults = FailingWrites(store, monkeypatch, error)
    run_id = registry.submit(tiny(epochs=1, limit=200))
    snap = registry.wait(run_id, timeout=WAIT)  # before the fix: waited for ever, the thread had died
    assert snap.done and snap.status == RunStatus.FAILED
    assert run_id not in registry.active()
    assert store.get_run(run_id).status == RunStatus.QUEUED  # the store took nothing
    faults.failing.clear()  # space freed: the heartbeat's next retry writes the final status
    registry._settle()
    assert store.get_run(run_id).status == RunStatus.FAILED
    registry.shutdown()


def test_a_busy_store_while_the_run_is_built_fails_nothing(store, monkeypatch):
    real, calls = store.update_run, []

    def busy_for_the_build(run_id, **values):
        calls.append(values)
        if "params" in values and len([c for c in calls if "params" in c]) == 1:
            raise StoreBusy("the run store is locked by another connection (waited 15 s); try again")
        return real(run_id, **values)
    monkeypatch.setattr(store, "update_run", busy_for_the_build)
    registry = JobRegistry(store)
    run_id = registry.submit(tiny(epochs=1, limit=200))
    assert registry.wait(run_id, timeout=WAIT).status == RunStatus.FINISHED
    assert store.get_run(run_id).params  # kept, and written at the next flush
    registry.shutdown()


def test_a_store_write_that_blocks_does_not_stall_the_registry(store, monkeypatch):
    registry = JobRegistry(store, max_concurrent=1)
    first = registry.submit(tiny(epochs=1000, limit=200))  # holds the only slot until stopped below
    queued = registry.submit(tiny(epochs=1, limit=200))
    entered, release = threading.Event(), threading.Event()
    real = store.update_run

    def slow(run_id, **values):
        if run_id == queued:
            entered.set()
            release.wait(WAIT)
        return real(run_id, **values)
    monkeypatch.setattr(store, "update_run", slow)
    stopper = threading.Thread(target=registry.stop, args=(queued,))
    stopper.start()
    assert entered.wait(WAIT)
    answered = []
    poller = threading.Thread(target=lambda: answered.append(registry.active()))
    poller.start()
    poller.join(30)  # a bound for a stalled registry: active() itself takes microseconds
    assert answered and not release.is_set()  # answered while the store write was still blocked
    assert registry.snapshot(queued).status == RunStatus.STOPPED  # the stream knew before the store
    release.set()
    stopper.join(WAIT)
    registry.stop(first)
    registry.wait(first, timeout=WAIT)
    assert store.get_run(queued).status == RunStatus.STOPPED
    registry.shutdown()


def test_a_study_of_more_runs_than_the_registry_keeps_reports_every_run(store, monkeypatch):
    monkeypatch.setattr(jobs_module, "KEEP_FINISHED", 1)
    registry = JobRegistry(store, max_concurrent=2)
    runs = study_runs("lstm64", ["none"], seeds=4, epochs=1, limit=120)
    rows = run_study(registry, runs, poll=0.05)
    assert [r["status"] for r in rows] == ["finished"] * 4
    registry.shutdown()


# ------------------------------------------------------------------ the capture gate
def test_a_waiting_capture_holds_off_new_shared_holders():
    gate, order = CaptureGate(), []
    first_in, first_out = threading.Event(), threading.Event()

    def holder():
        with gate.shared():
            first_in.set()
            first_out.wait(WAIT)

    def capture():
        with gate.exclusive():
            order.append("capture")

    def late_reader():
        with gate.shared():
            order.append("reader")
    threads = [threading.Thread(target=holder)]
    threads[0].start()
    assert first_in.wait(WAIT)
    threads.append(threading.Thread(target=capture))
    threads[-1].start()
    while not gate._captures_waiting:  # the capture is queued behind the holder
        threading.Event().wait(0.001)
    threads.append(threading.Thread(target=late_reader))
    threads[-1].start()
    while not gate.readers_waiting:  # the new reader waits behind the capture, not beside the holder
        threading.Event().wait(0.001)
    first_out.set()
    for t in threads:
        t.join(WAIT)
    assert order == ["capture", "reader"]


def test_a_thread_holding_the_shared_side_can_take_it_again_while_a_capture_waits():
    gate, done = CaptureGate(), []
    inside = threading.Event()

    def nested():
        with gate.shared():
            inside.set()
            while not gate._captures_waiting:
                threading.Event().wait(0.001)
            with gate.shared():  # would wait on itself under plain writer preference
                done.append("nested")

    def capture():
        with gate.exclusive():
            done.append("capture")
    t = threading.Thread(target=nested)
    t.start()
    assert inside.wait(WAIT)
    c = threading.Thread(target=capture)
    c.start()
    t.join(WAIT)
    c.join(WAIT)
    assert done == ["nested", "capture"]


def test_busy_shared_holders_cannot_starve_a_capture():
    gate, stop, captured = CaptureGate(), threading.Event(), threading.Event()

    def stepper():  # a run stepping as fast as it can, overlapping the others
        while not stop.is_set():
            with gate.shared():
                pass

    def capture():
        with gate.exclusive():
            captured.set()
    steppers = [threading.Thread(target=stepper) for _ in range(4)]
    for t in steppers:
        t.start()
    c = threading.Thread(target=capture)
    c.start()
    assert captured.wait(WAIT)
    stop.set()
    for t in [*steppers, c]:
        t.join(WAIT)


# ------------------------------------------------------------------ bounded step rows
def test_a_long_runs_stream_keeps_a_bounded_number_of_step_rows():
    stream = MetricsStream(epochs=1)
    for first in range(1, 100_001, 50):
        stream.add_steps([{"step": s, "epoch": 1, "loss": 1.0, "l2": 0.0} for s in range(first, first + 50)],
                         first + 49)
    rows = stream.snapshot().step_rows
    assert len(rows) <= MAX_STEP_ROWS and rows[-1]["step"] == 100_000 and rows[0]["step"] <= 64
    steps = [r["step"] for r in rows]
    assert steps == sorted(set(steps))
    assert stream.snapshot(steps_from=99_000).step_rows[0]["step"] >= 99_000


def test_chart_rows_decimate_a_stored_history_the_same_way():
    rows = [{"step": s, "loss": 1.0} for s in range(1, 20_001)]
    kept = chart_rows(rows)
    assert len(kept) <= MAX_STEP_ROWS and kept[-1]["step"] == 20_000
    assert chart_rows(rows[:100]) == rows[:100]


# ------------------------------------------------------------------ small things of the way out
def test_the_progress_bar_never_shows_an_epoch_after_the_last():
    snap = Snapshot(RunStatus.RUNNING, None, 3, 3, 2532, 2532, 844, 0.0, None, None, [], [], {})
    assert bar_line(snap, epochs=3) is None
    snap.epoch, snap.step = 1, 900
    assert bar_line(snap, epochs=3).startswith("epoch 2 ")


def test_first_line_of_an_empty_message_is_the_exception_type():
    assert first_line(AssertionError()) == "AssertionError"
    assert first_line(ValueError("one\ntwo")) == "one"
    assert first_line(ValueError("one\ntwo"), last=True) == "two"


def test_a_source_raising_a_bare_assertion_error_falls_through_to_the_next(monkeypatch):
    import playground.data as data

    def broken():
        raise AssertionError()
    real = list(sources("mnist"))
    monkeypatch.setattr(data, "sources", lambda name: [("broken", broken), *real])
    monkeypatch.setattr(data, "_cache", {})
    assert len(load_dataset("mnist").train_y) == 60_000


def test_a_queued_run_stopped_from_another_process_ends_at_the_next_beat(store, home):
    from playground.store import RunStore

    registry = JobRegistry(store, max_concurrent=1)
    registry._running[-1] = jobs_module.Job(None, {}, 0, "cpu")  # the only slot is taken: the next run waits
    queued = registry.submit(tiny(epochs=1, limit=200))
    other = RunStore(home)  # another process's view of the same store
    other.request_stop(queued)
    registry.beat_once()
    snap = registry.snapshot(queued)
    assert snap.status == RunStatus.STOPPED and "another process" in snap.message
    assert other.get_run(queued).status == RunStatus.STOPPED
    registry._running.pop(-1)
    other.close()
    registry.shutdown()


# ------------------------------------------------------------------ admission (issue 30)
MB = 10**6


def test_queued_runs_hold_no_memory_they_wait_for_room(store, monkeypatch):
    """Two runs that fit alone but not together: the second is accepted and waits in the queue (before: refused
    with "needs about 19 MB ... Try a smaller batch size"), then trains once the first has ended."""
    monkeypatch.setattr(jobs_module, "memory_budget", lambda device: 30 * MB)
    monkeypatch.setattr(jobs_module, "estimate_memory", lambda config: 19 * MB)
    registry = JobRegistry(store, max_concurrent=2)
    first = registry.submit(tiny(epochs=1000, limit=200))  # trains until stopped
    second = registry.submit(tiny(epochs=1, limit=100))
    assert registry.running() == [first] and registry.snapshot(second).status == RunStatus.QUEUED
    registry.stop(first)
    assert registry.wait(second, timeout=WAIT).status == RunStatus.FINISHED
    registry.shutdown()


def test_a_study_is_admitted_as_a_whole_before_any_run_is_written(store, monkeypatch):
    """Issue 30: a study with one run too big for memory, or too many runs, wrote hundreds of runs before failing
    (and left some training); now it is refused up front, with the reason, and the store stays empty."""
    from playground.config import ConfigError, recipe
    from playground.engine.study import MAX_STUDY_RUNS, submit_all

    registry = JobRegistry(store, max_concurrent=1)
    configs = [tiny(epochs=1, limit=100, seed=s) for s in range(3)]
    huge = recipe("cnn").override(dataset="cifar2", width=256, batch_size=8192, device="cpu")
    with pytest.raises(ConfigError, match="Try a smaller batch size"):
        submit_all(registry, [*configs, huge], [f"r{i}" for i in range(4)])
    with pytest.raises(ConfigError, match=f"{MAX_STUDY_RUNS + 1} runs"):
        study_runs("lstm64", ["none"], seeds=1, epochs=1, sizes=tuple(range(100, 100 + MAX_STUDY_RUNS + 1)))
    many = [tiny(epochs=1, limit=100, seed=s) for s in range(MAX_STUDY_RUNS + 1)]
    with pytest.raises(ConfigError, match=f"{MAX_STUDY_RUNS + 1} runs"):
        submit_all(registry, many, ["r"] * len(many))
    assert store.list_runs() == [] and registry.active() == []
    # Many runs that fit one at a time but not all at once: admitted, queued, every one trained.
    monkeypatch.setattr(jobs_module, "memory_budget", lambda device: 30 * MB)
    monkeypatch.setattr(jobs_module, "estimate_memory", lambda config: 19 * MB)
    ids = submit_all(registry, configs, [f"r{i}" for i in range(3)])
    assert [registry.wait(i, timeout=WAIT).status for i in ids] == [RunStatus.FINISHED] * 3
    registry.shutdown()


def test_a_study_too_big_is_refused_before_its_runs_are_built(monkeypatch):
    """20,000 `--sizes` x 6 noise levels x 20 seeds built 2.4 million configs (minutes, GBs) before the limit on
    a study's runs refused them: now the runs are counted first."""
    from playground.config import ConfigError
    from playground.engine import study

    monkeypatch.setattr(study, "data_variants", lambda *a: pytest.fail("the runs were built before counting"))
    with pytest.raises(ConfigError, match="2,400,000 runs is more than"):
        study_runs("lenet", ["none"], seeds=20, sizes=tuple(range(100, 20100)), noises=(0, 0.1, 0.2, 0.3, 0.4, 0.5))
    with pytest.raises(ConfigError, match="402 runs is more than"):  # sizes capped to the same one count once
        study_runs("lenet", ["none", "l2"], seeds=1, sizes=(*range(1, 201), *range(10**6, 10**6 + 500)))


def test_the_learning_rate_range_test_goes_through_the_same_admission(monkeypatch):
    """Issue 30: "Find a learning rate" trained a CIFAR CNN of width 256 at batch 8192 that Train refuses."""
    from playground import lr_find
    from playground.config import ConfigError

    monkeypatch.setattr(jobs_module, "memory_budget", lambda device: 1 * MB)
    monkeypatch.setattr(lr_find, "load_dataset", lambda name: pytest.fail("the range test started"))
    with pytest.raises(ConfigError, match="Try a smaller batch size"):
        lr_find.range_test(tiny(limit=300), steps=5)


def test_a_range_test_counts_as_memory_in_use_while_it_trains(store, monkeypatch, step_gate):
    """A range test went through admission but held no memory: a Train submit beside it that together with it
    exceeds the budget started at once. Now the run waits in the queue until the range test ends, and a second
    range test meanwhile is refused."""
    from playground import lr_find
    from playground.config import ConfigError

    monkeypatch.setattr(jobs_module, "memory_budget", lambda device: 30 * MB)
    monkeypatch.setattr(jobs_module, "estimate_memory", lambda config: 19 * MB)
    gate, errors = step_gate(3), []

    def find() -> None:
        try:
            lr_find.range_test(tiny(limit=300), steps=5)
        except Exception as exc:  # noqa: BLE001  reported by the assertion below
            errors.append(exc)
    finder = threading.Thread(target=find)
    finder.start()
    gate.wait()  # the range test is training, held at its third batch
    registry = JobRegistry(store, max_concurrent=2)
    run = registry.submit(tiny(epochs=1, limit=100))
    assert registry.running() == [] and registry.snapshot(run).status == RunStatus.QUEUED
    with pytest.raises(ConfigError, match="hold about 19 MB of the 30 MB"):
        lr_find.range_test(tiny(limit=300), steps=5)
    gate.released.set()
    finder.join(WAIT)
    assert not errors and not finder.is_alive()
    assert jobs_module.memory_in_use(torch.device("cpu")) <= 19 * MB  # the range test's hold is gone
    assert registry.wait(run, timeout=WAIT).status == RunStatus.FINISHED
    registry.shutdown()


# ------------------------------------------------------------------ a full disk, a deleted run (issue 30)
def test_the_final_status_reaches_the_store_when_only_the_metric_rows_do_not_fit(store, monkeypatch):
    """Disk full mid-run: the CLI exited 1 while the store kept the run 'running' (the rows came first and
    failed, so the status was never tried); the status is written alone when the rows cannot be."""
    registry = JobRegistry(store)
    faults = FailingWrites(store, monkeypatch, StoreError("disk full while writing runs.db; free some space"))
    monkeypatch.setattr(store, "update_run", type(store).update_run.__get__(store))  # only the metric rows fail
    run_id = registry.submit(tiny(epochs=1, limit=200))
    assert registry.wait(run_id, timeout=WAIT).status == RunStatus.FAILED
    rec = store.get_run(run_id)
    assert rec.status == RunStatus.FAILED and "disk full" in rec.message
    faults.failing.clear()
    registry.shutdown()


def _delete_behind_its_back(store, run_id):
    """Another process deletes the run while it trains (its row, its metrics by cascade)."""
    import sqlite3
    db = sqlite3.connect(store.db_path, timeout=30, isolation_level=None)
    db.execute("PRAGMA foreign_keys=ON")
    db.execute("DELETE FROM runs WHERE id = ?", (run_id,))
    db.close()


def test_a_run_deleted_while_it_trains_stops_cleanly(store):
    """Before: IntegrityError: FOREIGN KEY at the next flush, a checkpoint file written for no run."""
    registry = JobRegistry(store)
    run_id = registry.submit(tiny(epochs=1000, limit=200))
    while registry.snapshot(run_id).step == 0:
        threading.Event().wait(0.05)
    _delete_behind_its_back(store, run_id)
    snap = registry.wait(run_id, timeout=WAIT)
    assert snap.status == RunStatus.STOPPED, snap.message
    assert store.get_run(run_id) is None and not store.checkpoint_path(run_id).exists()
    assert store._rows("SELECT count(*) FROM step_metrics WHERE run_id = ?", (run_id,))[0][0] == 0
    registry.shutdown()


def test_the_cli_says_its_run_was_deleted_instead_of_a_traceback(home, capsys):
    """Before: 'NoneType' object has no attribute 'executor' after the run ended."""
    from playground import cli
    from playground.store import RunStore

    watcher = RunStore(home)

    def delete_once_training():
        while not watcher.list_runs() or not watcher.steps(watcher.list_runs()[0].id):
            threading.Event().wait(0.05)
        _delete_behind_its_back(watcher, watcher.list_runs()[0].id)
    deleter = threading.Thread(target=delete_once_training, daemon=True)
    deleter.start()
    code = cli.main(["train", "--recipe", "lstm64", "--hidden", "16", "--epochs", "1000", "--limit", "200",
                     "--device", "cpu"])
    deleter.join(WAIT)
    assert code == 1 and "was deleted from the store" in capsys.readouterr().err
    watcher.close()


DISK_FULL_SCRIPT = r"""
set -e
mount -t tmpfs -o size=3m tmpfs "$HOME_DIR"
export PLAYGROUND_HOME="$HOME_DIR/home"
"$PY" -m playground train --recipe lstm64 --hidden 32 --epochs 1000 --limit 300 --device cpu >/dev/null 2>&1 &
pid=$!
n=0
while [ ! -f "$PLAYGROUND_HOME/checkpoints/run-1.pt" ]; do  # its first epoch's checkpoint: it is training
    sleep 0.2; n=$((n + 1)); [ $n -lt 1000 ] || { echo "no checkpoint"; kill $pid; exit 3; }
done
dd if=/dev/zero of="$HOME_DIR/fill" bs=4k 2>/dev/null || true
set +e
wait $pid
echo "exit $?"
"$PY" -c "import sqlite3, sys; db = sqlite3.connect('file:' + sys.argv[1] + '?mode=ro', uri=True); \
print(db.execute('SELECT status, message FROM runs').fetchone())" "$PLAYGROUND_HOME/runs.db"
"""


def test_a_disk_filled_mid_run_by_another_process_still_gets_the_final_status(tmp_path):
    """A real ENOSPC (a 3 MB tmpfs filled by dd while the CLI trains): before, the CLI exited 1 and the store kept
    the run 'running' for ever; the status now says failed, disk full. Needs a user namespace to mount one."""
    import shutil
    import subprocess
    import sys

    from conftest import ROOT

    if not shutil.which("unshare") or subprocess.run(["unshare", "-r", "-m", "true"], capture_output=True).returncode:
        pytest.skip("no user namespaces here to mount a small tmpfs")
    (tmp_path / "fs").mkdir()
    proc = subprocess.run(["unshare", "-r", "-m", "sh", "-c", DISK_FULL_SCRIPT], cwd=ROOT, capture_output=True,
                          text=True, timeout=WAIT, env={"PATH": "/usr/bin:/bin", "HOME_DIR": str(tmp_path / "fs"),
                                                        "PY": sys.executable, "PLAYGROUND_TEST": "1"})
    assert "exit 1" in proc.stdout, proc.stdout + proc.stderr
    assert "('failed', 'StoreError: disk full while writing" in proc.stdout, proc.stdout + proc.stderr
