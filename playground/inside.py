"""Inputs and tables for the Inside page: dataset samples, untrained twins, the layer table with formulas."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .config import RunConfig
from .data import Normalizer, display_images, load_dataset, spec
from .models import build_model, summary


def sample(config: RunConfig, index: int) -> tuple[torch.Tensor, np.ndarray, int]:
    """Test image `index` of the config's dataset: (normalized (1, C, H, W), display image, label)."""
    ds = load_dataset(config.data.dataset)
    index = int(index) % len(ds.test_y)
    raw = ds.test_x[index:index + 1]
    x = Normalizer.of(config.data.dataset, config.data.normalize)(raw)
    return x, display_images(raw)[0], int(ds.test_y[index])


def untrained(config: RunConfig) -> nn.Module:
    """The same architecture at its initial weights (the config's seed), to see what training changed."""
    torch.manual_seed(config.seed)
    return build_model(config).eval()


def layer_table(model: nn.Module, config: RunConfig) -> list[dict]:
    """Each layer's output shape and parameters; conv and pool rows show the output-size formula."""
    shape = spec(config.data.dataset).shape
    modules = dict(model.named_modules())
    rows, size = [], shape[1]
    for r in summary(model, shape):
        m = modules[r.name]
        formula = ""
        if isinstance(m, (nn.Conv2d, nn.MaxPool2d)):
            k = m.kernel_size if isinstance(m.kernel_size, int) else m.kernel_size[0]
            p = m.padding if isinstance(m.padding, int) else m.padding[0]
            s = m.stride if isinstance(m.stride, int) else m.stride[0]
            out = (size + 2 * p - k) // s + 1
            formula = f"⌊({size} + 2·{p} − {k}) / {s}⌋ + 1 = {out}"
            size = out
        rows.append({"layer": r.name, "type": r.kind, "output shape": " × ".join(map(str, r.output_shape[1:])),
                     "parameters": r.params, "output size": formula})
    return rows
