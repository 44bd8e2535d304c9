"""Load checkpoints safely (weights only) and predict digits from any image."""
from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .config import ConfigError, RunConfig, validate
from .data import normalization, spec
from .models import build_model
from .preprocess import mnist_style
from .errors import PlaygroundError


class CheckpointError(PlaygroundError, ValueError):
    """A file that is not a loadable playground checkpoint; the message says why."""


@dataclass
class LoadedModel:
    config: RunConfig
    model: nn.Module  # eval mode, on CPU
    metrics: dict[str, Any]
    path: str

    @property
    def classes(self) -> tuple[str, ...]:
        return spec(self.config.data.dataset).classes


def load_checkpoint(path: str | Path) -> LoadedModel:
    """Read a checkpoint with weights_only=True: a file that would run code is refused, never executed."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path}: the file is empty")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(f"{path}: refused, it holds objects other than weights "
                              f"(a pickle that could run code is never loaded): {str(exc).splitlines()[0][:200]}") from None
    except Exception as exc:  # noqa: BLE001 - torch raises many types for foreign or cut files
        raise CheckpointError(f"{path}: not a readable checkpoint (truncated or another format): "
                              f"{str(exc).splitlines()[0][:200]}") from None
    if not isinstance(payload, dict) or "config" not in payload or "state_dict" not in payload:
        raise CheckpointError(f"{path}: not a playground checkpoint (no config and state_dict)")
    try:
        config = validate(RunConfig.from_dict(payload["config"]))
    except (ConfigError, TypeError) as exc:
        raise CheckpointError(f"{path}: its config is invalid: {exc}") from None
    model = build_model(config)
    try:
        model.load_state_dict(payload["state_dict"])
    except (RuntimeError, TypeError) as exc:
        raise CheckpointError(f"{path}: the weights do not fit a '{config.model.arch}' model as configured: "
                              f"{str(exc).splitlines()[0][:200]}") from None
    model.eval()
    return LoadedModel(config, model, dict(payload.get("metrics") or {}), str(path))


def to_input(images: np.ndarray, config: RunConfig) -> torch.Tensor:
    """(N, 28, 28) floats in [0, 1] -> the normalized (N, 1, 28, 28) batch the model was trained on."""
    mean, std = normalization(config.data.dataset, config.data.normalize)
    x = torch.as_tensor(np.asarray(images, dtype=np.float32)).unsqueeze(1)
    return (x - mean[0]) / std[0]


def require_digits(loaded: LoadedModel) -> None:
    if loaded.config.data.dataset != "mnist":
        raise CheckpointError(f"{loaded.path} was trained on '{loaded.config.data.dataset}'; "
                              "digit prediction needs an MNIST model")


@torch.no_grad()
def predict_digits(loaded: LoadedModel, digits: np.ndarray) -> np.ndarray:
    """(N, 28, 28) MNIST-style digits -> (N, 10) class probabilities."""
    require_digits(loaded)
    return torch.softmax(loaded.model(to_input(digits, loaded.config)), dim=1).numpy()


def predict_image(loaded: LoadedModel, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Any digit image -> (the 28x28 the model sees, its 10 probabilities)."""
    require_digits(loaded)
    digit = mnist_style(image)
    return digit, predict_digits(loaded, digit[None])[0]


def accuracy_on(loaded: LoadedModel, digits: np.ndarray, labels: np.ndarray) -> float | None:
    """Accuracy on already MNIST-style digits (N, 28, 28), e.g. the user's kept drawings."""
    if len(labels) == 0:
        return None
    return float((predict_digits(loaded, digits).argmax(1) == np.asarray(labels)).mean())


def mnist_checkpoints(records) -> list:
    """Runs whose checkpoint file exists and whose model reads digits, newest first."""
    return [r for r in records if r.config.data.dataset == "mnist" and r.checkpoint and Path(r.checkpoint).is_file()]
