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

import torch
from torch import nn

from ..augment import AugmentedNormalizer, Augmenter
from ..config import ConfigError, RunConfig, evaluates, train_probe_size, validate
from ..data import Normalizer
from ..errors import RunStatus
from ..store import RunStore
from .batched import BatchedModel, BatchedStep, batched_optimizer, can_batch, epoch_orders
from .batched_graph import BatchedGraphStep
from .live import LiveRun
from .metrics import Snapshot
from .publish import (
    Outcome,
    Prepared,
    Progress,
    cuda_work,
    failure,
    publish_steps,
    record_epoch,
    record_result,
    stopped_early,
)
from .recorder import Recorder, recorder_for
from .runner import DRAIN_EVERY_CUDA, Runner, announce, uses_graphs, with_note
from .schedules import current_lr, make_scheduler
from .split import training_split

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
class GroupCopy:
    """A run's place in the batched model while it trains."""
    k: int  # its index in the stacked tensors
    member: GroupMember
    view: nn.Module  # its weights as a module of its own, refreshed before evaluations and checkpoints
    progress: Progress = field(default_factory=Progress)
    ended: bool = False


@dataclass
class GroupPrepared(Prepared):
    """What the group trains with, built once (one split and one normalizer: the configs differ in seed and λ)."""
    model: BatchedModel
    step: BatchedStep
    orders: list[torch.Generator]  # each run's own batch order, as its Trainer would draw it


class GroupTrainer(Runner):
    """Trains `configs` (same shape: see `can_batch`) as one batched model; `run()` blocks, `start()` threads it."""

    def __init__(self, configs: list[RunConfig], store: RunStore | None = None,
                 run_ids: list[int] | None = None, threads: int | None = None, graphs: bool | None = None):
        reason = can_batch(configs)
        if reason:
            raise ConfigError(reason)
        ids: list[int | None] = list(run_ids) if run_ids is not None else [None] * len(configs)
        if len(ids) != len(configs):
            raise ValueError(f"{len(configs)} configs but {len(ids)} run ids")
        self.members = [GroupMember(self, validate(c), recorder_for(store, i), i)
                        for c, i in zip(configs, ids, strict=True)]
        self.run_ids = tuple(ids)
        self.threads = threads  # intra-op CPU threads; None keeps torch's default
        self.graphs = uses_graphs(configs[0], graphs)  # the Trainer's rule (the configs differ in seed and λ only)
        self._lock = threading.Lock()  # between a start and a stop of a run that waits
        self._started = False
        self._lrs: list[float] = []  # the rate of each step not yet drained into step rows (one for all copies)

    def thread_name(self) -> str:
        return f"group-{self.run_ids[0]}"

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
                outcome = self.attempt(live, lambda: self._train(live), f"group {self.run_ids}")
        finally:
            for m in live:
                if m.stream.status().active:  # not ended by the training (a stop, divergence, its end)
                    m.end(*outcome)
        return [m.snapshot() for m in self.members]

    def _train(self, live: list[GroupMember]) -> Outcome:
        """Train `live`; every copy's run is ended by the training: the outcome returned is for none, unless a bug."""
        prep = self.prepare(live)
        try:
            self._epochs(prep, live)
        finally:
            if isinstance(prep.step, BatchedGraphStep):
                prep.step.release()
        return RunStatus.FAILED, "the group ended without ending this run"

    def _epochs(self, prep: GroupPrepared, live: list[GroupMember]) -> None:
        copies = [GroupCopy(k, m, prep.model.copy_model(k), Progress.of(m.config))
                  for k, m in enumerate(live)]
        cfg = live[0].config  # eval_every is the same for all (can_batch)
        for epoch in range(1, cfg.optim.epochs + 1):
            self.train_epoch(prep, epoch, copies)
            for c in copies:
                if c.ended:  # a copy that ended in the epoch gets no row for its partial epoch
                    continue
                if evaluates(cfg, epoch):
                    self.end_epoch(prep, epoch, c)
                    early = stopped_early(c.progress)
                    if early is not None:  # out of patience: this copy ends, the others train on
                        self._retire(prep, c, early)
                else:
                    c.member.stream.update(epoch=epoch)
            if all(c.ended for c in copies):
                return
        for c in copies:
            if not c.ended:
                self._retire(prep, c, (RunStatus.FINISHED, None))

    def prepare(self, live: list[GroupMember]) -> GroupPrepared:
        """Device, the one data split, the batched model and its optimizer, as the Trainer prepares a run."""
        cfg = live[0].config
        device, ds = self.setup(cfg)
        with cuda_work(device):
            data = training_split(ds, cfg, device)  # one split for all: it depends on neither seed nor λ
            configs = [m.config for m in live]
            model = BatchedModel(configs, device)
        params = sum(p[0].numel() for p in model.parameters())
        bs, n_train = cfg.optim.batch_size, len(data.train_y)
        steps_per_epoch, total_steps = announce(live, cfg, device, params, n_train)
        torch.manual_seed(cfg.seed)  # dropout draws from the process's stream; each copy its own masks of it
        graphs = self.graphs and device.type == "cuda"
        optimizer = batched_optimizer(model, capturable=graphs)  # a captured step keeps its counter on the device
        norm = Normalizer.of(cfg.data.dataset, cfg.data.normalize, device)
        # Augmentation: each copy draws from its own run's generator, so its images are its separate run's.
        norms = [AugmentedNormalizer(norm, Augmenter(c)) for c in configs] if cfg.data.augment else [norm]
        step = (BatchedGraphStep(model, optimizer, norms, data.train_x, data.train_y, cfg.optim.clip, batch_size=bs)
                if graphs else BatchedStep(model, optimizer, norms, data.train_x, data.train_y, cfg.optim.clip))
        train_probe = train_probe_size(n_train, len(data.val_y))
        return GroupPrepared(device=device, data=data, norm=norm, optimizer=optimizer,
                             scheduler=make_scheduler(cfg, optimizer, total_steps), n_classes=len(ds.classes),
                             params=params, steps_per_epoch=steps_per_epoch, train_probe=train_probe, model=model,
                             step=step, orders=[torch.Generator().manual_seed(c.seed) for c in configs])

    # ------------------------------------------------------------------ an epoch
    def train_epoch(self, prep: GroupPrepared, epoch: int, copies: list[GroupCopy]) -> None:
        """One pass of every copy over the training set, each in its own order; ends the copies that stop or
        diverge on the way."""
        n_train, bs = len(prep.data.train_y), copies[0].member.config.optim.batch_size
        drain_every = 1 if prep.device.type == "cpu" else DRAIN_EVERY_CUDA  # a CUDA sync costs; a CPU one not
        with cuda_work(prep.device):
            perm = epoch_orders(prep.orders, n_train, prep.device)  # [K, n_train]
        prep.model.train()
        t0, seen, undrained = time.monotonic(), 0, 0
        for i in range(0, n_train, bs):
            stops = [(c, why) for c in copies if not c.ended and (why := c.member.stop_reason())]
            if stops:
                self._publish(prep, epoch, copies, undrained)  # the stopped runs keep their steps so far
                undrained = 0
                for c, why in stops:
                    self._retire(prep, c, (RunStatus.STOPPED, why))
            if all(c.ended for c in copies):
                break
            prep.step.step(perm[:, i:i + bs])  # [K, B]: each copy's own batch (the step holds the gate itself)
            self._lrs.append(current_lr(prep.optimizer))
            if prep.scheduler is not None:
                prep.scheduler.step()  # once per optimizer step: the rate of the next one
            seen += min(bs, n_train - i)
            undrained += 1
            if undrained >= drain_every or i + bs >= n_train:
                self._publish(prep, epoch, copies, undrained)
                undrained = 0
        seconds = time.monotonic() - t0
        for c in copies:
            if not c.ended:  # a copy ended mid-epoch keeps the epochs it completed
                p = c.progress
                p.train_seconds, p.samples = p.train_seconds + seconds, p.samples + seen
                p.epoch_seconds, p.epoch_seen = p.epoch_seconds + seconds, p.epoch_seen + seen  # since its last row

    def _publish(self, prep: GroupPrepared, epoch: int, copies: list[GroupCopy], count: int) -> None:
        """Drain the last `count` steps' losses into each live copy's rows; end a copy at its first bad loss."""
        if not count:
            return
        with cuda_work(prep.device):
            values = prep.step.drain()  # per copy: (data loss, L2 term) of each step
        lrs, self._lrs = self._lrs, []
        for c in copies:
            if c.ended:
                continue
            c.progress.step += count
            c.progress.lrs = list(lrs)
            outcome = publish_steps(c.member, prep, c.progress, values[c.k], epoch, count)
            if outcome is not None:
                self._retire(prep, c, outcome)

    def end_epoch(self, prep: GroupPrepared, epoch: int, c: GroupCopy) -> None:
        """Evaluate copy `c` on its own, publish its epoch row and write its checkpoint (as the Trainer does)."""
        with cuda_work(prep.device):
            prep.model.copy_into(c.k, c.view)
        record_epoch(c.member, prep, c.view, epoch, c.progress)

    # ------------------------------------------------------------------ a run's end
    def _retire(self, prep: GroupPrepared, c: GroupCopy, outcome: Outcome) -> None:
        """End copy `c`'s run: its result and checkpoint, then its final status (even if those fail)."""
        try:
            outcome = self.finish(prep, c, outcome)
        except Exception as exc:
            log.exception("run %s failed at its end", c.member.run_id)
            outcome = (RunStatus.FAILED, failure(exc))
        c.ended = True
        c.member.end(*outcome)

    def finish(self, prep: GroupPrepared, c: GroupCopy, outcome: Outcome) -> Outcome:
        """The run's result: a finished run is tested, a stopped one keeps its weights untested (as the Trainer)."""
        with cuda_work(prep.device):
            prep.model.copy_into(c.k, c.view)
        record_result(c.member, prep, c.view, c.progress, outcome[0])
        status, message = outcome
        return status, with_note(message, getattr(prep.step, "note", None))  # BatchedStep has no note
