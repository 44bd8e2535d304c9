"""A group of runs trained as one batched model (engine/group.py, JobRegistry.submit_group), forced on the CPU:
each run keeps its own rows, checkpoint and final status, and copy k's weights are what run k alone gives."""
import pytest
import torch

import playground.engine.jobs as jobs_module
from playground.config import ConfigError
from playground.engine.batched import BatchedStep
from playground.engine.group import GroupTrainer
from playground.engine.jobs import JobRegistry
from playground.engine.training import Trainer
from playground.errors import RunStatus

from conftest import tiny


def _configs(l2s=(0.0, 0.0, 1e-3), **overrides):
    base = tiny(**{**dict(arch="cnn", limit=200, epochs=2, optimizer="sgd", lr=0.05, momentum=0.9), **overrides})
    return [base.override(seed=k, l2=lam) for k, lam in enumerate(l2s)]


def _weights(path):
    return torch.load(path, weights_only=True)["state_dict"]


def test_a_group_trains_each_run_as_its_separate_run(store):
    """eval_every 3 over 3 epochs: rows after epochs 1 and 3 only, each the separate run's, its L2 over both."""
    eval_every = 3
    configs = _configs(epochs=3, eval_every=eval_every)
    registry = JobRegistry(store, max_concurrent=2)
    try:
        ids = registry.submit_group(configs, names=["a", None, "c"], batch=True)
        snaps = [registry.wait(i, timeout=300) for i in ids]
    finally:
        registry.shutdown()
    ref_ids = [store.create_run(c, f"alone {k}") for k, c in enumerate(configs)]
    alone = [Trainer(c, store, i).run() for c, i in zip(configs, ref_ids, strict=True)]
    for run_id, ref_id, snap, ref in zip(ids, ref_ids, snaps, alone, strict=True):
        assert snap.status == RunStatus.FINISHED, snap.message
        assert snap.result["test_acc"] is not None and snap.step == ref.step == 18
        rows, ref_rows = store.epochs(run_id), store.epochs(ref_id)
        want_epochs = [1, 3]
        assert [r["epoch"] for r in rows] == [r["epoch"] for r in ref_rows] == want_epochs
        for row, want in zip(rows, ref_rows, strict=True):
            assert row["val_loss"] == pytest.approx(want["val_loss"], rel=1e-4)
            assert row["l2"] == pytest.approx(want["l2"], rel=1e-4, abs=1e-9)
        got, want = _weights(snap.result["checkpoint"]), _weights(ref.result["checkpoint"])
        assert got.keys() == want.keys()
        for name in want:
            torch.testing.assert_close(got[name], want[name], atol=1e-5, rtol=1e-4, msg=name)
    assert store.get_run(ids[0]).name == "a" and store.get_run(ids[1]).name  # a default name for the unnamed


def test_a_run_stopped_before_its_group_starts_ends_at_once_and_the_rest_train():
    group = GroupTrainer(_configs(epochs=1))
    assert group.members[1].end_if_waiting("stopped by the user")
    assert group.members[1].snapshot().status == RunStatus.STOPPED
    snaps = group.run()
    assert [s.status for s in snaps] == [RunStatus.FINISHED, RunStatus.STOPPED, RunStatus.FINISHED]
    assert snaps[1].message == "stopped by the user before it started" and snaps[1].step == 0
    assert not group.members[0].end_if_waiting()  # started: a stop now is the training loop's


def test_a_run_stopped_while_training_ends_alone(monkeypatch):
    group = GroupTrainer(_configs(epochs=2))
    calls = []
    step = BatchedStep.step

    def counting(self, idx):
        calls.append(1)
        if len(calls) == 3:
            group.members[0].stop()
        step(self, idx)

    monkeypatch.setattr(BatchedStep, "step", counting)
    snaps = group.run()
    assert [s.status for s in snaps] == [RunStatus.STOPPED, RunStatus.FINISHED, RunStatus.FINISHED]
    assert snaps[0].step == 3 and len(snaps[0].step_rows) == 3 and not snaps[0].epoch_rows
    assert snaps[1].step == 12 and len(snaps[1].epoch_rows) == 2


def test_a_diverged_copy_ends_alone_and_leaves_the_others_untouched():
    configs = _configs(l2s=(0.0, 1e38, 0.0), epochs=1)
    snaps = GroupTrainer(configs).run()
    assert [s.status for s in snaps] == [RunStatus.FINISHED, RunStatus.DIVERGED, RunStatus.FINISHED]
    assert "L2 term" in snaps[1].message and "Try a smaller L2 λ" in snaps[1].message
    alone = Trainer(configs[2]).run()  # the copy beside the diverged one trained as if alone
    assert snaps[2].epoch_rows[0]["val_loss"] == pytest.approx(alone.epoch_rows[0]["val_loss"], rel=1e-4)


def test_a_group_that_fails_fails_every_run(monkeypatch):
    def boom(self, idx):
        raise RuntimeError("boom")

    monkeypatch.setattr(BatchedStep, "step", boom)
    snaps = GroupTrainer(_configs(epochs=1)).run()
    assert {s.status for s in snaps} == {RunStatus.FAILED}
    assert {s.message for s in snaps} == {"RuntimeError: boom"}


def test_submit_group_batches_only_on_cuda_unless_told(store, monkeypatch):
    def no_group(*args, **kwargs):
        raise AssertionError("a CPU group trained batched without being asked")

    monkeypatch.setattr(jobs_module, "GroupTrainer", no_group)
    registry = JobRegistry(store, max_concurrent=3)
    try:
        ids = registry.submit_group(_configs(epochs=1))  # batch=None on a CPU: separate runs
        assert all(registry.wait(i, timeout=300).status == RunStatus.FINISHED for i in ids)
        with pytest.raises(ConfigError, match="vmap batching rule"):
            registry.submit_group([tiny(seed=0), tiny(seed=1)], batch=True)
    finally:
        registry.shutdown()


def test_stopping_a_run_of_a_queued_group_ends_it_now(store):
    registry = JobRegistry(store, max_concurrent=1)
    try:
        blocker = registry.submit(tiny(arch="cnn", epochs=1000, limit=0))  # holds the only slot
        ids = registry.submit_group(_configs(epochs=1), batch=True)
        assert set(ids) <= set(registry.active())
        registry.stop(ids[1])
        snap = registry.snapshot(ids[1])
        assert snap.status == RunStatus.STOPPED and "before it started" in snap.message
        assert ids[1] not in registry.active() and {ids[0], ids[2]} <= set(registry.active())
        registry.stop(blocker)
        snaps = [registry.wait(i, timeout=300) for i in ids]
    finally:
        registry.shutdown()
    assert [s.status for s in snaps] == [RunStatus.FINISHED, RunStatus.STOPPED, RunStatus.FINISHED]
    assert store.get_run(ids[1]).status == RunStatus.STOPPED
    assert registry.active() == []


def test_a_study_batches_its_same_shape_runs_and_starts_the_longest_first(store):
    """submit_all: two seeds and an L2 copy of one CNN go as one group, batch-norm (cannot batch) alone and first
    (the most work); the ids come back in the plan's order and every run finishes."""
    from playground.engine.study import submit_all

    plain = _configs(l2s=(0.0, 0.0, 1e-3), epochs=1)
    configs = [plain[0], plain[0].override(batchnorm=True), plain[1], plain[2]]
    registry = JobRegistry(store, max_concurrent=1)
    try:
        ids = submit_all(registry, configs, ["a", "bn", "b", "c"], batch=True)
        groups = [job for job in [*registry._running.values(), *registry._pending] if len(job.members) > 1]
        assert len(groups) == 1 and sorted(groups[0].members) == sorted([ids[0], ids[2], ids[3]])
        snaps = [registry.wait(i, timeout=300) for i in ids]
    finally:
        registry.shutdown()
    assert [store.get_run(i).name for i in ids] == ["a", "bn", "b", "c"]
    assert ids[1] == min(ids)  # batch-norm's run was submitted first
    assert all(s.status == RunStatus.FINISHED for s in snaps), [s.message for s in snaps]


def test_a_study_submits_every_run_of_a_shape_that_cannot_batch(store):
    """Recurrent runs of one shape (a baseline and its L2 copy) cannot batch: each is submitted on its own."""
    from playground.engine.study import submit_all

    configs = [tiny(epochs=500), tiny(epochs=500, l2=1e-3), tiny(epochs=500, seed=2)]
    registry = JobRegistry(store, max_concurrent=1)  # one trains (for minutes), two wait: all three are active
    try:
        ids = submit_all(registry, configs, ["a", "b", "c"], batch=True)
        assert sorted(registry.active()) == sorted(ids) and len(set(ids)) == 3
        assert all(len(job.members) == 1 for job in [*registry._running.values(), *registry._pending])  # no group
    finally:
        registry.shutdown()
    assert [store.get_run(i).name for i in ids] == ["a", "b", "c"]


def test_early_stopping_ends_each_copy_as_its_separate_run():
    """A copy out of patience ends alone (its kept epoch's weights tested) while the others train on."""
    configs = _configs(l2s=(0.0, 1e-3), epochs=6, patience=1)
    snaps = GroupTrainer(configs).run()
    alone = [Trainer(c).run() for c in configs]
    for snap, ref in zip(snaps, alone, strict=True):
        assert snap.status == ref.status == RunStatus.FINISHED, snap.message
        assert [r["epoch"] for r in snap.epoch_rows] == [r["epoch"] for r in ref.epoch_rows]
        assert snap.result["kept_epoch"] == ref.result["kept_epoch"] and snap.message == ref.message
        assert snap.result["test_acc"] == pytest.approx(ref.result["test_acc"], abs=0.01)
    assert any(s.epoch < 6 for s in snaps), [s.epoch for s in snaps]  # at least one stopped early
