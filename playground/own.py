"""Your own data: kept drawings frozen into a content-addressed ImageFolder a run can train on.

A snapshot is home/own/<name>-<digest>/{train,test}/<class>/<drawing id>.png plus own.json (its classes, the
held-out share, the split's seed and which drawing went where). Its name is a hash of exactly what it holds, so a
run's config (data.dataset = "own:<name>-<digest>") names data that can never change under it, and the folder is
the ImageFolder layout PLAYGROUND_MNIST_DIR and the exported script already read. The held-out part (test/) is
chosen per class by drawing, seeded; a run never trains on it.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import tempfile
import unicodedata
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import settings
from .errors import PlaygroundError

PREFIX = "own:"  # data.dataset of a run on a snapshot: "own:<snapshot name>"
DIGITS = tuple("0123456789")
HELD_OUT = 0.25  # the share of each class's drawings held out as the snapshot's test set
SPLIT_SEED = 0
MIN_CLASSES = 2
MIN_PER_CLASS = 2  # one to train on and one held out, at the least
MIN_PER_OWN_CLASS = 10  # a class of your own: ten examples before a model can learn it
MAX_CLASSES = 32
MAX_IMAGES = 20_000  # an imported folder: more is not "your own drawings"
MAX_IMAGE_BYTES = 1 << 20  # one 28x28 PNG is a few hundred bytes
META = "own.json"
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,40}$")


class OwnDataError(PlaygroundError, ValueError):
    """Own data that cannot become a training set (too few classes or examples, a bad name); the message says why."""


@dataclass(frozen=True)
class Snapshot:
    name: str  # "<name>-<digest>": the folder's name under home/own, and the dataset after "own:"
    path: Path
    classes: tuple[str, ...]
    train_ids: tuple[int, ...]
    test_ids: tuple[int, ...]
    held_out: float
    seed: int

    @property
    def dataset(self) -> str:
        return PREFIX + self.name


def own_root() -> Path:
    return settings.current().home / "own"


def is_own(dataset: str) -> bool:
    return isinstance(dataset, str) and dataset.startswith(PREFIX)


def check_name(name: str) -> str:
    """A dataset or collection name: 1-40 letters, digits, '-' or '_'."""
    name = str(name).strip()
    if not _NAME.match(name):
        raise OwnDataError(f"a name is 1-40 letters, digits, '-' or '_', not {name!r}")
    return name


def check_class_names(classes: Sequence[str]) -> tuple[str, ...]:
    """Class names usable as folder names, distinct, 2 to MAX_CLASSES of them."""
    names = tuple(str(c).strip() for c in classes)
    if not MIN_CLASSES <= len(names) <= MAX_CLASSES:
        raise OwnDataError(f"a dataset needs {MIN_CLASSES} to {MAX_CLASSES} classes, not {len(names)}")
    for c in names:
        if not c or len(c) > 40 or c.startswith(".") or "/" in c or "\\" in c or "\0" in c:
            raise OwnDataError(f"class name {c!r} cannot name a folder: 1-40 characters, no '/', '\\' or leading '.'")
    if len(set(names)) != len(names):
        raise OwnDataError(f"class names must differ: {', '.join(names)}")
    return names


def check_enough(labels: Sequence[int], classes: Sequence[str], per_class: int = MIN_PER_CLASS) -> None:
    """Refuse a set a model cannot train and be tested on: fewer than MIN_CLASSES classes with examples, or a class
    with examples but fewer than `per_class` (a class without any may stay empty: digits you have not drawn)."""
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=len(classes)) if len(labels) else \
        np.zeros(len(classes), np.int64)
    present = [i for i, n in enumerate(counts) if n]
    if len(present) < MIN_CLASSES:
        have = f"examples of class {classes[present[0]]!r} only" if present else "no examples"
        raise OwnDataError(f"training needs examples of at least {MIN_CLASSES} classes; there are {have}")
    short = [f"{classes[i]!r} has {counts[i]}" for i in present if counts[i] < per_class]
    if short:
        raise OwnDataError(f"each class needs at least {per_class} examples (one to train on, one held out): "
                           + "; ".join(short))


def held_count(n: int, held_out: float = HELD_OUT) -> int:
    """How many of a class's n drawings split_ids holds out: round(held_out x n), at least 1 of 2 or more, never all."""
    return min(n - 1, max(1, round(held_out * n))) if n > 1 else 0


def split_sizes(labels: Sequence[int], held_out: float = HELD_OUT) -> tuple[int, int]:
    """(trained on, held out): how split_ids divides examples of these labels."""
    labels = [int(y) for y in labels]
    held = sum(held_count(labels.count(y), held_out) for y in set(labels))
    return len(labels) - held, held


def split_rule(per_class: int | None = None) -> str:
    """How the kept drawings are split, in words: a share of each digit held out (Draw's fine-tune, HELD_OUT), or
    `per_class` of each digit trained on and the rest held out, as many of each as of the rarest (lesson 10's)."""
    if per_class is None:
        return f"{HELD_OUT:.0%} of each digit's drawings held out, rounded, at least one, picked by a seeded draw"
    return f"as many of each digit as of your rarest: {per_class} of each trained on, the rest held out"


def split_note(kept: int, trained: int, held: int, rule: str) -> str:
    """A fine-tune's split of the kept drawings: the one sentence Draw's fine-tune and lesson 10 both show."""
    unused = kept - trained - held
    left = f", leaves {unused} out" if unused else ""
    return (f"Of your {kept} kept drawings it trains on {trained} and holds out {held}{left} ({rule}): it never "
            f"trains on the held-out ones, and one of them read differently moves their accuracy by "
            f"{1 / max(held, 1):.0%}.")


def split_ids(ids: Sequence[int], labels: Sequence[int], held_out: float = HELD_OUT,
              seed: int = SPLIT_SEED) -> tuple[list[int], list[int]]:
    """(train ids, held-out ids): per class, round(held_out x n) of its drawings (at least 1 when it has 2 or more,
    never all), drawn by a generator seeded with `seed` over the class's ids in order."""
    if not 0 < held_out < 1:
        raise OwnDataError(f"the held-out share must be in (0, 1), not {held_out}")
    rng = np.random.default_rng(seed)
    train, test = [], []
    by_class: dict[int, list[int]] = {}
    for i, y in sorted(zip(ids, labels, strict=True)):
        by_class.setdefault(int(y), []).append(int(i))
    for y in sorted(by_class):
        members = by_class[y]
        k = held_count(len(members), held_out)
        order = rng.permutation(len(members))
        test += [members[j] for j in order[:k]]
        train += [members[j] for j in order[k:]]
    return sorted(train), sorted(test)


def _as_uint8(pixels: np.ndarray) -> np.ndarray:
    a = np.asarray(pixels)
    if a.shape != (28, 28):
        raise OwnDataError(f"an example is 28x28 pixels, not {a.shape}")
    if np.issubdtype(a.dtype, np.floating):
        return (np.clip(a, 0.0, 1.0) * 255).round().astype(np.uint8)
    return a.astype(np.uint8)


def _digest(name: str, classes: tuple[str, ...], items: list[tuple[int, int, np.ndarray]], held_out: float,
            seed: int) -> str:
    h = hashlib.sha256(json.dumps([name, classes, held_out, seed]).encode())
    for i, y, px in items:
        h.update(f"{i}:{y}:".encode())
        h.update(px.tobytes())
    return h.hexdigest()[:12]


def write_snapshot(ids: Sequence[int], labels: Sequence[int], pixels: Sequence[np.ndarray],
                   classes: Sequence[str] = DIGITS, name: str = "digits", held_out: float = HELD_OUT,
                   seed: int = SPLIT_SEED, per_class: int = MIN_PER_CLASS) -> Snapshot:
    """Freeze examples (id, label, 28x28 pixels) into a snapshot; the same content gives the same one, kept once."""
    name = check_name(name)
    named = check_class_names(classes)
    labels = [int(y) for y in labels]
    if any(not 0 <= y < len(named) for y in labels):
        raise OwnDataError(f"every example needs a label among {len(named)} classes; one has none")
    # Classes in sorted order, labels renumbered to match: torchvision's ImageFolder (the exported script)
    # numbers class folders sorted by name, so the snapshot's numbering must be the same.
    classes = tuple(sorted(named))
    labels = [classes.index(named[y]) for y in labels]
    if len(set(ids)) != len(ids):
        raise OwnDataError("two examples share an id")
    check_enough(labels, classes, per_class)
    items = sorted((int(i), y, _as_uint8(p)) for i, y, p in zip(ids, labels, pixels, strict=True))
    full = f"{name}-{_digest(name, classes, items, held_out, seed)}"
    root = own_root()
    if (root / full / META).is_file():
        return read_snapshot(full)
    train, test = split_ids([i for i, _, _ in items], [y for _, y, _ in items], held_out, seed)
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{full}.", dir=root))
    try:
        _write_tree(tmp, classes, items, set(test))
        meta = {"classes": list(classes), "held_out": held_out, "seed": seed, "train": train, "test": test}
        (tmp / META).write_text(json.dumps(meta, indent=1))
        try:
            os.rename(tmp, root / full)  # whole or not at all; a twin written meanwhile holds the same files
        except OSError:
            if not (root / full / META).is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return read_snapshot(full)


def _write_tree(root: Path, classes: tuple[str, ...], items: list[tuple[int, int, np.ndarray]],
                test: set[int]) -> None:
    from PIL import Image

    for split in ("train", "test"):
        for c in classes:
            (root / split / c).mkdir(parents=True)
    for i, y, px in items:
        Image.fromarray(px, mode="L").save(root / ("test" if i in test else "train") / classes[y] / f"{i}.png")


def read_snapshot(name: str) -> Snapshot:
    """A snapshot by its name (with or without "own:"); OwnDataError when it is not there or not one."""
    name = name.removeprefix(PREFIX)
    path = own_root() / name
    if "/" in name or name.startswith(".") or not (path / META).is_file():
        raise OwnDataError(f"no own dataset '{name}' in {own_root()}")
    try:
        meta = json.loads((path / META).read_text())
        return Snapshot(name, path, check_class_names(meta["classes"]), tuple(meta["train"]), tuple(meta["test"]),
                        float(meta["held_out"]), int(meta["seed"]))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise OwnDataError(f"{path / META} is not readable: {exc}") from None


def list_snapshots() -> list[Snapshot]:
    """The snapshots in this home, newest first; unreadable folders are left out."""
    root, out = own_root(), []
    if not root.is_dir():
        return out
    for path in sorted(root.iterdir(), key=lambda p: p.stat().st_mtime, reverse=True):
        if not path.name.startswith(".") and (path / META).is_file():
            try:
                out.append(read_snapshot(path.name))
            except OwnDataError:
                continue
    return out


def export_zip(snapshot: Snapshot) -> bytes:
    """The snapshot as a zip of its ImageFolder (train/ and test/ by class, and own.json), for a download."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for path in sorted(snapshot.path.rglob("*")):
            if path.is_file():
                z.write(path, f"{snapshot.name}/{path.relative_to(snapshot.path)}")
    return buf.getvalue()


def read_folder(root: str | Path) -> tuple[tuple[str, ...], list[int], list[np.ndarray]]:
    """An ImageFolder's examples: (classes, labels, 28x28 uint8 images) from root/{train,test}/<class>/ or
    root/<class>/; its own split is not kept (a snapshot draws its own). Every bad file is refused by name."""
    root = Path(root)
    splits = [root / s for s in ("train", "test") if (root / s).is_dir()] or [root]
    entries = []
    for split in splits:
        for folder in sorted(p for p in split.iterdir() if p.is_dir() and not p.name.startswith(".")):
            for path in sorted(folder.iterdir()):
                entries.append((folder.name, str(path), lambda path=path: _read_file(path)))
    return _examples(entries, str(root))


def read_zip(data: bytes) -> tuple[tuple[str, ...], list[int], list[np.ndarray]]:
    """The examples of a zipped ImageFolder (as export_zip writes it, or <class>/*.png): read in memory, nothing
    extracted; sizes are checked from the zip's directory before anything is inflated."""
    try:
        z = zipfile.ZipFile(io.BytesIO(data))
        members = [m for m in z.infolist() if not m.is_dir()]
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise OwnDataError(f"not a readable zip file ({exc})") from None
    parts = [(m, m.filename.split("/")) for m in members]
    images = [(m, p) for m, p in parts if len(p) >= 2 and not any(x.startswith((".", "__MACOSX")) for x in p)
              and Path(p[-1]).suffix.lower() in IMAGE_SUFFIXES]
    if len(images) > MAX_IMAGES or sum(m.file_size for m, _ in images) > MAX_IMAGES * 4096:
        raise OwnDataError(f"the zip holds {len(images):,} images, {sum(m.file_size for m, _ in images):,} bytes "
                           f"unpacked: at most {MAX_IMAGES:,} small 28x28 images")
    for m, _ in images:
        if m.file_size > MAX_IMAGE_BYTES:
            raise OwnDataError(f"{m.filename}: larger than 1 MB unpacked; a 28x28 image is a few hundred bytes")
    return _examples([(p[-2], m.filename, lambda m=m: z.read(m)) for m, p in images], "the zip")


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")
IMAGE_FORMATS = ("PNG", "JPEG", "BMP")


def _read_file(path: Path) -> bytes:
    from .preprocess import open_regular_file

    with open_regular_file(path, "an image file", OwnDataError) as f:
        data = f.read(MAX_IMAGE_BYTES + 1)
    if len(data) > MAX_IMAGE_BYTES:
        raise OwnDataError("larger than 1 MB")
    return data


def _examples(entries, where: str) -> tuple[tuple[str, ...], list[int], list[np.ndarray]]:
    """(class folder, file name, a reader of its bytes) -> (classes, labels, 28x28 uint8 images); digit folders
    keep the digits' numbering, whichever of them are there."""
    from PIL import Image

    # A folder's name as its class: "a " is class "a" (a ValueError once), and macOS zips spell "é" decomposed.
    entries = [(unicodedata.normalize("NFC", c).strip(), name, read) for c, name, read in entries
               if Path(name).suffix.lower() in IMAGE_SUFFIXES]
    if len(entries) > MAX_IMAGES:
        raise OwnDataError(f"{where}: more than {MAX_IMAGES:,} images; import at most that many")
    names = sorted({c for c, _, _ in entries})
    classes = DIGITS if names and set(names) <= set(DIGITS) else check_class_names(names)
    labels, images = [], []
    for cls, name, read in entries:
        try:
            # Only the formats the suffixes name: Image.open alone would hand an EPS called x.png to Ghostscript.
            with Image.open(io.BytesIO(read()), formats=IMAGE_FORMATS) as im:
                if im.size != (28, 28):
                    raise OwnDataError(f"{im.size[0]}x{im.size[1]} pixels, not 28x28")
                images.append(np.asarray(im.convert("L"), dtype=np.uint8))
        except OwnDataError as exc:
            raise OwnDataError(f"{name}: {exc}") from None
        except Exception as exc:  # noqa: BLE001 - any undecodable file is refused by name
            raise OwnDataError(f"{name}: not a readable image ({type(exc).__name__})") from None
        labels.append(classes.index(cls))
    if not images:
        raise OwnDataError(f"{where}: no 28x28 images in class folders (train/<class>/*.png or <class>/*.png)")
    return tuple(classes), labels, images


def import_examples(classes: tuple[str, ...], labels: list[int], images: list[np.ndarray], name: str) -> Snapshot:
    """An imported folder as a snapshot: digits need 2 of each digit drawn, classes of your own 10 of each."""
    per_class = MIN_PER_CLASS if classes == DIGITS else MIN_PER_OWN_CLASS
    return write_snapshot(list(range(len(labels))), labels, images, classes=classes, name=name, per_class=per_class)
