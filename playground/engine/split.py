"""A run's data: the training images (after limit and label noise), the held-out validation set and the test set."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..config import ConfigError, RunConfig
from ..data import Dataset

SPLIT_SEED = 12345  # the validation split's permutation: the same images held out for every seed


@dataclass
class Split:
    """Tensors of one run on its device: uint8 images and int64 labels."""
    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor


def split_dataset(ds: Dataset, cfg: RunConfig, device: torch.device) -> Split:
    """Apply `limit`, hold out a validation set (same for every seed), move to `device`."""
    limit = cfg.data.limit or None
    x, y = ds.train_x[:limit], ds.train_y[:limit]
    n_val = int(len(y) * cfg.data.val_fraction)
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(SPLIT_SEED))
    val, train = order[:n_val], order[n_val:]
    tx, ty = ds.test_x[:limit], ds.test_y[:limit]
    train_y = noisy_labels(y[train], cfg.data.label_noise, len(ds.classes))
    to = lambda t: t.to(device)  # noqa: E731
    return Split(to(x[train]), to(train_y), to(x[val]), to(y[val]), to(tx), to(ty))


def training_split(ds: Dataset, cfg: RunConfig, device: torch.device) -> Split:
    """split_dataset for a run that trains: refused when nothing is left to train on."""
    data = split_dataset(ds, cfg, device)
    if len(data.train_y) == 0:
        raise ConfigError("no training samples left after the validation split; raise limit")
    return data



NOISE_SEED = 54321  # the same labels are noisy in every run of a setting: seeds and variants differ by the rest


def noisy_labels(y: torch.Tensor, share: float, n_classes: int) -> torch.Tensor:
    """`share` of the labels replaced by a class drawn at random (sometimes the same one): noise to memorize."""
    if share <= 0:
        return y
    g = torch.Generator().manual_seed(NOISE_SEED)
    flip = torch.rand(len(y), generator=g) < share
    return torch.where(flip, torch.randint(0, n_classes, (len(y),), generator=g), y)
