"""What a run publishes as it trains: step rows, epoch rows (evaluation, early stopping, checkpoints), its result.

Shared by the Trainer (training.py) and the GroupTrainer (group.py), whose runs are LiveRuns too (`live`). `prep`
is what either prepared (a `Prepared`); `model` is the run's own module (a group's copy written into a module of its
own)."""
from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import nn

from ..config import RunConfig
from ..data import Normalizer
from ..errors import RunStatus, first_line
from .split import Split
from .steps import GATE

if TYPE_CHECKING:
    from .live import LiveRun

EVAL_BATCH = 64  # on a CPU: the CNN evaluated 2.3x faster than in batches of 1,000 (cache-sized; bench/README.md)
EVAL_BATCH_CUDA = 8192  # a GPU evaluates a whole validation set in a few launches
# Epoch-end checkpoints at most this often: a GPU epoch of the CNN recipe is ~40 ms, and a copy to the
# host plus an fsync'd file each epoch would cost as much as the epoch. The last one is always written.
CHECKPOINT_SECONDS = 2.0
# Cross-entropy at chance is ln(classes) <= 2.3 here; a batch mean of 100 means the weights blew up
# (bounded activations can keep an exploding run finite for a long time, so NaN alone is too late).
EXPLODED_LOSS = 100.0

Outcome = tuple[RunStatus, "str | None"]


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


def save_checkpoint(live: LiveRun, device: torch.device, model: nn.Module, metrics: dict[str, Any]) -> str | None:
    """Checkpoint `model` as it is (a group's copy: its weights just written into it) through `live`'s recorder."""
    with cuda_work(device):
        payload = checkpoint_payload(live.config, model, metrics, live.run_id)
    return live.recorder.save_checkpoint(payload)


@dataclass
class Prepared:
    """What a run (or a group of runs) trains with, built once before its first step: what publishing reads."""
    device: torch.device
    data: Split
    norm: Normalizer
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler | None  # None: the same rate at every step
    n_classes: int
    params: int  # of one run's model
    steps_per_epoch: int
    train_probe: int  # train samples re-evaluated at each epoch's end


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

    @classmethod
    def of(cls, cfg: RunConfig) -> Progress:
        """A run's counters at its start, with early stopping when `cfg` has patience."""
        return cls(early=EarlyStop.of(cfg))


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


def failure(exc: BaseException) -> str:
    """A failed run's message."""
    if isinstance(exc, torch.cuda.OutOfMemoryError):
        return f"out of GPU memory ({first_line(exc)}); try a smaller batch size"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def publish_steps(live: LiveRun, prep: Prepared, progress: Progress, values: list[tuple[float, float]], epoch: int,
                  count: int) -> Outcome | None:
    """The last `count` steps' drained (loss, L2) to the run's stream and recorder (progress.step already counts
    them, progress.lrs holds their rates); the run's end at the first non-finite or exploded loss, else None."""
    cfg = live.config
    first = progress.step - count + 1
    rows, problem = step_rows(values, first, epoch, progress.lrs)
    progress.lrs = []
    bs, n_train = cfg.optim.batch_size, len(prep.data.train_y)
    for row in rows:  # the epoch's L2 is the mean over its samples, as its loss would be
        in_epoch = row["step"] - (epoch - 1) * prep.steps_per_epoch - 1
        progress.epoch_l2 += row["l2"] * min(bs, n_train - in_epoch * bs)
    live.stream.add_steps(rows, rows[-1]["step"] if rows else first - 1)
    live.recorder.add_steps(rows)
    if problem is None:
        return None
    fix = (f"Try a smaller L2 λ than {cfg.reg.l2:g}" if problem.startswith("the L2 term")
           else f"Try a smaller learning rate than {cfg.optim.lr:g}")
    return (RunStatus.DIVERGED, f"{problem}; its curve up to there is kept. {fix}.")


def record_epoch(live: LiveRun, prep: Prepared, model: nn.Module, epoch: int, progress: Progress) -> None:
    """Evaluate `model`, publish the epoch's row (it covers the epochs since the last row) and, every
    CHECKPOINT_SECONDS, checkpoint it with the metrics so far."""
    seconds, seen = progress.epoch_seconds, progress.epoch_seen
    data, norm = prep.data, prep.norm
    with cuda_work(prep.device):
        val = evaluate(model, data.val_x, data.val_y, norm) if len(data.val_y) else {"loss": None, "acc": None}
        # Train numbers measured like validation (eval mode, end of epoch) on a fixed subset, so
        # "train minus val" is a true generalization gap, not running-average and dropout noise.
        train = evaluate(model, data.train_x[:prep.train_probe], data.train_y[:prep.train_probe], norm)
    row = {"epoch": epoch, "train_loss": train["loss"], "train_acc": train["acc"],
           "val_loss": val["loss"], "val_acc": val["acc"], "l2": progress.epoch_l2 / max(seen, 1),
           "seconds": seconds, "samples_per_s": seen / max(seconds, 1e-9)}
    progress.epoch_rows.append(row)
    progress.epoch_seconds, progress.epoch_seen, progress.epoch_l2 = 0.0, 0, 0.0
    if progress.early is not None and val["acc"] is not None:
        with cuda_work(prep.device):
            progress.early.update(epoch, val["acc"], model)
    live.stream.add_epoch(row)
    live.recorder.add_epoch(row)
    if time.monotonic() - progress.last_checkpoint >= CHECKPOINT_SECONDS:
        save_checkpoint(live, prep.device, model, {"epochs": progress.epoch_rows})
        progress.last_checkpoint = time.monotonic()
    live.stream.update(samples_per_s=progress.samples / max(progress.train_seconds, 1e-9),
                       seconds_per_step=progress.train_seconds / max(progress.step, 1))


def record_result(live: LiveRun, prep: Prepared, model: nn.Module, progress: Progress, status: RunStatus) -> None:
    """The run's result in its stream: a finished run is tested, and a finished or stopped one checkpointed (with
    early stopping: on the kept epoch's weights, its number in the result and the checkpoint's metrics)."""
    result: dict[str, Any] = {"train_seconds": progress.train_seconds, "params": prep.params,
                              "samples_per_s": progress.samples / max(progress.train_seconds, 1e-9)}
    metrics: dict[str, Any] = {"epochs": progress.epoch_rows}
    if status in (RunStatus.FINISHED, RunStatus.STOPPED):  # early stopping: test and keep the best epoch's weights
        with cuda_work(prep.device):
            kept = restore_kept(progress, model)
        if kept is not None:
            result["kept_epoch"] = metrics["kept_epoch"] = kept
    if status == RunStatus.FINISHED and progress.step > 0:
        with cuda_work(prep.device):
            test = evaluate(model, prep.data.test_x, prep.data.test_y, prep.norm, n_classes=prep.n_classes)
        result.update(test_acc=test["acc"], test_loss=test["loss"], confusion=test["confusion"])
        metrics.update(test_acc=test["acc"], test_loss=test["loss"])
    if status in (RunStatus.FINISHED, RunStatus.STOPPED) and progress.step > 0:
        path = save_checkpoint(live, prep.device, model, metrics)
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
