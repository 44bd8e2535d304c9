"""How unlike MNIST's handwritten digits an input is: its distance to the nearest training digits.

A classifier must answer one of 0-9 whatever it is shown, and answers a letter as confidently as a
digit (an "A" read as 4 at 95-100%), so its own confidence cannot tell. Distance in pixel space to
the k nearest training digits can: the threshold is the distance that only 1% of MNIST *test* digits
exceed, so 1% of real digits are flagged (the false-alarm rate; bench/novelty.py measures it on test
digits not used to set it, and how many typed letters are flagged).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import torch

REFERENCE = 20_000  # training digits compared against: (20000, 784) floats, 63 MB
NEIGHBOURS = 5
CALIBRATION = 2_000  # test digits that set the threshold (the others measure it, in bench/)
FALSE_ALARM = 0.01  # the share of real test digits flagged


@dataclass(frozen=True)
class DigitSpace:
    reference: torch.Tensor  # (N, 784) float32 in [0, 1]: training digits
    threshold: float  # a distance only FALSE_ALARM of test digits exceed

    def distance(self, images: np.ndarray) -> np.ndarray:
        """(N, 28, 28) floats in [0, 1] -> (N,) mean distance to the NEIGHBOURS nearest training digits."""
        x = torch.as_tensor(np.asarray(images, dtype=np.float32).reshape(len(images), -1))
        d = torch.cdist(x, self.reference)  # (N, REFERENCE)
        return d.topk(NEIGHBOURS, largest=False).values.mean(1).numpy()

    def unlike(self, images: np.ndarray) -> np.ndarray:
        """(N,) bool: farther from the training digits than all but FALSE_ALARM of real test digits."""
        return self.distance(images) > self.threshold


def fit(train: np.ndarray, calibration: np.ndarray, false_alarm: float = FALSE_ALARM) -> DigitSpace:
    """A DigitSpace from training digits and held-out real digits (both (N, 28, 28) in [0, 1])."""
    reference = torch.as_tensor(np.asarray(train, dtype=np.float32).reshape(len(train), -1))
    space = DigitSpace(reference, float("inf"))
    return DigitSpace(reference, float(np.quantile(space.distance(calibration), 1 - false_alarm)))


_lock = threading.Lock()
_space: DigitSpace | None = None


def digit_space() -> DigitSpace:
    """MNIST's DigitSpace, built once per process (about a second)."""
    global _space
    with _lock:
        if _space is None:
            from .data import load_dataset

            ds = load_dataset("mnist")
            train = ds.train_x[:REFERENCE, 0].numpy() / 255.0
            calibration = ds.test_x[:CALIBRATION, 0].numpy() / 255.0
            _space = fit(train, calibration)
        return _space
