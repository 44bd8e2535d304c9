"""Which values of Compare's sweep ranges let LeNet learn at the sweep form's scale: one run per value, the
ends and inside of each numeric range the form offers for LeNet, on the first N MNIST samples.

    nice -n 10 .venv/bin/python -m bench.sweep_ranges [--limit 3000] [--epochs 2]

A value "learns" when its final validation accuracy reaches LEARNS (chance is 10%). Writes
bench/results/sweep-ranges.json: each value's accuracy, and per setting the widest range of measured values
that all learned, which playground.engine.sweep.DEFAULT_RANGES must lie inside (tests/test_sweep.py).
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from playground.config import recipe
from playground.data import load_dataset
from playground.engine.training import Trainer

RESULTS = Path(__file__).resolve().parent / "results"
LEARNS = 0.5
# The values tried per setting: the ends of the range the form used to offer, and points inside it.
VALUES = {"lr": [1e-4, 3e-4, 1e-3, 1e-2, 3e-2, 1e-1], "l2": [1e-5, 1e-4, 1e-3, 1e-2, 1e-1],
          "weight_decay": [1e-6, 1e-2], "dropout": [0, 0.3, 0.6], "batch_size": [16, 64, 256],
          "label_noise": [0, 0.5]}


def widest_learning(values: list[float], accs: list[float]) -> list[float] | None:
    """The longest run of consecutive measured values that all learned, as [low, high]."""
    best, start = None, None
    for i, acc in enumerate([*accs, 0.0]):
        if acc >= LEARNS and start is None:
            start = i
        elif acc < LEARNS and start is not None:
            if best is None or i - start > best[1] - best[0]:
                best = (start, i)
            start = None
    return None if best is None else [values[best[0]], values[best[1] - 1]]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--limit", type=int, default=3000)
    p.add_argument("--epochs", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(1)
    base = recipe("lenet").override(limit=a.limit, epochs=a.epochs, device="cpu", seed=0)
    load_dataset("mnist")
    out = {"args": vars(a), "recipe": "lenet", "date": time.strftime("%Y-%m-%d %H:%M"), "learns_at": LEARNS,
           "settings": {}}
    for name, values in VALUES.items():
        accs, statuses = [], []
        for v in values:
            snap = Trainer(base.override(**{name: v}), threads=1).run()
            rows = [r for r in snap.epoch_rows if r.get("val_acc") is not None]
            accs.append(float(rows[-1]["val_acc"]) if rows and snap.status == "finished" else 0.0)  # diverged: 0
            statuses.append(str(snap.status))
            print(f"{name}={v:g}: {snap.status} {accs[-1]:.3f}", flush=True)
        out["settings"][name] = {"values": values, "val_acc": accs, "status": statuses,
                                 "learning_range": widest_learning(values, accs)}
    (RESULTS / "sweep-ranges.json").write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out["settings"], indent=1))


if __name__ == "__main__":
    main()
