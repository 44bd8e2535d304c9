"""Training speed: the usual tutorial pipeline vs the playground engine, same model and steps.

    .venv/bin/python bench/train_speed.py [--cases rnn128,lstm64,...] [--steps 200] [--rounds 3]

(a) tutorial: torchvision dataset, PIL image -> ToTensor -> Normalize per sample, DataLoader
    (num_workers=0: 2 workers were slower on 2 cores), model/optimizer as in the recipe.
(b) engine: playground's Trainer on the same recipe (uint8 data in memory, batches by index).
Both train the same number of samples from the same initial weights, back to back, for
several rounds; then both models are scored on the full test set. Prints a table and writes
bench/results/train_speed-<device>.json. Runs unchanged on CUDA.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from playground.config import recipe
from playground.data import Normalizer, load_dataset, normalization
from playground.engine.publish import evaluate
from playground.engine.runner import resolve_device
from playground.engine.steps import l2_penalty
from playground.engine.training import Trainer, make_optimizer
from playground.inference import load_checkpoint
from playground.models import build_model
from playground.store import RunStore

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
CASES = ["rnn128", "lstm64", "gru3x200", "cnn", "cnn-bn-l2"]


# ------------------------------------------------------------------ the tutorial pipeline
def write_mnist_idx(root: Path) -> None:
    """torchvision's raw MNIST files, written from the offline copy, so datasets.MNIST reads them."""
    ds = load_dataset("mnist")
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for split, x, y in (("train", ds.train_x, ds.train_y), ("t10k", ds.test_x, ds.test_y)):
        images = x[:, 0].numpy()
        labels = y.numpy().astype(np.uint8)
        (raw / f"{split}-images-idx3-ubyte").write_bytes(struct.pack(">IIII", 2051, *images.shape) + images.tobytes())
        (raw / f"{split}-labels-idx1-ubyte").write_bytes(struct.pack(">II", 2049, len(labels)) + labels.tobytes())


class CIFAR2Like(torch.utils.data.Dataset):
    """What torchvision.datasets.CIFAR10 does per item: numpy HWC uint8 -> PIL -> transform."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, transform):
        self.data = x.permute(0, 2, 3, 1).numpy()
        self.targets = y.tolist()
        self.transform = transform

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, i: int):
        from PIL import Image

        return self.transform(Image.fromarray(self.data[i])), self.targets[i]


def tutorial_loader(cfg, root: Path, batch_size: int):
    from torchvision import datasets, transforms

    mean, std = normalization(cfg.data.dataset, cfg.data.normalize)
    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize(mean, std)])
    if cfg.data.dataset == "mnist":
        train = datasets.MNIST(str(root), train=True, download=False, transform=tf)
    else:
        ds = load_dataset("cifar2")
        train = CIFAR2Like(ds.train_x, ds.train_y, tf)
    return torch.utils.data.DataLoader(train, batch_size=batch_size, shuffle=True, num_workers=0)


def train_tutorial(cfg, root: Path, samples: int, device: torch.device) -> tuple[float, torch.nn.Module]:
    torch.manual_seed(cfg.seed)
    model = build_model(cfg).to(device)
    opt = make_optimizer(cfg, model.parameters())
    loader = tutorial_loader(cfg, root, cfg.optim.batch_size)
    seen, t0 = 0, time.perf_counter()
    model.train()
    while seen < samples:
        for xb, yb in loader:
            xb, yb = xb.to(device, non_blocking=True), yb.to(device, non_blocking=True)
            loss = F.cross_entropy(model(xb), yb)
            if cfg.reg.l2:
                loss = loss + cfg.reg.l2 * l2_penalty(model)
            opt.zero_grad()
            loss.backward()
            opt.step()
            seen += len(yb)
            if seen >= samples:
                break
    if device.type == "cuda":
        torch.cuda.synchronize()
    return seen / (time.perf_counter() - t0), model


# ------------------------------------------------------------------ the engine
def train_engine(cfg, samples: int, threads: int | None = None) -> tuple[float, torch.nn.Module]:
    """The real Trainer on exactly `samples` training images (one 'epoch' of a limited set)."""
    with tempfile.TemporaryDirectory() as home:
        store = RunStore(home)
        run = cfg.override(limit=samples, val_fraction=0.0, epochs=1)
        snap = Trainer(run, store, store.create_run(run, "bench"), threads=threads).run()
        assert snap.status == "finished", snap.message
        model = load_checkpoint(store.checkpoint_path(store.list_runs()[0].id)).model
        store.close()
    return snap.result["samples_per_s"], model


def test_accuracy(cfg, model: torch.nn.Module, device: torch.device) -> float:
    ds = load_dataset(cfg.data.dataset)
    norm = Normalizer.of(cfg.data.dataset, cfg.data.normalize, device)
    return evaluate(model.to(device), ds.test_x.to(device), ds.test_y.to(device), norm)["acc"]


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM"):
            return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak_rss() -> None:
    with contextlib.suppress(OSError):  # not Linux: the peak is then the process's whole-life peak
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS (Linux)


# ------------------------------------------------------------------ thread study
def busy_process() -> subprocess.Popen:
    """Another training process competing for the cores (what a second run or the browser does)."""
    code = ("import torch,time\nm=torch.nn.LSTM(28,128,batch_first=True)\nx=torch.randn(64,28,28)\n"
            "t=time.time()\nwhile time.time()-t<600:\n  m(x)[0].sum().backward()\n")
    return subprocess.Popen([sys.executable, "-c", code])


def thread_study(case: str, samples: int) -> dict:
    cfg = recipe(case).override(device="cpu")
    out = {}
    for threads in (1, 2):
        out[f"alone, {threads} thread(s)"] = train_engine(cfg, samples, threads)[0]
        other = busy_process()
        try:
            time.sleep(1.0)
            out[f"beside a busy process, {threads} thread(s)"] = train_engine(cfg, samples, threads)[0]
        finally:
            other.kill()
    torch.set_num_threads(os.cpu_count() or 1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--steps", type=int, default=0,
                        help="optimizer steps per measurement; 0 = one full epoch (GRU 3x200: 300 steps)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-thread-study", action="store_true")
    args = parser.parse_args()
    device = resolve_device("auto")
    cpu = f"CPU x{os.cpu_count()} ({platform.processor() or platform.machine()})"
    name = torch.cuda.get_device_name(0) if device.type == "cuda" else cpu
    print(f"device: {name}; torch {torch.__version__}; {torch.get_num_threads()} intra-op threads")
    results = {"device": name, "date": time.strftime("%Y-%m-%d"), "torch": torch.__version__,
               "steps": args.steps, "rounds": args.rounds, "cases": {}}
    with tempfile.TemporaryDirectory() as root:
        write_mnist_idx(Path(root))
        for case in args.cases.split(","):
            cfg = recipe(case).override(device=device.type)
            steps = args.steps or (300 if case == "gru3x200" else 0)  # a GRU epoch takes minutes on CPU
            samples = steps * cfg.optim.batch_size or len(load_dataset(cfg.data.dataset).train_y)
            tut, eng = [], []
            for _ in range(args.rounds):
                reset_peak_rss()
                rate, tut_model = train_tutorial(cfg, Path(root), samples, device)
                tut.append(rate)
                tut_rss = peak_rss_mb()
                reset_peak_rss()
                rate, eng_model = train_engine(cfg, samples)
                eng.append(rate)
                eng_rss = peak_rss_mb()
            row = {"tutorial_samples_per_s": statistics.median(tut), "engine_samples_per_s": statistics.median(eng),
                   "ratio": statistics.median(eng) / statistics.median(tut),
                   "tutorial_test_acc": test_accuracy(cfg, tut_model, device),
                   "engine_test_acc": test_accuracy(cfg, eng_model, device),
                   "tutorial_peak_rss_mb": tut_rss, "engine_peak_rss_mb": eng_rss,
                   "samples": samples, "rounds_tutorial": tut, "rounds_engine": eng}
            results["cases"][case] = row
            print(f"{case:<10} tutorial {row['tutorial_samples_per_s']:>8,.0f}/s  "
                  f"engine {row['engine_samples_per_s']:>8,.0f}/s"
                  f"  x{row['ratio']:.2f}   test acc {row['tutorial_test_acc']:.3f} vs {row['engine_test_acc']:.3f}"
                  f"   peak RSS {tut_rss:,.0f} / {eng_rss:,.0f} MB", flush=True)
    if device.type == "cpu" and not args.no_thread_study:
        results["threads"] = {case: thread_study(case, 200 * recipe(case).optim.batch_size)
                              for case in ("rnn128", "cnn")}
        for case, rows in results["threads"].items():
            for k, v in rows.items():
                print(f"threads {case:<7} {k:<38} {v:>8,.0f} samples/s")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"train_speed-{device.type}.json"
    out.write_text(json.dumps(results, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
