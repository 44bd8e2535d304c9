"""Show the math: how one number inside a model comes about, recomputed by hand from the model's own weights.

Three views, each checked against PyTorch as the oracle in tests/test_by_hand.py:
- conv_cell / pool_cell: one feature-map cell of a conv block (LeNet, the CNNs): the input patch per input
  channel, the kernel, their elementwise products, sum + bias, batch-norm, the activation, the max-pool window;
- recurrent_step: one image row t through an RNN/LSTM/GRU layer, gate by gate;
- training_step: one optimizer step on one image, the gradient of one weight by autograd and by a finite
  difference, and the optimizer's update of that weight by hand.
Indices here are 0-based; the pages show them 1-based, as rows are counted everywhere else.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .config import RunConfig
from .engine.steps import l2_penalty
from .engine.training import make_optimizer
from .models import RecurrentClassifier, conv_out


# ------------------------------------------------------------------ convolution, activation, pooling
def _int(v) -> int:
    return v if isinstance(v, int) else v[0]


def size_formula(size: int, kernel: int, padding: int, stride: int) -> str:
    """The layer table's output-size formula with one layer's numbers: '⌊(28 + 2·2 − 5) / 1⌋ + 1 = 28'."""
    return f"⌊({size} + 2·{padding} − {kernel}) / {stride}⌋ + 1 = {conv_out(size, kernel, padding, stride)}"


@dataclass(frozen=True)
class ConvCell:
    """One cell (channel, row, col) of block `block`'s conv output, and what the block does to it next."""
    block: int  # 1-based, as probes.feature_maps counts blocks
    channel: int
    row: int
    col: int
    patch: np.ndarray  # (C_in, k, k): the input it reads, zero padding included
    kernel: np.ndarray  # (C_in, k, k)
    products: np.ndarray  # patch * kernel
    bias: float
    total: float  # products.sum() + bias, by hand
    conv: float  # PyTorch's conv output at this cell
    normalized: float | None  # after batch-norm (eval: running statistics), where the block has one
    batchnorm: dict[str, float] = field(default_factory=dict)  # mean, var, eps, gamma, beta
    activation: str = ""
    activated: float = 0.0
    formula: str = ""  # the conv's output size from its input size
    rows: tuple[int, int] = (0, 0)  # the input rows read (first, last), padding rows counted off the input
    cols: tuple[int, int] = (0, 0)
    field_rows: tuple[int, int] = (0, 0)  # the image rows this cell depends on (its receptive field), clipped
    field_cols: tuple[int, int] = (0, 0)
    field_cut: bool = False  # the field runs past the image's edge (padding): it is smaller than elsewhere


def conv_blocks(model: nn.Module) -> list[nn.Sequential]:
    return list(model.features)


def _parts(block: nn.Sequential):
    conv = next(m for m in block if isinstance(m, nn.Conv2d))
    bn = next((m for m in block if isinstance(m, nn.BatchNorm2d)), None)
    act = next(m for m in block if isinstance(m, (nn.Tanh, nn.ReLU)))
    pool = next(m for m in block if isinstance(m, nn.MaxPool2d))
    return conv, bn, act, pool


@torch.no_grad()
def block_input(model: nn.Module, x: torch.Tensor, block: int) -> torch.Tensor:
    """What block `block` (1-based) reads: x through the blocks before it (eval: dropout passes all)."""
    h = x
    for b in conv_blocks(model)[:block - 1]:
        h = b(h)
    return h


def _field(model: nn.Module, block: int, rows: tuple[int, int], size: int, clip: bool = True) -> tuple[int, int]:
    """The image rows (first, last) that input rows `rows` of block `block` depend on, clipped to the image
    (`clip`; unclipped, rows before the first or after the last are padding)."""
    lo, hi = rows
    for b in reversed(conv_blocks(model)[:block - 1]):
        conv, _, _, pool = _parts(b)
        k, p = _int(pool.kernel_size), _int(pool.stride)
        lo, hi = lo * p, hi * p + k - 1  # a pooled row covers k conv rows
        kc, pc, sc = _int(conv.kernel_size), _int(conv.padding), _int(conv.stride)
        lo, hi = lo * sc - pc, hi * sc - pc + kc - 1
    return (max(lo, 0), min(hi, size - 1)) if clip else (lo, hi)


@torch.no_grad()
def conv_cell(model: nn.Module, x: torch.Tensor, block: int, channel: int, row: int, col: int) -> ConvCell:
    """Cell (channel, row, col) of block `block`'s conv output on image x (1, C, H, W), computed by hand."""
    return ConvReader(model, x, block).cell(channel, row, col)


class ConvReader:
    """One conv block's input on one image, read once; `cell` works out any of its output cells by hand."""

    @torch.no_grad()
    def __init__(self, model: nn.Module, x: torch.Tensor, block: int):
        self.model, self.block, self.image_size = model, block, tuple(x.shape[2:])
        self.conv, self.bn, act, _ = _parts(conv_blocks(model)[block - 1])
        self.activation = "tanh" if isinstance(act, nn.Tanh) else "ReLU"
        inp = block_input(model, x, block)
        self.k, self.p, self.s = (_int(v) for v in (self.conv.kernel_size, self.conv.padding, self.conv.stride))
        self.in_size = tuple(inp.shape[2:])
        self.padded = F.pad(inp, (self.p,) * 4)[0].double().numpy()
        self.out = self.conv(inp)[0].numpy()  # PyTorch's answer, shown beside the hand-computed one
        self.weight = self.conv.weight.detach().double().numpy()
        self.bias = self.conv.bias.detach().double().numpy() if self.conv.bias is not None else None

    def _batchnorm(self, channel: int, v: float) -> tuple[float | None, dict[str, float]]:
        bn = self.bn
        if bn is None:
            return None, {}
        stats = dict(mean=float(bn.running_mean[channel]), var=float(bn.running_var[channel]), eps=bn.eps,
                     gamma=float(bn.weight.detach()[channel]), beta=float(bn.bias.detach()[channel]))
        return (v - stats["mean"]) / math.sqrt(stats["var"] + stats["eps"]) * stats["gamma"] + stats["beta"], stats

    def cell(self, channel: int, row: int, col: int) -> ConvCell:
        c, out_h, out_w = self.out.shape
        if not (0 <= channel < c and 0 <= row < out_h and 0 <= col < out_w):
            raise IndexError(f"block {self.block}'s conv output is {c}×{out_h}×{out_w}; "
                             f"no cell ({channel}, {row}, {col})")
        k, p, s = self.k, self.p, self.s
        patch = self.padded[:, row * s:row * s + k, col * s:col * s + k]
        kernel = self.weight[channel]
        products = patch * kernel
        bias = float(self.bias[channel]) if self.bias is not None else 0.0
        total = float(products.sum()) + bias
        normalized, stats = self._batchnorm(channel, total)
        before = total if normalized is None else normalized
        activated = math.tanh(before) if self.activation == "tanh" else max(before, 0.0)
        rows, cols = (row * s - p, row * s - p + k - 1), (col * s - p, col * s - p + k - 1)
        clip_r = (max(rows[0], 0), min(rows[1], self.in_size[0] - 1))
        clip_c = (max(cols[0], 0), min(cols[1], self.in_size[1] - 1))
        axes = ((rows, clip_r, self.image_size[0]), (cols, clip_c, self.image_size[1]))
        field_r, field_c = (_field(self.model, self.block, clipped, size) for _, clipped, size in axes)
        cut = any(_field(self.model, self.block, full, size, clip=False) != field
                  for (full, _, size), field in zip(axes, (field_r, field_c), strict=True))
        return ConvCell(self.block, channel, row, col, patch, kernel, products, bias, total,
                        float(self.out[channel, row, col]), normalized, stats, self.activation, activated,
                        size_formula(self.in_size[0], k, p, s), rows, cols, field_r, field_c, cut)


    def all_totals(self) -> np.ndarray:
        """Every output cell's patch · kernel + bias at once, (C_out, H, W): the same sums, by einsum."""
        windows = np.lib.stride_tricks.sliding_window_view(self.padded, (self.k, self.k), axis=(1, 2))
        windows = windows[:, ::self.s, ::self.s]  # (C_in, H, W, k, k)
        totals = np.einsum("ihwab,oiab->ohw", windows, self.weight)
        return totals + (self.bias[:, None, None] if self.bias is not None else 0.0)


@dataclass(frozen=True)
class FilterStory:
    """The first conv layer's strongest cell on one image, worked out by hand, and how closely every cell of
    the layer matches PyTorch: what the conv lesson says one filter computes, in this model's numbers."""
    cell: ConvCell
    worst: float  # max |hand − PyTorch| over every cell of the layer
    cells: int
    text: str


def strongest_cell(model: nn.Module, x: torch.Tensor) -> FilterStory:
    """The first conv layer's most strongly activated cell on x, and the sentences the lesson shows about it."""
    reader = ConvReader(model, x, 1)
    act = stage_maps(model, x, 1)["activation"].numpy()
    ch, r, c = (int(i) for i in np.unravel_index(int(act.argmax()), act.shape))
    cell = reader.cell(ch, r, c)
    worst = float(np.abs(reader.all_totals() - reader.out).max())
    n, positive = cell.products.size, int((cell.products > 0).sum())
    k = cell.patch.shape[1]
    norm = "" if cell.normalized is None else f", batch-norm turns it into {cell.normalized:+.3f}"
    text = (f"Filter {ch + 1} responds most strongly to this digit at row {r + 1}, column {c + 1}. There, its "
            f"{k}×{k} kernel is laid on the {k}×{k} patch of pixels under it and each weight multiplies its pixel: "
            f"the {n} products sum to {cell.products.sum():+.3f}; adding the filter's bias {cell.bias:+.3f} gives "
            f"{cell.total:+.3f}, the number PyTorch's conv computes for that cell ({cell.conv:+.3f}){norm}, and "
            f"{cell.activation} makes it {cell.activated:+.3f}. {positive} of the {n} products are positive: pixels "
            f"with ink where the kernel's weights are positive. That weighted sum is all one filter computes, at "
            f"every position: over all {reader.out.size:,} cells of this layer the sums worked out this way "
            f"differ from PyTorch's by at most {worst:.1e} (float rounding).")
    return FilterStory(cell, worst, reader.out.size, text)


@dataclass(frozen=True)
class PoolCell:
    """One cell of block `block`'s max-pooled map: the window of activations it reads and the one it keeps."""
    block: int
    channel: int
    row: int
    col: int
    window: np.ndarray  # (k, k) activations
    kept: float  # window.max(), by hand
    pooled: float  # PyTorch's pooled map at this cell
    source: tuple[int, int]  # (row, col) of the kept activation in the conv map
    formula: str


@torch.no_grad()
def stage_maps(model: nn.Module, x: torch.Tensor, block: int) -> dict[str, torch.Tensor]:
    """Block `block`'s conv, activation and pool outputs for x, each (C, H, W)."""
    out, h = {}, block_input(model, x, block)
    for m in conv_blocks(model)[block - 1]:
        h = m(h)
        kind = ("conv" if isinstance(m, nn.Conv2d) else "activation" if isinstance(m, (nn.Tanh, nn.ReLU))
                else "pool" if isinstance(m, nn.MaxPool2d) else None)
        if kind:
            out[kind] = h[0].clone()
    return out


@torch.no_grad()
def pool_cell(model: nn.Module, x: torch.Tensor, block: int, channel: int, row: int, col: int,
              maps: dict[str, torch.Tensor] | None = None) -> PoolCell:
    """Cell (channel, row, col) of block `block`'s pooled map, from the window of activations it pools
    (`maps`: stage_maps of this block and image, where the caller has them already)."""
    *_, pool = _parts(conv_blocks(model)[block - 1])
    maps = maps or stage_maps(model, x, block)
    k, s = _int(pool.kernel_size), _int(pool.stride)
    c, h, w = maps["pool"].shape
    if not (0 <= channel < c and 0 <= row < h and 0 <= col < w):
        raise IndexError(f"block {block}'s pooled map is {c}×{h}×{w}; no cell ({channel}, {row}, {col})")
    window = maps["activation"][channel, row * s:row * s + k, col * s:col * s + k].double().numpy()
    r, q = np.unravel_index(int(window.argmax()), window.shape)
    return PoolCell(block, channel, row, col, window, float(window.max()), float(maps["pool"][channel, row, col]),
                    (row * s + int(r), col * s + int(q)), size_formula(maps["activation"].shape[1], k, 0, s))


# ------------------------------------------------------------------ a recurrent cell, one row at a time
GATE_NAMES = {"LSTM": ("i", "f", "g", "o"), "GRU": ("r", "z", "n"), "RNN_TANH": ("h",), "RNN_RELU": ("h",)}
GATE_WORDS = {"i": "input gate", "f": "forget gate", "g": "candidate", "o": "output gate", "r": "reset gate",
              "z": "update gate", "n": "candidate", "h": "new state"}


@dataclass(frozen=True)
class RecurrentStep:
    """Row t through layer `layer` (0-based) of a recurrent model, by hand; every vector is (hidden,)."""
    kind: str  # "LSTM", "GRU", "RNN_TANH", "RNN_RELU"
    layer: int
    t: int
    x: np.ndarray  # the layer's input at step t (an image row, or the layer below's h_t)
    h_prev: np.ndarray
    c_prev: np.ndarray | None
    from_x: dict[str, np.ndarray]  # per gate: W x_t + b_i
    from_h: dict[str, np.ndarray]  # per gate: U h_{t-1} + b_h
    pre: dict[str, np.ndarray]  # the gate's argument to σ / tanh (GRU's n: from_x + r ⊙ from_h)
    gates: dict[str, np.ndarray]  # after σ / tanh
    h: np.ndarray  # h_t by hand
    c: np.ndarray | None  # c_t by hand (LSTM)
    torch_h: np.ndarray  # PyTorch's h_t
    torch_c: np.ndarray | None


@torch.no_grad()
def _states(model: RecurrentClassifier, seq: torch.Tensor, steps: int):
    """PyTorch's (h, c) of every layer after the first `steps` rows, each (layers, hidden); zeros for 0 rows."""
    rnn = model.rnn
    if steps == 0:
        zero = seq.new_zeros(rnn.num_layers, rnn.hidden_size)
        return zero, (zero if rnn.mode == "LSTM" else None)
    _, state = rnn(seq[:, :steps])
    if rnn.mode == "LSTM":
        return state[0][:, 0], state[1][:, 0]
    return state[:, 0], None


@torch.no_grad()
def recurrent_step(model: RecurrentClassifier, x: torch.Tensor, t: int, layer: int = 0) -> RecurrentStep:
    """Row t (0-based, of the H + delay steps) of image x through `layer`: the state PyTorch carried in, then
    one step of the cell's equations by hand from the layer's own weights (PyTorch's gate order)."""
    rnn, seq = model.rnn, model.rows(x)
    if not 0 <= t < seq.shape[1] or not 0 <= layer < rnn.num_layers:
        raise IndexError(f"steps are 0..{seq.shape[1] - 1} and layers 0..{rnn.num_layers - 1}")
    h_all, c_all = _states(model, seq, t)
    h_new, c_new = _states(model, seq, t + 1)
    x_t = seq[0, t] if layer == 0 else h_new[layer - 1]  # a layer above reads the layer below's new h_t
    h_prev = h_all[layer].double()
    x_t = x_t.double()
    w_ih, w_hh = (getattr(rnn, f"{n}_l{layer}").double() for n in ("weight_ih", "weight_hh"))
    b_ih, b_hh = (getattr(rnn, f"{n}_l{layer}").double() for n in ("bias_ih", "bias_hh"))
    names = GATE_NAMES[rnn.mode]
    from_x = dict(zip(names, (w_ih @ x_t + b_ih).chunk(len(names)), strict=True))
    from_h = dict(zip(names, (w_hh @ h_prev + b_hh).chunk(len(names)), strict=True))
    c_prev = c = None
    if rnn.mode == "LSTM":
        pre = {n: from_x[n] + from_h[n] for n in names}
        gates = {n: torch.tanh(v) if n == "g" else torch.sigmoid(v) for n, v in pre.items()}
        c_prev = c_all[layer].double()
        c = gates["f"] * c_prev + gates["i"] * gates["g"]
        h = gates["o"] * torch.tanh(c)
    elif rnn.mode == "GRU":
        pre = {n: from_x[n] + from_h[n] for n in ("r", "z")}
        gates = {n: torch.sigmoid(v) for n, v in pre.items()}
        pre["n"] = from_x["n"] + gates["r"] * from_h["n"]
        gates["n"] = torch.tanh(pre["n"])
        h = (1 - gates["z"]) * gates["n"] + gates["z"] * h_prev
    else:
        pre = {"h": from_x["h"] + from_h["h"]}
        h = torch.tanh(pre["h"]) if rnn.mode == "RNN_TANH" else torch.relu(pre["h"])
        gates = {"h": h}

    def np_(d):
        return {k: v.numpy() for k, v in d.items()}
    return RecurrentStep(rnn.mode, layer, t, x_t.numpy(), h_prev.numpy(), None if c_prev is None else c_prev.numpy(),
                         np_(from_x), np_(from_h), np_(pre), np_(gates), h.numpy(), None if c is None else c.numpy(),
                         h_new[layer].numpy(), None if c_new is None else c_new[layer].numpy())


def unit_rows(step: RecurrentStep) -> list[dict]:
    """One row per unit: h_{t-1}, h_t, the change, and each gate's value; sorted by |change|, largest first."""
    rows = []
    for u in range(len(step.h)):
        row = {"unit": u + 1, "h_(t-1)": float(step.h_prev[u]), "h_t": float(step.h[u]),
               "change": float(step.h[u] - step.h_prev[u])}
        if step.c is not None:
            row.update({"c_(t-1)": float(step.c_prev[u]), "c_t": float(step.c[u])})
        if step.kind in ("LSTM", "GRU"):
            row.update({GATE_WORDS[n] + f" {n}": float(v[u]) for n, v in step.gates.items()})
        rows.append(row)
    return sorted(rows, key=lambda r: -abs(r["change"]))


def _f(v: float) -> str:
    return f"{v:+.3f}"


def unit_equations(step: RecurrentStep, unit: int) -> list[str]:
    """The cell's equations for one unit (0-based) with this step's numbers, one line each."""
    u, fx, fh, pre, g = unit, step.from_x, step.from_h, step.pre, step.gates
    lines = []
    if step.kind == "LSTM":
        for n in ("i", "f", "o"):
            lines.append(f"{n} = σ(W_{n}·x_t + b + U_{n}·h_(t−1) + b) = σ({_f(fx[n][u])} {_f(fh[n][u])}) = "
                         f"σ({_f(pre[n][u])}) = {g[n][u]:.3f}")
        lines.append(f"g = tanh(W_g·x_t + b + U_g·h_(t−1) + b) = tanh({_f(fx['g'][u])} {_f(fh['g'][u])}) = "
                     f"tanh({_f(pre['g'][u])}) = {_f(g['g'][u])}")
        lines.append(f"c_t = f·c_(t−1) + i·g = {g['f'][u]:.3f}·({_f(step.c_prev[u])}) + {g['i'][u]:.3f}·"
                     f"({_f(g['g'][u])}) = {_f(step.c[u])}")
        lines.append(f"h_t = o·tanh(c_t) = {g['o'][u]:.3f}·tanh({_f(step.c[u])}) = {_f(step.h[u])}")
    elif step.kind == "GRU":
        for n in ("r", "z"):
            lines.append(f"{n} = σ(W_{n}·x_t + b + U_{n}·h_(t−1) + b) = σ({_f(fx[n][u])} {_f(fh[n][u])}) = "
                         f"σ({_f(pre[n][u])}) = {g[n][u]:.3f}")
        lines.append(f"n = tanh(W_n·x_t + b + r·(U_n·h_(t−1) + b)) = tanh({_f(fx['n'][u])} + {g['r'][u]:.3f}·"
                     f"({_f(fh['n'][u])})) = tanh({_f(pre['n'][u])}) = {_f(g['n'][u])}")
        lines.append(f"h_t = (1 − z)·n + z·h_(t−1) = {1 - g['z'][u]:.3f}·({_f(g['n'][u])}) + {g['z'][u]:.3f}·"
                     f"({_f(step.h_prev[u])}) = {_f(step.h[u])}")
    else:
        act = "tanh" if step.kind == "RNN_TANH" else "relu"
        lines.append(f"h_t = {act}(W·x_t + b + U·h_(t−1) + b) = {act}({_f(fx['h'][u])} {_f(fh['h'][u])}) = "
                     f"{act}({_f(pre['h'][u])}) = {_f(step.h[u])}")
    return lines


# ------------------------------------------------------------------ one training step by hand
@dataclass(frozen=True)
class TrainStep:
    """One optimizer step on one image: the loss, one weight's gradient and its update, the loss after."""
    logits: np.ndarray
    probs: np.ndarray  # softmax(logits), by hand
    label: int
    loss: float  # −log p[label] (+ the L2 term), by hand
    torch_loss: float  # F.cross_entropy (+ the L2 term)
    l2_term: float
    param: str
    index: tuple[int, ...]
    weight: float  # before the step
    grad: float  # autograd (after clipping, when the run clips)
    raw_grad: float  # autograd before clipping
    clip_scale: float  # 1 when no clipping happened
    finite_difference: float  # (L(w + ε) − L(w − ε)) / 2ε, in float64, before clipping
    eps: float
    optimizer: str
    lr: float
    lines: list[str]  # the update, formula by formula, with this step's numbers
    state: dict[str, float]  # the optimizer's state for this weight after the step (moments, buffer)
    new_weight: float  # by hand
    torch_weight: float  # after optimizer.step()
    loss_after: float
    step: int  # 1-based: the step shown (earlier ones on the same image build up the state)


def _loss(model: nn.Module, x: torch.Tensor, label: int, l2: float) -> tuple[torch.Tensor, torch.Tensor, float]:
    """The loss training minimizes on one image (cross-entropy + the run's L2 term), the logits, the L2 term."""
    logits = model(x)
    term = l2 * l2_penalty(model) if l2 > 0 else logits.new_zeros(())
    return F.cross_entropy(logits, torch.tensor([label])) + term, logits, float(term.detach())


def finite_difference(model: nn.Module, x: torch.Tensor, label: int, param: str, index: tuple[int, ...],
                      l2: float = 0.0, eps: float = 1e-5) -> float:
    """d loss / d w of one weight by a central difference, on a float64 copy (so ε can be small)."""
    twin = copy.deepcopy(model).double().eval()
    w = dict(twin.named_parameters())[param]
    with torch.no_grad():
        base = float(w[index])
        values = []
        for sign in (1, -1):
            w[index] = base + sign * eps
            values.append(float(_loss(twin, x.double(), label, l2)[0]))
        w[index] = base
    return (values[0] - values[1]) / (2 * eps)


def _update(cfg: RunConfig, w: float, g: float, before: dict, after: dict) -> tuple[float, list[str]]:
    """The optimizer's update of one weight from its state before the step; torch's formulas, one per line."""
    o, wd, lr = cfg.optim, cfg.reg.weight_decay, cfg.optim.lr
    lines = []
    if wd and o.optimizer != "adamw":
        lines.append(f"g ← g + weight decay·w = {g:+.6g} + {wd:g}·{w:+.6g} = {g + wd * w:+.6g}")
        g = g + wd * w
    if o.optimizer == "sgd":
        if o.momentum:
            buf = g if "momentum_buffer" not in before else o.momentum * before["momentum_buffer"] + g
            lines.append(f"v ← μ·v + g = {o.momentum:g}·{before.get('momentum_buffer', 0.0):+.6g} + {g:+.6g} = "
                         f"{buf:+.6g}" if before else f"v ← g = {buf:+.6g} (the first step starts the buffer)")
            g = buf
        new = w - lr * g
        lines.append(f"w ← w − lr·{'v' if o.momentum else 'g'} = {w:+.6g} − {lr:g}·{g:+.6g} = {new:+.6g}")
        return new, lines
    if o.optimizer == "rmsprop":
        alpha, eps = 0.99, 1e-8
        sq = alpha * before.get("square_avg", 0.0) + (1 - alpha) * g * g
        new = w - lr * g / (math.sqrt(sq) + eps)
        lines += [f"s ← α·s + (1 − α)·g² = {alpha:g}·{before.get('square_avg', 0.0):.6g} + {1 - alpha:.2g}·"
                  f"({g:+.6g})² = {sq:.6g}",
                  f"w ← w − lr·g / (√s + ε) = {w:+.6g} − {lr:g}·{g:+.6g} / {math.sqrt(sq) + eps:.6g} = {new:+.6g}"]
        return new, lines
    b1, b2, eps = 0.9, 0.999, 1e-8  # Adam / AdamW, torch's defaults (make_optimizer keeps them)
    if o.optimizer == "adamw" and wd:
        lines.append(f"w ← w·(1 − lr·weight decay) = {w:+.6g}·{1 - lr * wd:.6g} = {w * (1 - lr * wd):+.6g}")
        w = w * (1 - lr * wd)
    t = int(after["step"])
    m = b1 * before.get("exp_avg", 0.0) + (1 - b1) * g
    v = b2 * before.get("exp_avg_sq", 0.0) + (1 - b2) * g * g
    m_hat, v_hat = m / (1 - b1 ** t), v / (1 - b2 ** t)
    new = w - lr * m_hat / (math.sqrt(v_hat) + eps)
    lines += [f"m ← β₁·m + (1 − β₁)·g = {b1:g}·{before.get('exp_avg', 0.0):+.6g} + {1 - b1:.2g}·{g:+.6g} = {m:+.6g}",
              f"v ← β₂·v + (1 − β₂)·g² = {b2:g}·{before.get('exp_avg_sq', 0.0):.6g} + {1 - b2:.3g}·({g:+.6g})² = "
              f"{v:.6g}",
              f"m̂ = m / (1 − β₁^{t}) = {m_hat:+.6g};  v̂ = v / (1 − β₂^{t}) = {v_hat:.6g}",
              f"w ← w − lr·m̂ / (√v̂ + ε) = {w:+.6g} − {lr:g}·{m_hat:+.6g} / {math.sqrt(v_hat) + eps:.6g} = "
              f"{new:+.6g}"]
    return new, lines


def _state_of(opt: torch.optim.Optimizer, p: torch.Tensor, index: tuple[int, ...]) -> dict[str, float]:
    return {k: float(v[index]) if torch.is_tensor(v) and v.dim() else float(v) for k, v in opt.state[p].items()
            if v is not None}


def training_step(model: nn.Module, cfg: RunConfig, x: torch.Tensor, label: int, param: str | None = None,
                  index: tuple[int, ...] | None = None, step: int = 1) -> TrainStep:
    """Step `step` of this run's optimizer (its lr, momentum, decay, clipping) on image x with `label`, on a
    copy of the model in eval mode (dropout off, batch-norm on its running statistics: a repeatable step).
    Earlier steps, on the same image, build up the optimizer's state. `param` defaults to the first weight,
    `index` to its weight with the largest gradient."""
    twin = copy.deepcopy(model).eval()
    params = dict(twin.named_parameters())
    param = param or next(iter(params))
    p = params[param]
    opt = make_optimizer(cfg, twin.parameters())
    l2, clip = cfg.reg.l2, cfg.optim.clip
    for k in range(step):
        opt.zero_grad()
        loss, logits, term = _loss(twin, x, label, l2)
        loss.backward()
        raw = p.grad.detach().clone()
        scale = 1.0
        if clip:
            norm = float(nn.utils.clip_grad_norm_(twin.parameters(), clip))
            scale = min(1.0, clip / (norm + 1e-6))
        if k < step - 1:
            opt.step()
    if index is None:
        index = tuple(int(i) for i in np.unravel_index(int(raw.abs().argmax()), raw.shape))
    before_state = _state_of(opt, p, index)
    w, g = float(p.detach()[index]), float(p.grad[index])
    fd = finite_difference(twin, x, label, param, index, l2)
    opt.step()
    after_state = _state_of(opt, p, index)
    new, lines = _update(cfg, w, g, before_state, after_state)
    if scale < 1:
        lines.insert(0, f"g ← g·clip / ‖all gradients‖ = {float(raw[index]):+.6g}·{scale:.4g} = {g:+.6g}")
    with torch.no_grad():
        after = float(_loss(twin, x, label, l2)[0])
        lg = logits.detach().double()[0]
        probs = torch.softmax(lg, 0).numpy()
    by_hand = -float(lg[label] - torch.logsumexp(lg, 0)) + term
    return TrainStep(lg.numpy(), probs, label, by_hand, float(loss.detach()), term, param, index, w, g,
                     float(raw[index]), scale, fd, 1e-5, cfg.optim.optimizer, cfg.optim.lr, lines, after_state, new,
                     float(p.detach()[index]), after, step)
