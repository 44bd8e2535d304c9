"""The training step: normalize the gathered batch, forward, data loss + L2 term, backward, clip, step.

Two implementations behind one interface (`step(idx)`, `drain()`):
- `EagerStep` runs it op by op from Python (CPU, and the GPU fallback);
- `GraphStep` captures it once as a CUDA graph and replays it per batch: a batch-64 step of these
  models is dozens of tiny kernels, so launching them from Python, not the GPU, sets the speed. It also
  captures `group` steps as one graph that takes its batches from the epoch's order kept on the device
  (`step_group(start)`), so the trainer's loop wakes once per `group` steps (`replay_plan` says which).
Both keep each step's (data loss, L2 term) on the device until `drain()`, the only host sync.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext

import torch
import torch.nn.functional as F
from torch import nn

from .. import settings
from ..data import Normalizer
from ..errors import first_line

log = logging.getLogger(__name__)

WARMUP_STEPS = 3  # eager steps before a capture: cuDNN/cuBLAS pick kernels, optimizer state exists
LOSS_SLOTS = 256  # steps a graph step can hold between drains; the trainer drains more often
# Optimizer steps per replay of the grouped graph: the per-step host work (the trainer's loop, the gate,
# an index copy, a stop check) is the engine's limit on a GPU; one wake-up per 16 steps divides it by 16.
# Measured on an H200 (bench/README.md): LeNet alone 76% -> 90% of the yardstick's graph figure, but the
# recurrent recipes ran slower as 16-step graphs (lstm64 81% -> 76%, rnn128 87% -> 77%), so they keep one.
STEPS_PER_REPLAY = 16
RECURRENT_STEPS_PER_REPLAY = 1


def replay_plan(n: int, batch_size: int, group: int) -> list[tuple[int, int]]:
    """An epoch of `n` samples as calls: (first sample, batches). Blocks of `group` full batches first (one
    replay each), then the rest one batch per call: fewer than `group` full batches and a last partial one."""
    if group < 1 or batch_size < 1:
        raise ValueError(f"group and batch size must be positive, got {group} and {batch_size}")
    full = n // batch_size
    blocks = full // group if group > 1 else 0
    plan = [(b * group * batch_size, group) for b in range(blocks)]
    plan += [(i, 1) for i in range(blocks * group * batch_size, n, batch_size)]
    return plan


def l2_penalty(model: nn.Module) -> torch.Tensor:
    """sum of w^2 over all parameters (the book's L2 term, before lambda)."""
    return sum(p.pow(2).sum() for p in model.parameters())  # type: ignore[return-value]


class EagerStep:
    """One optimizer step per call, op by op; the step's losses stay on the device until drained."""

    group = 1  # batches a `step_group` call trains: the trainer only calls `step` here

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer, norm: Normalizer,
                 train_x: torch.Tensor, train_y: torch.Tensor, l2: float, clip: float):
        self.model, self.optimizer, self.norm = model, optimizer, norm
        self.train_x, self.train_y = train_x, train_y  # (N, C, H, W) uint8, (N,) int64 on the device
        self.l2, self.clip = l2, clip
        self.note: str | None = None  # what the run's message should say about this step, if anything
        self._pending: list[torch.Tensor] = []

    def losses(self, idx: torch.Tensor) -> torch.Tensor:
        """Forward and backward on the batch `idx`, then the optimizer step; returns (2,): loss, l2 term."""
        xb, yb = self.norm(self.train_x[idx]), self.train_y[idx]
        data_loss = F.cross_entropy(self.model(xb), yb)
        l2_term = self.l2 * l2_penalty(self.model) if self.l2 > 0 else data_loss.new_zeros(())
        # set_to_none=False: a captured graph needs the same gradient tensors at every replay.
        self.optimizer.zero_grad(set_to_none=False)
        (data_loss + l2_term).backward()
        if self.clip:
            nn.utils.clip_grad_norm_(self.model.parameters(), self.clip)  # foreach kernels: no host sync
        self.optimizer.step()
        return torch.stack([data_loss.detach(), l2_term.detach()])

    def begin_epoch(self, order: torch.Tensor) -> None:
        """The epoch's batch order (indices on the device), before its first step."""

    def step(self, idx: torch.Tensor) -> None:
        with GATE.shared() if self.train_x.is_cuda else nullcontext():  # no capture meanwhile
            self._pending.append(self.losses(idx))

    def step_group(self, start: int) -> None:
        """`group` full batches of the epoch's order from sample `start` (only steps that group)."""
        raise NotImplementedError("an eager step trains one batch per call")

    def drain(self) -> list[tuple[float, float]]:
        """(data loss, L2 term) of each step since the last drain, oldest first (one host sync)."""
        if not self._pending:
            return []
        values = torch.stack(self._pending).cpu().tolist()
        self._pending = []
        return [(a, b) for a, b in values]


class CaptureGate:
    """Captures exclusive, everything else shared: a capture must see no other CUDA work in the process.

    Another thread launching kernels or drawing random numbers during a capture invalidates it, and
    the error poisons the whole process's CUDA context. Runs hold the shared side around their CUDA
    work (a step, an evaluation, a copy to the host); a capture waits for them and holds them off.

    Writers first: once a capture waits, new shared holders wait behind it (five runs stepping
    thousands of times a second would otherwise keep the count above zero and starve it). A thread
    already holding the shared side may take it again without waiting, or it would wait on itself.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._active = 0
        self._capturing = False
        self._captures_waiting = 0
        self.readers_waiting = 0  # shared holders held off by a capture (tests watch it)
        self._held = threading.local()

    @contextmanager
    def shared(self) -> Iterator[None]:
        depth = getattr(self._held, "depth", 0)
        with self._cond:
            if not depth:
                self.readers_waiting += 1
                while self._capturing or self._captures_waiting:
                    self._cond.wait()
                self.readers_waiting -= 1
            self._active += 1
        self._held.depth = depth + 1
        try:
            yield
        finally:
            self._held.depth = depth
            with self._cond:
                self._active -= 1
                self._cond.notify_all()

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        with self._cond:
            self._captures_waiting += 1
            try:
                while self._capturing or self._active:
                    self._cond.wait()
            finally:
                self._captures_waiting -= 1
            self._capturing = True
        try:
            yield
        finally:
            with self._cond:
                self._capturing = False
                self._cond.notify_all()


GATE = CaptureGate()


class LossSlots:
    """What a graph step's replays leave on the device: replay r writes its losses to row r of `_slots` (the next
    free row `_slot` is itself a device tensor, advanced inside the graph); `_replays` counts them on the host."""

    _slots: torch.Tensor
    _slot: torch.Tensor
    _replays: int

    def _take_slots(self) -> list[torch.Tensor]:
        """The losses of the replays since the last take, one device tensor each (no sync)."""
        n, self._replays = self._replays, 0
        if not n:
            return []
        rows = self._slots[:n].clone()
        self._slot.zero_()
        return list(rows.unbind(0))


class GraphStep(LossSlots, EagerStep):
    """The same step captured once as a CUDA graph and replayed; the batch's indices enter by a static buffer.

    Batches of another size (an epoch's last, partial one) and the warm-up run eagerly on the same
    model and optimizer state. If the capture fails, every step stays eager and `note` says why.

    With `group` > 1 a second graph holds `group` steps, each gathering its batch from the epoch's order
    (copied to a static buffer by `begin_epoch`) at an offset kept and advanced on the device. Until it
    is captured (after the one-step graph), and if its capture fails, a group runs as single steps.
    """

    def __init__(self, *args, batch_size: int, group: int = 1, **kwargs):
        super().__init__(*args, **kwargs)
        device = self.train_x.device
        self.batch_size = batch_size
        if not 1 <= group <= LOSS_SLOTS:
            raise ValueError(f"steps per replay must be 1..{LOSS_SLOTS}, got {group}")
        self.group = group
        self.group_graph: torch.cuda.CUDAGraph | None = None
        self.group_failed = False
        self._order: torch.Tensor | None = None  # the epoch's order on the device, read by the group graph
        self._epoch_order: torch.Tensor | None = None  # the caller's tensor of it: single steps slice it
        self._offset = torch.zeros(1, dtype=torch.long, device=device)  # next sample of the order to read
        self._next_start = 0  # where the device offset stands after the replays so far (host's copy)
        self._arange = torch.arange(batch_size, device=device)
        # Each run replays on its own stream, so replays of different runs overlap on the GPU.
        self.stream = torch.cuda.Stream(device) if device.type == "cuda" else None
        self.graph: torch.cuda.CUDAGraph | None = None
        self.failed = False
        self._eager_steps = 0
        self._idx = torch.zeros(batch_size, dtype=torch.long, device=device)  # the static input
        self._slots = torch.zeros(LOSS_SLOTS, 2, device=device)  # replay k writes its losses to row k
        self._slot = torch.zeros(1, dtype=torch.long, device=device)  # next free row, kept on the device
        self._replays = 0  # replays whose losses are still in the slots
        self._order_ptr = -1  # storage of the epoch's batch order, already ordered after the trainer's stream

    def step(self, idx: torch.Tensor) -> None:
        full = len(idx) == self.batch_size
        if self.graph is None and full and not self.failed and self._eager_steps >= WARMUP_STEPS:
            self._capture(idx)
            return
        with GATE.shared():
            self._follow_caller(idx)
            with torch.cuda.stream(self.stream):
                if self.graph is not None and full:
                    self._replay(idx)
                else:  # warm-up, a partial batch, or no graph: the same step op by op
                    self._pending.extend(self._take_slots())  # earlier replays first: losses in step order
                    super().step(idx)
                    self._eager_steps += 1

    def begin_epoch(self, order: torch.Tensor) -> None:
        """Order this run's stream after the trainer's once per epoch, not per step: a step's host work is
        the engine's speed limit on a GPU (about 4,000 steps/s for the CNN recipe). With groups, copy the
        order to the group graph's static buffer and put its offset back to the start."""
        with GATE.shared():
            self._follow_caller(order)
            if self.group > 1:
                with torch.cuda.stream(self.stream):
                    if self._order is None or self._order.shape != order.shape:
                        if self.group_graph is not None:  # it reads the old buffer: capture again
                            self.group_graph = None
                        self._order = torch.empty_like(order)
                    self._order.copy_(order, non_blocking=True)
                    self._offset.zero_()
                self._next_start = 0
        self._order_ptr = order.untyped_storage().data_ptr()
        self._epoch_order = order

    def step_group(self, start: int) -> None:
        """`group` full batches from sample `start` of the epoch's order: one replay once captured."""
        if (self.group_graph is None and self.graph is not None and not self.group_failed
                and self._order is not None):
            self._capture_group()
        if self.group_graph is None:
            order, bs = self._epoch_order, self.batch_size
            if order is None:
                raise RuntimeError("step_group before begin_epoch")
            for j in range(self.group):
                self.step(order[start + j * bs:start + (j + 1) * bs])
            return
        with GATE.shared(), torch.cuda.stream(self.stream):
            if self._replays + self.group > LOSS_SLOTS:
                self._pending.extend(self._take_slots())
            if start != self._next_start:  # the device offset is where the last group left it
                self._offset.fill_(start)
            self.group_graph.replay()
            self._next_start = start + self.group * self.batch_size
            self._replays += self.group

    def _group_body(self) -> None:
        """What the group graph records: `group` steps, each gathering its batch at the device offset."""
        for _ in range(self.group):
            idx = self._order.index_select(0, self._offset + self._arange)  # type: ignore[union-attr]
            losses = self.losses(idx)
            self._slots.index_copy_(0, self._slot, losses.view(1, 2))
            self._slot.add_(1)
            self._offset.add_(self.batch_size)

    def _capture_group(self) -> None:
        """Record `group` steps as one graph; if that fails, keep the one-step graph (no note: same speed class)."""
        with GATE.exclusive():
            try:
                self._sync()
                graph = torch.cuda.CUDAGraph()
                with torch.cuda.graph(graph, stream=self.stream):
                    self._group_body()
                self.group_graph = graph
            except Exception as exc:
                log.warning("capturing %d steps as one CUDA graph failed, one step per replay: %s",
                            self.group, exc)
                self.group_failed = True
                self.group_graph = None
                self._sync()

    def _follow_caller(self, idx: torch.Tensor) -> None:
        """Order this run's stream after the trainer's, which made `idx` (and the model and data)."""
        if self.stream is not None and idx.untyped_storage().data_ptr() != self._order_ptr:
            self.stream.wait_stream(torch.cuda.current_stream(self.stream.device))
            idx.record_stream(self.stream)  # its memory is not reused before this stream has read it

    def _replay(self, idx: torch.Tensor) -> None:
        if self._replays == LOSS_SLOTS:
            self._pending.extend(self._take_slots())
        self._idx.copy_(idx, non_blocking=True)
        self.graph.replay()  # type: ignore[union-attr]
        self._replays += 1

    def _capture(self, idx: torch.Tensor) -> None:
        """Record the step with `idx` as its input, then replay it once (capturing runs nothing)."""
        with GATE.exclusive():
            try:
                self._sync()
                self._idx.copy_(idx)
                graph = torch.cuda.CUDAGraph()
                with torch.cuda.graph(graph, stream=self.stream):
                    losses = self.losses(self._idx)
                    self._slots.index_copy_(0, self._slot, losses.view(1, 2))
                    self._slot.add_(1)
                self.graph = graph
            except Exception as exc:  # a capture that fails falls back, never fails the run
                self._fall_back(exc)
        self.step(idx)

    def _fall_back(self, exc: Exception) -> None:
        log.warning("CUDA graph capture failed, training eagerly: %s", exc)
        self.failed = True
        self.graph = None
        self.note = f"trained without CUDA graphs (capture failed: {first_line(exc)[:160]})"
        self._sync()

    def _sync(self) -> None:
        if self.train_x.is_cuda:
            torch.cuda.synchronize(self.train_x.device)

    def drain(self) -> list[tuple[float, float]]:
        with GATE.shared(), torch.cuda.stream(self.stream):
            self._pending.extend(self._take_slots())
            values = super().drain()
        if self.stream is not None:  # evaluation and checkpoints on the trainer's stream see these steps
            torch.cuda.current_stream(self.stream.device).wait_stream(self.stream)
        return values

    def release(self) -> None:
        """Free the graph's private memory pool when the run ends (not during another run's capture)."""
        with GATE.shared():
            self.graph = None
            self.group_graph = None


def graphs_enabled() -> bool:
    """CUDA graphs are on unless PLAYGROUND_CUDA_GRAPHS=0 (the escape hatch if a driver misbehaves)."""
    return settings.current().cuda_graphs


def make_step(model: nn.Module, optimizer: torch.optim.Optimizer, norm: Normalizer, train_x: torch.Tensor,
              train_y: torch.Tensor, l2: float, clip: float, batch_size: int, graphs: bool,
              group: int | None = None) -> EagerStep:
    """A graph step on CUDA when `graphs` is on (`group` steps per replay; unless given, STEPS_PER_REPLAY
    or, for a recurrent model, RECURRENT_STEPS_PER_REPLAY), else the eager one."""
    args = (model, optimizer, norm, train_x, train_y)
    if graphs and train_x.is_cuda:
        if group is None:
            recurrent = any(isinstance(m, nn.RNNBase) for m in model.modules())
            group = RECURRENT_STEPS_PER_REPLAY if recurrent else STEPS_PER_REPLAY
        return GraphStep(*args, l2=l2, clip=clip, batch_size=batch_size, group=group)
    return EagerStep(*args, l2=l2, clip=clip)
