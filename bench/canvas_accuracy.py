"""Does a model read drawings like MNIST digits? CLI `predict` on re-rendered test digits.

    .venv/bin/python bench/canvas_accuracy.py --checkpoint runs/checkpoints/run-1.pt [--count 1000]

Renders the first `count` MNIST test digits as 280x280 PNG canvases, each scaled to a random
size (100-270 px) at a random off-centre position, half of them dark ink on white paper, runs
`python -m playground predict` on the files (the same preprocessing the Draw page uses), and
compares the accuracy with the model's plain test accuracy on the same 28x28 digits.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from playground.data import load_dataset
from playground.inference import load_checkpoint, predict_digits

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--count", type=int, default=1000)
    args = parser.parse_args()
    ds = load_dataset("mnist")
    digits, labels = ds.test_x[:args.count, 0].numpy(), ds.test_y[:args.count].numpy()
    rng = np.random.default_rng(0)
    sizes = []
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i, digit in enumerate(digits):
            size = int(rng.integers(100, 271))
            top, left = (int(rng.integers(0, 281 - size)) for _ in range(2))
            canvas = np.zeros((280, 280), np.uint8)
            canvas[top:top + size, left:left + size] = np.asarray(Image.fromarray(digit).resize((size, size)))
            if i % 2:
                canvas = 255 - canvas  # dark ink on light paper
            path = Path(tmp) / f"{i:05d}.png"
            Image.fromarray(canvas).save(path)
            paths.append(str(path))
            sizes.append(size)
        proc = subprocess.run([sys.executable, "-m", "playground", "predict", "--checkpoint", args.checkpoint, *paths],
                              cwd=ROOT, capture_output=True, text=True)
        out = [json.loads(line) for line in proc.stdout.splitlines()]
    got = np.array([o.get("label", -1) for o in out])
    canvas_acc = float((got == labels).mean())
    plain_acc = float((predict_digits(load_checkpoint(args.checkpoint), digits / 255.0).argmax(1) == labels).mean())
    small = np.array(sizes) < 160
    print(f"{args.count} digits: plain 28x28 accuracy {plain_acc:.1%}; as 280x280 canvases via `predict` "
          f"{canvas_acc:.1%} (sizes <160 px: {(got == labels)[small].mean():.1%}, >=160 px: "
          f"{(got == labels)[~small].mean():.1%}; {sum('error' in o for o in out)} refused)")


if __name__ == "__main__":
    main()
