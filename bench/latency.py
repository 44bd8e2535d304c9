"""Draw-page latency: canvas -> MNIST-style 28x28 -> probabilities (+ the per-row answer for RNNs).

    .venv/bin/python bench/latency.py [--calls 300]

Per architecture: median and p95 over `calls` predictions of real MNIST digits rendered large
and off-centre on a 280x280 RGBA canvas, on CPU (what the Draw page does per stroke).
Writes bench/results/latency.json.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from playground.config import is_recurrent, recipe
from playground.data import load_dataset
from playground.inference import LoadedModel, predict_digits, to_input
from playground.models import build_model
from playground.preprocess import mnist_style
from playground.probes import row_predictions

ROOT = Path(__file__).resolve().parents[1]

ARCHS = {"rnn128": recipe("rnn128"), "lstm64": recipe("lstm64"), "gru3x200": recipe("gru3x200"),
         "lenet": recipe("lenet"), "cnn (mnist)": recipe("cnn").override(dataset="mnist", normalize="half")}


def canvases(n: int) -> list[np.ndarray]:
    ds = load_dataset("mnist")
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        size = int(rng.integers(120, 260))
        top, left = (int(rng.integers(0, 281 - size)) for _ in range(2))
        big = np.asarray(Image.fromarray(ds.test_x[i, 0].numpy()).resize((size, size)))
        c = np.zeros((280, 280), np.uint8)
        c[top:top + size, left:left + size] = big
        out.append(np.dstack([c, c, c, np.full_like(c, 255)]))
    return out


def percentiles(ms: list[float]) -> dict[str, float]:
    return {"median_ms": float(np.median(ms)), "p95_ms": float(np.percentile(ms, 95))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args()
    torch.set_flush_denormal(True)
    inputs = canvases(args.calls)
    results = {"device": "cpu", "threads": torch.get_num_threads(), "date": time.strftime("%Y-%m-%d"),
               "calls": args.calls, "archs": {}}
    print(f"CPU, {torch.get_num_threads()} threads, {args.calls} calls each")
    for name, cfg in ARCHS.items():
        torch.manual_seed(0)
        loaded = LoadedModel(cfg, build_model(cfg).eval(), {}, name)
        total, forward, preprocess = [], [], []
        for canvas in inputs[:10]:  # warm-up
            predict_digits(loaded, mnist_style(canvas[..., 0])[None])
        for canvas in inputs:
            t0 = time.perf_counter()
            digit = mnist_style(canvas[..., 0])
            t1 = time.perf_counter()
            predict_digits(loaded, digit[None])
            t2 = time.perf_counter()
            if is_recurrent(cfg):
                row_predictions(loaded.model, to_input(digit[None], cfg))
            t3 = time.perf_counter()
            preprocess.append((t1 - t0) * 1e3)
            forward.append((t2 - t1) * 1e3)
            total.append((t3 - t0) * 1e3)
        row = {"total": percentiles(total), "preprocess": percentiles(preprocess), "forward": percentiles(forward)}
        results["archs"][name] = row
        print(f"{name:<12} total median {row['total']['median_ms']:6.2f} ms  p95 {row['total']['p95_ms']:6.2f} ms"
              f"   (preprocess {row['preprocess']['median_ms']:.2f}, forward {row['forward']['median_ms']:.2f})")
    out = ROOT / "bench" / "results" / "latency.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
