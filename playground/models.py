"""Model registry: recurrent readers and small CNNs, built from a RunConfig.

Every model takes the same input, a normalized image batch (B, C, H, W), so data,
probes and the Draw page never need to know which kind of model they feed.
"""
from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .config import ConfigError, RunConfig
from .data import spec

ACTIVATIONS: dict[str, type[nn.Module]] = {"tanh": nn.Tanh, "relu": nn.ReLU}


def conv_out(size: int, kernel: int, padding: int = 0, stride: int = 1) -> int:
    """Output size of a convolution or pooling: floor((size + 2p - k) / s) + 1."""
    return (size + 2 * padding - kernel) // stride + 1


class RecurrentClassifier(nn.Module):
    """Reads an image row by row (H steps of W*C values) and classifies from the last hidden state."""

    def __init__(self, kind: str, input_size: int, hidden: int, layers: int, dropout: float, n_classes: int,
                 delay: int = 0):
        super().__init__()
        cell = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[kind]
        self.kind = kind
        self.delay = delay  # blank steps after the image, before the answer is read
        self.rnn = cell(input_size=input_size, hidden_size=hidden, num_layers=layers,
                        dropout=dropout if layers > 1 else 0.0, batch_first=True)
        self.head = nn.Linear(hidden, n_classes)

    def rows(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> (B, H + delay, W*C): one step per image row, channels interleaved per pixel,
        then `delay` rows of zeros, so the answer is asked that many steps after the digit was seen."""
        b, c, h, w = x.shape
        seq = x.permute(0, 2, 3, 1).reshape(b, h, w * c)
        return F.pad(seq, (0, 0, 0, self.delay)) if self.delay else seq

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(self.rows(x))  # (B, H, hidden)
        return self.head(out[:, -1])


class ConvBlock(nn.Sequential):
    """conv(k, p) [-> batch-norm] -> activation -> maxpool2 [-> Dropout2d]."""

    def __init__(self, c_in: int, c_out: int, activation: str, batchnorm: bool, dropout: float,
                 kernel: int = 3, padding: int = 1):
        layers: list[nn.Module] = [nn.Conv2d(c_in, c_out, kernel_size=kernel, padding=padding)]
        if batchnorm:
            layers.append(nn.BatchNorm2d(c_out))
        layers += [ACTIVATIONS[activation](), nn.MaxPool2d(2)]
        if dropout > 0:
            layers.append(nn.Dropout2d(dropout))
        super().__init__(*layers)


class SmallCNN(nn.Module):
    """The "Deep Learning with PyTorch" ch. 8 net: two conv blocks and a 32-unit hidden layer."""

    def __init__(self, shape: tuple[int, int, int], n_classes: int, width: int = 16,
                 activation: str = "tanh", batchnorm: bool = False, dropout: float = 0.0):
        super().__init__()
        c, h, w = shape
        self.features = nn.Sequential(
            ConvBlock(c, width, activation, batchnorm, dropout),
            ConvBlock(width, width // 2, activation, batchnorm, dropout),
        )
        flat = (width // 2) * (h // 4) * (w // 4)
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(flat, 32), ACTIVATIONS[activation](),
                                        nn.Linear(32, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


class LeNet(nn.Module):
    """LeNet-5 style: conv5x5(6, pad 2) -> pool -> conv5x5(16) -> pool -> 120 -> 84 -> classes."""

    def __init__(self, shape: tuple[int, int, int], n_classes: int, activation: str = "relu",
                 batchnorm: bool = False, dropout: float = 0.0):
        super().__init__()
        c, h, w = shape
        act = ACTIVATIONS[activation]
        self.features = nn.Sequential(ConvBlock(c, 6, activation, batchnorm, dropout, kernel=5, padding=2),
                                      ConvBlock(6, 16, activation, batchnorm, dropout, kernel=5, padding=0))
        fh = conv_out(conv_out(h, 5, 2) // 2, 5) // 2
        fw = conv_out(conv_out(w, 5, 2) // 2, 5) // 2
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(16 * fh * fw, 120), act(),
                                        nn.Linear(120, 84), act(), nn.Linear(84, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


Builder = Callable[[RunConfig, tuple[int, int, int], int], nn.Module]


def _recurrent(kind: str) -> Builder:
    def build(cfg: RunConfig, shape: tuple[int, int, int], n_classes: int) -> nn.Module:
        c, _, w = shape
        return RecurrentClassifier(kind, w * c, cfg.model.hidden, cfg.model.layers, cfg.reg.dropout, n_classes,
                                   delay=cfg.model.delay)
    return build


def _cnn(cfg: RunConfig, shape: tuple[int, int, int], n_classes: int) -> nn.Module:
    return SmallCNN(shape, n_classes, cfg.model.width, cfg.model.activation, cfg.reg.batchnorm, cfg.reg.dropout)


def _lenet(cfg: RunConfig, shape: tuple[int, int, int], n_classes: int) -> nn.Module:
    return LeNet(shape, n_classes, cfg.model.activation, cfg.reg.batchnorm, cfg.reg.dropout)


REGISTRY: dict[str, Builder] = {"rnn": _recurrent("rnn"), "lstm": _recurrent("lstm"),
                                "gru": _recurrent("gru"), "cnn": _cnn, "lenet": _lenet}


def build_model(cfg: RunConfig, seed: int | None = None) -> nn.Module:
    """The model `cfg` describes, for its dataset's input shape and classes.

    With `seed`, the initial weights depend on the seed alone: the model is built on the meta device
    (no random draws) and initialized from a private generator, so neither other threads' random draws
    nor this build move anyone's stream. Training and Inside's "untrained copy" both build this way.
    """
    builder = REGISTRY.get(cfg.model.arch)
    if builder is None:
        raise ConfigError(f"unknown architecture '{cfg.model.arch}'; valid: {', '.join(REGISTRY)}")
    ds = spec(cfg.data.dataset)
    if seed is None:
        return builder(cfg, ds.shape, len(ds.classes))
    with torch.device("meta"):
        model = builder(cfg, ds.shape, len(ds.classes))
    model = model.to_empty(device="cpu")
    init_weights(model, torch.Generator().manual_seed(seed))
    return model


def init_weights(model: nn.Module, generator: torch.Generator) -> None:
    """PyTorch's default initialization of every layer, drawn from `generator` in construction order."""
    for m in model.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            # What Linear/Conv2d.reset_parameters do, with the generator passed through.
            nn.init.kaiming_uniform_(m.weight, a=math.sqrt(5), generator=generator)
            if m.bias is not None:
                fan_in, _ = nn.init._calculate_fan_in_and_fan_out(m.weight)
                bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
                nn.init.uniform_(m.bias, -bound, bound, generator=generator)
        elif isinstance(m, nn.RNNBase):
            bound = 1.0 / math.sqrt(m.hidden_size)
            for w in m.parameters():
                nn.init.uniform_(w, -bound, bound, generator=generator)
        elif isinstance(m, nn.BatchNorm2d):
            m.reset_parameters()  # ones, zeros and fresh running statistics: nothing random
        elif next(m.parameters(recurse=False), None) is not None:
            raise ConfigError(f"no seeded initialization for layer type {type(m).__name__}")


def untrained(config: RunConfig) -> nn.Module:
    """The architecture at the initial weights a run with this config starts from (eval mode)."""
    return build_model(config, seed=config.seed).eval()


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@dataclass(frozen=True)
class LayerRow:
    name: str
    kind: str
    output_shape: tuple[int, ...]
    params: int


def shape_copy(model: nn.Module) -> nn.Module:
    """The model's architecture on the meta device (shapes, no numbers), in eval mode, without copying its weights.
    Hooks and eval() on a model another session may be running (a cached checkpoint) caught that session's
    forward passes and switched its dropout off; on this private copy they touch nothing shared."""
    memo = {id(t): torch.empty_like(t, device="meta") for t in (*model.parameters(), *model.buffers())}
    memo.update({id(p): nn.Parameter(memo[id(p)], requires_grad=p.requires_grad) for p in model.parameters()})
    return copy.deepcopy(model, memo).eval()


def summary(model: nn.Module, shape: tuple[int, int, int]) -> list[LayerRow]:
    """One row per leaf layer with its output shape (batch of 1) and own parameter count (on a shape_copy)."""
    model = shape_copy(model)
    rows: list[LayerRow] = []
    hooks = []

    def hook(name: str):
        def record(module: nn.Module, _inputs, output) -> None:
            out = output[0] if isinstance(output, tuple) else output
            params = sum(p.numel() for p in module.parameters(recurse=False))
            rows.append(LayerRow(name, type(module).__name__, tuple(out.shape), params))
        return record

    for name, module in model.named_modules():
        if name and not list(module.children()):
            hooks.append(module.register_forward_hook(hook(name)))
    with torch.no_grad():
        model(torch.zeros(1, *shape, device="meta"))
    return rows


def layer_table(model: nn.Module, config: RunConfig) -> list[dict]:
    """Each layer's output shape and parameters; conv and pool rows show the output-size formula."""
    shape = spec(config.data.dataset).shape
    modules = dict(model.named_modules())
    rows, size = [], shape[1]
    for r in summary(model, shape):
        m = modules[r.name]
        formula = ""
        if isinstance(m, (nn.Conv2d, nn.MaxPool2d)):
            k, p, s = (v if isinstance(v, int) else v[0] for v in (m.kernel_size, m.padding, m.stride))
            out = conv_out(size, k, p, s)
            formula = f"⌊({size} + 2·{p} − {k}) / {s}⌋ + 1 = {out}"
            size = out
        rows.append({"layer": r.name, "type": r.kind, "output shape": " × ".join(map(str, r.output_shape[1:])),
                     "parameters": r.params, "output size": formula})
    return rows


GATES = {"rnn": 1, "gru": 3, "lstm": 4}  # per-step tensors a recurrent layer keeps for backward, per unit
OPTIMIZER_STATE = {"sgd": 0, "adam": 2, "adamw": 2, "rmsprop": 1}  # tensors per parameter


def estimate_memory(cfg: RunConfig) -> int:
    """Bytes a training run of `cfg` needs beyond its dataset: weights, gradients, optimizer state and the
    activations one batch keeps for backward. A rough upper bound, counted on the meta device (no memory)."""
    shape = spec(cfg.data.dataset).shape
    batch = cfg.optim.batch_size
    if cfg.data.limit:  # no batch is larger than the training images left after the validation split
        batch = min(batch, max(1, cfg.data.limit - int(cfg.data.limit * cfg.data.val_fraction)))
    with torch.device("meta"):
        model = build_model(cfg)
        outputs = 0

        def count(module: nn.Module, _inputs, output) -> None:
            nonlocal outputs
            out = output[0] if isinstance(output, tuple) else output
            scale = GATES[cfg.model.arch] * cfg.model.layers + 1 if isinstance(module, nn.RNNBase) else 1
            outputs += out.numel() * scale

        hooks = [m.register_forward_hook(count) for m in model.modules() if not list(m.children())]
        try:
            model(torch.zeros(batch, *shape))
        except Exception:  # an estimate must never block a run: count the weights alone
            outputs = 0
        finally:
            for h in hooks:
                h.remove()
    state = OPTIMIZER_STATE.get(cfg.optim.optimizer, 2) + (cfg.optim.optimizer == "sgd" and cfg.optim.momentum > 0)
    weights = count_parameters(model) * 4 * (2 + state)  # float32 weights and gradients, then the state
    return weights + outputs * 4 * 2  # activations kept for backward, and their gradients
