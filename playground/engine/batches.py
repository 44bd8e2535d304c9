"""The first training batch of a run as its first step sees it (augment.py's draws included), built the way
the trainer builds it: the same split, the same batch-order generator. For Train's preview and its test."""
from __future__ import annotations

import numpy as np
import torch

from ..augment import Augmenter
from ..config import RunConfig
from ..data import display_images, load_dataset
from .split import split_dataset


def first_batch(config: RunConfig, count: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """The first `count` images of the run's first training batch as its first step sees them (augmented when
    the config says so), and as stored: two display arrays (N, H, W) grey or (N, H, W, 3) RGB."""
    data = split_dataset(load_dataset(config.data.dataset), config, torch.device("cpu"))
    order = torch.Generator().manual_seed(config.seed)  # the trainer's batch-order generator, first epoch
    idx = torch.randperm(len(data.train_y), generator=order)[:config.optim.batch_size]
    raw = data.train_x[idx]  # the whole batch: its draws are the step's, image by image
    seen = Augmenter(config)(raw).round().clamp(0, 255).to(torch.uint8) if config.data.augment else raw
    return display_images(seen[:count]), display_images(raw[:count])
