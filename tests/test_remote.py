"""The Ray executor on a local cluster started once for this module (skipped where Ray is not installed)."""
import time

import pytest

from playground.engine.jobs import JobRegistry
from playground.errors import RunStatus
from playground.inference import load_checkpoint

from conftest import need_ray, tiny

ray = need_ray()
pytestmark = pytest.mark.slow  # a Ray cluster of its own


@pytest.fixture(scope="module")
def executor():
    from playground.engine.remote import RayExecutor

    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=200 * 1024 * 1024,
             logging_level="WARNING", log_to_driver=False)
    ex = RayExecutor("local")  # joins the cluster started above (connect() sees it is initialized)
    yield ex
    ex.shutdown()
    ray.shutdown()


def _wait_for_steps(jobs, run_id, steps, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        snap = jobs.snapshot(run_id)
        if snap.step >= steps or snap.done:
            return snap
        time.sleep(0.1)
    raise AssertionError(f"run {run_id} reached no {steps} steps in {timeout}s")


def test_a_run_on_ray_gives_the_rows_and_checkpoint_of_a_local_run(store, executor):
    config = tiny(epochs=2)
    remote = JobRegistry(store, executor=executor)
    run_id = remote.submit(config, name="on ray")
    snap = remote.wait(run_id, timeout=300)
    assert snap.status == RunStatus.FINISHED, snap.message
    local = JobRegistry(store)
    local_id = local.submit(config, name="here")
    local_snap = local.wait(local_id, timeout=300)
    # Same seed, same CPU kernels: the same curve, wherever it trained.
    assert [r["loss"] for r in store.steps(run_id)] == pytest.approx([r["loss"] for r in store.steps(local_id)])
    assert [e["epoch"] for e in store.epochs(run_id)] == [1, 2]
    rec = store.get_run(run_id)
    assert rec.status == RunStatus.FINISHED and rec.executor.startswith("ray") and rec.node
    assert rec.result["test_acc"] == pytest.approx(local_snap.result["test_acc"])
    assert load_checkpoint(rec.checkpoint).config == config
    assert len(snap.step_rows) == len(store.steps(run_id)) == 2 * snap.steps_per_epoch


def test_stop_reaches_the_remote_run(store, executor):
    jobs = JobRegistry(store, executor=executor)
    run_id = jobs.submit(tiny(epochs=500, limit=3000))
    _wait_for_steps(jobs, run_id, 5)
    jobs.stop(run_id)
    snap = jobs.wait(run_id, timeout=60)
    assert snap.status == RunStatus.STOPPED and snap.step < snap.total_steps
    assert store.get_run(run_id).checkpoint is not None  # the stopped weights came back


def test_a_lost_actor_marks_its_run_interrupted_with_rows_kept(store, executor, monkeypatch):
    from playground.engine.remote import RayExecutor

    own = RayExecutor("local")  # its own actor, so killing it leaves the module's executor intact
    jobs = JobRegistry(store, executor=own)
    run_id = jobs.submit(tiny(epochs=500, limit=3000))
    _wait_for_steps(jobs, run_id, 5)
    deadline = time.time() + 60
    while len(store.steps(run_id)) < 5 and time.time() < deadline:  # a pull has stored the fifth step
        time.sleep(0.05)
    ray.kill(own.slots[0].actor)
    snap = jobs.wait(run_id, timeout=120)
    assert snap.status == RunStatus.INTERRUPTED and "lost" in snap.message
    assert len(store.steps(run_id)) >= 5
