"""How long runs will take here, before they start: this machine's measured speed x the work the settings ask for.

The speed comes from the store's finished runs on this machine with the same dataset and architecture
(wall time per unit of work, the closest such run first), else from a short measured probe: a few
training steps of the config on random inputs, and an evaluation of them. The work of a run is counted in
trained samples: each epoch trains on the images not held out, then evaluates the validation set and a training
subset (an evaluated image costs what the probe measured of a trained one's time: 0.15-0.6 by model, else a
third), and the end evaluates the test set; each run pays START_SECONDS, the first LOAD_SECONDS; a model
that needs more multiply-adds per sample takes proportionally longer. Several runs share the machine
`at_once` at a time. The estimate is said as a rough duration, never as a precise time.
"""
from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from .config import RunConfig, evaluates, is_recurrent, train_probe_size
from .errors import RunStatus


class _OwnAware(dict):
    """A built-in dataset's number, or your own data's (an own.py snapshot, from its own.json) on demand."""

    def __init__(self, values: dict, field: str):
        super().__init__(values)
        self.field = field

    def __missing__(self, name: str):
        from .own import OwnDataError, read_snapshot

        try:
            snap = read_snapshot(name)
        except OwnDataError:
            raise KeyError(name) from None
        return {"train": len(snap.train_ids), "test": len(snap.test_ids), "shape": (1, 28, 28),
                "classes": len(snap.classes)}[self.field]


# Training images per dataset (limit 0 = all) and test images (the same `limit` cuts the test set too).
TRAIN_SIZE = _OwnAware({"mnist": 60_000, "cifar2": 10_000}, "train")
TEST_SIZE = _OwnAware({"mnist": 10_000, "cifar2": 2_000}, "test")
SHAPE = _OwnAware({"mnist": (1, 28, 28), "cifar2": (3, 32, 32)}, "shape")  # C, H, W (data.SPECS, without torch)
CLASSES = _OwnAware({"mnist": 10, "cifar2": 2}, "classes")
# An evaluated image's time over a trained one's where no probe measured it (stored runs, a GPU): a forward pass
# against forward + backward + update. A CPU probe measures it: 0.15-0.2 for lesson 2's RNNs, 0.4 LeNet, 0.55 the
# study's CNN (bench/README.md, "First-use time estimates").
EVAL_COST = 1 / 3
# On a small training set one evaluation costs more than an epoch (the default study: 900 images trained, 600
# validation + 900 probe evaluated, 2.2x wall over training time): a study evaluates every few epochs so that
# its evaluations cost at most this share of its training, with curves of at least MIN_POINTS points.
STUDY_EVAL_SHARE, MIN_POINTS = 0.1, 10
BUSY = 1.5  # a load average above 1.5x the cores: other work shares them (two runs at once on two cores is 2)
# Paid once per run beside its steps and evaluations: the split, the model build, checkpoints and store writes,
# 0.06-0.10 s a run in bench/study_wall.py's rounds (1.0 here made 1-epoch runs of 0.2-0.5 s read 2-5x long).
START_SECONDS = 0.1
# Paid once, before the first run, where this process has not loaded the dataset yet: 0.2 s from data/decoded, and
# the two slots' runs wait for it together (study_wall-cnn-cold.json: 0.9 s waited in all, 0.45 s of wall time).
LOAD_SECONDS = 0.5
GATES = {"rnn": 1, "gru": 3, "lstm": 4}
# Batch-norm's work per output value in multiply-adds' worth, training: the CNN recipe with it trained 15% slower
# here (bench/README.md, the study's wall time) though its convolutions are the same.
BATCHNORM_WORK = 6


@dataclass(frozen=True)
class Rate:
    """Seconds of wall time per unit of work (one trained sample of a model of `work` = 1 multiply-add)."""
    seconds_per_unit: float
    source: str  # "run #12" or "a 0.4 s probe", said next to the estimate
    eval_cost: float = EVAL_COST  # an evaluated sample's time over a trained one's: measured by a CPU probe


def split(cfg: RunConfig) -> tuple[int, int, int]:
    """(trained, validation, test) images per epoch, as engine.split.split_dataset cuts them."""
    n = min(cfg.data.limit or TRAIN_SIZE[cfg.data.dataset], TRAIN_SIZE[cfg.data.dataset])
    n_val = int(n * cfg.data.val_fraction)
    return n - n_val, n_val, min(cfg.data.limit or TEST_SIZE[cfg.data.dataset], TEST_SIZE[cfg.data.dataset])


def evaluations(cfg: RunConfig) -> int:
    """How many epochs end with an evaluation (config.evaluates)."""
    return sum(evaluates(cfg, epoch) for epoch in range(1, cfg.optim.epochs + 1))


def eval_samples(cfg: RunConfig, eval_cost: float = EVAL_COST) -> float:
    """One evaluation's work in training-step samples: the validation set and the training probe, forward only."""
    n_train, n_val, _ = split(cfg)
    return eval_cost * (n_val + train_probe_size(n_train, n_val))


def samples(cfg: RunConfig, eval_cost: float = EVAL_COST) -> float:
    """A run's work in training-step samples: the epochs' training and evaluation, and the test pass."""
    n_train, _, n_test = split(cfg)
    return cfg.optim.epochs * n_train + evaluations(cfg) * eval_samples(cfg, eval_cost) + eval_cost * n_test


def eval_every_for(cfg: RunConfig, share: float = STUDY_EVAL_SHARE) -> int:
    """The smallest eval_every whose evaluations cost at most `share` of the training, keeping at least
    MIN_POINTS evaluated epochs: 1 wherever evaluating every epoch is already that cheap."""
    n_train, _, _ = split(cfg)
    epochs = cfg.optim.epochs
    for every in range(1, max(1, epochs // MIN_POINTS) + 1):
        if evaluations(cfg.override(eval_every=every)) * eval_samples(cfg) <= share * epochs * n_train:
            return every
    return max(1, epochs // MIN_POINTS)


def work(cfg: RunConfig) -> float:
    """Multiply-adds of one sample's forward pass: what makes a wider or deeper model slower per sample."""
    c, h, w = SHAPE[cfg.data.dataset]
    if is_recurrent(cfg):
        m = cfg.model
        per_step = sum(GATES[m.arch] * m.hidden * ((w * c if layer == 0 else m.hidden) + m.hidden)
                       for layer in range(m.layers))
        return (h + m.delay) * per_step + m.hidden * CLASSES[cfg.data.dataset]
    return _conv_work(cfg, (c, h, w))


@functools.lru_cache(maxsize=256)  # a page estimates the same few configs on every rerun (issue 36)
def _conv_work(cfg: RunConfig, shape: tuple[int, int, int]) -> float:
    """A CNN's multiply-adds, counted from the layers' output shapes on the meta device (no memory, no time)."""
    import torch
    from torch import nn

    from .models import build_model

    total = 0.0

    def count(module, _inputs, output) -> None:
        nonlocal total
        if isinstance(module, nn.Conv2d):
            k = module.kernel_size[0] * module.kernel_size[1]
            total += output[0].numel() * module.in_channels // module.groups * k
        elif isinstance(module, nn.Linear):
            total += module.in_features * module.out_features
        elif isinstance(module, nn.BatchNorm2d):
            total += output[0].numel() * BATCHNORM_WORK
    with torch.device("meta"):
        model = build_model(cfg)
        hooks = [m.register_forward_hook(count) for m in model.modules()
                 if isinstance(m, (nn.Conv2d, nn.Linear, nn.BatchNorm2d))]
        try:
            model(torch.zeros(1, *shape))
        finally:
            for hook in hooks:
                hook.remove()
    return total


def units(cfg: RunConfig, eval_cost: float = EVAL_COST) -> float:
    return samples(cfg, eval_cost) * work(cfg)


def longest_first(configs: Sequence[RunConfig]) -> list[int]:
    """Indices of `configs`, the most work first (ties in their order): runs started in this order, a few at a
    time, end closer together, and fewer slots idle while the last one finishes alone."""
    work_of = [units(cfg) for cfg in configs]
    return sorted(range(len(configs)), key=lambda i: -work_of[i])


def _same_machine(rec, device: str) -> bool:
    from .store import HOST

    return rec.host == HOST and rec.node is None and (rec.device or "").startswith(device)


def measured_rate(cfg: RunConfig, runs: Iterable, device: str = "cpu") -> Rate | None:
    """The speed of the finished run on this machine (same dataset and architecture) closest to `cfg`:
    the same model and batch size first, then the nearest amount of work. None when there is none."""
    target = units(cfg)
    model_key = _speed_key(cfg)
    best = None
    for rec in runs:
        c = rec.config
        if (rec.status != RunStatus.FINISHED or c is None or rec.started is None or rec.ended is None
                or c.data.dataset != cfg.data.dataset or c.model.arch != cfg.model.arch
                or not _same_machine(rec, device)):
            continue
        done = units(c)
        seconds_per_unit = _seconds_per_unit(rec, c, done)
        if seconds_per_unit is None:
            continue
        score = (_speed_key(c) != model_key, abs(math.log(done / target)), -rec.id)
        if best is None or score < best[0]:
            best = (score, Rate(seconds_per_unit, f"run #{rec.id}"))
    return best[1] if best else None


def _seconds_per_unit(rec, cfg: RunConfig, done: float) -> float | None:
    """A finished run's seconds per unit of work: from its training time over its trained samples where it
    has one (start-up, loading and waits are no work; a short run's 2-3 s of them made large runs look
    several times slower), else from its wall time less START_SECONDS."""
    result = rec.result if isinstance(rec.result, dict) else {}
    rate = result.get("samples_per_s")
    if "kept_epoch" in result and isinstance(rate, (int, float)) and rate > 0:
        return 1 / (rate * work(cfg))  # early stopping: fewer epochs than the config's were trained
    trained = cfg.optim.epochs * split(cfg)[0] * work(cfg)
    train_seconds = result.get("train_seconds")
    if isinstance(train_seconds, (int, float)) and train_seconds > 0 and trained > 0:
        return train_seconds / trained
    wall = rec.ended - rec.started
    return (wall - START_SECONDS) / done if wall > START_SECONDS and done > 0 else None


def _speed_key(cfg: RunConfig) -> tuple:
    """What sets the speed per sample beyond the multiply-adds: the model's shape and the batch size, and
    whether the rate moves (a schedule trains without CUDA graphs: LeNet ~6x slower per sample on an H200)."""
    m = cfg.model
    return (m.hidden, m.layers, m.width, m.delay, cfg.reg.batchnorm, cfg.reg.dropout > 0, cfg.optim.batch_size,
            cfg.optim.schedule != "constant")


def probe_rate(cfg: RunConfig, threads: int = 1, seconds: float = 0.4,
               clock: Callable[[], float] = time.perf_counter, device: str = "cpu", copies: int = 1) -> Rate:
    """Time training steps of `cfg` on random inputs (with the runs' thread count) for about `seconds`, `copies`
    of it at once in threads of this process, as runs at once train: they share the cores and the interpreter
    (two small RNNs at once each trained 2.6x slower than one alone on a busy 2-core machine, bench/estimates.py)."""
    import threading

    import torch

    torch.set_num_threads(threads)  # process-wide: the same value every run sets (engine.training)
    if device != "cpu":
        inner = clock
        clock = lambda: (torch.cuda.synchronize(), inner())[1]  # noqa: E731 - a GPU step ends when it syncs
    copies = max(1, copies)
    start = threading.Barrier(copies)
    timed: list[tuple[float, int, int, float | None]] = []  # (seconds, steps, batch, eval cost) of each copy

    def steps() -> None:
        start.wait()
        timed.append(_timed_steps(cfg, seconds, clock, device))
    workers = [threading.Thread(target=steps, daemon=True) for _ in range(copies - 1)]
    for worker in workers:
        worker.start()
    steps()
    for worker in workers:
        worker.join()
    took = max(t for t, _, _, _ in timed)
    per_unit = sum(t / (n * batch * work(cfg)) for t, n, batch, _ in timed) / len(timed)
    costs = [c for _, _, _, c in timed if c is not None]
    return Rate(per_unit, f"a {took:.1f} s probe" + (f", {copies} at once" if copies > 1 else ""),
                sum(costs) / len(costs) if costs else EVAL_COST)


def _timed_steps(cfg: RunConfig, seconds: float, clock: Callable[[], float],
                 device: str) -> tuple[float, int, int, float | None]:
    """(seconds, steps, batch size) of the engine's own training steps after the first (which pays for allocation):
    the config's optimizer, clipping and L2, batches gathered from uint8 images and normalized, channels-last
    CNNs on a CPU, the losses read every step, as engine.training trains (a bare SGD step on one fixed batch
    timed small RNNs at about half their training time); and on a CPU the eval cost: the engine's own evaluation
    of the same images, per image, over a training step's time per image (None on a GPU: there an evaluation is
    of whole sets in a few launches, which these few images would not show)."""
    import torch

    from .data import Normalizer
    from .engine.runner import cpu_setup
    from .engine.steps import EagerStep
    from .engine.training import make_optimizer
    from .models import build_model

    if device == "cpu":
        cpu_setup(None)  # denormals off in this thread, as in a run's (the thread count is set by the caller)
    model = build_model(cfg, seed=0).to(device)
    batch = min(cfg.optim.batch_size, 256)  # a probe of a huge batch would itself take long
    x = torch.randint(0, 256, (4 * batch, *SHAPE[cfg.data.dataset]), dtype=torch.uint8, device=device)
    y = torch.randint(0, CLASSES[cfg.data.dataset], (4 * batch,), device=device)
    if device == "cpu" and not is_recurrent(cfg):
        model, x = model.to(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last)
    norm = Normalizer.of(cfg.data.dataset, cfg.data.normalize, device)
    step = EagerStep(model, make_optimizer(cfg, model.parameters()), norm, x, y, cfg.reg.l2, cfg.optim.clip)
    model.train()
    order = torch.randperm(4 * batch, device=device)
    steps, start, now = -1, 0.0, 0.0
    while steps < 200 and (steps < 1 or now - start < seconds):
        at = (steps + 1) % 4 * batch
        step.step(order[at:at + batch])
        step.drain()
        steps, now = steps + 1, clock()
        if steps == 0:  # the clock starts after the first step
            start = now
    if device != "cpu" or steps < 1:
        return now - start, steps, batch, None
    from .engine.publish import EVAL_BATCH, evaluate

    x, y = x[:2 * EVAL_BATCH], y[:2 * EVAL_BATCH]  # two batches give the time an image (not all 4 x 256)
    evaluate(model, x, y, norm)  # the first pass allocates, as the first step did
    before = clock()
    evaluate(model, x, y, norm)
    per_eval, per_step = (clock() - before) / len(y), (now - start) / (steps * batch)
    return now - start, steps, batch, per_eval / per_step if per_step > 0 else None


def probe_shape(cfg: RunConfig) -> RunConfig:
    """What one probe stands for: the speed per sample depends on the model and batch alone, so one probe serves
    every epochs, limit and label noise (which labels are wrong costs nothing), and a study's data axes add none."""
    return cfg.override(epochs=1, limit=0, seed=0, val_fraction=0.0, label_noise=0.0, patience=0)


def run_seconds(cfg: RunConfig, rate: Rate) -> float:
    return START_SECONDS + units(cfg, rate.eval_cost) * rate.seconds_per_unit


def total_seconds(times: Sequence[float], at_once: int, ahead: Sequence[float] = (),
                  alone: Sequence[float] | None = None) -> float:
    """Wall time of runs taking `times` each while they share the machine (`alone[i]` while run i trains by itself),
    `at_once` at a time, started longest first (as a study starts them): each run takes the slot that frees first.
    Three equal runs on two slots take two rounds, not 1.5; the last round is quicker where a run alone is.
    `ahead`: the seconds left of runs already training or queued, which hold the slots first, in their order."""
    if not times:
        return 0.0
    alone = list(times) if alone is None else list(alone)
    queue = [(t, t) for t in ahead] + [(times[i], alone[i]) for i in sorted(range(len(times)), key=lambda i: -times[i])]
    slots = max(1, min(at_once, len(queue)))
    running: list[list[float]] = []  # [share left, seconds shared, seconds alone]
    clock = 0.0
    while queue or running:
        while queue and len(running) < slots:
            running.append([1.0, *queue.pop(0)])
        pace = [r[1] if len(running) > 1 else r[2] for r in running]  # a whole run's seconds at this crowd
        step = min(r[0] * p for r, p in zip(running, pace, strict=True))
        for r, p in zip(running, pace, strict=True):
            r[0] -= step / p if p > 0 else 1.0
        clock += step
        running = [r for r in running if r[0] > 1e-9]
    return clock


def duration_text(seconds: float) -> str:
    """A rough duration: "about 40 s", "about 3 min", "about 25 min", "about 1 h 40 min"."""
    if seconds < 55:
        return f"about {max(5, round(seconds / 5) * 5)} s"
    minutes = seconds / 60
    if minutes < 10:
        return f"about {max(1, round(minutes))} min"
    if minutes < 57.5:
        return f"about {round(minutes / 5) * 5} min"
    hours, rest = divmod(round(minutes / 10) * 10, 60)
    return f"about {hours} h" + (f" {rest} min" if rest else "")


def busy_note(load: float | None = None, cpus: int | None = None) -> str | None:
    """What an estimate says on a busy machine (load average above BUSY x its cores), else None: every speed is
    measured on this machine as busy as it was then, and other programs' work comes and goes."""
    import os

    load = os.getloadavg()[0] if load is None else load
    cpus = cpus or os.cpu_count() or 1
    if load <= BUSY * cpus:
        return None
    return (f"this machine is busy now (load {load:.0f} on {cpus} core{'s' if cpus > 1 else ''}): the time assumes "
            "its speed stays as measured, and a machine this loaded speeds up and slows down with other work")


@dataclass(frozen=True)
class Estimate:
    seconds: float
    sources: tuple[str, ...]  # where each speed came from, once each

    def text(self) -> str:
        return f"{duration_text(self.seconds)} here (speed from {', '.join(self.sources)} on this machine)"


def estimate(configs: Sequence[RunConfig], runs: Sequence, at_once: int = 1, device: str = "cpu",
             probe: Callable[[RunConfig, int], Rate] | None = None,
             ahead: Sequence[tuple[RunConfig, float]] = (), loaded: Callable[[str], bool] = lambda _: True
             ) -> Estimate:
    """How long `configs` take here, `at_once` at a time: each run's speed measured (stored runs, else
    `probe(cfg, copies)`: its steps timed with as many copies at once as the runs will train at once), behind
    the runs `ahead` (config, share done) that already hold or wait for a slot; LOAD_SECONDS more for each
    dataset not `loaded` in the process that will train them."""
    probe = probe or (lambda cfg, copies: probe_rate(cfg, copies=copies, device=device))
    copies = max(1, min(at_once, len(configs)))
    times, alone, sources = [], [], []
    for cfg in configs:
        measured = measured_rate(cfg, runs, device)
        rate = measured or probe(cfg, copies)
        times.append(run_seconds(cfg, rate))
        # A run left to train by itself (the last of a round) goes at the speed of one alone.
        alone.append(run_seconds(cfg, measured or probe(cfg, 1)) if copies > 1 else times[-1])
        sources.append(rate.source)
    left = [run_seconds(cfg, measured_rate(cfg, runs, device) or probe(cfg, copies)) * (1 - done)
            for cfg, done in ahead]
    loading = LOAD_SECONDS * sum(not loaded(name) for name in {cfg.data.dataset for cfg in configs})
    return Estimate(loading + total_seconds(times, at_once, left, alone), tuple(dict.fromkeys(sources)))


def dataset_loaded(name: str) -> bool:
    """Whether this process holds the dataset already (data.load_dataset's cache): its runs start without loading."""
    from . import data

    return name in data._cache
