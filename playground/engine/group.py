"""GroupTrainer: runs of one shape trained as one batched model (batched.py), each run keeping its own identity.

Each run is a `GroupMember`: its own metrics stream, recorder (store rows, checkpoint), stop and final status
through `end_run`, as a Trainer's. One thread trains them all, one batched step per batch; each copy's losses
go to its own run, and at each epoch's end each copy is evaluated and checkpointed on its own (its weights
written into a module of its own). A copy stopped or diverged ends alone and the others go on: copies share
no weights, so a copy gone NaN changes no other copy's numbers.

Worth it on CUDA only (jobs.py decides): there a step of these small models is launch-bound and K copies
cost about one step; on a CPU steps are compute-bound and a batched step costs K steps (issue 24).
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from ..augment import AugmentedNormalizer, Augmenter
from ..config import ConfigError, RunConfig, validate
from ..data import Normalizer, load_dataset
from ..errors import RunStatus, first_line
from ..store import RunStore
from .batched import BatchedModel, BatchedStep, batched_optimizer, can_batch, epoch_orders
from .recorder import NullRecorder, Recorder, StoreRecorder
from .schedules import current_lr, make_scheduler
from .steps import GATE
from .training import (
    CHECKPOINT_SECONDS,
    DRAIN_EVERY_CUDA,
    TRAIN_PROBE_MAX,
    TRAIN_PROBE_MIN,
    LiveRun,
    Outcome,
    Progress,
    Snapshot,
    Split,
    checkpoint_payload,
    cuda_work,
    evaluate,
    resolve_device,
    split_dataset,
    step_rows,
)

log = logging.getLogger(__name__)


class GroupMember(LiveRun):
    """One run of a group: what pollers and the registry see (stream, recorder, stop); the group trains it."""

    def __init__(self, group: GroupTrainer, config: RunConfig, recorder: Recorder, run_id: int | None):
        super().__init__(config)
        self.group, self.recorder, self.run_id = group, recorder, run_id

    def stop_reason(self) -> str | None:
        """Why this run should end now (a stop here or from another process); None to go on."""
        if self._stop.is_set():
            return self._stop_reason
        return "stopped from another process" if self.recorder.poll() else None

    def end_if_waiting(self, reason: str = "stopped by the user") -> bool:
        """End now as stopped if the group has not started (True); a started group ends it within a batch."""
        return self.group.end_waiting(self, reason)


@dataclass
class Copy:
    """A run's place in the batched model while it trains."""
    k: int  # its index in the stacked tensors
    member: GroupMember
    view: nn.Module  # its weights as a module of its own, refreshed before evaluations and checkpoints
    progress: Progress = field(default_factory=Progress)
    ended: bool = False


@dataclass
class GroupPrepared:
    """What the group trains with, built once (one split and one normalizer: the configs differ in seed and λ)."""
    device: torch.device
    data: Split
    norm: Normalizer
    model: BatchedModel
    optimizer: torch.optim.Optimizer
    step: BatchedStep
    scheduler: torch.optim.lr_scheduler.LRScheduler | None
    n_classes: int
    params: int  # of one copy
    steps_per_epoch: int
    train_probe: int
    orders: list[torch.Generator]  # each run's own batch order, as its Trainer would draw it


def failure(exc: BaseException) -> str:
    """A failed run's message, as the Trainer words it."""
    if isinstance(exc, torch.cuda.OutOfMemoryError):
        return f"out of GPU memory ({first_line(exc)}); try a smaller batch size or fewer runs in the group"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


class GroupTrainer:
    """Trains `configs` (same shape: see `can_batch`) as one batched model; `run()` blocks, `start()` threads it."""

    def __init__(self, configs: list[RunConfig], store: RunStore | None = None,
                 run_ids: list[int] | None = None, threads: int | None = None):
        reason = can_batch(configs)
        if reason:
            raise ConfigError(reason)
        ids: list[int | None] = list(run_ids) if run_ids is not None else [None] * len(configs)
        if len(ids) != len(configs):
            raise ValueError(f"{len(configs)} configs but {len(ids)} run ids")
        self.members = [GroupMember(self, validate(c), self._recorder(store, i), i)
                        for c, i in zip(configs, ids, strict=True)]
        self.run_ids = tuple(ids)
        self.threads = threads  # intra-op CPU threads; None keeps torch's default
        self.thread: threading.Thread | None = None
        self._lock = threading.Lock()  # between a start and a stop of a run that waits
        self._started = False
        self._lrs: list[float] = []  # the rate of each step not yet drained into step rows (one for all copies)

    @staticmethod
    def _recorder(store: RunStore | None, run_id: int | None) -> Recorder:
        return StoreRecorder(store, run_id) if store is not None and run_id is not None else NullRecorder()

    def start(self) -> threading.Thread:
        self.thread = threading.Thread(target=self.run, name=f"group-{self.run_ids[0]}", daemon=True)
        self.thread.start()
        return self.thread

    def end_waiting(self, member: GroupMember, reason: str) -> bool:
        with self._lock:
            if self._started:
                return False
            member.end(RunStatus.STOPPED, f"{reason} before it started")
            return True

    # ------------------------------------------------------------------ the group
    def run(self) -> list[Snapshot]:
        """Train every run not stopped yet to its end; each one reaches a final status, whatever happens."""
        with self._lock:
            self._started = True
            live = [m for m in self.members if m.stream.status().active]
        outcome: Outcome = (RunStatus.FAILED, "the run ended without an outcome")
        try:
            if live:
                outcome = self._attempt(live)
        finally:
            for m in live:
                if m.stream.status().active:  # not ended by the training (a stop, divergence, its end)
                    m.end(*outcome)
        return [m.snapshot() for m in self.members]

    def _attempt(self, live: list[GroupMember]) -> Outcome:
        """Start and train; an error becomes the outcome of every run it has not ended yet."""
        started = time.time()
        for m in live:
            m.stream.update(status=RunStatus.RUNNING, started=started)
        try:
            for m in live:
                m.recorder.update(status=RunStatus.RUNNING, started=started)
            self._train(live)  # ends every copy's run itself: the outcome below is for none, unless a bug
            return RunStatus.FAILED, "the group ended without ending this run"
        except Exception as exc:
            log.exception("group %s failed", self.run_ids)
            return RunStatus.FAILED, failure(exc)
        finally:
            if torch.cuda.is_available():
                with GATE.shared():
                    torch.cuda.empty_cache()

    def _train(self, live: list[GroupMember]) -> None:
        run = self.prepare(live)
        copies = [Copy(k, m, run.model.copy_model(k)) for k, m in enumerate(live)]
        for epoch in range(1, live[0].config.optim.epochs + 1):
            self.train_epoch(run, epoch, copies)
            for c in copies:
                if not c.ended:  # a copy that ended in the epoch gets no row for its partial epoch
                    self.end_epoch(run, epoch, c)
            if all(c.ended for c in copies):
                return
        for c in copies:
            if not c.ended:
                self._retire(run, c, (RunStatus.FINISHED, None))

    def prepare(self, live: list[GroupMember]) -> GroupPrepared:
        """Device, the one data split, the batched model and its optimizer, as the Trainer prepares a run."""
        if self.threads:
            torch.set_num_threads(self.threads)
        torch.set_flush_denormal(True)  # as the Trainer: denormals are ~100x slower on x86
        cfg = live[0].config
        device = resolve_device(cfg.device)
        ds = load_dataset(cfg.data.dataset)
        with cuda_work(device):
            data = split_dataset(ds, cfg, device)  # one split for all: it depends on neither seed nor λ
            if len(data.train_y) == 0:
                raise ConfigError("no training samples left after the validation split; raise limit")
            configs = [m.config for m in live]
            model = BatchedModel(configs, device)
        torch.manual_seed(cfg.seed)  # dropout draws from the process's stream; each copy its own masks of it
        optimizer = batched_optimizer(model)
        norm = Normalizer.of(cfg.data.dataset, cfg.data.normalize, device)
        # Augmentation: each copy draws from its own run's generator, so its images are its separate run's.
        norms = [AugmentedNormalizer(norm, Augmenter(c)) for c in configs] if cfg.data.augment else [norm]
        step = BatchedStep(model, optimizer, norms, data.train_x, data.train_y, cfg.optim.clip)
        bs, n_train = cfg.optim.batch_size, len(data.train_y)
        steps_per_epoch = -(-n_train // bs)
        total_steps = steps_per_epoch * cfg.optim.epochs
        params = sum(p[0].numel() for p in model.parameters())
        for m in live:
            m.recorder.update(device=str(device), params=params)
            m.stream.update(steps_per_epoch=steps_per_epoch, total_steps=total_steps)
        train_probe = min(n_train, max(TRAIN_PROBE_MIN, len(data.val_y)), TRAIN_PROBE_MAX)
        return GroupPrepared(device, data, norm, model, optimizer, step, make_scheduler(cfg, optimizer, total_steps),
                             len(ds.classes), params, steps_per_epoch, train_probe,
                             [torch.Generator().manual_seed(c.seed) for c in configs])

    # ------------------------------------------------------------------ an epoch
    def train_epoch(self, run: GroupPrepared, epoch: int, copies: list[Copy]) -> None:
        """One pass of every copy over the training set, each in its own order; ends the copies that stop or
        diverge on the way."""
        n_train, bs = len(run.data.train_y), copies[0].member.config.optim.batch_size
        drain_every = 1 if run.device.type == "cpu" else DRAIN_EVERY_CUDA  # a CUDA sync costs; a CPU one not
        with cuda_work(run.device):
            perm = epoch_orders(run.orders, n_train, run.device)  # [K, n_train]
        run.model.train()
        t0, seen, undrained = time.monotonic(), 0, 0
        for c in copies:
            c.progress.epoch_l2 = 0.0
        for i in range(0, n_train, bs):
            stops = [(c, why) for c in copies if not c.ended and (why := c.member.stop_reason())]
            if stops:
                self._publish(run, epoch, copies, undrained)  # the stopped runs keep their steps so far
                undrained = 0
                for c, why in stops:
                    self._retire(run, c, (RunStatus.STOPPED, why))
            if all(c.ended for c in copies):
                break
            with cuda_work(run.device):
                run.step.step(perm[:, i:i + bs])  # [K, B]: each copy's own batch
            self._lrs.append(current_lr(run.optimizer))
            if run.scheduler is not None:
                run.scheduler.step()  # once per optimizer step: the rate of the next one
            seen += min(bs, n_train - i)
            undrained += 1
            if undrained >= drain_every or i + bs >= n_train:
                self._publish(run, epoch, copies, undrained)
                undrained = 0
        seconds = time.monotonic() - t0
        for c in copies:
            if not c.ended:  # a copy ended mid-epoch keeps the epochs it completed
                p = c.progress
                p.train_seconds, p.samples = p.train_seconds + seconds, p.samples + seen
                p.epoch_seconds, p.epoch_seen = seconds, seen

    def _publish(self, run: GroupPrepared, epoch: int, copies: list[Copy], count: int) -> None:
        """Drain the last `count` steps' losses into each live copy's rows; end a copy at its first bad loss."""
        if not count:
            return
        with cuda_work(run.device):
            values = run.step.drain()  # per copy: (data loss, L2 term) of each step
        lrs, self._lrs = self._lrs, []
        bs, n_train = copies[0].member.config.optim.batch_size, len(run.data.train_y)
        for c in copies:
            if c.ended:
                continue
            p = c.progress
            first, p.step = p.step + 1, p.step + count
            rows, problem = step_rows(values[c.k], first, epoch, lrs)
            for row in rows:  # the epoch's L2 is the mean over its samples, as its loss would be
                in_epoch = row["step"] - (epoch - 1) * run.steps_per_epoch - 1
                p.epoch_l2 += row["l2"] * min(bs, n_train - in_epoch * bs)
            c.member.stream.add_steps(rows, rows[-1]["step"] if rows else first - 1)
            c.member.recorder.add_steps(rows)
            if problem is not None:
                cfg = c.member.config
                fix = (f"Try a smaller L2 λ than {cfg.reg.l2:g}" if problem.startswith("the L2 term")
                       else f"Try a smaller learning rate than {cfg.optim.lr:g}")
                self._retire(run, c, (RunStatus.DIVERGED, f"{problem}; its curve up to there is kept. {fix}."))

    def end_epoch(self, run: GroupPrepared, epoch: int, c: Copy) -> None:
        """Evaluate copy `c` on its own, publish its epoch row and write its checkpoint (as the Trainer does)."""
        p, data = c.progress, run.data
        with cuda_work(run.device):
            run.model.copy_into(c.k, c.view)
            val = (evaluate(c.view, data.val_x, data.val_y, run.norm) if len(data.val_y)
                   else {"loss": None, "acc": None})
            train = evaluate(c.view, data.train_x[:run.train_probe], data.train_y[:run.train_probe], run.norm)
        seconds, seen = p.epoch_seconds, p.epoch_seen
        row = {"epoch": epoch, "train_loss": train["loss"], "train_acc": train["acc"],
               "val_loss": val["loss"], "val_acc": val["acc"], "l2": p.epoch_l2 / max(seen, 1),
               "seconds": seconds, "samples_per_s": seen / max(seconds, 1e-9)}
        p.epoch_rows.append(row)
        c.member.stream.add_epoch(row)
        c.member.recorder.add_epoch(row)
        if time.monotonic() - p.last_checkpoint >= CHECKPOINT_SECONDS:
            self._checkpoint(run, c, {"epochs": p.epoch_rows})
            p.last_checkpoint = time.monotonic()
        c.member.stream.update(samples_per_s=p.samples / max(p.train_seconds, 1e-9),
                               seconds_per_step=p.train_seconds / max(p.step, 1))

    # ------------------------------------------------------------------ a run's end
    def _retire(self, run: GroupPrepared, c: Copy, outcome: Outcome) -> None:
        """End copy `c`'s run: its result and checkpoint, then its final status (even if those fail)."""
        try:
            outcome = self.finish(run, c, outcome)
        except Exception as exc:
            log.exception("run %s failed at its end", c.member.run_id)
            outcome = (RunStatus.FAILED, failure(exc))
        c.ended = True
        c.member.end(*outcome)

    def finish(self, run: GroupPrepared, c: Copy, outcome: Outcome) -> Outcome:
        """The run's result: a finished run is tested, a stopped one keeps its weights untested (as the Trainer)."""
        status, message = outcome
        p = c.progress
        result: dict[str, Any] = {"train_seconds": p.train_seconds, "params": run.params,
                                  "samples_per_s": p.samples / max(p.train_seconds, 1e-9)}
        metrics: dict[str, Any] = {"epochs": p.epoch_rows}
        if status == RunStatus.FINISHED and p.step > 0:
            with cuda_work(run.device):
                run.model.copy_into(c.k, c.view)
                test = evaluate(c.view, run.data.test_x, run.data.test_y, run.norm, n_classes=run.n_classes)
            result.update(test_acc=test["acc"], test_loss=test["loss"], confusion=test["confusion"])
            metrics.update(test_acc=test["acc"], test_loss=test["loss"])
        if status in (RunStatus.FINISHED, RunStatus.STOPPED) and p.step > 0:
            path = self._checkpoint(run, c, metrics)
            if path:
                result["checkpoint"] = path
        c.member.stream.update(result=result)
        return status, message

    def _checkpoint(self, run: GroupPrepared, c: Copy, metrics: dict[str, Any]) -> str | None:
        with cuda_work(run.device):
            run.model.copy_into(c.k, c.view)
            payload = checkpoint_payload(c.member.config, c.view, metrics, c.member.run_id)
        return c.member.recorder.save_checkpoint(payload)
