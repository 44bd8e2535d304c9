"""Trainer: one run in one thread, publishing metrics to a lock-guarded stream and the store."""
from __future__ import annotations

import copy
import logging
import math
import threading
import time
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .config import ConfigError, RunConfig, is_recurrent, validate
from .data import Dataset, Normalizer, load_dataset
from .models import build_model, count_parameters
from .store import RunStore

log = logging.getLogger(__name__)

EVAL_BATCH = 1000
STORE_FLUSH_SECONDS = 2.0  # step rows reach SQLite at least this often
# Cross-entropy at chance is ln(classes) <= 2.3 here; a batch mean of 100 means the weights blew up
# (bounded activations can keep an exploding run finite for a long time, so NaN alone is too late).
EXPLODED_LOSS = 100.0
TRAIN_PROBE_MIN, TRAIN_PROBE_MAX = 2000, 5000  # train samples re-evaluated at each epoch's end
_init_lock = threading.Lock()  # model init seeds the global RNG: one run at a time


@dataclass
class Snapshot:
    """A copy of a run's state for pollers; safe to read without any lock."""
    status: str
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
        if not self.step or self.status != "running":
            return None
        # The training step rate, when known: elapsed time also counts data loading at the start.
        per_step = self.seconds_per_step or self.elapsed / self.step
        return per_step * (self.total_steps - self.step)

    @property
    def done(self) -> bool:
        return self.status not in ("queued", "running")


class MetricsStream:
    """What the training thread publishes; readers take snapshots under the same lock."""

    def __init__(self, epochs: int):
        self._lock = threading.Lock()
        self._s = Snapshot("queued", None, 0, epochs, 0, 0, 0, None, None, None, [], [], {})

    def update(self, **values: Any) -> None:
        with self._lock:
            for k, v in values.items():
                setattr(self._s, k, v)

    def add_steps(self, rows: list[dict[str, float]], step: int) -> None:
        with self._lock:
            self._s.step_rows.extend(rows)
            self._s.step = step

    def add_epoch(self, row: dict[str, float]) -> None:
        with self._lock:
            self._s.epoch_rows.append(row)
            self._s.epoch = int(row["epoch"])

    def snapshot(self, steps_from: int = 0) -> Snapshot:
        """A copy; `steps_from` skips step rows the caller already has."""
        with self._lock:
            s = copy.copy(self._s)
            s.step_rows = self._s.step_rows[steps_from:]
            s.epoch_rows = list(self._s.epoch_rows)
            s.result = dict(self._s.result)
            return s


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device 'cuda' was asked for but no CUDA GPU is available; use 'auto' or 'cpu'")
    return torch.device(name)


def make_optimizer(cfg: RunConfig, params) -> torch.optim.Optimizer:
    o, wd = cfg.optim, cfg.reg.weight_decay
    if o.optimizer == "sgd":
        return torch.optim.SGD(params, lr=o.lr, momentum=o.momentum, weight_decay=wd)
    if o.optimizer == "adam":
        return torch.optim.Adam(params, lr=o.lr, weight_decay=wd)
    if o.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=o.lr, weight_decay=wd)
    if o.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=o.lr, weight_decay=wd)
    raise ConfigError(f"unknown optimizer '{o.optimizer}'")


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
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(12345))
    val, train = order[:n_val], order[n_val:]
    tx, ty = ds.test_x[:limit], ds.test_y[:limit]
    to = lambda t: t.to(device)  # noqa: E731
    return Split(to(x[train]), to(y[train]), to(x[val]), to(y[val]), to(tx), to(ty))


def l2_penalty(model: nn.Module) -> torch.Tensor:
    """sum of w^2 over all parameters (the book's L2 term, before lambda)."""
    return sum(p.pow(2).sum() for p in model.parameters())  # type: ignore[return-value]


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, norm: Normalizer,
             n_classes: int | None = None) -> dict[str, Any]:
    """Loss, accuracy (and optionally the confusion matrix) over uint8 images x."""
    was_training = model.training
    model.eval()
    loss = torch.zeros((), device=x.device)
    correct = torch.zeros((), device=x.device, dtype=torch.long)
    confusion = torch.zeros(n_classes or 1, n_classes or 1, dtype=torch.long, device=x.device)
    for i in range(0, len(y), EVAL_BATCH):
        xb, yb = norm(x[i:i + EVAL_BATCH]), y[i:i + EVAL_BATCH]
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


class Trainer:
    """Runs one config. `run()` blocks; `start()` runs it in a daemon thread; `stop()` ends it within a batch."""

    def __init__(self, config: RunConfig, store: RunStore | None = None, run_id: int | None = None,
                 threads: int | None = None):
        self.config = validate(config)
        self.threads = threads  # intra-op CPU threads; None keeps torch's default (all cores)
        self.store = store
        self.run_id = run_id
        self.recorded = store is not None and run_id is not None  # else: metrics stream only
        self.stream = MetricsStream(config.optim.epochs)
        self._stop = threading.Event()
        self._stop_reason = "stopped by the user"
        self.thread: threading.Thread | None = None

    def start(self) -> threading.Thread:
        self.thread = threading.Thread(target=self.run, name=f"trainer-{self.run_id}", daemon=True)
        self.thread.start()
        return self.thread

    def stop(self, reason: str = "stopped by the user") -> None:
        self._stop_reason = reason
        self._stop.set()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    def snapshot(self, steps_from: int = 0) -> Snapshot:
        return self.stream.snapshot(steps_from)

    # ------------------------------------------------------------------ the run
    def run(self) -> Snapshot:
        """Train to the end, a stop, divergence or an error; the outcome is in the returned snapshot."""
        started = time.time()
        self.stream.update(status="running", started=started)
        self._persist(status="running", started=started)
        try:
            status, message = self._train()
        except torch.cuda.OutOfMemoryError as exc:
            status, message = "failed", f"out of GPU memory ({str(exc).splitlines()[0]}); try a smaller batch size"
        except Exception as exc:  # noqa: BLE001 - a failed run is recorded, never lost in a thread
            log.exception("run %s failed", self.run_id)
            status, message = "failed", f"{type(exc).__name__}: {exc}"
        finally:
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        ended = time.time()
        self.stream.update(status=status, message=message, ended=ended)
        self._persist(status=status, message=message, ended=ended, result=self.stream.snapshot().result)
        return self.snapshot()

    def _persist(self, **values: Any) -> None:
        if self.recorded:
            self.store.update_run(self.run_id, **values)

    def _train(self) -> tuple[str, str | None]:
        cfg = self.config
        if self.threads:
            torch.set_num_threads(self.threads)  # process-wide in effect: callers pass one value for all runs
        # Tiny values in RNN states and gradients become denormals, which x86 CPUs handle ~100x slower:
        # flushing them to zero gave RNN 128 +17% samples/s with identical accuracy (this thread's FPU flag).
        torch.set_flush_denormal(True)
        device = resolve_device(cfg.device)
        ds = load_dataset(cfg.data.dataset)
        data = split_dataset(ds, cfg, device)
        norm = Normalizer.of(cfg.data.dataset, cfg.data.normalize, device)
        with _init_lock:
            torch.manual_seed(cfg.seed)
            model = build_model(cfg).to(device)
        if device.type == "cpu" and not is_recurrent(cfg):
            # oneDNN's conv and pooling kernels are vectorized over channels: NHWC trained the
            # CNN recipes 32-37% faster on CPU than NCHW (bench/README.md). Gathered batches keep it.
            model = model.to(memory_format=torch.channels_last)
            data = Split(*(t.contiguous(memory_format=torch.channels_last) if t.dim() == 4 else t
                           for t in (data.train_x, data.train_y, data.val_x, data.val_y, data.test_x, data.test_y)))
        n_params = count_parameters(model)
        self._persist(device=str(device), params=n_params)
        optimizer = make_optimizer(cfg, model.parameters())
        bs, n_train = cfg.optim.batch_size, len(data.train_y)
        if n_train == 0:
            raise ConfigError("no training samples left after the validation split; raise limit")
        steps_per_epoch = math.ceil(n_train / bs)
        train_probe = min(n_train, max(TRAIN_PROBE_MIN, len(data.val_y)), TRAIN_PROBE_MAX)
        total = steps_per_epoch * cfg.optim.epochs
        self.stream.update(steps_per_epoch=steps_per_epoch, total_steps=total)
        # Sync step losses to the host every step on CPU (free), in blocks on CUDA (a sync costs).
        flush_every = 1 if device.type == "cpu" else 50
        gen = torch.Generator().manual_seed(cfg.seed)
        l2, clip = cfg.reg.l2, cfg.optim.clip
        step, train_seconds, samples = 0, 0.0, 0
        pending_store: list[dict[str, float]] = []
        epoch_rows: list[dict[str, Any]] = []
        last_store_flush = time.time()
        status, message = "finished", None
        model.train()

        for epoch in range(1, cfg.optim.epochs + 1):
            t0 = time.time()
            perm = torch.randperm(n_train, generator=gen).to(device)
            l2_sum = torch.zeros((), device=device)
            buffered: list[tuple[torch.Tensor, torch.Tensor]] = []
            seen = 0
            for i in range(0, n_train, bs):
                if self._stop.is_set():
                    status, message = "stopped", self._stop_reason
                    break
                idx = perm[i:i + bs]
                xb, yb = norm(data.train_x[idx]), data.train_y[idx]
                logits = model(xb)
                data_loss = F.cross_entropy(logits, yb)
                l2_term = l2 * l2_penalty(model) if l2 > 0 else torch.zeros((), device=device)
                optimizer.zero_grad(set_to_none=True)
                (data_loss + l2_term).backward()
                if clip:
                    nn.utils.clip_grad_norm_(model.parameters(), clip)  # foreach kernels: no host sync
                optimizer.step()
                step += 1
                seen += len(yb)
                d_loss, d_l2 = data_loss.detach(), l2_term.detach()
                l2_sum += d_l2 * len(yb)
                buffered.append((d_loss, d_l2))
                if len(buffered) >= flush_every or i + bs >= n_train:
                    rows, problem = self._flush(buffered, step, epoch)
                    buffered = []
                    pending_store += rows
                    if problem:
                        status = "diverged"
                        message = (f"{problem}; its curve up to there is kept. "
                                   f"Try a smaller learning rate than {cfg.optim.lr:g}.")
                        break
                if time.time() - last_store_flush > STORE_FLUSH_SECONDS:
                    self._store_steps(pending_store)
                    pending_store, last_store_flush = [], time.time()
                    so_far = max(train_seconds + last_store_flush - t0, 1e-9)
                    self.stream.update(samples_per_s=(samples + seen) / so_far, seconds_per_step=so_far / step)
            if buffered and status == "stopped":
                rows, _ = self._flush(buffered, step, epoch)
                pending_store += rows
            self._store_steps(pending_store)
            pending_store = []
            epoch_seconds = time.time() - t0
            train_seconds += epoch_seconds
            samples += seen
            if status == "diverged" or seen < n_train:
                break  # a partial epoch is not an epoch: no epoch row, but its steps are kept
            val = evaluate(model, data.val_x, data.val_y, norm) if len(data.val_y) else {"loss": None, "acc": None}
            # Train numbers measured like validation (eval mode, end of epoch) on a fixed subset, so
            # "train minus val" is a true generalization gap, not running-average and dropout noise.
            train = evaluate(model, data.train_x[:train_probe], data.train_y[:train_probe], norm)
            row = {"epoch": epoch, "train_loss": train["loss"], "train_acc": train["acc"],
                   "val_loss": val["loss"], "val_acc": val["acc"], "l2": l2_sum.item() / seen,
                   "seconds": epoch_seconds, "samples_per_s": seen / max(epoch_seconds, 1e-9)}
            epoch_rows.append(row)
            self.stream.add_epoch(row)
            if self.recorded:
                self.store.add_epoch(self.run_id, row)
                self._save_checkpoint(model, {"epochs": epoch_rows})
            self.stream.update(samples_per_s=samples / max(train_seconds, 1e-9),
                               seconds_per_step=train_seconds / max(step, 1))

        result: dict[str, Any] = {"train_seconds": train_seconds,
                                  "samples_per_s": samples / max(train_seconds, 1e-9), "params": n_params}
        if status != "diverged" and step > 0:
            test = evaluate(model, data.test_x, data.test_y, norm, n_classes=len(ds.classes))
            result.update(test_acc=test["acc"], test_loss=test["loss"], confusion=test["confusion"])
            if self.recorded:
                path = self._save_checkpoint(model, {"epochs": epoch_rows, "test_acc": test["acc"],
                                                     "test_loss": test["loss"]})
                result["checkpoint"] = str(path)
                self._persist(checkpoint=str(path))
        self.stream.update(result=result)
        return status, message

    def _flush(self, buffered: list[tuple[torch.Tensor, torch.Tensor]], step: int,
               epoch: int) -> tuple[list[dict[str, float]], str | None]:
        """Publish buffered step losses; stop at the first non-finite or exploded one and say why."""
        values = torch.stack([torch.stack(pair) for pair in buffered]).cpu().tolist()  # (n, 2): loss, l2
        first = step - len(values) + 1
        rows: list[dict[str, float]] = []
        problem = None
        for k, (loss, l2) in enumerate(values):
            if not (math.isfinite(loss) and math.isfinite(l2)):
                problem = f"the loss became non-finite at step {first + k}"
                break
            rows.append({"step": first + k, "epoch": epoch, "loss": loss, "l2": l2})
            if loss > EXPLODED_LOSS:
                problem = f"the loss exploded to {loss:.3g} at step {first + k}"
                break
        self.stream.add_steps(rows, rows[-1]["step"] if rows else first - 1)
        return rows, problem

    def _store_steps(self, rows: list[dict[str, float]]) -> None:
        if self.recorded and rows:
            self.store.add_steps(self.run_id, rows)

    def _save_checkpoint(self, model: nn.Module, metrics: dict[str, Any]):
        payload = checkpoint_payload(self.config, model, metrics, self.run_id)
        return self.store.save_checkpoint(self.run_id, payload)  # type: ignore[union-attr]
