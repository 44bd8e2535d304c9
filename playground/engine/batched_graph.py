"""BatchedStep captured once as a CUDA graph and replayed: K runs' step in one replay (issue 24's batched lever).

The same scheme as steps.GraphStep for one run: a few eager warm-up steps (cuDNN picks kernels, the
optimizer's state exists), then one capture with the batch indices [K, B] in a static buffer; each full
batch is an index copy and a replay, each replay's per-copy losses [K, 2] go to a row of a slot buffer on
the device until `drain()`. A partial batch (an epoch's last) runs eagerly on the same tensors; a capture
that fails leaves every step eager and says so in `note`. One step per replay: the K-steps-per-replay graph
of GraphStep is the next lever once this one is measured.

CUDA only, so not exercised by the CPU suite: tests/test_steps.py checks it against the eager step on a GPU.
"""
from __future__ import annotations

import logging

import torch

from ..errors import first_line
from .batched import BatchedStep
from .steps import GATE, LOSS_SLOTS, WARMUP_STEPS, LossSlots

log = logging.getLogger(__name__)


class BatchedGraphStep(LossSlots, BatchedStep):
    """`step(idx)` with idx [K, B]: eager for the warm-up and partial batches, a graph replay otherwise."""

    def __init__(self, *args, batch_size: int, **kwargs):
        """As BatchedStep; the optimizer must be capturable (batched_optimizer(..., capturable=True))."""
        super().__init__(*args, **kwargs)
        device = self.train_x.device
        self.batch_size = batch_size
        self.note: str | None = None  # what the runs' messages should say about this step, if anything
        self.stream = torch.cuda.Stream(device)  # the group replays on its own stream, as a run does
        self.graph: torch.cuda.CUDAGraph | None = None
        self.failed = False
        self._eager_steps = 0
        self._idx = torch.zeros(self.model.k, batch_size, dtype=torch.long, device=device)  # the static input
        self._slots = torch.zeros(LOSS_SLOTS, self.model.k, 2, device=device)  # replay r writes row r: [K, 2]
        self._slot = torch.zeros(1, dtype=torch.long, device=device)  # the next free row, on the device
        self._replays = 0  # replays whose losses are still in the slots

    def step(self, idx: torch.Tensor) -> None:
        full = idx.shape[1] == self.batch_size
        if self.graph is None and full and not self.failed and self._eager_steps >= WARMUP_STEPS:
            self._capture(idx)
            return
        with GATE.shared():
            self.stream.wait_stream(torch.cuda.current_stream(self.stream.device))  # the caller made idx
            idx.record_stream(self.stream)  # its memory is not reused before this stream has read it
            with torch.cuda.stream(self.stream):
                if self.graph is not None and full:
                    if self._replays == LOSS_SLOTS:
                        self._pending.extend(self._take_slots())
                    self._idx.copy_(idx, non_blocking=True)
                    self.graph.replay()
                    self._replays += 1
                else:  # warm-up, a partial batch, or no graph: the same step op by op
                    self._pending.extend(self._take_slots())  # earlier replays first: losses in step order
                    super().step(idx)
                    self._eager_steps += 1

    def _capture(self, idx: torch.Tensor) -> None:
        """Record the step with the static indices as its input, then take this batch (capturing runs nothing)."""
        with GATE.exclusive():  # no other thread's CUDA work during a capture (steps.CaptureGate)
            try:
                torch.cuda.synchronize(self.stream.device)
                self._idx.copy_(idx)
                graph = torch.cuda.CUDAGraph()
                with torch.cuda.graph(graph, stream=self.stream):
                    losses = self.losses(self._idx)  # [K, 2]
                    self._slots.index_copy_(0, self._slot, losses.unsqueeze(0))
                    self._slot.add_(1)
                self.graph = graph
            except Exception as exc:  # a capture that fails falls back, never fails the runs
                log.warning("capturing the batched step failed, training it eagerly: %s", exc)
                self.failed, self.graph = True, None
                self.note = f"trained without CUDA graphs (capture failed: {first_line(exc)[:160]})"
                torch.cuda.synchronize(self.stream.device)
        self.step(idx)

    def drain(self) -> list[list[tuple[float, float]]]:
        with GATE.shared(), torch.cuda.stream(self.stream):
            self._pending.extend(self._take_slots())
            values = super().drain()
        # Evaluation and checkpoints on the trainer's stream see these steps.
        torch.cuda.current_stream(self.stream.device).wait_stream(self.stream)
        return values

    def release(self) -> None:
        """Free the graph's memory pool when the group ends (not during another run's capture)."""
        with GATE.shared():
            self.graph = None
