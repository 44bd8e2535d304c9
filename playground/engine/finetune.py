"""A fine-tune: a run that starts from another run's checkpoint (model.init_from), may train only its output layer
(optim.train_layers = "last"), may mix MNIST training images into your own data (data.replay), and says what it
changed: accuracy on the held-out own drawings and on MNIST's test set, before and after."""
from __future__ import annotations

import copy
from dataclasses import replace
from typing import Any

import torch
from torch import nn

from ..config import ConfigError, RunConfig
from ..data import Dataset, Normalizer, load_dataset

REPLAY_SEED = 2468  # which MNIST training images are replayed: the same for every seed and every run
DIGITS = tuple("0123456789")
MNIST_CHECK = 10_000  # MNIST test images a digit fine-tune is measured on before and after (all of them)


def start_from(cfg: RunConfig, model: nn.Module) -> dict[str, torch.Tensor] | None:
    """Load init_from's weights into `model` (checked like any checkpoint, weights_only); returns a copy of them
    (the "before"), or None for a run from seeded weights."""
    if not cfg.model.init_from:
        return None
    from ..inference import CheckpointError, load_checkpoint

    try:
        loaded = load_checkpoint(cfg.model.init_from)
    except CheckpointError as exc:
        raise ConfigError(f"init_from: {exc}") from None
    theirs, ours = replace(loaded.config.model, init_from=""), replace(cfg.model, init_from="")
    if theirs != ours or loaded.config.reg.batchnorm != cfg.reg.batchnorm:
        raise ConfigError(f"init_from: the checkpoint holds a {theirs.arch} ({_shape(theirs)}); this run builds "
                          f"a {ours.arch} ({_shape(ours)}): a fine-tune keeps the model it starts from")
    if loaded.config.data.normalize != cfg.data.normalize:
        raise ConfigError(f"init_from: the checkpoint learned on normalize='{loaded.config.data.normalize}' "
                          f"inputs; this run feeds '{cfg.data.normalize}'")
    try:
        model.load_state_dict(loaded.model.state_dict())
    except RuntimeError as exc:  # another number of classes: the output layer differs
        raise ConfigError(f"init_from: its weights do not fit this run's model ({str(exc).splitlines()[0][:200]}); "
                          "a fine-tune keeps the classes it was trained on") from None
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _shape(m) -> str:
    return f"hidden {m.hidden}, {m.layers} layer(s)" if m.arch in ("rnn", "lstm", "gru") else \
        f"width {m.width}, {m.activation}"


def output_layer(model: nn.Module) -> nn.Linear:
    """The layer that gives the class scores: the model's last Linear."""
    return [m for m in model.modules() if isinstance(m, nn.Linear)][-1]


def trainable(cfg: RunConfig, model: nn.Module) -> list[nn.Parameter]:
    """The parameters the optimizer steps; with train_layers 'last' every other one is frozen (no gradient)."""
    if cfg.optim.train_layers == "all":
        return list(model.parameters())
    keep = {id(p) for p in output_layer(model).parameters()}
    for p in model.parameters():
        p.requires_grad_(id(p) in keep)
    return [p for p in model.parameters() if p.requires_grad]


def replayed(ds: Dataset, cfg: RunConfig) -> tuple[torch.Tensor, torch.Tensor] | None:
    """data.replay MNIST training images (the same ones for every run) to train on beside your own; None if 0."""
    n = cfg.data.replay
    if not n:
        return None
    if ds.classes != DIGITS:
        raise ConfigError(f"replay mixes in MNIST digits; '{ds.spec.name}' has the classes "
                          f"{', '.join(ds.classes)}, not 0-9")
    mnist = load_dataset("mnist")
    pick = torch.randperm(len(mnist.train_y), generator=torch.Generator().manual_seed(REPLAY_SEED))[:n]
    return mnist.train_x[pick], mnist.train_y[pick]


@torch.no_grad()
def before_after(cfg: RunConfig, model: nn.Module, start: dict[str, torch.Tensor], test_x: torch.Tensor,
                 test_y: torch.Tensor, device: torch.device) -> dict[str, Any]:
    """Accuracy of the starting weights and of `model` on the run's test set (your held-out drawings) and, for a
    digit model, on MNIST's test images (what it forgot)."""
    from .publish import evaluate

    before = copy.deepcopy(model)
    before.load_state_dict(start)
    norm = Normalizer.of(cfg.data.dataset, cfg.data.normalize, device)
    out: dict[str, Any] = {"held_out": len(test_y), "train_layers": cfg.optim.train_layers,
                           "replay": cfg.data.replay}
    out["own_before"] = evaluate(before, test_x, test_y, norm)["acc"]
    out["own_after"] = evaluate(model, test_x, test_y, norm)["acc"]
    if load_dataset(cfg.data.dataset).classes == DIGITS:
        mnist = load_dataset("mnist")
        x, y = mnist.test_x[:MNIST_CHECK].to(device), mnist.test_y[:MNIST_CHECK].to(device)
        mnorm = Normalizer.of("mnist", cfg.data.normalize, device)
        out["mnist_before"] = evaluate(before, x, y, mnorm)["acc"]
        out["mnist_after"] = evaluate(model, x, y, mnorm)["acc"]
        out["mnist_test"] = len(y)
    return out
