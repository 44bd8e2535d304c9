"""The numbers Compare's "where two runs differ" and Inside's map quote: two seeds of one recipe disagree on how
many test images, and how far apart the classes sit on the PCA map of the last layer, trained vs untrained.

    .venv/bin/python -m bench.why_numbers [--seeds 0,1]

Trains lesson 8's LeNet at its CPU scale (playground.lessons, "look") once per seed, two at a time with one
CPU thread each, into a throwaway store; writes bench/results/why.json. playground/measured.py copies it (WHY)
and tests/test_learn.py checks the two are equal.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import torch

RESULTS = Path(__file__).resolve().parents[1] / "bench" / "results" / "why.json"


def main() -> None:
    from playground import explain
    from playground.data import Normalizer, load_dataset
    from playground.engine.jobs import JobRegistry
    from playground.inference import load_checkpoint
    from playground.lessons import BY_KEY
    from playground.models import untrained
    from playground.store import RunStore

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="0,1")
    args = ap.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    (_, cfg), = BY_KEY["look"].configs("cpu")
    ds = load_dataset(cfg.data.dataset)
    x = Normalizer.of(cfg.data.dataset, cfg.data.normalize)(ds.test_x)
    labels = ds.test_y.numpy()
    with tempfile.TemporaryDirectory() as home:
        store = RunStore(home)
        registry = JobRegistry(store, max_concurrent=2, threads_per_run=1)
        ids = [registry.submit(cfg.override(seed=seed), name=f"why {seed}") for seed in seeds]
        models = [load_checkpoint(registry.wait(i).result["checkpoint"]).model for i in ids]
        registry.shutdown()
        store.close()
    with torch.no_grad():
        probs = [torch.cat([m.eval()(x[i:i + 1000]) for i in range(0, len(x), 1000)]).softmax(1).numpy()
                 for m in models]
    diff = explain.disagreements(probs[0], probs[1], labels)
    n = explain.PROJECTED
    shares = {}
    for name, model in (("trained", models[0]), ("untrained", untrained(cfg))):
        shares[name] = round(explain.separation(explain.pca(explain.features(model, x[:n])).points, labels[:n]), 4)
    out = {"recipe": "lenet", "lesson": "look", "limit": cfg.data.limit, "epochs": cfg.optim.epochs, "seeds": seeds,
           "test_images": int(min(len(p) for p in probs)),
           "test_acc": [round(float((p.argmax(1) == labels).mean()), 4) for p in probs],
           "a_only": int(len(diff["a_only"])), "b_only": int(len(diff["b_only"])),
           "map_images": n, "pca_separation": shares,
           "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}",
           "when": time.strftime("%Y-%m-%d", time.gmtime())}
    RESULTS.write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
