"""Teach it your handwriting: what 20 drawings do to a model, on held-out drawings and on MNIST, over seeds.

    .venv/bin/python -m bench.finetune [--seeds 3] [--epochs 5] [--lr 0.001] [--out finetune.json]

A base model (the lstm64 recipe: MNIST, one epoch, as the Train page's default) is trained once. Then, per seed,
a "hand" of drawings is rendered from strokes (bench/strokes.py: digits drawn with a mouse on the Draw page's canvas,
read as the page reads it): 2 of each digit to train on (20) and 6 of each held out (60), frozen into an own-data
snapshot (playground/own.py). Each variant fine-tunes the base on the 20 (playground/engine/finetune.py) and reports
held-out and MNIST test accuracy before and after. Variants: all layers or the last only, with or without 500 MNIST
images replayed. Writes bench/results/finetune.json (finetune-lr0.01.json: --lr 0.01 --epochs 10 --out ...); the
Draw page's "Teach it" caption quotes them through playground/measured.py.
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

import numpy as np
import torch

RESULTS = Path(__file__).resolve().parents[1] / "bench" / "results"
# Variant key -> its change: all layers, the last layer only, all layers with 500 MNIST training images replayed.
VARIANTS = {"all": {"train_layers": "all"}, "last": {"train_layers": "last"},
            "replay": {"train_layers": "all", "replay": 500}}
TRAIN_PER_DIGIT, HELD_PER_DIGIT = 2, 6


def spread(values: list[float]) -> dict[str, float]:
    return {"min": round(min(values), 4), "max": round(max(values), 4), "mean": round(statistics.fmean(values), 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--out", default="finetune.json", help="file name in bench/results")
    args = parser.parse_args()
    os.environ["PLAYGROUND_HOME"] = tempfile.mkdtemp(prefix="bench-finetune-")
    torch.set_num_threads(1)

    from bench.strokes import DIGITS, drawn
    from playground import own
    from playground.config import recipe
    from playground.engine.training import Trainer
    from playground.store import RunStore

    store = RunStore(os.environ["PLAYGROUND_HOME"])
    base_cfg = recipe("lstm64").override(device="cpu")
    t0 = time.time()
    base = Trainer(base_cfg, store, store.create_run(base_cfg, "base"), threads=1).run()
    assert base.status == "finished", base.message
    print(f"base lstm64: test accuracy {base.result['test_acc']:.4f} ({time.time() - t0:.0f} s)", flush=True)
    out: dict[str, dict[str, list[float]]] = {name: {} for name in VARIANTS}
    per = TRAIN_PER_DIGIT + HELD_PER_DIGIT
    for seed in range(args.seeds):
        images, names = drawn(DIGITS, per, seed=100 + seed)
        labels = [int(n) for n in names]
        held = HELD_PER_DIGIT / per  # own.split_ids: 6 of each digit's 8 held out, by a draw seeded with `seed`
        snap = own.write_snapshot(list(range(len(labels))), labels, list(images), name=f"hand{seed}", held_out=held,
                                  seed=seed)
        for name, change in VARIANTS.items():
            cfg = base_cfg.override(dataset=snap.dataset, init_from=base.result["checkpoint"], limit=0,
                                    val_fraction=0.0, epochs=args.epochs, lr=args.lr, batch_size=16, seed=seed,
                                    **change)
            snap_run = Trainer(cfg, threads=1).run()
            assert snap_run.status == "finished", snap_run.message
            moved = snap_run.result["fine_tune"]
            for key in ("own_before", "own_after", "mnist_before", "mnist_after"):
                out[name].setdefault(key, []).append(moved[key])
            out[name].setdefault("trained_on", []).append(len(snap.train_ids))
            out[name].setdefault("held_out", []).append(moved["held_out"])
            out[name].setdefault("own_gain", []).append(moved["own_after"] - moved["own_before"])
            out[name].setdefault("mnist_loss", []).append(moved["mnist_before"] - moved["mnist_after"])
            print(f"seed {seed} {name}: yours {moved['own_before']:.3f} -> {moved['own_after']:.3f}, "
                  f"MNIST {moved['mnist_before']:.4f} -> {moved['mnist_after']:.4f}", flush=True)
    result = {
        "what": "lstm64 (MNIST, 1 epoch) fine-tuned on 20 stroke-rendered drawings (2 per digit); accuracy on 60 "
                "held-out drawings of the same hand and on MNIST's 10,000 test images, before and after",
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}",
        "seeds": args.seeds, "epochs": args.epochs, "lr": args.lr, "batch_size": 16,
        "replay": VARIANTS["replay"]["replay"],
        "base_test_acc": round(base.result["test_acc"], 4),
        "configs": {name: {"seeds": args.seeds, **{key: spread(v) for key, v in values.items()}}
                    for name, values in out.items()},
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result))


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
