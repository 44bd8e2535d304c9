"""Bad input, faults and load: clear errors, nothing lost."""
import gc
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import tomllib

import numpy as np
import pytest
import torch
from PIL import Image

from playground.engine.jobs import JobRegistry
from playground.engine.publish import checkpoint_payload
from playground.engine.training import Trainer
from playground.models import build_model
from playground.preprocess import BadImage, NoInk, load_image, mnist_style
from playground.store import RunStore, StoreError

from conftest import ROOT, app_page, tiny


# ------------------------------------------------------------------ bad input
def png(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


@pytest.mark.parametrize("data, error", [
    (b"", BadImage), (b"\x00" * 100, BadImage), (b"GIF89a broken", BadImage),
    (png(np.zeros((1, 1), np.uint8)), NoInk), (png(np.full((64, 64), 255, np.uint8)), NoInk),
    (png(np.zeros((64, 64), np.uint8)), NoInk), (png(np.zeros((9000, 2), np.uint8)), BadImage),
])
def test_bad_images_get_a_clear_error(data, error):
    with pytest.raises(error) as info:
        mnist_style(load_image(data))
    assert str(info.value)  # a message for the user, not an empty exception


def test_a_decompression_bomb_is_refused():
    big = Image.new("L", (8000, 8000))  # 64 Mpx: compresses to a few KB
    buf = io.BytesIO()
    big.save(buf, format="PNG")
    assert len(buf.getvalue()) < 200_000
    assert load_image(buf.getvalue()).shape == (1000, 1000)  # at the limit: accepted, reduced as it is decoded
    bigger = io.BytesIO()
    Image.new("L", (8193, 10)).save(bigger, format="PNG")
    with pytest.raises(BadImage, match="limit"):
        load_image(bigger.getvalue())


def test_corrupt_store_is_reported_and_the_app_offers_a_fresh_one(home, monkeypatch):
    home.mkdir(parents=True)
    garbage = b"this is not a database" * 100
    (home / "runs.db").write_bytes(garbage)
    with pytest.raises(StoreError, match="corrupt or locked"):
        RunStore(home)
    at = app_page("pages/train.py").run()
    assert not at.exception
    assert any("cannot open the run store" in e.value for e in at.error)
    fresh = [b for b in at.button if "fresh store" in b.label]
    assert fresh
    fresh[0].click().run()
    assert not at.exception and not at.error
    assert (home / "runs.db").read_bytes() == garbage  # the old file is kept untouched


def test_locked_store_is_reported_not_hung(home):
    RunStore(home).close()
    holder = sqlite3.connect(home / "runs.db", isolation_level=None)
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        t0 = time.time()
        with pytest.raises(StoreError, match="locked"):
            RunStore(home, timeout=0.5)
        assert time.time() - t0 < 10
    finally:
        holder.close()


def test_server_is_local_and_uploads_are_capped():
    cfg = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert cfg["server"]["address"] == "localhost"
    assert cfg["server"]["maxUploadSize"] <= 20
    assert cfg["runner"]["postScriptGC"] is False and cfg["browser"]["gatherUsageStats"] is False
    assert cfg["server"]["fileWatcherType"] == "none"  # watching a tree with .venv in it took a core


@pytest.mark.slow
def test_predict_with_a_model_of_another_dataset_is_refused(store, tmp_path):
    # An untrained CIFAR checkpoint is enough, and needs no CIFAR data on this machine.
    cfg = tiny(arch="cnn", dataset="cifar2", normalize="standard", epochs=1, limit=200)
    run_id = store.create_run(cfg, "cifar")
    path = store.save_checkpoint(run_id, checkpoint_payload(cfg, build_model(cfg), {}, run_id))
    img = tmp_path / "digit.png"
    Image.fromarray(np.pad(np.full((10, 4), 255, np.uint8), 9)).save(img)
    proc = subprocess.run([sys.executable, "-m", "playground", "predict", "--checkpoint", str(path), str(img)],
                          cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 2 and "needs an MNIST model" in proc.stderr and "Traceback" not in proc.stderr


# ------------------------------------------------------------------ faults
def test_out_of_memory_fails_that_run_only(store, monkeypatch):
    import playground.models as models

    real = models.RecurrentClassifier.forward

    def oom_for_wide(self, x):
        if self.rnn.hidden_size == 48:  # the "too big" run
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
        return real(self, x)
    monkeypatch.setattr(models.RecurrentClassifier, "forward", oom_for_wide)
    jobs = JobRegistry(store, max_concurrent=2)
    bad = jobs.submit(tiny(hidden=48))
    good = jobs.submit(tiny(hidden=16))
    assert jobs.wait(bad, 60).status == "failed"
    assert jobs.wait(good, 60).status == "finished"
    rec = store.get_run(bad)
    assert "out of GPU memory" in rec.message and "smaller batch" in rec.message


@pytest.mark.slow
def test_sigkill_mid_training_keeps_everything_written(tmp_path):
    from playground.inference import load_checkpoint

    env = {**os.environ, "PLAYGROUND_HOME": str(tmp_path)}
    args = [sys.executable, "-m", "playground", "train", "--arch", "lstm", "--hidden", "16", "--device", "cpu"]
    done = subprocess.run(args + ["--limit", "500", "--epochs", "2"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    finished_id = json.loads(done.stdout.strip().splitlines()[-1])["run_id"]
    victim = subprocess.Popen(args + ["--limit", "3000", "--epochs", "200"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    store = RunStore(tmp_path)
    try:
        deadline = time.time() + 90
        cut = None
        while time.time() < deadline:
            cut = next((r.id for r in store.list_runs() if r.id != finished_id), None)
            if cut and len(store.epochs(cut)) >= 2:
                break
            time.sleep(0.2)
        assert cut and store.get_run(cut).status == "running"  # our reader left the live run alone
        victim.send_signal(signal.SIGKILL)
        victim.wait(10)
    finally:
        if victim.poll() is None:
            victim.kill()
    store.close()

    reopened = RunStore(tmp_path)  # the restart
    rec = reopened.get_run(cut)
    assert rec.status == "interrupted" and "metrics up to the last flush" in rec.message
    epochs = reopened.epochs(cut)
    assert len(epochs) >= 2
    steps = reopened.steps(cut)
    assert [s["step"] for s in steps] == list(range(1, len(steps) + 1))  # no gaps, no duplicates
    assert len(steps) >= len(epochs) * -(-2700 // 64)  # every step of every stored epoch (batch 64)
    assert load_checkpoint(reopened.checkpoint_path(cut)).metrics["epochs"]  # last epoch's weights
    assert rec.checkpoint == str(reopened.checkpoint_path(cut))  # the interrupted run can be opened
    old = reopened.get_run(finished_id)
    assert old.status == "finished" and len(reopened.epochs(finished_id)) == 2
    assert load_checkpoint(old.checkpoint).config.model.hidden == 16
    assert not [p for p in reopened.checkpoints.iterdir() if p.suffix != ".pt"]  # no half-written files


# ------------------------------------------------------------------ load
def rss_mb() -> float:
    return int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@pytest.mark.soak
def test_soak_eight_runs_cap_two_two_pollers_one_stopped(home, monkeypatch):
    monkeypatch.setenv("PLAYGROUND_MAX_CONCURRENT", "2")
    pollers = [app_page("pages/train.py").run() for _ in range(2)]  # two browser sessions
    from ui.common import jobs  # the same registry the pollers use
    registry = jobs()
    registry.set_max_concurrent(2)
    store = registry.store
    Trainer(tiny(epochs=1, limit=300), None).run()  # warm-up: first-run allocations are not growth
    gc.collect()
    base = rss_mb()
    # Run 5 is long, so the stop surely lands midway; the others take ~1 s each.
    ids = [registry.submit(tiny(epochs=200 if i == 5 else 3, limit=400, seed=i), name=f"soak {i}") for i in range(8)]
    stop_me = ids[5]
    stopped = False
    max_running = 0
    deadline = time.time() + 240
    while time.time() < deadline:
        running = len(registry.running())  # one atomic read, not a status per run
        max_running = max(max_running, running)
        for at in pollers:
            at.run()
            assert not at.exception
        if not stopped and store.get_run(stop_me).status == "running" and store.steps(stop_me):
            registry.stop(stop_me)
            stopped = True
        if all(store.get_run(i).status not in ("queued", "running") for i in ids):
            break
        time.sleep(0.2)
    statuses = {i: store.get_run(i).status for i in ids}
    assert stopped and statuses[stop_me] == "stopped"
    assert all(s == "finished" for i, s in statuses.items() if i != stop_me), statuses
    assert max_running <= 2
    for i in ids:
        snap = registry.view(i)
        stored = store.steps(i)
        assert [r["step"] for r in stored] == list(range(1, len(stored) + 1))
        if i != stop_me:
            assert len(store.epochs(i)) == 3 and len(stored) == 3 * snap.steps_per_epoch
    gc.collect()
    grown = rss_mb() - base
    assert grown < 300, f"memory grew {grown:.0f} MB over 8 runs"
