"""Trainer: one run in one thread; metrics to a lock-guarded stream (pollers) and a recorder (the store).

Beside it: metrics.py (the stream and its snapshots), split.py (the data a run sees), publish.py (the rows and
result a run publishes, shared with group.py) and runner.py (its thread, setup and errors, shared too)."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, fields

import torch
from torch import nn

from ..augment import AugmentedNormalizer, Augmenter
from ..config import ConfigError, RunConfig, evaluates, is_recurrent, train_probe_size, validate
from ..data import Dataset, Normalizer
from ..errors import RunStatus
from ..models import build_model, count_parameters
from ..store import RunStore
from .finetune import before_after, replayed, start_from, trainable
from .live import LiveRun
from .metrics import Snapshot
from .publish import (
    Outcome,
    Prepared,
    Progress,
    cuda_work,
    publish_steps,
    record_epoch,
    record_result,
    stopped_early,
)
from .recorder import Recorder, recorder_for
from .runner import DRAIN_EVERY_CUDA, Runner, announce, uses_graphs, with_note
from .schedules import current_lr, make_scheduler
from .split import Split, training_split
from .steps import EagerStep, GraphStep, make_step, replay_plan

log = logging.getLogger(__name__)

RATE_SECONDS = 0.5  # live samples/s and ETA are republished at most this often


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



@dataclass
class TrainerPrepared(Prepared):
    """What one run trains with: its model, step and batch order beside what publishing reads."""
    model: nn.Module
    step: EagerStep
    order: torch.Generator  # the run's own batch order: one stream over all epochs


class Trainer(LiveRun, Runner):
    """Runs one config: prepare -> epochs (train, then evaluate and checkpoint) -> finish.

    `run()` blocks; `start()` runs it in a daemon thread; `stop()` ends it within a batch.
    Events go to the metrics stream (live pollers) and to `recorder` (the store, or nowhere).
    """

    def __init__(self, config: RunConfig, store: RunStore | None = None, run_id: int | None = None,
                 threads: int | None = None, recorder: Recorder | None = None, graphs: bool | None = None):
        super().__init__(validate(config))
        self.threads = threads  # intra-op CPU threads; None keeps torch's default (all cores)
        self.run_id = run_id
        self.recorder = recorder if recorder is not None else recorder_for(store, run_id)
        self.graphs = uses_graphs(config, graphs)
        self.start_state: dict[str, torch.Tensor] | None = None  # a fine-tune's starting weights (init_from)

    def thread_name(self) -> str:
        return f"trainer-{self.run_id}"

    # ------------------------------------------------------------------ the run
    def run(self) -> Snapshot:
        """Train to the end, a stop, divergence or an error; the outcome is in the returned snapshot."""
        outcome: Outcome = (RunStatus.FAILED, "the run ended without an outcome")
        try:
            outcome = self.attempt([self], self._train, f"run {self.run_id}")
        finally:
            self.end(*outcome)  # whatever happened above, even a BaseException: the run ends here
        return self.snapshot()

    def _train(self) -> Outcome:
        prep = self.prepare()
        progress = Progress.of(self.config)
        outcome: Outcome | None = None
        try:
            for epoch in range(1, self.config.optim.epochs + 1):
                outcome = self.train_epoch(prep, epoch, progress)
                if outcome is not None:
                    break  # a partial epoch is not an epoch: no epoch row, but its steps are kept
                if evaluates(self.config, epoch):
                    self.end_epoch(prep, epoch, progress)
                    outcome = stopped_early(progress)
                    if outcome is not None:
                        break  # patience ran out: the kept epoch's weights are tested (record_result)
                else:
                    self.stream.update(epoch=epoch)
            return self.finish(prep, progress, outcome or (RunStatus.FINISHED, None))
        finally:
            if isinstance(prep.step, GraphStep):
                prep.step.release()

    def prepare(self) -> TrainerPrepared:
        """Device, data split, normalizer, seeded model, optimizer and the training step."""
        device, ds = self.setup(self.config)
        with cuda_work(device):  # copies to the GPU and allocations: never during another run's capture
            return self._build(device, ds)

    def _build(self, device: torch.device, ds: Dataset) -> TrainerPrepared:
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
        bs, n_train = cfg.optim.batch_size, len(data.train_y)
        steps_per_epoch, total_steps = announce([self], cfg, device, params, n_train)
        # A captured step needs an optimizer whose step counter lives on the device.
        optimizer = make_optimizer(cfg, trainable(cfg, model), capturable=self.graphs and device.type == "cuda")
        norm = Normalizer.of(cfg.data.dataset, cfg.data.normalize, device)
        # Augmentation draws per image in the step's input (augment.py); evaluation keeps `norm` as it is.
        step_norm = AugmentedNormalizer(norm, Augmenter(cfg)) if cfg.data.augment else norm
        step = make_step(model, optimizer, step_norm, data.train_x, data.train_y, cfg.reg.l2, cfg.optim.clip,
                         batch_size=bs, graphs=self.graphs)
        scheduler = make_scheduler(cfg, optimizer, total_steps)
        train_probe = train_probe_size(n_train, len(data.val_y))
        return TrainerPrepared(device=device, data=data, norm=norm, optimizer=optimizer, scheduler=scheduler,
                               n_classes=len(ds.classes), params=params, steps_per_epoch=steps_per_epoch,
                               train_probe=train_probe, model=model, step=step,
                               order=torch.Generator().manual_seed(cfg.seed))

    def train_epoch(self, prep: TrainerPrepared, epoch: int, progress: Progress) -> Outcome | None:
        """One pass over the training set; returns why it ended early (stop, divergence) or None."""
        n_train, bs = len(prep.data.train_y), self.config.optim.batch_size
        # Sync step losses to the host every step on CPU (free), in blocks on CUDA (a sync costs).
        drain_every = 1 if prep.device.type == "cpu" else DRAIN_EVERY_CUDA
        with cuda_work(prep.device):
            perm = torch.randperm(n_train, generator=prep.order).to(prep.device)
        prep.step.begin_epoch(perm)
        prep.model.train()
        t0, seen, undrained = time.monotonic(), 0, 0
        outcome: Outcome | None = None
        # One call per batch, or per `group` batches where the step replays several as one graph (the
        # trainer then wakes, checks for a stop and counts once per group).
        for i, count in replay_plan(n_train, bs, prep.step.group):
            if self._stop.is_set() or self.recorder.poll():
                outcome = (RunStatus.STOPPED, self._stop_reason if self._stop.is_set()
                           else "stopped from another process")
                break
            if count == 1:
                prep.step.step(perm[i:i + bs])
            else:
                prep.step.step_group(i)
            if prep.scheduler is None:  # the rate these steps used, for their step rows
                progress.lrs.extend([current_lr(prep.optimizer)] * count)
            else:  # a moving rate trains without graphs: one step per call
                for _ in range(count):
                    progress.lrs.append(current_lr(prep.optimizer))
                    prep.scheduler.step()  # once per optimizer step: the rate of the next one
            progress.step += count
            seen += min(count * bs, n_train - i)
            undrained += count
            if undrained >= drain_every or i + count * bs >= n_train:
                outcome = self._publish_steps(prep, epoch, progress, undrained)
                undrained = 0
                self._publish_rate(progress, seen, time.monotonic() - t0)
                if outcome is not None:
                    break
        if undrained and outcome is not None and outcome[0] == RunStatus.STOPPED:
            self._publish_steps(prep, epoch, progress, undrained)
        seconds = time.monotonic() - t0
        progress.train_seconds += seconds
        progress.samples += seen
        progress.epoch_seconds += seconds
        progress.epoch_seen += seen
        return outcome

    def _publish_steps(self, prep: TrainerPrepared, epoch: int, progress: Progress, count: int) -> Outcome | None:
        """Drain the step's losses to the stream and recorder; stop at the first non-finite or exploded one."""
        return publish_steps(self, prep, progress, prep.step.drain(), epoch, count)

    def _publish_rate(self, progress: Progress, seen: int, epoch_seconds: float) -> None:
        now = time.monotonic()
        if now - progress.last_rate < RATE_SECONDS:
            return
        progress.last_rate = now
        so_far = max(progress.train_seconds + epoch_seconds, 1e-9)
        self.stream.update(samples_per_s=(progress.samples + seen) / so_far,
                           seconds_per_step=so_far / max(progress.step, 1))

    def end_epoch(self, prep: TrainerPrepared, epoch: int, progress: Progress) -> None:
        """Evaluate, publish the epoch's row and write its checkpoint."""
        record_epoch(self, prep, prep.model, epoch, progress)

    def finish(self, prep: TrainerPrepared, progress: Progress, outcome: Outcome) -> Outcome:
        """The result; a finished run is tested, a stopped one keeps its weights untested (stop stays fast)."""
        status, message = outcome
        record_result(self, prep, prep.model, progress, status)
        if self.start_state is not None and status == RunStatus.FINISHED:
            with cuda_work(prep.device):
                moved = before_after(self.config, prep.model, self.start_state, prep.data.test_x, prep.data.test_y,
                                     prep.device)
            self.stream.update(result={**self.stream.result(), "fine_tune": moved})
        return status, with_note(message, prep.step.note)
