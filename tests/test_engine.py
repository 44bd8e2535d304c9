import math
import os
import time
from pathlib import Path

import pytest
import torch

from playground.engine.jobs import JobRegistry
from playground.engine.training import Trainer
from playground.inference import CheckpointError, load_checkpoint
from playground.store import RunStore

from conftest import tiny


def test_tiny_run_lowers_the_loss_and_writes_run_and_checkpoint(store):
    jobs = JobRegistry(store)
    run_id = jobs.submit(tiny(epochs=3))
    snap = jobs.wait(run_id, timeout=120)
    assert snap.status == "finished", snap.message
    epochs = store.epochs(run_id)
    assert [e["epoch"] for e in epochs] == [1, 2, 3]
    assert epochs[-1]["train_loss"] < epochs[0]["train_loss"] < 2.4
    steps = store.steps(run_id)
    assert len(steps) == 3 * snap.steps_per_epoch  # every step row reached SQLite
    assert steps[-1]["loss"] < steps[0]["loss"]
    rec = store.get_run(run_id)
    assert rec.status == "finished" and rec.params == 4 * (32 * 28 + 32 * 32 + 64) + 330
    assert 0 <= rec.result["test_acc"] <= 1 and len(rec.result["confusion"]) == 10
    assert sum(map(sum, rec.result["confusion"])) == 600  # limit applies to the test set too
    loaded = load_checkpoint(rec.checkpoint)
    assert loaded.config == tiny(epochs=3)
    assert loaded.metrics["test_acc"] == rec.result["test_acc"]


def test_same_config_and_seed_repeat_exactly_on_cpu():
    a = Trainer(tiny(epochs=1)).run()
    b = Trainer(tiny(epochs=1)).run()
    c = Trainer(tiny(epochs=1, seed=2)).run()
    assert [r["loss"] for r in a.step_rows] == [r["loss"] for r in b.step_rows]
    assert [r["loss"] for r in a.step_rows] != [r["loss"] for r in c.step_rows]


def test_stop_ends_the_run_within_a_batch(store):
    trainer = Trainer(tiny(epochs=200, limit=2000), store, store.create_run(tiny(), "stop me"))
    thread = trainer.start()
    deadline = time.time() + 60
    while trainer.snapshot().step < 5 and thread.is_alive() and time.time() < deadline:
        time.sleep(0.01)
    assert thread.is_alive(), trainer.snapshot().message  # still training when stopped
    trainer.stop()
    thread.join(timeout=10)
    assert not thread.is_alive()
    snap = trainer.snapshot()
    assert snap.status == "stopped" and snap.step < snap.total_steps
    assert store.get_run(trainer.run_id).status == "stopped"
    assert len(store.steps(trainer.run_id)) == snap.step  # steps of the partial epoch are kept
    # A stop is not held up by a test pass; the weights it reached are kept.
    assert "test_acc" not in snap.result
    assert load_checkpoint(snap.result["checkpoint"]).config == tiny(epochs=200, limit=2000)


def test_samples_per_second_and_eta_show_during_the_first_epoch(store, monkeypatch, step_gate):
    import playground.engine.training as training
    monkeypatch.setattr(training, "RATE_SECONDS", 0.0)  # publish the rate at every step, not twice a second
    gate = step_gate(11)  # held at step 11's forward pass: ten steps done, the epoch (50 steps) far from over
    trainer = Trainer(tiny(epochs=1, limit=2000), store, store.create_run(tiny(), "one long epoch"))
    thread = trainer.start()
    gate.wait()
    snap = trainer.snapshot()
    assert snap.step == 10
    trainer.stop()
    gate.released.set()
    thread.join(timeout=10)
    assert snap.epoch == 0 and snap.status == "running"  # still inside the run's only epoch
    assert snap.samples_per_s > 0 and 0 < snap.seconds_per_step * snap.step <= snap.elapsed
    # ETA from the training step rate: start-up time (data loading) is not spread over the steps.
    assert snap.eta == pytest.approx(snap.seconds_per_step * (snap.total_steps - snap.step))


def test_huge_learning_rate_ends_as_diverged_with_its_curve_kept(store):
    jobs = JobRegistry(store)
    run_id = jobs.submit(tiny(arch="lenet", activation="relu", optimizer="sgd", momentum=0.9, lr=10.0))
    snap = jobs.wait(run_id, timeout=60)
    assert snap.status == "diverged"
    assert "smaller learning rate" in snap.message
    rec = store.get_run(run_id)
    assert rec.status == "diverged" and rec.message == snap.message
    assert len(store.steps(run_id)) >= 1  # the curve up to the explosion


def test_non_finite_loss_is_caught_at_its_step(store, monkeypatch):
    import torch.nn.functional as F  # the step's loss (steps.py) is torch's own function: poisoned at its source
    real = F.cross_entropy
    calls = {"n": 0}

    def poisoned(*args, **kwargs):
        calls["n"] += 1
        loss = real(*args, **kwargs)
        return loss * float("nan") if calls["n"] == 4 else loss
    monkeypatch.setattr(F, "cross_entropy", poisoned)
    snap = Trainer(tiny(), store, store.create_run(tiny(), "nan")).run()
    assert snap.status == "diverged" and "non-finite at step 4" in snap.message
    assert [r["step"] for r in snap.step_rows] == [1, 2, 3]


def test_l2_term_is_reported_apart_from_the_data_loss():
    snap = Trainer(tiny(arch="cnn", dataset="mnist", l2=0.001, epochs=1)).run()
    assert snap.status == "finished"
    assert all(r["l2"] > 0 for r in snap.step_rows)
    assert snap.epoch_rows[0]["l2"] > 0
    plain = Trainer(tiny(arch="cnn", dataset="mnist", epochs=1)).run()
    assert all(r["l2"] == 0 for r in plain.step_rows)


def test_queue_respects_the_concurrency_cap(store, step_gate):
    jobs = JobRegistry(store, max_concurrent=1)
    gate = step_gate(1)  # the first run is held at its first step until all three are submitted
    ids = [jobs.submit(tiny(epochs=1, limit=1000)) for _ in range(3)]
    gate.wait()
    assert [store.get_run(i).status for i in ids] == ["running", "queued", "queued"]
    gate.released.set()
    seen_running = set()
    deadline = time.time() + 120
    while any(not jobs.snapshot(i).done for i in ids) and time.time() < deadline:
        running = jobs.running()  # one atomic read: statuses read one by one can straddle a hand-over
        assert len(running) <= 1
        seen_running.update(running)
        time.sleep(0.005)
    assert all(store.get_run(i).status == "finished" for i in ids)
    assert seen_running == set(ids)  # each ran, one at a time


def test_stopping_a_queued_run_never_starts_it(store):
    jobs = JobRegistry(store, max_concurrent=1)
    first = jobs.submit(tiny(epochs=50, limit=2000))
    second = jobs.submit(tiny())
    jobs.stop(second)
    assert store.get_run(second).status == "stopped"
    jobs.stop(first)
    jobs.wait(first, timeout=30)
    assert store.steps(second) == []


def test_store_survives_a_reopen_and_marks_dead_runs_interrupted(home):
    s1 = RunStore(home)
    done = s1.create_run(tiny(), "done", status="finished")
    s1.add_epoch(done, {"epoch": 1, "train_loss": 1.0, "train_acc": 0.5, "val_loss": 1.1, "val_acc": 0.4,
                        "l2": 0.0, "seconds": 1.0, "samples_per_s": 10.0})
    cut = s1.create_run(tiny(), "cut off", status="running")
    s1.add_steps(cut, [{"step": 1, "epoch": 1, "loss": 2.0, "l2": 0.0}])
    # Pretend another process, now dead, owned the running run.
    s1._execute("UPDATE runs SET owner = 'gone', pid = 999999999 WHERE id = ?", (cut,))
    s1.close()
    s2 = RunStore(home)
    assert s2.get_run(done).status == "finished" and s2.epochs(done)[0]["val_acc"] == 0.4
    assert s2.get_run(cut).status == "interrupted"
    assert s2.steps(cut) == [{"step": 1, "epoch": 1, "loss": 2.0, "l2": 0.0, "lr": None}]
    s2.close()


def test_runs_of_a_live_process_are_left_alone(home):
    s1 = RunStore(home)
    live = s1.create_run(tiny(), "live", status="running")
    s2 = RunStore(home)  # same process: the run is ours and running
    assert s2.get_run(live).status == "running"


def test_rename_and_delete(store):
    Trainer(tiny(epochs=1), store, store.create_run(tiny(epochs=1), "x")).run()
    rec = store.list_runs()[0]
    store.rename(rec.id, "  <b>mine</b>  ")
    assert store.get_run(rec.id).name == "<b>mine</b>"
    with pytest.raises(ValueError):
        store.rename(rec.id, "   ")
    ckpt = rec.checkpoint
    store.delete_run(rec.id)
    assert store.get_run(rec.id) is None and store.steps(rec.id) == []
    import os
    assert not os.path.exists(ckpt)


def test_checkpoint_is_written_atomically(store, monkeypatch):
    real_save = torch.save

    def dies_midway(obj, f):
        f.write(b"PK\x03\x04 half a checkpoint")
        raise OSError("disk full")
    monkeypatch.setattr(torch, "save", dies_midway)
    with pytest.raises(OSError):
        store.save_checkpoint(7, {"state_dict": {}})
    monkeypatch.setattr(torch, "save", real_save)
    assert list(store.checkpoints.iterdir()) == []  # no half-written file is ever left or listed


def test_bad_checkpoints_are_refused_clearly(tmp_path):
    class Evil:
        def __reduce__(self):
            return (exec, ("open('%s', 'w').write('owned')" % (tmp_path / "owned"),))
    import pickle
    evil_zip = tmp_path / "evil.pt"
    torch.save({"config": {}, "state_dict": Evil()}, evil_zip)  # a torch file carrying a code-running object
    with pytest.raises(CheckpointError, match="refused"):
        load_checkpoint(evil_zip)
    evil_raw = tmp_path / "evil.pkl"
    evil_raw.write_bytes(pickle.dumps({"config": {}, "state_dict": Evil()}))
    with pytest.raises(CheckpointError):
        load_checkpoint(evil_raw)
    assert not (tmp_path / "owned").exists()
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    with pytest.raises(CheckpointError, match="empty"):
        load_checkpoint(empty)
    text = tmp_path / "notes.pt"
    text.write_text("hello")
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        load_checkpoint(text)


def test_truncated_and_mismatched_checkpoints(store, tmp_path):
    Trainer(tiny(epochs=1), store, store.create_run(tiny(epochs=1), "ok")).run()
    path = store.list_runs()[0].checkpoint
    data = Path(path).read_bytes()
    cut = tmp_path / "cut.pt"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated"):
        load_checkpoint(cut)
    payload = torch.load(path, weights_only=True)
    payload["config"]["model"]["arch"] = "gru"
    other = tmp_path / "other.pt"
    torch.save(payload, other)
    with pytest.raises(CheckpointError, match="do not fit a 'gru'"):
        load_checkpoint(other)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_a_gpu_is_refused_before_anything_starts(store):
    from playground.config import ConfigError

    with pytest.raises(ConfigError, match="no CUDA GPU"):
        JobRegistry(store).submit(tiny(device="cuda"))
    assert store.list_runs() == []


def _cli_run_in_background(home, *args):
    """A CLI training run in its own process; returns (process, run id) once it is running."""
    import subprocess

    from conftest import cli_args

    proc = subprocess.Popen(cli_args("train", *args), env={**os.environ, "PLAYGROUND_HOME": str(home)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    store = RunStore(home)
    while time.time() < deadline and proc.poll() is None:
        runs = store.list_runs(status="running")
        if runs and store.steps(runs[0].id):
            return proc, store, runs[0].id
        time.sleep(0.2)
    proc.kill()
    raise AssertionError(f"the CLI run never started: {proc.communicate(timeout=10)}")


LONG_RUN = ("--arch", "lstm", "--hidden", "32", "--epochs", "500", "--limit", "3000", "--device", "cpu")


def test_stop_reaches_a_run_another_process_trains(home):
    proc, store, run_id = _cli_run_in_background(home, *LONG_RUN)
    try:
        JobRegistry(store).stop(run_id)  # not ours: a stop request in the store, which its trainer polls
        out, _err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130
    assert '"status": "stopped"' in out and store.get_run(run_id).status == "stopped"
    assert store.get_run(run_id).message == "stopped from another process"


def test_a_killed_trainer_process_shows_as_interrupted_wherever_watched(home):
    proc, store, run_id = _cli_run_in_background(home, *LONG_RUN)
    proc.kill()  # SIGKILL: no handler, no shutdown
    proc.wait(timeout=30)
    steps = len(store.steps(run_id))
    snap = JobRegistry(store).view(run_id)  # a watcher that never opened the store anew
    assert snap.status == "interrupted" and snap.done
    assert len(store.steps(run_id)) == steps and store.get_run(run_id).pid == proc.pid


def test_a_config_too_big_for_memory_is_refused_with_its_estimate(store):
    from playground.config import ConfigError, recipe

    jobs = JobRegistry(store, max_concurrent=1)
    with pytest.raises(ConfigError, match=r"needs about 2\d\.\d GB .*batch size 4096.*Try a smaller batch size"):
        jobs.submit(recipe("cnn").override(width=256, batch_size=4096, device="cpu"))
    assert store.list_runs() == []  # nothing recorded, nothing started


def test_a_dropout_run_repeats_its_curve_when_it_trains_alone():
    cfg = tiny(epochs=1, arch="cnn", dataset="mnist", dropout=0.3)
    a, b = Trainer(cfg).run(), Trainer(cfg).run()
    assert [r["loss"] for r in a.step_rows] == [r["loss"] for r in b.step_rows]


def test_a_huge_l2_lambda_says_to_lower_lambda_not_the_learning_rate(store):
    """Adversarial test: λ 1e300 said "try a smaller learning rate" (λ has no upper bound)."""
    jobs = JobRegistry(store)
    run_id = jobs.submit(tiny(l2=1e300))
    snap = jobs.wait(run_id, timeout=60)
    assert snap.status == "diverged" and "smaller L2 λ than 1e+300" in snap.message
    assert "learning rate" not in snap.message


def test_label_noise_touches_only_training_labels_the_same_for_every_seed():
    from playground.data import load_dataset
    from playground.engine.split import split_dataset

    ds = load_dataset("mnist")
    clean = split_dataset(ds, tiny(limit=2000, val_fraction=0.2), torch.device("cpu"))
    noisy = split_dataset(ds, tiny(limit=2000, val_fraction=0.2, label_noise=0.5), torch.device("cpu"))
    other_seed = split_dataset(ds, tiny(limit=2000, val_fraction=0.2, label_noise=0.5, seed=7), torch.device("cpu"))
    changed = (noisy.train_y != clean.train_y).float().mean().item()
    assert 0.5 * 0.9 - 0.05 < changed < 0.5 * 0.9 + 0.05  # half drawn again, 9 in 10 of those to another class
    assert torch.equal(noisy.val_y, clean.val_y) and torch.equal(noisy.test_y, clean.test_y)
    assert torch.equal(noisy.train_y, other_seed.train_y) and torch.equal(noisy.train_x, clean.train_x)


# ------------------------------------------------------------------ learning-rate schedules
def reference_rates(schedule: str, lr: float, steps: int) -> list[float]:
    """Each step's rate by torch's own scheduler of that name (the issue's rules), stepped after every step."""
    from torch.optim import lr_scheduler as ls

    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr)
    made = {"constant": lambda: None,
            "step": lambda: ls.MultiStepLR(opt, [math.ceil(steps * 0.5), math.ceil(steps * 0.75)], gamma=0.1),
            "cosine": lambda: ls.CosineAnnealingLR(opt, T_max=steps),
            "onecycle": lambda: ls.OneCycleLR(opt, max_lr=lr, total_steps=steps, cycle_momentum=False)}[schedule]()
    rates = []
    for _ in range(steps):
        rates.append(opt.param_groups[0]["lr"])
        opt.step()  # no gradients: nothing moves, but torch sees the optimizer step before the scheduler's
        if made is not None:
            made.step()
    return rates


@pytest.mark.parametrize("schedule", ["constant", "step", "cosine", "onecycle"])
def test_each_steps_learning_rate_is_torchs_schedule_over_the_whole_run(schedule, store):
    cfg = tiny(epochs=2, limit=300, hidden=8, schedule=schedule)
    run_id = store.create_run(cfg, schedule)
    snap = Trainer(cfg, store, run_id).run()
    assert snap.status == "finished", snap.message
    stored = [r["lr"] for r in store.steps(run_id)]
    assert len(stored) == snap.total_steps == 18  # 270 training images, batches of 32, two epochs
    assert stored == [r["lr"] for r in snap.step_rows] == reference_rates(schedule, cfg.optim.lr, 18)
    lr = cfg.optim.lr
    if schedule == "step":
        # 18 steps: x0.1 from step 9 (9/18 done before it = 50%) and from step 14 (14/18 >= 75%; 13/18 is not)
        assert (stored[8], stored[9], stored[13], stored[14], stored[-1]) == pytest.approx(
            (lr, lr / 10, lr / 10, lr / 100, lr / 100))
    if schedule == "cosine":
        assert stored[0] == lr and stored[-1] < lr / 100  # down a half cosine, near 0 at the last step
    if schedule == "onecycle":
        peak = stored.index(max(stored))
        assert stored[0] == pytest.approx(lr / 25) and max(stored) == pytest.approx(lr, rel=0.01)
        assert 3 <= peak <= 6 and stored[-1] < lr / 1000  # the peak near 30% of the run, then nearly 0


def test_the_step_schedule_drops_at_the_step_it_claims_on_short_runs():
    """Issue 29: x0.1 from the first step with 50% of the steps done before it, again from 75% (the help's rule);
    a 2-step run went straight to lr/100 at its second step."""
    from fractions import Fraction

    from playground.engine.schedules import STEP_AT, STEP_GAMMA, make_scheduler

    assert reference_rates("step", 1.0, 2) == pytest.approx([1.0, 0.1])
    for total in range(1, 41):
        opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
        scheduler = make_scheduler(tiny(schedule="step"), opt, total)
        rates = []
        for _ in range(total):
            rates.append(opt.param_groups[0]["lr"])
            opt.step()
            scheduler.step()
        drops = [sum(Fraction(k, total) >= Fraction(share).limit_denominator(100) for share in STEP_AT)
                 for k in range(total)]
        assert rates == pytest.approx([STEP_GAMMA ** d for d in drops]), total


def test_a_moving_rate_trains_without_cuda_graphs_and_the_constant_one_keeps_them():
    """A captured graph replays the rate it was captured with: a schedule must step eagerly."""
    assert Trainer(tiny(schedule="cosine"), graphs=True).graphs is False
    assert Trainer(tiny(), graphs=True).graphs is True


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_a_scheduled_run_on_the_gpu_follows_its_schedule_and_a_constant_one_still_replays_a_graph():
    from playground.engine.steps import GraphStep

    class Watched(Trainer):
        def prepare(self):
            self.prepared = super().prepare()  # kept to see which step it trained with
            return self.prepared

    cfg = tiny(device="cuda", arch="cnn", epochs=2, limit=1000)
    for schedule in ("constant", "onecycle"):
        trainer = Watched(cfg.override(schedule=schedule), graphs=True)
        snap = trainer.run()
        assert snap.status == "finished" and snap.message is None, snap.message
        assert [r["lr"] for r in snap.step_rows] == reference_rates(schedule, cfg.optim.lr, snap.total_steps)
        assert isinstance(trainer.prepared.step, GraphStep) == (schedule == "constant")


def test_evaluating_every_few_epochs_changes_which_rows_exist_never_the_training(store):
    """eval_every 3 over 4 epochs: rows after epochs 1, 3 and 4, equal to the every-epoch run's; same test result."""
    # Both through the registry, one after the other: the same thread settings, so equal floats mean equal
    # training (a direct Trainer in the test's thread summed its loss with another intra-op thread count).
    jobs = JobRegistry(store)
    every = jobs.wait(jobs.submit(tiny(epochs=4, l2=1e-3)), timeout=120)
    run_id = jobs.submit(tiny(epochs=4, l2=1e-3, eval_every=3))
    sparse = jobs.wait(run_id, timeout=120)
    assert sparse.status == every.status == "finished", sparse.message
    assert [r["epoch"] for r in sparse.epoch_rows] == [1, 3, 4]
    by_epoch = {r["epoch"]: r for r in every.epoch_rows}
    for row in sparse.epoch_rows:
        for key in ("train_loss", "train_acc", "val_loss", "val_acc"):
            assert row[key] == by_epoch[row["epoch"]][key], (row["epoch"], key)
    # A row covers the epochs since the previous one: epoch 3's L2 is the mean over epochs 2 and 3.
    assert sparse.epoch_rows[1]["l2"] == pytest.approx((by_epoch[2]["l2"] + by_epoch[3]["l2"]) / 2)
    assert sparse.result["test_acc"] == every.result["test_acc"]
    stored = jobs.snapshot(run_id)
    assert stored.epoch == 4 and [r["epoch"] for r in store.epochs(run_id)] == [1, 3, 4]


# ------------------------------------------------------------------ early stopping
@pytest.mark.parametrize("eval_every", [1, 2])
def test_early_stopping_ends_after_patience_and_keeps_the_best_epochs_weights(eval_every, store):
    """Issue 31: patience counts evaluated epochs; the run stops at the first `patience` evaluations without a
    gain, and its result and checkpoint are the best evaluated epoch's (the same run trained to that epoch)."""
    cfg = tiny(arch="lenet", activation="relu", optimizer="adam", lr=0.01, limit=200, epochs=8, patience=1,
               eval_every=eval_every)
    run_id = store.create_run(cfg, "early")
    snap = Trainer(cfg, store, run_id).run()
    assert snap.status == "finished", snap.message
    rows, accs = snap.epoch_rows, [r["val_acc"] for r in snap.epoch_rows]
    stopped = rows[-1]["epoch"]
    assert stopped < cfg.optim.epochs and snap.step == stopped * snap.steps_per_epoch  # it did stop early
    assert [r["epoch"] for r in rows] == [e for e in range(1, stopped + 1) if e == 1 or e % eval_every == 0]
    best = accs.index(max(accs))  # the first evaluation at the best accuracy
    assert len(rows) - 1 - best == cfg.optim.patience and max(accs[best + 1:]) <= accs[best]
    kept = rows[best]["epoch"]
    assert snap.result["kept_epoch"] == kept and f"kept epoch {kept}" in snap.message
    rec = store.get_run(run_id)
    assert rec.result["kept_epoch"] == kept
    ref_id = store.create_run(cfg, "to the kept epoch")
    ref = Trainer(cfg.override(patience=0, epochs=kept), store, ref_id).run()
    assert "kept_epoch" not in ref.result
    got, want = load_checkpoint(rec.checkpoint), load_checkpoint(store.get_run(ref_id).checkpoint)
    assert got.metrics["kept_epoch"] == kept
    state, ref_state = got.model.state_dict(), want.model.state_dict()
    assert all(torch.equal(state[k], ref_state[k]) for k in ref_state)
    assert (snap.result["test_acc"], snap.result["test_loss"]) == (ref.result["test_acc"], ref.result["test_loss"])


def test_early_stopping_needs_a_validation_set():
    from playground.config import ConfigError, validate

    with pytest.raises(ConfigError, match="val_fraction"):
        validate(tiny(patience=3, val_fraction=0.0))
    with pytest.raises(ConfigError, match="min_delta"):
        validate(tiny(patience=3, min_delta=1.0))
    with pytest.raises(ConfigError, match="patience"):
        validate(tiny(patience=-1))
