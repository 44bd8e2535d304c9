"""CUDA rows for the training-speed table: the engine with eager and graph-captured steps, one run alone
and five at once through the job registry, and the whole-recipe times the GPU issue sets targets for.

    .venv/bin/python -m bench.gpu_speed [--recipes cnn,rnn128,...] [--epochs 3] [--skip-recipes]

Needs a CUDA GPU. Compare with ../shared/tools/gpu_limit.py run back to back on the same GPU (the
yardstick: the step alone, eager and as one CUDA graph). Samples/s here are over whole epochs with
evaluation, the epoch rows and checkpoints included: what a user gets. Writes bench/results/gpu_speed.json.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from playground.config import recipe
from playground.data import load_dataset
from playground.engine.jobs import JobRegistry
from playground.engine.study import run_study, study_runs
from playground.engine.training import Trainer
from playground.errors import RunStatus
from playground.store import RunStore

RESULTS = Path(__file__).resolve().parent / "results"
RECIPES = ["cnn", "cnn-bn-l2", "rnn128", "lstm64", "gru3x200", "lenet"]


def engine_rate(name: str, epochs: int, graphs: bool) -> dict:
    """One run alone: samples/s over its epochs, evaluation included, and its per-epoch overhead."""
    cfg = recipe(name).override(epochs=epochs, device="cuda")
    trainer = Trainer(cfg, graphs=graphs)
    t0 = time.perf_counter()
    snap = trainer.run()
    wall = time.perf_counter() - t0
    assert snap.status == RunStatus.FINISHED, snap.message
    trained = sum(r["seconds"] for r in snap.epoch_rows)
    samples = sum(r["samples_per_s"] * r["seconds"] for r in snap.epoch_rows)
    return {"samples_per_s": samples / wall, "train_only_samples_per_s": samples / trained,
            "per_epoch_overhead_s": (wall - trained) / epochs, "note": snap.message}


def packed_rate(name: str, epochs: int, runs: int) -> dict:
    """`runs` copies (different seeds) through one registry at once: summed samples/s."""
    with tempfile.TemporaryDirectory() as home:
        jobs = JobRegistry(RunStore(home), max_concurrent=runs)
        t0 = time.perf_counter()
        ids = [jobs.submit(recipe(name).override(epochs=epochs, device="cuda", seed=s)) for s in range(runs)]
        snaps = [jobs.wait(i, timeout=3600) for i in ids]
        wall = time.perf_counter() - t0
    assert all(s.status == RunStatus.FINISHED for s in snaps), [s.message for s in snaps]
    samples = sum(r["samples_per_s"] * r["seconds"] for s in snaps for r in s.epoch_rows)
    return {"runs": runs, "samples_per_s": samples / wall}


def whole_recipes() -> dict:
    """The targets: cnn 100 epochs, rnn128 10 epochs (training time), the 5-variant CNN study at 100 epochs."""
    out = {}
    for name in ("cnn", "rnn128"):
        snap = Trainer(recipe(name).override(device="cuda")).run()
        out[name] = {"train_seconds": snap.result["train_seconds"], "test_acc": snap.result.get("test_acc")}
    with tempfile.TemporaryDirectory() as home:
        jobs = JobRegistry(RunStore(home), max_concurrent=None)
        runs = study_runs("cnn", ["none", "l2", "dropout", "batchnorm", "wider"], seeds=1)
        t0 = time.perf_counter()
        rows = run_study(jobs, runs)
        out["cnn_study_5x100"] = {"seconds": time.perf_counter() - t0, "statuses": [r["status"] for r in rows]}
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--recipes", default=",".join(RECIPES))
    p.add_argument("--epochs", type=int, default=3, help="epochs per measured run")
    p.add_argument("--runs", type=int, default=5, help="runs at once for the packed figure")
    p.add_argument("--skip-recipes", action="store_true", help="skip the whole-recipe targets")
    a = p.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("gpu_speed needs a CUDA GPU")
    for name in ("mnist", "cifar2"):
        load_dataset(name)  # loading is not training: keep it out of every figure
    res: dict = {"device": torch.cuda.get_device_name(), "torch": torch.__version__, "recipes": {}}
    for name in a.recipes.split(","):
        row = {"eager": engine_rate(name, a.epochs, graphs=False), "graph": engine_rate(name, a.epochs, graphs=True),
               f"graph_{a.runs}": packed_rate(name, a.epochs, a.runs)}
        res["recipes"][name] = row
        print(name, json.dumps(row), flush=True)
    if not a.skip_recipes:
        res["whole"] = whole_recipes()
        print(json.dumps(res["whole"]), flush=True)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "gpu_speed.json").write_text(json.dumps(res, indent=1))
    print(json.dumps(res))


if __name__ == "__main__":
    main()
