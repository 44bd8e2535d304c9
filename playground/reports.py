"""Run reports: metrics as CSV, and a grid of test predictions from a checkpoint."""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from .data import Normalizer, display_images, load_dataset
from .inference import LoadedModel
from .store import EPOCH_FIELDS


def metrics_csv(epoch_rows: Sequence[dict], step_rows: Sequence[dict]) -> str:
    """Epoch rows then step rows, one table with a `kind` column."""
    buf = io.StringIO()
    fields = ["kind", *EPOCH_FIELDS, "step", "loss"]
    writer = csv.DictWriter(buf, fieldnames=fields, extrasaction="ignore")
    writer.writeheader()
    for r in epoch_rows:
        writer.writerow({"kind": "epoch", **r})
    for r in step_rows:
        writer.writerow({"kind": "step", **r})
    return buf.getvalue()


@dataclass
class Prediction:
    image: np.ndarray  # (H, W) or (H, W, 3) uint8, for display
    true: str
    predicted: str
    probability: float

    @property
    def correct(self) -> bool:
        return self.true == self.predicted


@torch.no_grad()
def test_predictions(loaded: LoadedModel, count: int = 24, seed: int = 0) -> list[Prediction]:
    """`count` random test images with the model's prediction (the same ones for the same seed)."""
    cfg = loaded.config
    ds = load_dataset(cfg.data.dataset)
    idx = torch.randperm(len(ds.test_y), generator=torch.Generator().manual_seed(seed))[:count]
    x, y = ds.test_x[idx], ds.test_y[idx]
    probs = torch.softmax(loaded.model(Normalizer.of(cfg.data.dataset, cfg.data.normalize)(x)), 1)
    conf, pred = probs.max(1)
    return [Prediction(img, ds.classes[int(t)], ds.classes[int(p)], float(c))
            for img, t, p, c in zip(display_images(x), y, pred, conf)]
