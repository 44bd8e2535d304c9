"""Look inside a model: feature maps, filters, hidden states, gates, per-row predictions, gradients in time,
and how far each layer's weights moved from their initial values.

Every probe takes a model and one normalized input image x of shape (1, C, H, W) and returns
plain numpy arrays. The recurrent probes step each layer's own weights by hand (PyTorch's gate
order: LSTM i, f, g, o; GRU r, z, n), which tests check against nn.LSTM / nn.GRU.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import models
from .config import RunConfig
from .data import Normalizer
from .models import RecurrentClassifier, build_model


# ------------------------------------------------------------------ recurrent models
@dataclass
class RecurrentTrace:
    """Per-step internals of one layer, each (T, hidden); gates hold what the cell kind has."""
    hidden: np.ndarray
    gates: dict[str, np.ndarray]


def _weights(rnn: nn.RNNBase, layer: int):
    return (getattr(rnn, f"weight_ih_l{layer}"), getattr(rnn, f"weight_hh_l{layer}"),
            getattr(rnn, f"bias_ih_l{layer}", None), getattr(rnn, f"bias_hh_l{layer}", None))


def step_layer(rnn: nn.RNNBase, layer: int, seq: torch.Tensor) -> tuple[list[torch.Tensor], dict[str, list]]:
    """Run one layer over seq (B, T, in) step by step; returns the h_t tensors (each (B, H)) and gates."""
    w_ih, w_hh, b_ih, b_hh = _weights(rnn, layer)
    b, hidden = seq.shape[0], rnn.hidden_size
    h = seq.new_zeros(b, hidden)
    c = seq.new_zeros(b, hidden)
    hs: list[torch.Tensor] = []
    gates: dict[str, list] = {}
    kind = rnn.mode  # "RNN_TANH", "RNN_RELU", "LSTM", "GRU"
    for t in range(seq.shape[1]):
        x_t = seq[:, t]
        if kind == "LSTM":
            i, f, g, o = (F.linear(x_t, w_ih, b_ih) + F.linear(h, w_hh, b_hh)).chunk(4, dim=1)
            i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
            c = f * c + i * g
            h = o * torch.tanh(c)
            step = {"input gate": i, "forget gate": f, "output gate": o, "cell state": c}
        elif kind == "GRU":
            xr, xz, xn = F.linear(x_t, w_ih, b_ih).chunk(3, dim=1)
            hr, hz, hn = F.linear(h, w_hh, b_hh).chunk(3, dim=1)
            r, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
            n = torch.tanh(xn + r * hn)
            h = (1 - z) * n + z * h
            step = {"update gate": z, "reset gate": r}
        else:
            act = torch.tanh if kind == "RNN_TANH" else torch.relu
            h = act(F.linear(x_t, w_ih, b_ih) + F.linear(h, w_hh, b_hh))
            step = {}
        hs.append(h)
        for name, value in step.items():
            gates.setdefault(name, []).append(value)
    return hs, gates


def recurrent_trace(model: RecurrentClassifier, x: torch.Tensor, layer: int | None = None) -> RecurrentTrace:
    """Hidden states and gates of `layer` (default: the top one) for one image x (1, C, H, W)."""
    rnn = model.rnn
    layer = rnn.num_layers - 1 if layer is None else layer
    seq = model.rows(x)
    with torch.no_grad():
        for k in range(layer + 1):
            hs, gates = step_layer(rnn, k, seq)
            seq = torch.stack(hs, dim=1)  # dropout between layers is off in eval
    return RecurrentTrace(hidden=seq[0].numpy(),
                          gates={name: torch.stack(v, dim=1)[0].numpy() for name, v in gates.items()})


@torch.no_grad()
def row_predictions(model: RecurrentClassifier, x: torch.Tensor) -> np.ndarray:
    """Class probabilities after each row: the output layer applied to every hidden state, (T, classes)."""
    out, _ = model.rnn(model.rows(x))
    return torch.softmax(model.head(out[0]), dim=-1).numpy()


def gradient_through_time(model: RecurrentClassifier, x: torch.Tensor, label: int) -> np.ndarray:
    """||d loss / d h_t|| for every step t of the top layer, (T,): how far back the error signal reaches.

    torch.autograd.grad asks for the gradients w.r.t. the h_t alone: nothing is written into the weights'
    .grad, which matters because the model is one cached copy that every browser session shares."""
    rnn = model.rnn
    seq = model.rows(x).detach()
    hs: list[torch.Tensor] = []
    with torch.enable_grad():
        for k in range(rnn.num_layers):
            hs, _ = step_layer(rnn, k, seq)
            seq = torch.stack(hs, dim=1)
        loss = F.cross_entropy(model.head(hs[-1]), torch.tensor([label]))
        grads = torch.autograd.grad(loss, hs)
    return np.array([g.norm().item() for g in grads])


def model_input(pixels: torch.Tensor, config: RunConfig) -> torch.Tensor:
    """Pixels (1, C, H, W) on the 0..255 scale (a stored uint8 test image, or a drawing as floats) normalized
    exactly as `config`'s training normalized its images. Each model compared gets its own: an LSTM trained
    on [0, 1] pixels fed [-1, 1] ones reads a different image."""
    return Normalizer.of(config.data.dataset, config.data.normalize)(pixels.clone())  # it divides in place


# ------------------------------------------------------------------ convolutional models
@dataclass
class FeatureMaps:
    """One stage of one conv block: its block, the module kind, the maps (C, H, W) and the layer's readable name."""
    block: int
    stage: str  # "conv", "batch-norm", "activation", "pool", "dropout"
    maps: np.ndarray
    layer: str = ""  # e.g. "conv 1 (16 filters 3×3)", as layer_names gives it


STAGE = {nn.Conv2d: "conv", nn.BatchNorm2d: "batch-norm", nn.Tanh: "activation", nn.ReLU: "activation",
         nn.MaxPool2d: "pool", nn.Dropout2d: "dropout"}


@torch.no_grad()
def feature_maps(model: nn.Module, x: torch.Tensor) -> list[FeatureMaps]:
    """Every stage's output in model.features for one image x (1, C, H, W), in order."""
    out: list[FeatureMaps] = []
    h = x
    for b, block in enumerate(model.features, start=1):
        for module in block:
            h = module(h)
            out.append(FeatureMaps(b, STAGE.get(type(module), type(module).__name__), h[0].numpy().copy(),
                                   _block_layer(module, b)))
    return out


def first_filters(model: nn.Module) -> np.ndarray:
    """The first conv layer's kernels, (out_channels, in_channels, k, k)."""
    conv = next(m for m in model.modules() if isinstance(m, nn.Conv2d))
    return conv.weight.detach().numpy().copy()


# ------------------------------------------------------------------ any model
@dataclass
class LayerChange:
    """How far one layer's weights moved from their initial values: ||w - w0|| / ||w0||."""
    layer: str
    params: int
    change: float  # nan when the layer started at all zeros


ARCH = {"RNN_TANH": "RNN", "RNN_RELU": "RNN", "LSTM": "LSTM", "GRU": "GRU"}
ACT = {nn.ReLU: "ReLU", nn.Tanh: "tanh"}


def _block_layer(m: nn.Module, b: int) -> str:
    if isinstance(m, nn.Conv2d):
        k = m.kernel_size[0]
        return f"conv {b} ({m.out_channels} filters {k}×{k})"
    if isinstance(m, nn.MaxPool2d):
        k = m.kernel_size if isinstance(m.kernel_size, int) else m.kernel_size[0]
        return f"max-pool {b} ({k}×{k})"
    if isinstance(m, nn.Dropout2d):
        return f"dropout {b} (p = {m.p:g})"
    return f"{'batch-norm' if isinstance(m, nn.BatchNorm2d) else ACT.get(type(m), type(m).__name__)} {b}"


def layer_names(model: nn.Module) -> dict[str, str]:
    """Module path -> a name a learner can read: 'features.0.0' -> 'conv 1 (16 filters 3×3)',
    'classifier.1' -> 'dense 1 (392 → 32)', an LSTM's 'rnn' -> 'LSTM (2 layers × 64 units)'."""
    if isinstance(model, RecurrentClassifier):
        r = model.rnn
        layers = f"{r.num_layers} layer{'s' if r.num_layers > 1 else ''}"
        return {"rnn": f"{ARCH[r.mode]} ({layers} × {r.hidden_size} units)",
                "head": f"output ({model.head.in_features} → {model.head.out_features} classes)"}
    names = {f"features.{b - 1}.{i}": _block_layer(m, b)
             for b, block in enumerate(model.features, start=1) for i, m in enumerate(block)}
    linear = [m for m in model.classifier if isinstance(m, nn.Linear)]
    dense = 0
    for i, m in enumerate(model.classifier):
        if isinstance(m, nn.Linear):
            dense += 1
            last = m is linear[-1]
            names[f"classifier.{i}"] = (f"output ({m.in_features} → {m.out_features} classes)" if last
                                        else f"dense {dense} ({m.in_features} → {m.out_features})")
        else:
            names[f"classifier.{i}"] = "flatten" if isinstance(m, nn.Flatten) else \
                f"{ACT.get(type(m), type(m).__name__)} (after dense {dense})"
    return names


def layer_table(config: RunConfig) -> list[dict]:
    """models.layer_table with the names a learner reads, for the model `config` describes.

    Built on the meta device from the config alone (a checkpoint's model is built from its config, so the
    shapes and counts are the same): the forward hooks then sit on a private model. On the cached model that
    every session shares, they caught other sessions' forward passes (tables with extra rows)."""
    with torch.device("meta"):
        model = build_model(config)
        rows = models.layer_table(model, config)
    names = layer_names(model)
    return [{**row, "layer": names.get(row["layer"], row["layer"])} for row in rows]


def _layer_key(name: str, names: dict[str, str], kind: str) -> str:
    """A parameter's layer: 'features.0.0.weight' -> 'conv 1 (…)'; an LSTM's 'rnn.weight_hh_l1' -> 'LSTM layer 2'."""
    module, _, param = name.rpartition(".")
    match = re.search(r"_l(\d+)$", param)
    return f"{kind} layer {int(match.group(1)) + 1}" if match else names.get(module, module or param)


@torch.no_grad()
def weight_change(model: nn.Module, initial: nn.Module) -> list[LayerChange]:
    """Per layer (all its weights and biases together), the relative distance ||w - w0|| / ||w0|| of
    `model`'s parameters from `initial`'s (the same architecture, e.g. models.untrained(config)), in order."""
    before = dict(initial.named_parameters())
    names = layer_names(model)
    kind = ARCH[model.rnn.mode] if isinstance(model, RecurrentClassifier) else ""
    sq_diff: dict[str, float] = {}
    sq_init: dict[str, float] = {}
    count: dict[str, int] = {}
    for name, w in model.named_parameters():
        if name not in before or before[name].shape != w.shape:
            raise ValueError(f"the two models differ at '{name}': not the same architecture")
        key = _layer_key(name, names, kind)
        w0 = before[name].detach().double()
        sq_diff[key] = sq_diff.get(key, 0.0) + float(((w.detach().double() - w0) ** 2).sum())
        sq_init[key] = sq_init.get(key, 0.0) + float((w0 ** 2).sum())
        count[key] = count.get(key, 0) + w.numel()
    return [LayerChange(key, count[key], math.sqrt(sq_diff[key] / sq_init[key]) if sq_init[key] > 0 else math.nan)
            for key in count]


def confusion_matrix(true, predicted, n_classes: int) -> np.ndarray:
    """(n_classes, n_classes) counts, rows = true class, columns = predicted (e.g. on the kept drawings)."""
    m = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(m, (np.asarray(true, dtype=np.int64), np.asarray(predicted, dtype=np.int64)), 1)
    return m


@torch.no_grad()
def class_probabilities(model: nn.Module, x: torch.Tensor) -> np.ndarray:
    """The model's class probabilities for one image x (1, C, H, W), (classes,)."""
    return torch.softmax(model(x), dim=1)[0].numpy()
