"""How unlike MNIST's handwritten digits an input is, two ways: in pixels, and in a model's own features.

A classifier must answer one of 0-9 whatever it is shown, and answers a letter as confidently as a
digit (an "A" read as 4 at 95-100%), so its own confidence tells little. Two distances tell more:

- DigitSpace: pixel distance to the k nearest training digits (one for every model). It flags typed
  letters, but a *drawn* letter, centred as MNIST centres digits, is often as near to some digit as a
  digit is.
- FeatureSpace: distance in what the model's last layer sees (cosine distance to the k-th nearest training
  digit, the "deep nearest neighbours" test of Sun et al. 2022): where this model puts the input among the
  digits it learned, so each model gets its own answer.

Each threshold is the distance only FALSE_ALARM of MNIST *test* digits exceed; an input is flagged when
either says so. bench/novelty.py measures both on test digits not used to set them, on letters and digits
drawn with strokes on the canvas, and on typed letters (bench/results/novelty.json).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import torch

# The combined flag (pixels or the model's features) over the models bench/novelty.py measured: (lowest, highest)
# share flagged, as bench/results/novelty.json records it (tests/test_novelty.py checks the two are equal).
MEASURED = {"test_digits": (0.0138, 0.0163), "drawn_digits": (0.0, 0.005), "drawn_letters": (0.225, 0.3712)}
MEASURED_FILE = "novelty.json"

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


FEATURE_REFERENCE = 10_000  # training digits whose features a model's input is compared with
FEATURE_NEIGHBOUR = 10  # the k-th nearest one's distance is the score


@dataclass(frozen=True)
class FeatureSpace:
    """Where one model puts inputs among the training digits: its last layer's features, unit length."""
    model: torch.nn.Module
    config: object  # the model's RunConfig: how its inputs are normalized
    reference: torch.Tensor  # (N, features), unit rows: training digits
    threshold: float  # a distance only FALSE_ALARM of test digits exceed

    def distance(self, images: np.ndarray) -> np.ndarray:
        """(N, 28, 28) floats in [0, 1] -> (N,) cosine distance to the FEATURE_NEIGHBOUR-th nearest training digit."""
        f = torch.nn.functional.normalize(torch.as_tensor(_features(self.model, self.config, images)), dim=1)
        d = 1 - f @ self.reference.T
        return d.kthvalue(FEATURE_NEIGHBOUR, dim=1).values.numpy()

    def unlike(self, images: np.ndarray) -> np.ndarray:
        return self.distance(images) > self.threshold


def _features(model: torch.nn.Module, config, images: np.ndarray) -> np.ndarray:
    from .explain import features
    from .inference import to_input

    return features(model, to_input(np.asarray(images, dtype=np.float32), config))


def fit_features(model: torch.nn.Module, config, train: np.ndarray, calibration: np.ndarray,
                 false_alarm: float = FALSE_ALARM) -> FeatureSpace:
    """A FeatureSpace of `model` from training digits and held-out real digits (both (N, 28, 28) in [0, 1])."""
    reference = torch.nn.functional.normalize(torch.as_tensor(_features(model, config, train)), dim=1)
    space = FeatureSpace(model, config, reference, float("inf"))
    return FeatureSpace(model, config, reference, float(np.quantile(space.distance(calibration), 1 - false_alarm)))


def feature_space(model: torch.nn.Module, config) -> FeatureSpace:
    """A model's FeatureSpace on MNIST (a second or two: its features of 12,000 digits)."""
    from .data import load_dataset

    ds = load_dataset("mnist")
    train = ds.train_x[:FEATURE_REFERENCE, 0].numpy() / 255.0
    return fit_features(model, config, train, ds.test_x[:CALIBRATION, 0].numpy() / 255.0)


def unlike_digits(images: np.ndarray, model_space: FeatureSpace | None = None) -> np.ndarray:
    """(N,) bool: unlike the training digits in pixels, or (given one) in the model's own features."""
    flagged = digit_space().unlike(images)
    return flagged | model_space.unlike(images) if model_space is not None else flagged
