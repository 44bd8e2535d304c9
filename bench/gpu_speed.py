"""CUDA rows for the training-speed table: the engine with eager and graph-captured steps, one run alone
and five at once through the job registry, and the whole-recipe times the GPU issue sets targets for.

    .venv/bin/python -m bench.gpu_speed [--recipes cnn,rnn128,...] [--epochs 3] [--skip-recipes]
        [--groups 1,16] [--no-eager] [--batched] [--yardstick gpu_limit.txt] [--out FILE]

`--batched` adds, per conv recipe, `--runs` seeds trained as one batched model (torch.func.vmap, eager: its
CUDA-graph capture is not written yet), beside the same seeds as separate graph-captured runs.

`--groups` measures the graph rows once per number of optimizer steps per replay (1: one replay per
batch, the engine before issue 24); `--yardstick` reads gpu_limit.py's output and adds the ratios.

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
from playground.engine import steps
from playground.engine.batched import can_batch
from playground.engine.jobs import JobRegistry
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


def batched_rate(name: str, epochs: int, runs: int) -> dict | None:
    """`runs` seeds as one batched model (engine/group.py): summed samples/s and each seed's test accuracy, to
    set beside packed_rate's (issue 24's target: >= 2x graph-5, accuracy per seed within seed noise)."""
    configs = [recipe(name).override(epochs=epochs, device="cuda", seed=s) for s in range(runs)]
    if can_batch(configs) is not None:
        return None  # recurrent or batch-norm recipes train separately
    with tempfile.TemporaryDirectory() as home:
        jobs = JobRegistry(RunStore(home), max_concurrent=1)
        t0 = time.perf_counter()
        ids = jobs.submit_group(configs, batch=True)
        snaps = [jobs.wait(i, timeout=3600) for i in ids]
        wall = time.perf_counter() - t0
    assert all(s.status == RunStatus.FINISHED for s in snaps), [s.message for s in snaps]
    samples = sum(r["samples_per_s"] * r["seconds"] for s in snaps for r in s.epoch_rows)
    return {"runs": runs, "samples_per_s": samples / wall, "test_acc": [s.result["test_acc"] for s in snaps]}


def whole_recipes() -> dict:
    """The targets: cnn 100 epochs, rnn128 10 epochs (training time), the 5-variant CNN study at 100 epochs."""
    out = {}
    for name in ("cnn", "rnn128"):
        snap = Trainer(recipe(name).override(device="cuda")).run()
        out[name] = {"train_seconds": snap.result["train_seconds"], "test_acc": snap.result.get("test_acc")}
    from playground.engine.study import run_study, study_runs

    with tempfile.TemporaryDirectory() as home:
        jobs = JobRegistry(RunStore(home), max_concurrent=None)
        runs = study_runs("cnn", ["none", "l2", "dropout", "batchnorm", "wider"], seeds=1)
        t0 = time.perf_counter()
        rows = run_study(jobs, runs)
        out["cnn_study_5x100"] = {"seconds": time.perf_counter() - t0, "statuses": [r["status"] for r in rows]}
    return out


def grouped(group: int, measure, *args) -> dict:
    """`measure(*args)` with `group` optimizer steps per graph replay, recurrent models too."""
    saved = steps.STEPS_PER_REPLAY, steps.RECURRENT_STEPS_PER_REPLAY
    steps.STEPS_PER_REPLAY = steps.RECURRENT_STEPS_PER_REPLAY = group
    try:
        return measure(*args)
    finally:
        steps.STEPS_PER_REPLAY, steps.RECURRENT_STEPS_PER_REPLAY = saved


def read_yardstick(path: str) -> dict:
    """gpu_limit.py's figures per recipe, from the JSON line it prints last."""
    lines = [ln for ln in Path(path).read_text().splitlines() if ln.startswith("{")]
    return json.loads(lines[-1])["results"] if lines else {}


def table(res: dict, groups: list[int], runs: int) -> str:
    """Engine vs yardstick per recipe and steps per replay (markdown)."""
    head = f"| recipe | K | yardstick graph, 1 | engine, 1 | ratio | yardstick graph, {runs} | engine, {runs} | ratio |"
    out = [head, "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name, row in res["recipes"].items():
        y = res.get("yardstick", {}).get(name, {})
        for g in groups:
            if f"graph_k{g}_{runs}" not in row:
                continue
            one, many = row[f"graph_k{g}"]["samples_per_s"], row[f"graph_k{g}_{runs}"]["samples_per_s"]
            y1, yk = y.get("graph_1"), y.get(f"graph_{runs}")
            pct = lambda a, b: f"{a / b:.0%}" if b else "-"  # noqa: E731
            out.append(f"| {name} | {g} | {y1 or 0:,.0f} | {one:,.0f} | {pct(one, y1)} | {yk or 0:,.0f} | "
                       f"{many:,.0f} | {pct(many, yk)} |")
    return "\n".join(out)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--recipes", default=",".join(RECIPES))
    p.add_argument("--epochs", type=int, default=3, help="epochs per measured run")
    p.add_argument("--runs", type=int, default=5, help="runs at once for the packed figure")
    p.add_argument("--groups", default="1,16",
                   help="optimizer steps per graph replay to measure, comma-separated (1 = one per batch)")
    p.add_argument("--no-eager", action="store_true", help="skip the engine's eager row")
    p.add_argument("--yardstick", help="gpu_limit.py's output, run before on the same GPU: adds the ratios")
    p.add_argument("--out", default=str(RESULTS / "gpu_speed.json"))
    p.add_argument("--skip-recipes", action="store_true", help="skip the whole-recipe targets")
    p.add_argument("--batched", action="store_true",
                   help="also train --runs seeds of each conv recipe as one batched model (engine/group.py)")
    p.add_argument("--dry-run", action="store_true", help="check the arguments and recipes, train nothing")
    a = p.parse_args()
    names, groups = a.recipes.split(","), [int(g) for g in a.groups.split(",")]
    datasets = sorted({recipe(n).data.dataset for n in names})
    if a.dry_run:
        print(json.dumps({"recipes": names, "groups": groups, "datasets": datasets, "out": a.out}))
        return
    if not torch.cuda.is_available():
        raise SystemExit("gpu_speed needs a CUDA GPU")
    for name in datasets if a.skip_recipes else sorted({*datasets, "mnist", "cifar2"}):
        load_dataset(name)  # loading is not training: keep it out of every figure
    res: dict = {"device": torch.cuda.get_device_name(), "torch": torch.__version__, "epochs": a.epochs,
                 "recipes": {}}
    if a.yardstick:
        res["yardstick"] = read_yardstick(a.yardstick)
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    for name in names:
        row: dict = {}
        res["recipes"][name] = row
        if not a.no_eager:
            row["eager"] = engine_rate(name, a.epochs, graphs=False)
        for g in groups:
            print(f"measuring {name}: {g} steps per replay, alone, then {a.runs} at once", flush=True)
            row[f"graph_k{g}"] = grouped(g, engine_rate, name, a.epochs, True)
            out.write_text(json.dumps(res, indent=1))  # what is measured survives a crash further on
            row[f"graph_k{g}_{a.runs}"] = grouped(g, packed_rate, name, a.epochs, a.runs)
            out.write_text(json.dumps(res, indent=1))
        if a.batched:
            print(f"measuring {name}: {a.runs} seeds as one batched model", flush=True)
            row[f"batched_{a.runs}"] = batched_rate(name, a.epochs, a.runs)
            out.write_text(json.dumps(res, indent=1))
        print(name, json.dumps(row), flush=True)
    if not a.skip_recipes:
        res["whole"] = whole_recipes()
        print(json.dumps(res["whole"]), flush=True)
    out.write_text(json.dumps(res, indent=1))
    print(json.dumps(res))
    print(table(res, groups, a.runs))


if __name__ == "__main__":
    main()
