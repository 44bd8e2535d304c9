"""Trainer: one run in one thread; metrics to a lock-guarded stream (pollers) and a recorder (the store)."""
from __future__ import annotations

import bisect
import contextlib
import copy
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..augment import AugmentedNormalizer, Augmenter
from ..config import ConfigError, RunConfig, evaluates, is_recurrent, train_probe_size, validate
from ..data import Dataset, Normalizer, load_dataset
from ..errors import ACTIVE, RunStatus, first_line
from ..models import build_model, count_parameters
from ..store import RunStore
from .finetune import before_after, replayed, start_from, trainable
from .recorder import NullRecorder, Recorder, StoreRecorder, end_run
from .schedules import current_lr, make_scheduler
from .steps import GATE, EagerStep, GraphStep, graphs_enabled, make_step, replay_plan

log = logging.getLogger(__name__)

EVAL_BATCH = 64  # on a CPU: the CNN evaluated 2.3x faster than in batches of 1,000 (cache-sized; bench/README.md)
EVAL_BATCH_CUDA = 8192  # a GPU evaluates a whole validation set in a few launches
# Epoch-end checkpoints at most this often: a GPU epoch of the CNN recipe is ~40 ms, and a copy to the
# host plus an fsync'd file each epoch would cost as much as the epoch. The last one is always written.
CHECKPOINT_SECONDS = 2.0
DRAIN_EVERY_CUDA = 50  # steps between host syncs on CUDA; on CPU every step (a sync is free there)
# Cross-entropy at chance is ln(classes) <= 2.3 here; a batch mean of 100 means the weights blew up
# (bounded activations can keep an exploding run finite for a long time, so NaN alone is too late).
EXPLODED_LOSS = 100.0
RATE_SECONDS = 0.5  # live samples/s and ETA are republished at most this often
MAX_STEP_ROWS = 4000  # step rows a live stream keeps (a chart's worth); the store keeps every one
NO_STEP_ROWS = 2**62  # as `steps_from`: a snapshot without step rows, for callers that need only counts


@dataclass(slots=True)
class Snapshot:
    """A copy of a run's state for pollers; safe to read without any lock."""
    status: RunStatus
    message: str | None
    epoch: int  # epochs completed
    epochs: int
    step: int  # optimizer steps done
    total_steps: int
    steps_per_epoch: int
    started: float | None
    ended: float | None
    samples_per_s: float | None
    step_rows: list[dict[str, float]]
    epoch_rows: list[dict[str, float]]
    result: dict[str, Any]
    seconds_per_step: float | None = None  # training time only: no data loading, no evaluation

    @property
    def elapsed(self) -> float:
        if self.started is None:
            return 0.0
        return (self.ended or time.time()) - self.started

    @property
    def fraction(self) -> float:
        return min(1.0, self.step / self.total_steps) if self.total_steps else 0.0

    @property
    def eta(self) -> float | None:
        if not self.step or self.status != RunStatus.RUNNING:
            return None
        # The training step rate, when known: elapsed time also counts data loading at the start.
        per_step = self.seconds_per_step or self.elapsed / self.step
        return per_step * (self.total_steps - self.step)

    @property
    def done(self) -> bool:
        return self.status not in ACTIVE


def decimate(rows: list[dict[str, float]], every: int) -> list[dict[str, float]]:
    """The rows whose step is a multiple of `every`, and always the last (the chart ends where the run is)."""
    kept = [r for r in rows if int(r["step"]) % every == 0]
    if rows and (not kept or kept[-1] is not rows[-1]):
        kept.append(rows[-1])
    return kept


def chart_rows(rows: list[dict[str, float]]) -> list[dict[str, float]]:
    """At most MAX_STEP_ROWS of `rows`, every k-th step (k a power of two), for charts and pollers."""
    every = 1
    while len(rows) > MAX_STEP_ROWS:
        every *= 2
        rows = decimate(rows, every)
    return rows


class MetricsStream:
    """What the training thread publishes; readers take snapshots under the same lock.

    Step rows are kept at most MAX_STEP_ROWS: past that, every other one goes and only every
    `step_every`-th step is kept (the store has them all), so a 1,000-epoch run costs pollers the same.
    """

    def __init__(self, epochs: int):
        self._lock = threading.Lock()
        self._s = Snapshot(RunStatus.QUEUED, None, 0, epochs, 0, 0, 0, None, None, None, [], [], {})
        self.step_every = 1

    def update(self, **values: Any) -> None:
        with self._lock:
            for k, v in values.items():
                setattr(self._s, k, v)

    def result(self) -> dict[str, Any]:
        with self._lock:
            return dict(self._s.result)

    def status(self) -> RunStatus:
        with self._lock:
            return self._s.status

    def add_steps(self, rows: list[dict[str, float]], step: int) -> None:
        with self._lock:
            kept = self._s.step_rows
            if kept and kept[-1]["step"] % self.step_every:
                kept.pop()  # the last row was kept only as the newest; a newer one replaces it
            kept.extend(decimate(rows, self.step_every))
            while len(kept) > MAX_STEP_ROWS:
                self.step_every *= 2
                kept[:] = decimate(kept, self.step_every)
            self._s.step = step

    def add_epoch(self, row: dict[str, float]) -> None:
        with self._lock:
            self._s.epoch_rows.append(row)
            self._s.epoch = int(row["epoch"])

    def snapshot(self, steps_from: int = 0) -> Snapshot:
        """A copy; `steps_from` (a step number) skips the step rows before it, which the caller has."""
        with self._lock:
            s = copy.copy(self._s)
            rows = self._s.step_rows
            first = bisect.bisect_left(rows, steps_from, key=lambda r: r["step"]) if steps_from else 0
            s.step_rows = rows[first:]
            s.epoch_rows = list(self._s.epoch_rows)
            s.result = dict(self._s.result)
            return s


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device 'cuda' was asked for but no CUDA GPU is available; use 'auto' or 'cpu'")
    return torch.device(name)


def make_optimizer(cfg: RunConfig, params, capturable: bool = False) -> torch.optim.Optimizer:
    """The config's optimizer; `capturable` keeps Adam/AdamW/RMSprop's step count on the device for CUDA graphs."""
    o, wd = cfg.optim, cfg.reg.weight_decay
    kw = {"capturable": True} if capturable else {}
    if o.optimizer == "sgd":
        return torch.optim.SGD(params, lr=o.lr, momentum=o.momentum, weight_decay=wd)
    if o.optimizer == "adam":
        return torch.optim.Adam(params, lr=o.lr, weight_decay=wd, **kw)
    if o.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=o.lr, weight_decay=wd, **kw)
    if o.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=o.lr, weight_decay=wd, **kw)
    raise ConfigError(f"unknown optimizer '{o.optimizer}'")


SPLIT_SEED = 12345  # the validation split's permutation: the same images held out for every seed


@dataclass
class Split:
    """Tensors of one run on its device: uint8 images and int64 labels."""
    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor


def split_dataset(ds: Dataset, cfg: RunConfig, device: torch.device) -> Split:
    """Apply `limit`, hold out a validation set (same for every seed), move to `device`."""
    limit = cfg.data.limit or None
    x, y = ds.train_x[:limit], ds.train_y[:limit]
    n_val = int(len(y) * cfg.data.val_fraction)
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(SPLIT_SEED))
    val, train = order[:n_val], order[n_val:]
    tx, ty = ds.test_x[:limit], ds.test_y[:limit]
    train_y = noisy_labels(y[train], cfg.data.label_noise, len(ds.classes))
    to = lambda t: t.to(device)  # noqa: E731
    return Split(to(x[train]), to(train_y), to(x[val]), to(y[val]), to(tx), to(ty))


def training_split(ds: Dataset, cfg: RunConfig, device: torch.device) -> Split:
    """split_dataset for a run that trains: refused when nothing is left to train on."""
    data = split_dataset(ds, cfg, device)
    if len(data.train_y) == 0:
        raise ConfigError("no training samples left after the validation split; raise limit")
    return data


def uses_graphs(config: RunConfig, graphs: bool | None) -> bool:
    """Whether a run of `config` captures CUDA graphs (on a GPU): `graphs`, or the setting when None. A graph
    replays the learning rate it was captured with (a float baked into its kernels) and one set of augmentation
    draws, so a moving rate or augmentation steps eagerly; the constant schedule keeps the graph and its speed."""
    return ((graphs_enabled() if graphs is None else graphs) and config.optim.schedule == "constant"
            and not config.data.augment)


def cpu_setup(threads: int | None) -> None:
    """The training thread's CPU settings: `threads` intra-op threads (None keeps torch's default), denormals off."""
    if threads:
        torch.set_num_threads(threads)  # process-wide in effect: callers pass one value for all runs
    # Tiny values in RNN states and gradients become denormals, which x86 CPUs handle ~100x slower:
    # flushing them to zero gave RNN 128 +17% samples/s with identical accuracy (this thread's FPU flag).
    torch.set_flush_denormal(True)


NOISE_SEED = 54321  # the same labels are noisy in every run of a setting: seeds and variants differ by the rest


def noisy_labels(y: torch.Tensor, share: float, n_classes: int) -> torch.Tensor:
    """`share` of the labels replaced by a class drawn at random (sometimes the same one): noise to memorize."""
    if share <= 0:
        return y
    g = torch.Generator().manual_seed(NOISE_SEED)
    flip = torch.rand(len(y), generator=g) < share
    return torch.where(flip, torch.randint(0, n_classes, (len(y),), generator=g), y)


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, norm: Normalizer,
             n_classes: int | None = None) -> dict[str, Any]:
    """Loss, accuracy (and optionally the confusion matrix) over uint8 images x."""
    was_training = model.training
    model.eval()
    loss = torch.zeros((), device=x.device)
    correct = torch.zeros((), device=x.device, dtype=torch.long)
    confusion = torch.zeros(n_classes or 1, n_classes or 1, dtype=torch.long, device=x.device)
    size = EVAL_BATCH_CUDA if x.is_cuda else EVAL_BATCH
    for i in range(0, len(y), size):
        xb, yb = norm(x[i:i + size]), y[i:i + size]
        logits = model(xb)
        loss += F.cross_entropy(logits, yb, reduction="sum")
        pred = logits.argmax(1)
        correct += (pred == yb).sum()
        if n_classes:
            confusion.index_put_((yb, pred), torch.ones_like(yb), accumulate=True)
    model.train(was_training)
    n = max(1, len(y))
    out = {"loss": loss.item() / n, "acc": correct.item() / n}
    if n_classes:
        out["confusion"] = confusion.cpu().tolist()
    return out


def checkpoint_payload(config: RunConfig, model: nn.Module, metrics: dict[str, Any],
                       run_id: int | None = None) -> dict[str, Any]:
    """What a checkpoint file holds: only tensors and plain data, so weights_only loading takes it."""
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    return {"format": 1, "config": config.to_dict(), "config_json": config.to_json(),
            "state_dict": state, "metrics": metrics, "run_id": run_id}


@dataclass
class Prepared:
    """What a run trains with, built once before its first step."""
    device: torch.device
    data: Split
    norm: Normalizer
    model: nn.Module
    optimizer: torch.optim.Optimizer
    step: EagerStep
    scheduler: torch.optim.lr_scheduler.LRScheduler | None  # None: the same rate at every step
    n_classes: int
    params: int
    steps_per_epoch: int
    train_probe: int  # train samples re-evaluated at each epoch's end
    order: torch.Generator  # the run's own batch order: one stream over all epochs


@dataclass
class Progress:
    """Counters across epochs."""
    step: int = 0
    train_seconds: float = 0.0  # inside epochs only: no data loading, no evaluation
    samples: int = 0
    epoch_rows: list[dict[str, Any]] = field(default_factory=list)
    # Since the last epoch row (one epoch, or eval_every of them): its seconds, samples and L2 sum.
    epoch_seconds: float = 0.0
    epoch_seen: int = 0
    epoch_l2: float = 0.0  # sum over the steps of L2 term x batch size
    lrs: list[float] = field(default_factory=list)  # the rate of each step not yet drained into step rows
    last_checkpoint: float = -math.inf  # monotonic time of the last epoch-end checkpoint
    last_rate: float = 0.0  # monotonic time the live samples/s was last published
    early: EarlyStop | None = None  # early stopping's state, when the run has patience


@dataclass
class EarlyStop:
    """Early stopping on validation accuracy: the best evaluated epoch so far, its weights, and the evaluations
    since it. A gain counts only above `min_delta`; `patience` evaluations in a row without one end the run."""
    patience: int
    min_delta: float
    best: float = -math.inf
    epoch: int = 0  # the epoch kept (0: none evaluated yet)
    state: dict[str, torch.Tensor] | None = None  # its weights, cloned on the run's device
    waited: int = 0  # evaluations since the last gain

    @classmethod
    def of(cls, cfg: RunConfig) -> EarlyStop | None:
        return cls(cfg.optim.patience, cfg.optim.min_delta) if cfg.optim.patience else None

    def update(self, epoch: int, val_acc: float, model: nn.Module) -> None:
        """After an evaluation: keep `model`'s weights if validation accuracy rose by more than min_delta."""
        if val_acc > self.best + self.min_delta:
            self.best, self.epoch, self.waited = val_acc, epoch, 0
            self.state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            self.waited += 1

    @property
    def exhausted(self) -> bool:
        return self.waited >= self.patience

    def outcome(self) -> Outcome:
        """A run ended by early stopping: finished, and why."""
        return (RunStatus.FINISHED, f"early stopping: validation accuracy did not gain more than "
                                    f"{self.min_delta:g} in {_evaluations(self.patience)}; kept epoch {self.epoch} "
                                    f"({self.best:.1%})")


def _evaluations(n: int) -> str:
    return "1 evaluation" if n == 1 else f"{n} evaluations"


def stopped_early(progress: Progress) -> Outcome | None:
    """The run's end when early stopping has run out of patience, else None."""
    early = progress.early
    return early.outcome() if early is not None and early.exhausted else None


def restore_kept(progress: Progress, model: nn.Module) -> int | None:
    """Load the kept epoch's weights into `model` (a run with early stopping); the epoch kept, or None."""
    early = progress.early
    if early is None or early.state is None:
        return None
    model.load_state_dict(early.state)
    return early.epoch


Outcome = tuple[RunStatus, "str | None"]


class LiveRun:
    """What pollers and the job registry see of a run: its metrics stream, and a stop within one batch."""

    def __init__(self, config: RunConfig):
        self.config = config
        self.stream = MetricsStream(config.optim.epochs)
        self.recorder: Recorder = NullRecorder()
        self._stop = threading.Event()
        self._stop_reason = "stopped by the user"

    def stop(self, reason: str = "stopped by the user") -> None:
        self._stop_reason = reason
        self._stop.set()

    def snapshot(self, steps_from: int = 0) -> Snapshot:
        return self.stream.snapshot(steps_from)

    def end(self, status: RunStatus, message: str | None) -> None:
        """Give the run its final status: in the stream at once, in the store as soon as it takes it."""
        end_run(self.stream, self.recorder, status, message)


class Trainer(LiveRun):
    """Runs one config: prepare -> epochs (train, then evaluate and checkpoint) -> finish.

    `run()` blocks; `start()` runs it in a daemon thread; `stop()` ends it within a batch.
    Events go to the metrics stream (live pollers) and to `recorder` (the store, or nowhere).
    """

    def __init__(self, config: RunConfig, store: RunStore | None = None, run_id: int | None = None,
                 threads: int | None = None, recorder: Recorder | None = None, graphs: bool | None = None):
        super().__init__(validate(config))
        self.threads = threads  # intra-op CPU threads; None keeps torch's default (all cores)
        self.run_id = run_id
        if recorder is None:
            recorder = StoreRecorder(store, run_id) if store is not None and run_id is not None else NullRecorder()
        self.recorder = recorder
        self.graphs = uses_graphs(config, graphs)
        self.thread: threading.Thread | None = None
        self.start_state: dict[str, torch.Tensor] | None = None  # a fine-tune's starting weights (init_from)

    def start(self) -> threading.Thread:
        self.thread = threading.Thread(target=self.run, name=f"trainer-{self.run_id}", daemon=True)
        self.thread.start()
        return self.thread

    # ------------------------------------------------------------------ the run
    def run(self) -> Snapshot:
        """Train to the end, a stop, divergence or an error; the outcome is in the returned snapshot."""
        outcome: Outcome = (RunStatus.FAILED, "the run ended without an outcome")
        try:
            outcome = self._attempt()
        finally:
            self.end(*outcome)  # whatever happened above, even a BaseException: the run ends here
        return self.snapshot()

    def _attempt(self) -> Outcome:
        """Start, train and finish; every error becomes the run's outcome, none escapes the thread."""
        started = time.time()
        self.stream.update(status=RunStatus.RUNNING, started=started)
        try:
            self.recorder.update(status=RunStatus.RUNNING, started=started)
            return self._train()
        except torch.cuda.OutOfMemoryError as exc:
            return RunStatus.FAILED, failure(exc)
        except Exception as exc:
            log.exception("run %s failed", self.run_id)
            return RunStatus.FAILED, failure(exc)
        finally:
            if torch.cuda.is_available():
                with GATE.shared():  # frees device memory: never during another run's capture
                    torch.cuda.empty_cache()

    def _train(self) -> Outcome:
        run = self.prepare()
        progress = Progress(early=EarlyStop.of(self.config))
        outcome: Outcome | None = None
        try:
            for epoch in range(1, self.config.optim.epochs + 1):
                outcome = self.train_epoch(run, epoch, progress)
                if outcome is not None:
                    break  # a partial epoch is not an epoch: no epoch row, but its steps are kept
                if evaluates(self.config, epoch):
                    self.end_epoch(run, epoch, progress)
                    outcome = stopped_early(progress)
                    if outcome is not None:
                        break  # patience ran out: the kept epoch's weights are tested (record_result)
                else:
                    self.stream.update(epoch=epoch)
            return self.finish(run, progress, outcome or (RunStatus.FINISHED, None))
        finally:
            if isinstance(run.step, GraphStep):
                run.step.release()

    def prepare(self) -> Prepared:
        """Device, data split, normalizer, seeded model, optimizer and the training step."""
        cpu_setup(self.threads)
        device = resolve_device(self.config.device)
        ds = load_dataset(self.config.data.dataset)
        with cuda_work(device):  # copies to the GPU and allocations: never during another run's capture
            return self._build(device, ds)

    def _build(self, device: torch.device, ds: Dataset) -> Prepared:
        """What `prepare` returns, built on `device`."""
        cfg = self.config
        data = training_split(ds, cfg, device)
        extra = replayed(ds, cfg)  # MNIST images trained on beside your own (never validated or tested on)
        if extra is not None:
            data.train_x = torch.cat([data.train_x, extra[0].to(device)])
            data.train_y = torch.cat([data.train_y, extra[1].to(device)])
        model = build_model(cfg, seed=cfg.seed).to(device)
        self.start_state = start_from(cfg, model)
        # Dropout draws from torch's process-wide generators (CPU and CUDA): seeding them here makes a run
        # repeat its curve when it trains alone; runs training at once share the stream (README).
        torch.manual_seed(cfg.seed)
        if device.type == "cpu" and not is_recurrent(cfg):
            # oneDNN's conv and pooling kernels are vectorized over channels: NHWC trained the
            # CNN recipes 32-37% faster on CPU than NCHW (bench/README.md). Gathered batches keep it.
            model = model.to(memory_format=torch.channels_last)
            data = Split(*(t.contiguous(memory_format=torch.channels_last) if t.dim() == 4 else t
                           for t in (getattr(data, f.name) for f in fields(data))))
        params = count_parameters(model)
        self.recorder.update(device=str(device), params=params)
        # A captured step needs an optimizer whose step counter lives on the device.
        optimizer = make_optimizer(cfg, trainable(cfg, model), capturable=self.graphs and device.type == "cuda")
        norm = Normalizer.of(cfg.data.dataset, cfg.data.normalize, device)
        bs, n_train = cfg.optim.batch_size, len(data.train_y)
        # Augmentation draws per image in the step's input (augment.py); evaluation keeps `norm` as it is.
        step_norm = AugmentedNormalizer(norm, Augmenter(cfg)) if cfg.data.augment else norm
        step = make_step(model, optimizer, step_norm, data.train_x, data.train_y, cfg.reg.l2, cfg.optim.clip,
                         batch_size=bs, graphs=self.graphs)
        steps_per_epoch = math.ceil(n_train / bs)
        total_steps = steps_per_epoch * cfg.optim.epochs
        self.stream.update(steps_per_epoch=steps_per_epoch, total_steps=total_steps)
        scheduler = make_scheduler(cfg, optimizer, total_steps)
        train_probe = train_probe_size(n_train, len(data.val_y))
        return Prepared(device, data, norm, model, optimizer, step, scheduler, len(ds.classes), params,
                        steps_per_epoch, train_probe, torch.Generator().manual_seed(cfg.seed))

    def train_epoch(self, run: Prepared, epoch: int, progress: Progress) -> Outcome | None:
        """One pass over the training set; returns why it ended early (stop, divergence) or None."""
        n_train, bs = len(run.data.train_y), self.config.optim.batch_size
        # Sync step losses to the host every step on CPU (free), in blocks on CUDA (a sync costs).
        drain_every = 1 if run.device.type == "cpu" else DRAIN_EVERY_CUDA
        with cuda_work(run.device):
            perm = torch.randperm(n_train, generator=run.order).to(run.device)
        run.step.begin_epoch(perm)
        run.model.train()
        t0, seen, undrained = time.monotonic(), 0, 0
        outcome: Outcome | None = None
        # One call per batch, or per `group` batches where the step replays several as one graph (the
        # trainer then wakes, checks for a stop and counts once per group).
        for i, count in replay_plan(n_train, bs, run.step.group):
            if self._stop.is_set() or self.recorder.poll():
                outcome = (RunStatus.STOPPED, self._stop_reason if self._stop.is_set()
                           else "stopped from another process")
                break
            if count == 1:
                run.step.step(perm[i:i + bs])
            else:
                run.step.step_group(i)
            if run.scheduler is None:  # the rate these steps used, for their step rows
                progress.lrs.extend([current_lr(run.optimizer)] * count)
            else:  # a moving rate trains without graphs: one step per call
                for _ in range(count):
                    progress.lrs.append(current_lr(run.optimizer))
                    run.scheduler.step()  # once per optimizer step: the rate of the next one
            progress.step += count
            seen += min(count * bs, n_train - i)
            undrained += count
            if undrained >= drain_every or i + count * bs >= n_train:
                outcome = self._publish_steps(run, epoch, progress, undrained)
                undrained = 0
                self._publish_rate(progress, seen, time.monotonic() - t0)
                if outcome is not None:
                    break
        if undrained and outcome is not None and outcome[0] == RunStatus.STOPPED:
            self._publish_steps(run, epoch, progress, undrained)
        seconds = time.monotonic() - t0
        progress.train_seconds += seconds
        progress.samples += seen
        progress.epoch_seconds += seconds
        progress.epoch_seen += seen
        return outcome

    def _publish_steps(self, run: Prepared, epoch: int, progress: Progress, count: int) -> Outcome | None:
        """Drain the step's losses to the stream and recorder; stop at the first non-finite or exploded one."""
        return publish_steps(self, run, progress, run.step.drain(), epoch, count)

    def _publish_rate(self, progress: Progress, seen: int, epoch_seconds: float) -> None:
        now = time.monotonic()
        if now - progress.last_rate < RATE_SECONDS:
            return
        progress.last_rate = now
        so_far = max(progress.train_seconds + epoch_seconds, 1e-9)
        self.stream.update(samples_per_s=(progress.samples + seen) / so_far,
                           seconds_per_step=so_far / max(progress.step, 1))

    def end_epoch(self, run: Prepared, epoch: int, progress: Progress) -> None:
        """Evaluate, publish the epoch's row and write its checkpoint."""
        record_epoch(self, run, run.model, epoch, progress, lambda metrics: self._checkpoint(run, metrics))

    def finish(self, run: Prepared, progress: Progress, outcome: Outcome) -> Outcome:
        """The result; a finished run is tested, a stopped one keeps its weights untested (stop stays fast)."""
        status, message = outcome
        record_result(self, run, run.model, progress, status, lambda metrics: self._checkpoint(run, metrics))
        if self.start_state is not None and status == RunStatus.FINISHED:
            with cuda_work(run.device):
                moved = before_after(self.config, run.model, self.start_state, run.data.test_x, run.data.test_y,
                                     run.device)
            self.stream.update(result={**self.stream.result(), "fine_tune": moved})
        if run.step.note:
            message = f"{message}; {run.step.note}" if message else run.step.note
        return status, message

    def _checkpoint(self, run: Prepared, metrics: dict[str, Any]) -> str | None:
        with cuda_work(run.device):
            payload = checkpoint_payload(self.config, run.model, metrics, self.run_id)
        return self.recorder.save_checkpoint(payload)


# ---------------------------------------------------------------------- what a run publishes
# Shared by the Trainer and the GroupTrainer (group.py), whose runs are LiveRuns too. `run` is what either
# prepared: it has device, data, norm, n_classes, params, steps_per_epoch and train_probe; `model` is the run's
# own module (a group's copy written into a module of its own).


def failure(exc: BaseException) -> str:
    """A failed run's message."""
    if isinstance(exc, torch.cuda.OutOfMemoryError):
        return f"out of GPU memory ({first_line(exc)}); try a smaller batch size"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def publish_steps(live: LiveRun, run: Any, progress: Progress, values: list[tuple[float, float]], epoch: int,
                  count: int) -> Outcome | None:
    """The last `count` steps' drained (loss, L2) to the run's stream and recorder (progress.step already counts
    them, progress.lrs holds their rates); the run's end at the first non-finite or exploded loss, else None."""
    cfg = live.config
    first = progress.step - count + 1
    rows, problem = step_rows(values, first, epoch, progress.lrs)
    progress.lrs = []
    bs, n_train = cfg.optim.batch_size, len(run.data.train_y)
    for row in rows:  # the epoch's L2 is the mean over its samples, as its loss would be
        in_epoch = row["step"] - (epoch - 1) * run.steps_per_epoch - 1
        progress.epoch_l2 += row["l2"] * min(bs, n_train - in_epoch * bs)
    live.stream.add_steps(rows, rows[-1]["step"] if rows else first - 1)
    live.recorder.add_steps(rows)
    if problem is None:
        return None
    fix = (f"Try a smaller L2 λ than {cfg.reg.l2:g}" if problem.startswith("the L2 term")
           else f"Try a smaller learning rate than {cfg.optim.lr:g}")
    return (RunStatus.DIVERGED, f"{problem}; its curve up to there is kept. {fix}.")


def record_epoch(live: LiveRun, run: Any, model: nn.Module, epoch: int, progress: Progress,
                 checkpoint: Callable[[dict[str, Any]], Any]) -> None:
    """Evaluate `model`, publish the epoch's row (it covers the epochs since the last row) and, every
    CHECKPOINT_SECONDS, call `checkpoint` with the metrics so far."""
    seconds, seen = progress.epoch_seconds, progress.epoch_seen
    data, norm = run.data, run.norm
    with cuda_work(run.device):
        val = evaluate(model, data.val_x, data.val_y, norm) if len(data.val_y) else {"loss": None, "acc": None}
        # Train numbers measured like validation (eval mode, end of epoch) on a fixed subset, so
        # "train minus val" is a true generalization gap, not running-average and dropout noise.
        train = evaluate(model, data.train_x[:run.train_probe], data.train_y[:run.train_probe], norm)
    row = {"epoch": epoch, "train_loss": train["loss"], "train_acc": train["acc"],
           "val_loss": val["loss"], "val_acc": val["acc"], "l2": progress.epoch_l2 / max(seen, 1),
           "seconds": seconds, "samples_per_s": seen / max(seconds, 1e-9)}
    progress.epoch_rows.append(row)
    progress.epoch_seconds, progress.epoch_seen, progress.epoch_l2 = 0.0, 0, 0.0
    if progress.early is not None and val["acc"] is not None:
        with cuda_work(run.device):
            progress.early.update(epoch, val["acc"], model)
    live.stream.add_epoch(row)
    live.recorder.add_epoch(row)
    if time.monotonic() - progress.last_checkpoint >= CHECKPOINT_SECONDS:
        checkpoint({"epochs": progress.epoch_rows})
        progress.last_checkpoint = time.monotonic()
    live.stream.update(samples_per_s=progress.samples / max(progress.train_seconds, 1e-9),
                       seconds_per_step=progress.train_seconds / max(progress.step, 1))


def record_result(live: LiveRun, run: Any, model: nn.Module, progress: Progress, status: RunStatus,
                  checkpoint: Callable[[dict[str, Any]], str | None]) -> None:
    """The run's result in its stream: a finished run is tested, and a finished or stopped one checkpointed (with
    early stopping: on the kept epoch's weights, its number in the result and the checkpoint's metrics)."""
    result: dict[str, Any] = {"train_seconds": progress.train_seconds, "params": run.params,
                              "samples_per_s": progress.samples / max(progress.train_seconds, 1e-9)}
    metrics: dict[str, Any] = {"epochs": progress.epoch_rows}
    if status in (RunStatus.FINISHED, RunStatus.STOPPED):  # early stopping: test and keep the best epoch's weights
        with cuda_work(run.device):
            kept = restore_kept(progress, model)
        if kept is not None:
            result["kept_epoch"] = metrics["kept_epoch"] = kept
    if status == RunStatus.FINISHED and progress.step > 0:
        with cuda_work(run.device):
            test = evaluate(model, run.data.test_x, run.data.test_y, run.norm, n_classes=run.n_classes)
        result.update(test_acc=test["acc"], test_loss=test["loss"], confusion=test["confusion"])
        metrics.update(test_acc=test["acc"], test_loss=test["loss"])
    if status in (RunStatus.FINISHED, RunStatus.STOPPED) and progress.step > 0:
        path = checkpoint(metrics)
        if path:
            result["checkpoint"] = path
    live.stream.update(result=result)


def step_rows(values: list[tuple[float, float]], first: int, epoch: int,
              lrs: list[float]) -> tuple[list[dict[str, float]], str | None]:
    """Step rows from drained (loss, l2) pairs and each step's learning rate, up to the first non-finite or
    exploded loss, and why it stopped."""
    rows: list[dict[str, float]] = []
    for k, ((loss, l2), lr) in enumerate(zip(values, lrs, strict=True)):
        if not math.isfinite(l2):  # the penalty overflowed: λ too large, whatever the learning rate
            return rows, f"the L2 term λ·Σw² became non-finite at step {first + k}"
        if not math.isfinite(loss):
            return rows, f"the loss became non-finite at step {first + k}"
        rows.append({"step": first + k, "epoch": epoch, "loss": loss, "l2": l2, "lr": lr})
        if loss > EXPLODED_LOSS:
            return rows, f"the loss exploded to {loss:.3g} at step {first + k}"
    return rows, None


def cuda_work(device: torch.device):
    """Hold off CUDA-graph captures while this thread uses the GPU (nothing to hold on CPU)."""
    return GATE.shared() if device.type == "cuda" else contextlib.nullcontext()
