"""K runs of one conv architecture trained as one batched model (torch.func), each copy as its separate run.

The copies' weights are stacked ([K, *shape] per tensor) and run through one module with `functional_call`
under `vmap`: on a GPU a step of these small models is launch-bound, so K copies cost about one launch
sequence. Each copy keeps what its separate run would have: its seeded initial weights, its own batch
order (its own inputs, [K, B, C, H, W]), its own L2 λ, its own gradient norm for clipping. The loss is the
sum over copies of each copy's loss, so copy k's gradient is exactly run k's. One torch optimizer steps the
stacked tensors: every update rule used here (SGD with momentum, Adam, AdamW, RMSprop) is elementwise, so
it is each copy's own update as long as the copies share lr, momentum and weight decay (`can_batch`).
"""
from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from contextlib import nullcontext

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from ..config import ConfigError, RunConfig, validate
from ..models import build_model
from .steps import GATE
from .training import make_optimizer

# Recurrent models cannot batch: nn.RNN/LSTM/GRU have no vmap batching rule (their fused kernels take one
# weight set). Conv models only, and without batch-norm: its running statistics are updated in place on
# buffers during the forward, which vmap cannot do per copy.
BATCHABLE_ARCHS = ("cnn", "lenet")
PER_COPY = ("seed", "l2")  # the settings copies may differ in; everything else is one shape, one optimizer


def batch_key(cfg: RunConfig) -> str:
    """What the runs of one batch share: every setting but PER_COPY's (runs with equal keys may batch)."""
    return json.dumps({k: v for k, v in cfg.flat().items() if k not in PER_COPY}, sort_keys=True)


def can_batch(configs: Sequence[RunConfig]) -> str | None:
    """None when `configs` can train as one batched model, else the reason they cannot."""
    if not configs:
        return "no runs to batch"
    for cfg in configs:
        try:
            validate(cfg)
        except ConfigError as exc:
            return str(exc)
        if cfg.model.arch not in BATCHABLE_ARCHS:
            return (f"a {cfg.model.arch} cannot batch: recurrent layers have no vmap batching rule "
                    f"(only {', '.join(BATCHABLE_ARCHS)} batch)")
        if cfg.reg.batchnorm:
            return "batch-norm cannot batch: its running statistics are updated in place, not per copy under vmap"
        if cfg.model.init_from or cfg.optim.train_layers != "all" or cfg.data.replay:
            return "a fine-tune (init_from, train_layers, replay) trains alone: a batch starts from seeded weights"
    first = configs[0].flat()
    for cfg in configs[1:]:
        diff = {k: (first[k], v) for k, v in cfg.flat().items() if k not in PER_COPY and v != first[k]}
        if diff:
            said = ", ".join(f"{k} ({a!r} vs {b!r})" for k, (a, b) in diff.items())
            return (f"runs differ in {said}; runs in one batch may differ only in {' and '.join(PER_COPY)} "
                    f"(one data split, one model shape and one optimizer step them all)")
    return None


class BatchedModel:
    """K copies of one model as stacked tensors; `__call__` maps [K, B, C, H, W] inputs to [K, B, classes]."""

    def __init__(self, configs: Sequence[RunConfig], device: torch.device | str = "cpu"):
        reason = can_batch(configs)
        if reason:
            raise ConfigError(reason)
        self.configs = list(configs)
        self.k = len(self.configs)
        # Each copy starts from its separate run's weights: build_model(seed=) draws from a private generator.
        models = [build_model(c, seed=c.seed) for c in self.configs]
        params, buffers = stack_module_state(models)  # name -> [K, *shape]
        self.params = {n: p.detach().to(device).requires_grad_() for n, p in params.items()}
        self.buffers = {n: b.to(device) for n, b in buffers.items()}
        # A weightless template: functional_call swaps one copy's tensors into it for each vmapped call.
        self.base = copy.deepcopy(models[0]).to("meta")
        self.names = list(models[0].state_dict())  # state_dict order, for checkpoints
        self.l2 = torch.tensor([c.reg.l2 for c in self.configs], device=device)  # [K]
        self._any_l2 = any(c.reg.l2 > 0 for c in self.configs)  # known on the host: no sync per step
        # Dropout under vmap must draw its own mask per copy ("same" would share one, "error" refuses).
        randomness = "different" if self.configs[0].reg.dropout > 0 else "error"
        self._forward = vmap(self._one, randomness=randomness)

    def _one(self, params: dict, buffers: dict, x: torch.Tensor) -> torch.Tensor:
        return functional_call(self.base, (params, buffers), (x,))  # one copy: [B, C, H, W] -> [B, classes]

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self._forward(self.params, self.buffers, x)

    def train(self, mode: bool = True) -> BatchedModel:
        self.base.train(mode)  # dropout reads the template's flag inside functional_call
        return self

    def eval(self) -> BatchedModel:
        return self.train(False)

    def parameters(self) -> list[torch.Tensor]:
        return list(self.params.values())

    def l2_terms(self) -> torch.Tensor:
        """[K]: λ_k · Σw² of copy k, exactly 0 for a copy with λ = 0 (as the separate run adds nothing)."""
        if not self._any_l2:
            return self.l2.new_zeros(self.k)
        squares = sum(p.pow(2).flatten(1).sum(1) for p in self.params.values())  # [K]
        # where, not λ·Σw² alone: 0 · inf would be NaN for a λ = 0 copy whose weights blew up.
        return torch.where(self.l2 > 0, self.l2 * squares, torch.zeros_like(squares))

    def unstack(self, k: int) -> dict[str, torch.Tensor]:
        """Copy k's state_dict (CPU tensors), which loads into build_model(configs[k])."""
        tensors = {**self.params, **self.buffers}
        return {n: tensors[n][k].detach().cpu().clone() for n in self.names}

    def copy_model(self, k: int) -> nn.Module:
        """Copy k as a module of its own (eval mode) on the device: for evaluation and checkpoints."""
        device = next(iter(self.params.values())).device
        model = build_model(self.configs[k], seed=self.configs[k].seed)  # seeded: moves no global stream
        return self.copy_into(k, model.to(device)).eval()

    @torch.no_grad()
    def copy_into(self, k: int, model: nn.Module) -> nn.Module:
        """Write copy k's current weights into `model` (built from configs[k], on the device): no host copy."""
        tensors = {**self.params, **self.buffers}
        for name, t in model.state_dict().items():
            t.copy_(tensors[name][k])
        return model


def batched_optimizer(model: BatchedModel, capturable: bool = False) -> torch.optim.Optimizer:
    """The runs' optimizer (make_optimizer) over the stacked tensors: elementwise, so per copy (see the top)."""
    return make_optimizer(model.configs[0], model.parameters(), capturable=capturable)


def clip_per_copy(grads: list[torch.Tensor], max_norm: float) -> None:
    """nn.utils.clip_grad_norm_ for each copy on its own: grads [K, *shape], each copy by its own total norm."""
    norms = torch.stack([g.flatten(1).norm(dim=1) for g in grads], 1).norm(dim=1)  # [K]
    coef = (max_norm / (norms + 1e-6)).clamp(max=1.0)  # clip_grad_norm_'s formula, per copy
    for g in grads:
        g.mul_(coef.view(-1, *[1] * (g.dim() - 1)))


def epoch_orders(generators: Sequence[torch.Generator], n: int, device: torch.device | str) -> torch.Tensor:
    """[K, n]: each copy's epoch order, drawn from its own generator as the Trainer draws a run's."""
    return torch.stack([torch.randperm(n, generator=g) for g in generators]).to(device)


class BatchedStep:
    """EagerStep for K copies: `step(idx)` with idx [K, B] trains every copy on its own batch in one step."""

    def __init__(self, model: BatchedModel, optimizer: torch.optim.Optimizer, norms: Sequence,
                 train_x: torch.Tensor, train_y: torch.Tensor, clip: float):
        """`norms`: one normalizer for all copies, or one per copy when each augments with its own draws."""
        self.model, self.optimizer, self.norms = model, optimizer, list(norms)
        if len(self.norms) not in (1, model.k):
            raise ValueError(f"need 1 or {model.k} normalizers, got {len(self.norms)}")
        self.train_x, self.train_y = train_x, train_y  # (N, C, H, W) uint8, (N,) int64, shared by all copies
        self.clip = clip
        self._pending: list[torch.Tensor] = []

    def inputs(self, idx: torch.Tensor) -> torch.Tensor:
        """idx [K, B] -> normalized [K, B, C, H, W]; per-copy normalizers each see their own copy's batch."""
        raw = self.train_x[idx]  # [K, B, C, H, W] uint8
        if len(self.norms) == 1:
            return self.norms[0](raw)  # the (1, C, 1, 1) mean and std broadcast over [K, B, ...]
        return torch.stack([norm(raw[k]) for k, norm in enumerate(self.norms)])

    def losses(self, idx: torch.Tensor) -> torch.Tensor:
        """Forward, backward and the optimizer step on batches idx [K, B]; returns [K, 2]: data loss, L2 term."""
        y = self.train_y[idx]  # [K, B]
        logits = self.model(self.inputs(idx))  # [K, B, classes]
        data = F.cross_entropy(logits.flatten(0, 1), y.flatten(), reduction="none").view_as(y).mean(1)  # [K]
        l2 = self.model.l2_terms()  # [K]
        self.optimizer.zero_grad(set_to_none=False)
        (data + l2).sum().backward()  # copies share no weights: copy k's gradient is its own loss's
        if self.clip:
            clip_per_copy([p.grad for p in self.model.parameters()], self.clip)
        self.optimizer.step()
        return torch.stack([data.detach(), l2.detach()], 1)

    def step(self, idx: torch.Tensor) -> None:
        with GATE.shared() if self.train_x.is_cuda else nullcontext():  # no other thread's capture meanwhile
            self._pending.append(self.losses(idx))

    def drain(self) -> list[list[tuple[float, float]]]:
        """Per copy, (data loss, L2 term) of each step since the last drain, oldest first (one host sync)."""
        if not self._pending:
            return [[] for _ in range(self.model.k)]
        values = torch.stack(self._pending).transpose(0, 1).cpu().tolist()  # [K, steps, 2]
        self._pending = []
        return [[(a, b) for a, b in copy_values] for copy_values in values]
