"""A learning-rate range test (after fastai's lr_find and Leslie Smith's LR range test).

One short run from the config's initial weights: the learning rate rises exponentially from `start` to
`end` over `steps` batches while the training loss is recorded; it stops early once the loss blows up.
The suggestion is the rule fastai used for years: a tenth of the learning rate where the smoothed loss
was lowest (at that rate the loss is already climbing back; a tenth of it is still well inside the
stable range). The curve is the lesson; the number is a starting point.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .config import RunConfig, validate
from .data import Normalizer, load_dataset
from .engine.jobs import admit_memory, memory_in_use
from .engine.training import make_optimizer, split_dataset
from .models import build_model

SMOOTHING = 0.9  # exponential moving average of the loss, bias-corrected
BLOW_UP = 4.0  # stop once the smoothed loss is this many times its minimum


@dataclass(frozen=True)
class RangeTest:
    lrs: np.ndarray  # (n,) the learning rate of each step
    losses: np.ndarray  # (n,) the raw training loss
    smoothed: np.ndarray  # (n,)
    suggestion: float
    rule: str


def smooth(losses: np.ndarray, beta: float = SMOOTHING) -> np.ndarray:
    """Bias-corrected exponential moving average (as fastai and Adam correct theirs)."""
    out, avg = np.empty(len(losses)), 0.0
    for i, v in enumerate(losses):
        avg = beta * avg + (1 - beta) * float(v)
        out[i] = avg / (1 - beta ** (i + 1))
    return out


def suggest(lrs: np.ndarray, smoothed: np.ndarray) -> tuple[float, str]:
    """A tenth of the learning rate at the smoothed loss's minimum."""
    best = float(lrs[int(np.argmin(smoothed))])
    return best / 10, f"a tenth of {best:.2g}, where the smoothed loss was lowest"


def range_test(cfg: RunConfig, start: float = 1e-6, end: float = 1.0, steps: int = 100,
               threads: int = 1) -> RangeTest:
    """Train `steps` batches of `cfg` (its data, model, optimizer, seed) with the lr rising exponentially."""
    cfg = validate(cfg)
    cpu = torch.device("cpu")
    admit_memory(cfg, cpu, in_use=memory_in_use(cpu))  # the admission a run gets: refused before anything trains
    torch.set_num_threads(threads)  # the runs' own policy (settings.py); process-wide, as the engine sets it
    ds = load_dataset(cfg.data.dataset)
    data = split_dataset(ds, cfg, torch.device("cpu"))
    norm = Normalizer.of(cfg.data.dataset, cfg.data.normalize)
    model = build_model(cfg, seed=cfg.seed).train()
    opt = make_optimizer(cfg, model.parameters())
    gen = torch.Generator().manual_seed(cfg.seed)
    bs = min(cfg.optim.batch_size, len(data.train_y))
    lrs, losses = [], []
    for i in range(steps):
        lr = start * (end / start) ** (i / max(1, steps - 1))
        for group in opt.param_groups:
            group["lr"] = lr
        idx = torch.randint(0, len(data.train_y), (bs,), generator=gen)
        loss = F.cross_entropy(model(norm(data.train_x[idx])), data.train_y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.optim.clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.optim.clip)
        opt.step()
        value = float(loss.detach())
        if not math.isfinite(value):
            break
        lrs.append(lr)
        losses.append(value)
        smoothed = smooth(np.array(losses))
        if i > 10 and smoothed[-1] > BLOW_UP * smoothed.min():
            break
    lrs_a, losses_a = np.array(lrs), np.array(losses)
    smoothed_a = smooth(losses_a)
    suggestion, rule = suggest(lrs_a, smoothed_a)
    return RangeTest(lrs_a, losses_a, smoothed_a, suggestion, rule)
