"""Candidate settings for a lesson or the default study, each trained over seeds: the numbers the text quotes.

    .venv/bin/python -m bench.settings_over_seeds --set study --seeds 5

Each named set is a few configs; every config trains once per seed through a JobRegistry, two at a
time with one CPU thread each (as the app trains them), into a throwaway store. Prints one JSON line
per run and writes bench/results/settings-<set>.json: per config the mean, min and max over seeds of
the last epoch's train and validation accuracy, the generalization gap (train - validation), the
test accuracy and the seconds per run. Only the sets measured in this run replace their file.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

from playground.config import RunConfig, recipe
from playground.engine.jobs import JobRegistry
from playground.engine.study import STUDY_DROPOUT, STUDY_L2
from playground.lessons import LESSONS
from playground.store import RunStore

RESULTS = Path(__file__).resolve().parent / "results"


def _lesson(key: str) -> dict[str, RunConfig]:
    lesson = next(x for x in LESSONS if x.key == key)
    return {run.key: cfg for run, cfg in lesson.configs("cpu")}


def _study() -> dict[str, RunConfig]:
    from playground.compare import StudyChoice, study_plan
    from playground.engine.study import STUDY_EPOCHS, STUDY_LIMIT, STUDY_LR, STUDY_VAL_FRACTION

    base = recipe("cnn").override(epochs=STUDY_EPOCHS, limit=STUDY_LIMIT, val_fraction=STUDY_VAL_FRACTION, lr=STUDY_LR)
    choices = {"none": StudyChoice(baseline=True), "l2": StudyChoice(baseline=False, l2=STUDY_L2),
               "dropout": StudyChoice(baseline=False, dropout=STUDY_DROPOUT)}
    return {name: study_plan(base, choice, 1)[0][1] for name, choice in choices.items()}


def _memory_lr() -> dict[str, RunConfig]:
    """Lesson 2's runs at lr 0.001: does the delayed RNN fail for memory, or for a learning rate too large?"""
    return {f"{k}@0.001": cfg.override(lr=0.001) for k, cfg in _lesson("memory").items()}


def _study_explore() -> dict[str, RunConfig]:
    """Candidate strengths for the default study's regularizers, on 2,000 images with 30% held out."""
    base = recipe("cnn").override(epochs=60, limit=2000, val_fraction=0.3)
    return {"none": base, **{f"l2={lam}": base.override(l2=lam) for lam in (0.003, 0.01, 0.03)},
            **{f"dropout={p}": base.override(dropout=p) for p in (0.3, 0.5)}}


def _study_explore2() -> dict[str, RunConfig]:
    """What overfits within a CPU minute: fewer images, a higher learning rate, more width, smaller batches."""
    base = recipe("cnn").override(limit=1500, val_fraction=0.4)
    fast = base.override(lr=0.03, epochs=100)
    return {"lr0.03": fast, "lr0.03+l2=0.03": fast.override(l2=0.03), "lr0.03+dropout=0.5": fast.override(dropout=0.5),
            "lr0.01x150": base.override(epochs=150), "width32x100": base.override(width=32, epochs=100),
            "batch16x60": base.override(batch_size=16, epochs=60)}


def _noise() -> dict[str, RunConfig]:
    """The label-noise lesson's scale: LeNet on 2,000 digits, a quarter held out, long enough to memorize."""
    base = recipe("lenet").override(limit=2000, val_fraction=0.25, epochs=60)
    return {"clean": base, "noise=0.5": base.override(label_noise=0.5)}


EARLY_PATIENCE = 5  # evaluations (every epoch here) without a gain in validation accuracy


def _early_stopping() -> dict[str, RunConfig]:
    """Lesson 7's runs as the lesson trains them, without and with early stopping (issue 31)."""
    runs = _lesson("noise")
    return {**runs, **{f"{k}+patience={EARLY_PATIENCE}": cfg.override(patience=EARLY_PATIENCE)
                       for k, cfg in runs.items()}}


SETS = {
    "early-stopping": _early_stopping,
    "noise": _noise,
    "study-explore2": _study_explore2,
    "study-explore": _study_explore,
    "study": _study,
    "overfitting": lambda: _lesson("overfitting"),
    "memory": lambda: _lesson("memory"),
    "memory-lr": _memory_lr,
}


def spread(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    return {"mean": round(statistics.fmean(values), 4), "min": round(min(values), 4), "max": round(max(values), 4),
            "range": round(max(values) - min(values), 4)}


def measure(configs: dict[str, RunConfig], seeds: int, concurrent: int) -> dict:
    rows = []
    with tempfile.TemporaryDirectory() as home:
        store = RunStore(home)
        registry = JobRegistry(store, max_concurrent=concurrent, threads_per_run=1)
        jobs = [(name, seed, registry.submit(cfg.override(seed=seed), name=f"{name}/{seed}"))
                for seed in range(seeds) for name, cfg in configs.items()]
        for name, seed, run_id in jobs:
            snap = registry.wait(run_id)
            last = snap.epoch_rows[-1] if snap.epoch_rows else {}
            row = {"config": name, "seed": seed, "status": str(snap.status), "seconds": round(snap.elapsed, 1),
                   "train_acc": last.get("train_acc"), "val_acc": last.get("val_acc"),
                   "test_acc": snap.result.get("test_acc"), "epochs_trained": last.get("epoch"),
                   "kept_epoch": snap.result.get("kept_epoch"),
                   "best_val_acc": max((r["val_acc"] for r in snap.epoch_rows if r.get("val_acc") is not None),
                                       default=None)}
            if row["train_acc"] is not None and row["val_acc"] is not None:
                row["gap"] = row["train_acc"] - row["val_acc"]
            rows.append(row)
            print(json.dumps(row), flush=True)
        registry.shutdown()
        store.close()
    summary = {}
    for name, cfg in configs.items():
        got = [r for r in rows if r["config"] == name and r["status"] == "finished"]
        summary[name] = {"config": cfg.flat(), "runs": len(got),
                         **{k: spread([r[k] for r in got if r.get(k) is not None])
                            for k in ("train_acc", "val_acc", "best_val_acc", "gap", "test_acc", "seconds",
                                   "epochs_trained", "kept_epoch")}}
    return summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--set", default="study", choices=sorted(SETS))
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--concurrent", type=int, default=2)
    ap.add_argument("--out", help="the results file's name (default settings-<set>.json)")
    args = ap.parse_args()
    started = time.time()
    summary = measure(SETS[args.set](), args.seeds, args.concurrent)
    out = {"machine": f"{platform.machine()}, {os.cpu_count()} cores", "set": args.set, "seeds": args.seeds,
           "concurrent": args.concurrent, "wall_seconds": round(time.time() - started, 1), "configs": summary}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / (args.out or f"settings-{args.set}.json")).write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
