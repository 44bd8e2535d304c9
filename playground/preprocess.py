"""Any digit image -> an MNIST-style 28x28: crop to the ink, fit in 20 px, centre of mass to the centre.

This is LeCun's MNIST procedure; the CLI `predict` and the Draw page both use it, so a
drawing is judged exactly as a file would be.
"""
from __future__ import annotations

import io

import numpy as np
from PIL import Image, UnidentifiedImageError
from .errors import PlaygroundError

FIELD = 28
BOX = 20
CENTRE = 14.0  # measured: MNIST's mean centre of mass is (14.0, 14.0) in pixel indices
MAX_SIDE = 8192  # refuse bigger images: a decoded 8k x 8k RGBA image is already 256 MB
MAX_BYTES = 20 * 1024 * 1024


class NoInk(PlaygroundError, ValueError):
    """The image holds no (or almost no) ink: there is nothing to recognise."""


class BadImage(PlaygroundError, ValueError):
    """The bytes are not a usable image."""


def load_image(data: bytes) -> np.ndarray:
    """Decode image bytes (PNG, JPEG, ...) safely into an array; clear errors for anything else."""
    if not data:
        raise BadImage("the file is empty")
    if len(data) > MAX_BYTES:
        raise BadImage(f"the file is {len(data) / 1e6:.1f} MB; the limit is {MAX_BYTES // 1_000_000} MB")
    try:
        with Image.open(io.BytesIO(data)) as im:
            if max(im.size) > MAX_SIDE:
                raise BadImage(f"the image is {im.size[0]}x{im.size[1]} pixels; the limit is {MAX_SIDE} per side")
            im.load()
            if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
                return np.asarray(im.convert("RGBA"))
            return np.asarray(im.convert("L"))
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        if isinstance(exc, BadImage):
            raise
        raise BadImage(f"not a readable image ({type(exc).__name__})") from None


def to_gray(image: np.ndarray | Image.Image) -> np.ndarray:
    """(H, W), (H, W, 3) or (H, W, 4) of uint8 or float -> (H, W) float in [0, 1]."""
    a = np.asarray(image)
    if a.dtype == np.uint8:
        a = a.astype(np.float32) / 255.0
    a = np.asarray(a, dtype=np.float32)
    if a.ndim == 3 and a.shape[2] == 4:
        alpha = a[..., 3]
        if alpha.min() < alpha.max():
            return alpha  # strokes drawn on a transparent background: the alpha is the ink
        a = a[..., :3]
    if a.ndim == 3 and a.shape[2] == 3:
        a = a @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    if a.ndim != 2:
        raise BadImage(f"expected a 2-D image, got shape {a.shape}")
    return np.clip(a, 0.0, 1.0)


def ink_map(image: np.ndarray | Image.Image) -> np.ndarray:
    """Grey image -> ink in [0, 1] on a 0 background, whichever the polarity (detected from the border)."""
    g = to_gray(image)
    if g.size == 0:
        raise NoInk("the image is empty")
    border = np.concatenate([g[0], g[-1], g[:, 0], g[:, -1]])
    background = float(np.median(border))
    if background > 0.5:  # dark ink on light paper
        g, background = 1.0 - g, 1.0 - background
    return np.clip((g - background) / max(1e-6, 1.0 - background), 0.0, 1.0)


def has_ink(image: np.ndarray | Image.Image, min_fraction: float = 0.0002) -> bool:
    try:
        ink = ink_map(image)
    except NoInk:
        return False
    return ink.max() >= 0.1 and (ink > 0.2 * ink.max()).sum() >= max(3, min_fraction * ink.size)


def mnist_style(image: np.ndarray | Image.Image) -> np.ndarray:
    """Any digit image -> (28, 28) float32 in [0, 1], white ink on black, as MNIST's digits are."""
    ink = ink_map(image)
    if not has_ink(ink):
        raise NoInk("no digit found: the image has no ink (draw or upload a digit)")
    mask = ink > 0.2 * ink.max()
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    crop = ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    h, w = crop.shape
    scale = BOX / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    # Pillow's resize filters over the whole source footprint, so a 10x reduction anti-aliases.
    small = np.asarray(Image.fromarray(crop.astype(np.float32), mode="F").resize((nw, nh), Image.Resampling.LANCZOS))
    small = np.clip(small, 0.0, 1.0)
    out = np.zeros((FIELD, FIELD), dtype=np.float32)
    top, left = (FIELD - nh) // 2, (FIELD - nw) // 2
    out[top:top + nh, left:left + nw] = small
    # Move the centre of mass to the centre, keeping the box inside the field.
    total = out.sum()
    ys, xs = np.arange(FIELD, dtype=np.float32), np.arange(FIELD, dtype=np.float32)
    cy, cx = (out.sum(1) @ ys) / total, (out.sum(0) @ xs) / total
    dy = int(np.clip(round(CENTRE - cy), -top, FIELD - nh - top))
    dx = int(np.clip(round(CENTRE - cx), -left, FIELD - nw - left))
    return np.roll(out, (dy, dx), axis=(0, 1))
