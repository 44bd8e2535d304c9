"""A learning-rate range test (after fastai's lr_find and Leslie Smith's LR range test).

One short run from the config's initial weights: the learning rate rises exponentially from `start` to
`end` over `steps` batches while the training loss is recorded; it stops early once the loss blows up.
When the curve climbs again, the suggestion is the rule fastai used for years: a tenth of the learning
rate where the smoothed loss was lowest (at that rate the loss is already climbing back; a tenth of it
is still well inside the stable range). When it never climbs, its lowest point is only the end of the
range, and a tenth of it can land where the fall only begins: the rate where it fell fastest instead.
`shape` reads the curve and `advise` words it, so the text says what the chart shows.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .config import RunConfig, validate
from .data import Normalizer, load_dataset
from .engine.jobs import holding_memory
from .engine.split import split_dataset
from .engine.training import make_optimizer
from .models import build_model

SMOOTHING = 0.9  # exponential moving average of the loss, bias-corrected
BLOW_UP = 4.0  # stop once the smoothed loss is this many times its minimum


FLAT = 0.05  # the loss is "flat" while it stays within 5% of where it started
FELL = 0.10  # it "falls" when its lowest point is 10% or more below where it started
CLIMBED = 0.20  # it "climbs" when it ends 20% or more above its lowest point


@dataclass(frozen=True)
class Shape:
    """What the smoothed curve did, read from it (the sentence under the chart is built from these)."""
    start: float  # the smoothed loss at the first step
    lowest: float  # its lowest value...
    lowest_lr: float  # ...and the learning rate there
    end: float  # the loss at the last step...
    end_lr: float  # ...and the rate there (the test stops early once the loss blows up)
    flat_until: float | None  # the last rate of a flat start (None: it moved from the first steps)
    falls: bool
    climbs: bool  # after its lowest point
    steepest_lr: float  # where it fell fastest per decade of rate, before its lowest point


@dataclass(frozen=True)
class RangeTest:
    lrs: np.ndarray  # (n,) the learning rate of each step
    losses: np.ndarray  # (n,) the raw training loss
    smoothed: np.ndarray  # (n,)
    suggestion: float | None  # None when the curve gives no rate to start from (it never fell)
    rule: str
    shape: Shape | None = None
    text: str = ""  # the curve on screen in words, and what to do


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


def shape(lrs: np.ndarray, smoothed: np.ndarray) -> Shape:
    """Whether the smoothed loss starts flat, falls, and climbs again, and at which rates."""
    lrs, smoothed = np.asarray(lrs, dtype=float), np.asarray(smoothed, dtype=float)
    start, low = float(smoothed[0]), int(np.argmin(smoothed))
    moved = np.flatnonzero(np.abs(smoothed - start) > FLAT * abs(start))
    first_move = int(moved[0]) if len(moved) else len(smoothed)
    # A start is "flat" only when it lasts a while: 5 steps of a 100-step test are ~0.3 decades of rate.
    flat_until = float(lrs[first_move - 1]) if first_move >= 5 else None
    slope = np.gradient(smoothed, np.log10(lrs)) if len(lrs) > 1 else np.zeros(1)
    steepest = int(np.argmin(slope[:low + 1]))
    return Shape(start=start, lowest=float(smoothed[low]), lowest_lr=float(lrs[low]), end=float(smoothed[-1]),
                 end_lr=float(lrs[-1]), flat_until=flat_until, falls=smoothed[low] <= (1 - FELL) * start,
                 climbs=smoothed[-1] >= (1 + CLIMBED) * smoothed[low], steepest_lr=float(lrs[steepest]))


def advise(sh: Shape) -> tuple[float | None, str, str]:
    """(suggested rate or None, its rule, the curve in words with what to do), all read from `sh`."""
    if not sh.falls and sh.climbs:  # once said "up to a rate of 0.76" of a loss that blew up there
        return None, "", (f"The loss started at {sh.start:.3g} and never fell {FELL:.0%} below it (lowest "
                          f"{sh.lowest:.3g} at {sh.lowest_lr:.2g}), then climbed to {sh.end:.3g} by {sh.end_lr:.2g}: "
                          "these batches show no rate that learns faster, and rates that high make it worse. Keep "
                          "the form's rate, or test with more data or a smaller model.")
    if not sh.falls:
        return None, "", (f"The loss started at {sh.start:.3g} and never fell {FELL:.0%} below it (lowest "
                          f"{sh.lowest:.3g}, up to a rate of {sh.end_lr:.2g}): these batches show no rate that "
                          "learns faster. Keep the form's rate, or test with more data or a smaller model.")
    began = (f"The loss stayed flat at {sh.start:.3g} up to a rate of {sh.flat_until:.2g}, then "
             if sh.flat_until is not None else f"The loss started at {sh.start:.3g} and ")
    fell = f"fell to {sh.lowest:.3g} at {sh.lowest_lr:.2g}"
    if sh.climbs:
        suggestion, rule = sh.lowest_lr / 10, f"a tenth of {sh.lowest_lr:.2g}, where the smoothed loss was lowest"
        return suggestion, rule, (began + f"{fell}, then climbed to {sh.end:.3g} by {sh.end_lr:.2g}. Start a "
                                  "little below the lowest point, where the loss still falls steadily.")
    return sh.steepest_lr, f"where the loss fell fastest, {sh.steepest_lr:.2g}", (
        began + f"{fell} and never climbed up to {sh.end_lr:.2g}, the largest rate tried: this test found no rate "
        "too large, so its lowest point is no edge to stay below. Start where the loss fell fastest; over a "
        "whole run a rate near the end of the range may still diverge.")


def range_test(cfg: RunConfig, start: float = 1e-6, end: float = 1.0, steps: int = 100,
               threads: int = 1) -> RangeTest:
    """Train `steps` batches of `cfg` (its data, model, optimizer, seed) with the lr rising exponentially."""
    cfg = validate(cfg)
    # The admission a run gets, refused before anything trains; its memory counts as in use while it trains,
    # so a run submitted meanwhile waits for the room as it would behind another run.
    with holding_memory(cfg, torch.device("cpu")):
        torch.set_num_threads(threads)  # the runs' own policy (settings.py); process-wide, as the engine sets it
        lrs, losses = _rising(cfg, start, end, steps)
    lrs_a, losses_a = np.array(lrs), np.array(losses)
    smoothed_a = smooth(losses_a)
    sh = shape(lrs_a, smoothed_a)
    suggestion, rule, text = advise(sh)
    return RangeTest(lrs_a, losses_a, smoothed_a, suggestion, rule, sh, text)


def _rising(cfg: RunConfig, start: float, end: float, steps: int) -> tuple[list[float], list[float]]:
    """(learning rates, losses) of up to `steps` batches, the rate rising from `start` to `end`; it stops once
    the loss is not finite or the smoothed loss blows up."""
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
    return lrs, losses
