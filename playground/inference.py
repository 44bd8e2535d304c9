"""Load checkpoints safely (weights only, sized and checked before anything is built) and predict."""
from __future__ import annotations

import os
import pickle
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import torch
from torch import nn

from .config import ConfigError, RunConfig, validate
from .data import Normalizer, display_images, load_dataset, spec
from .errors import PlaygroundError, RunStatus, first_line
from .models import build_model
from .preprocess import mnist_style, open_regular_file

# 100 M parameters = 400 MB of float32 weights, built again for each page's copy; a checkpoint
# naming more is refused from its config before anything is allocated.
MAX_PARAMETERS = 100_000_000
MAX_FILE_BYTES = MAX_PARAMETERS * 8 + (1 << 20)  # float64 weights of the largest model, plus the archive
MAX_PICKLE_BYTES = 1 << 20  # the config, metrics and weight names: a few KB in practice


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


def estimate_parameters(config: RunConfig) -> int:
    """The parameter count `config`'s model would have, counted on the meta device (no memory, ~ms)."""
    with torch.device("meta"):
        model = build_model(config)
    return sum(p.numel() for p in model.parameters())


def open_checkpoint(path: str | Path) -> BinaryIO:
    """A checkpoint opened for reading: a regular file, never a symbolic link (a link in checkpoints/,
    say from a received tarball, would serve or load a file from anywhere)."""
    try:
        before = os.lstat(path)
    except OSError:
        before = None  # missing or unreadable: open_regular_file says which
    if before is not None and stat.S_ISLNK(before.st_mode):
        raise CheckpointError(f"{path}: refused, it is a symbolic link, not a checkpoint file")
    f = open_regular_file(path, "a checkpoint file", CheckpointError)
    after = os.fstat(f.fileno())
    if before is None or (after.st_dev, after.st_ino) != (before.st_dev, before.st_ino):
        f.close()  # swapped for something else (a link) between the look and the open
        raise CheckpointError(f"{path}: refused, the file changed while being opened")
    return f


def read_checkpoint_bytes(path: str | Path) -> bytes:
    """The file's bytes for a download, refused like a load would refuse a link or a non-file."""
    with open_checkpoint(path) as f:
        return f.read()


def _check_archive(path: Path, f: BinaryIO) -> None:
    """Refuse a zip bomb from the archive's directory, before torch.load inflates anything.

    torch.save stores every member uncompressed, so a compressed member is not one it wrote; sizes
    come from the directory: the pickle (config and names) small, the whole at most MAX_FILE_BYTES.
    """
    try:
        members = zipfile.ZipFile(f).infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise CheckpointError(f"{path}: not a readable checkpoint (truncated or another format): {exc}") from None
    finally:
        f.seek(0)
    for m in members:
        if m.compress_type != zipfile.ZIP_STORED:
            raise CheckpointError(f"{path}: refused, its member {m.filename!r} is compressed (torch.save never "
                                  "compresses; a compressed checkpoint may inflate to gigabytes)")
        if m.filename.endswith("data.pkl") and m.file_size > MAX_PICKLE_BYTES:
            raise CheckpointError(f"{path}: refused, its settings take {m.file_size:,} bytes "
                                  f"(at most {MAX_PICKLE_BYTES:,})")
    total = sum(m.file_size for m in members)
    if total > MAX_FILE_BYTES:
        raise CheckpointError(f"{path}: refused, it holds {total / 1e9:.1f} GB (at most {MAX_FILE_BYTES / 1e9:.1f} GB)")


def _read_payload(path: Path) -> Any:
    """torch.load(weights_only=True) of a regular, non-empty file; every failure a CheckpointError."""
    # A directory, FIFO, /dev/zero or a symbolic link: refused, never loaded.
    with open_checkpoint(path) as f:
        if f.seek(0, 2) == 0:
            raise CheckpointError(f"{path}: the file is empty")
        f.seek(0)
        _check_archive(path, f)
        try:
            return torch.load(f, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as exc:
            raise CheckpointError(f"{path}: refused, it holds objects other than weights (a pickle that could "
                                  f"run code is never loaded): {first_line(exc)[:200]}") from None
        except Exception as exc:  # torch raises many types for foreign or cut files
            raise CheckpointError(f"{path}: not a readable checkpoint (truncated or another format): "
                                  f"{(str(exc).splitlines() or [type(exc).__name__])[0][:200]}") from None


def _config_of(path: Path, payload: dict) -> RunConfig:
    """The payload's config, validated, and refused when its model would be too big to build."""
    raw = payload["config"]
    if not isinstance(raw, dict):
        raise CheckpointError(f"{path}: its config is a {type(raw).__name__}, not a table of settings")
    try:
        config = validate(RunConfig.from_dict(raw))
        params = estimate_parameters(config)
    except (ConfigError, TypeError, ValueError, AttributeError) as exc:
        raise CheckpointError(f"{path}: its config is invalid: {exc}") from None
    if params > MAX_PARAMETERS:
        raise CheckpointError(f"{path}: its config names a {config.model.arch} model of {params:,} parameters "
                              f"(~{params * 4 / 1e9:.1f} GB); the limit is {MAX_PARAMETERS:,}")
    return config


def _check_weights(path: Path, state_dict: Any) -> None:
    """Dense real tensors only, and finite: a diverged run's NaN weights would predict NaN with a straight face."""
    if not isinstance(state_dict, dict):
        raise CheckpointError(f"{path}: its state_dict is a {type(state_dict).__name__}, not a table of tensors")
    for name, value in state_dict.items():
        if not isinstance(value, torch.Tensor):
            raise CheckpointError(f"{path}: its weight '{name}' is a {type(value).__name__}, not a tensor")
        # Sparse, meta (no data) or complex tensors are nothing training writes; checks below would trip on them.
        if value.layout != torch.strided or value.is_meta or value.is_complex():
            kind = "meta" if value.is_meta else str(value.layout).removeprefix("torch.") if value.layout != \
                torch.strided else str(value.dtype).removeprefix("torch.")
            raise CheckpointError(f"{path}: refused, its weight '{name}' is a {kind} tensor, not dense real numbers")
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            raise CheckpointError(f"{path}: its weights hold NaN or infinite values ('{name}'): the run diverged; "
                                  "train again with a smaller learning rate")


def _check_dtypes(path: Path, state_dict: dict, model: nn.Module) -> None:
    """A weight the model holds as floats must be floats: int64 or bool weights would be cast and answer nonsense."""
    expected = model.state_dict()
    for name, value in state_dict.items():
        want = expected.get(name)
        if want is not None and want.is_floating_point() and not value.is_floating_point():
            raise CheckpointError(f"{path}: refused, its weight '{name}' is {str(value.dtype).removeprefix('torch.')}, "
                                  "not floating point")


def _metrics_of(path: Path, payload: dict) -> dict[str, Any]:
    metrics = payload.get("metrics")
    if metrics is None:
        return {}
    if not isinstance(metrics, dict):
        raise CheckpointError(f"{path}: its metrics are a {type(metrics).__name__}, not a table (dict)")
    return dict(metrics)


def load_checkpoint(path: str | Path) -> LoadedModel:
    """Read a checkpoint with weights_only=True: a file that would run code is refused, never executed."""
    path = Path(path)
    payload = _read_payload(path)
    if not isinstance(payload, dict) or "config" not in payload or "state_dict" not in payload:
        raise CheckpointError(f"{path}: not a playground checkpoint (no config and state_dict)")
    config = _config_of(path, payload)
    metrics = _metrics_of(path, payload)
    _check_weights(path, payload["state_dict"])
    model = build_model(config)
    _check_dtypes(path, payload["state_dict"], model)
    try:
        model.load_state_dict(payload["state_dict"])
    except (RuntimeError, TypeError) as exc:
        raise CheckpointError(f"{path}: the weights do not fit a '{config.model.arch}' model as configured: "
                              f"{first_line(exc)[:200]}") from None
    model.eval()
    return LoadedModel(config, model, metrics, str(path))


def belongs_to(loaded: LoadedModel, config: RunConfig) -> LoadedModel:
    """`loaded`, refused unless it was trained with the run's own settings (found by run id only, a
    file of another store's run #N would otherwise stand in for this one)."""
    if loaded.config.to_json() != config.to_json():
        raise CheckpointError(f"{loaded.path}: refused, it was trained with other settings "
                              f"({loaded.config.model.arch} on {loaded.config.data.dataset}) than this run's "
                              f"({config.model.arch} on {config.data.dataset}); it belongs to another run")
    return loaded


def to_input(images: np.ndarray, config: RunConfig) -> torch.Tensor:
    """(N, 28, 28) floats in [0, 1] -> the normalized (N, 1, 28, 28) batch the model was trained on."""
    x = torch.as_tensor(np.asarray(images, dtype=np.float32)).unsqueeze(1)
    # Normalizer takes 0..255 pixels (the stored uint8 batches); drawings are already in [0, 1].
    return Normalizer.of(config.data.dataset, config.data.normalize)(x * 255.0)


def reads_digits(config: RunConfig) -> bool:
    """Whether a model of `config` reads digits 0-9: an MNIST model, or one fine-tuned on your own digits."""
    if config.data.dataset == "mnist":
        return True
    try:
        return spec(config.data.dataset).classes == tuple("0123456789")
    except ValueError:  # its own data is gone from this home
        return False


def require_digits(loaded: LoadedModel) -> None:
    if not reads_digits(loaded.config):
        raise CheckpointError(f"{loaded.path} was trained on '{loaded.config.data.dataset}'; "
                              "digit prediction needs an MNIST model")


def reads_drawings(config: RunConfig) -> bool:
    """Whether a model of `config` reads a drawing: 28x28 grey, like MNIST; digits, or classes of your own."""
    try:
        return spec(config.data.dataset).shape == (1, 28, 28)
    except ValueError:  # its own data is gone from this home: its class names with it
        return False


@torch.no_grad()
def predict_drawings(loaded: LoadedModel, drawings: np.ndarray) -> np.ndarray:
    """(N, 28, 28) MNIST-style drawings -> (N, len(loaded.classes)): column k is the probability of classes[k]."""
    if not reads_drawings(loaded.config):
        raise CheckpointError(f"{loaded.path} was trained on '{loaded.config.data.dataset}', not on 28×28 drawings")
    return torch.softmax(loaded.model(to_input(drawings, loaded.config)), dim=1).numpy()


def named(loaded: LoadedModel, probs: np.ndarray) -> tuple[str, float]:
    """One drawing's probabilities -> (the class it answers, by its name in the model's own data; how sure)."""
    k = int(np.argmax(probs))
    return loaded.classes[k], float(probs[k])


def predict_digits(loaded: LoadedModel, digits: np.ndarray) -> np.ndarray:
    """(N, 28, 28) MNIST-style digits -> (N, 10) class probabilities."""
    require_digits(loaded)
    return predict_drawings(loaded, digits)


def predict_image(loaded: LoadedModel, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Any digit image -> (the 28x28 the model sees, its 10 probabilities); NoInk / NotADigit when it is none."""
    require_digits(loaded)
    digit = mnist_style(image)
    return digit, predict_digits(loaded, digit[None])[0]


def mnist_checkpoints(records) -> list:
    """Runs whose checkpoint file exists and whose model reads digits, newest first."""
    return [r for r in records if reads_digits(r.config) and r.checkpoint and Path(r.checkpoint).is_file()]


def drawing_checkpoints(records) -> list:
    """Runs whose checkpoint file exists and whose model reads drawings (digits or your own classes)."""
    return [r for r in records if reads_drawings(r.config) and r.checkpoint and Path(r.checkpoint).is_file()]


def best_finished(records) -> list:
    """The default model to read a drawing: the finished run with the best test accuracy (a run still
    training is half a model), else the newest that is not training; [] when every one still trains."""
    finished = [r for r in records if r.status == RunStatus.FINISHED]
    scored = [r for r in finished if isinstance(r.result.get("test_acc"), (int, float))]
    if scored:
        return [max(scored, key=lambda r: (r.result["test_acc"], r.id))]
    resting = finished or [r for r in records if not r.status.active]
    return resting[:1]


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
            for img, t, p, c in zip(display_images(x), y, pred, conf, strict=True)]


def test_accuracy(loaded: LoadedModel) -> dict[str, Any]:
    """Test loss, accuracy and confusion matrix of a checkpoint, on the test set its run would have used
    (the first `limit` test samples): for runs that ended without a test pass, e.g. stopped ones."""
    from .engine.publish import evaluate  # publish pulls in the engine; only this function needs it

    cfg = loaded.config
    ds = load_dataset(cfg.data.dataset)
    limit = cfg.data.limit or None
    x, y = ds.test_x[:limit], ds.test_y[:limit]
    out = evaluate(loaded.model, x, y, Normalizer.of(cfg.data.dataset, cfg.data.normalize), n_classes=len(ds.classes))
    return {"test_acc": out["acc"], "test_loss": out["loss"], "confusion": out["confusion"], "test_samples": len(y)}
