"""Why a study batches its same-shape runs only on CUDA: K seeds of one conv recipe on this CPU, trained one
after another (each a Trainer) vs as one batched model (engine/group.py), one intra-op thread as the app trains.

    .venv/bin/python -m bench.batched_cpu [--recipe lenet] [--seeds 3] [--limit 6000] [--epochs 1]

Prints samples/s over training time for both and their ratio; writes bench/results/batched_cpu-<recipe>.json.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from playground.config import recipe
from playground.data import load_dataset
from playground.engine.group import GroupTrainer
from playground.engine.training import Trainer

RESULTS = Path(__file__).resolve().parent / "results"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--recipe", default="lenet")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--limit", type=int, default=6000)
    p.add_argument("--epochs", type=int, default=1)
    a = p.parse_args()
    torch.set_num_threads(1)
    configs = [recipe(a.recipe).override(limit=a.limit, epochs=a.epochs, device="cpu", seed=s)
               for s in range(a.seeds)]
    load_dataset(configs[0].data.dataset)  # loading is not training
    Trainer(configs[0].override(limit=300), threads=1).run()  # warm-up
    t0 = time.perf_counter()
    alone = [Trainer(c, threads=1).run() for c in configs]
    alone_wall = time.perf_counter() - t0
    t0 = time.perf_counter()
    group = GroupTrainer(configs, threads=1, graphs=False).run()
    group_wall = time.perf_counter() - t0
    samples = sum(r["samples_per_s"] * r["seconds"] for s in alone for r in s.epoch_rows)
    rate = {"separate": samples / sum(s.result["train_seconds"] for s in alone),
            "batched": samples / max(s.result["train_seconds"] for s in group)}
    out = {"args": vars(a), "date": time.strftime("%Y-%m-%d %H:%M"), "samples_per_s": rate,
           "wall_s": {"separate": alone_wall, "batched": group_wall},
           "test_acc": {"separate": [s.result["test_acc"] for s in alone],
                        "batched": [s.result["test_acc"] for s in group]}}
    print(json.dumps(out, indent=1))
    print(f"batched / separate samples/s: {rate['batched'] / rate['separate']:.2f}x")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"batched_cpu-{a.recipe}.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
