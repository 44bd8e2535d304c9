"""Any digit image -> an MNIST-style 28x28: crop to the ink, fit in 20 px, centre of mass to the centre.

This is LeCun's MNIST procedure; the CLI `predict` and the Draw page both use it, so a
drawing is judged exactly as a file would be. Before it: files are sized from their header
before anything is decoded, turned upright (EXIF), flattened onto the background their
opaque part implies, and photos of paper get their uneven light removed.
"""
from __future__ import annotations

import io
import os
import stat
import struct
from pathlib import Path
from typing import BinaryIO

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import PlaygroundError

FIELD = 28
BOX = 20
CENTRE = 14.0  # measured: MNIST's mean centre of mass is (14.0, 14.0) in pixel indices
MAX_SIDE = 8192
# 8000 x 8000 (a 48 MP phone photo fits) decodes in ~0.5 s to 64 MB of grey; 8192 x 8192 is refused.
MAX_PIXELS = 64_000_000
MAX_BYTES = 20 * 1024 * 1024
WORK_SIDE = 1024  # images are reduced to this before any float work: the digit ends up 20 px anyway
FORMATS = ("PNG", "JPEG", "BMP", "GIF", "WEBP", "TIFF")  # the JPEG opener also yields MPO (many phone photos)
# Pillow's own bomb guard at the same limit (it warns above it and raises at twice it), for any
# other Image.open in the process; load_image refuses from the header before Pillow would decode.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS


class NoInk(PlaygroundError, ValueError):
    """The image holds no (or almost no) ink: there is nothing to recognise."""


class NotADigit(NoInk):
    """There is ink, but its shape cannot be a digit (a dot, a dash, a blot); the message says which.

    A NoInk, so that code catching NoInk ("no digit here") never gets a guess; catch it first to show why.
    """


class BadImage(PlaygroundError, ValueError):
    """The bytes are not a usable image."""


class NotARegularFile(PlaygroundError, OSError):
    """A path that is a directory, FIFO, device or socket where a file was expected."""


# ---------------------------------------------------------------- files
def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a regular file"


def open_regular_file(path: str | Path, what: str, error: type[PlaygroundError]) -> BinaryIO:
    """Open `path` for reading only if it is a regular file: never blocks on a FIFO, never reads a device.

    Every refusal is `error` with a message naming the file: "<path> is not <what> (a directory)",
    "<path>: no such file", "<path>: cannot be read (...)".
    """
    try:
        st = os.stat(path)  # stat never opens, so a FIFO cannot block here
        if not stat.S_ISREG(st.st_mode):
            raise NotARegularFile(f"{path} is not {what} ({_kind(st.st_mode)})")
        # O_NONBLOCK: if the path was swapped for a FIFO since the stat, open returns at once; fstat catches it.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except NotARegularFile as exc:
        raise error(str(exc)) from None
    except FileNotFoundError:
        raise error(f"{path}: no such file") from None
    except OSError as exc:
        raise error(f"{path}: cannot be read ({exc.strerror or type(exc).__name__})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise error(f"{path} is not {what} ({_kind(st.st_mode)})")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_image_file(path: str | Path) -> bytes:
    """The bytes of an image file, refused (BadImage) when missing, not a regular file, or too big."""
    with open_regular_file(path, "an image file", BadImage) as f:
        size = os.fstat(f.fileno()).st_size
        if size > MAX_BYTES:
            raise BadImage(f"{path}: the file is {size / 1e6:.1f} MB; the limit is {MAX_BYTES // 1_000_000} MB")
        return f.read(MAX_BYTES + 1)


# ---------------------------------------------------------------- decoding
def _check_header(im: Image.Image) -> None:
    """Refuse from the header alone (Image.open has read nothing else yet)."""
    w, h = im.size
    if max(w, h) > MAX_SIDE:
        raise BadImage(f"the image is {w}x{h} pixels; the limit is {MAX_SIDE} per side")
    if w * h > MAX_PIXELS:
        raise BadImage(f"the image is {w}x{h} = {w * h / 1e6:.0f} megapixels; the limit is {MAX_PIXELS / 1e6:.0f}")
    if w == 0 or h == 0:
        raise BadImage("the image has no pixels")


def _upright(im: Image.Image) -> Image.Image:
    """Apply the EXIF orientation (every phone photo has one); a broken EXIF block is ignored."""
    try:
        return ImageOps.exif_transpose(im)
    except (SyntaxError, ValueError, TypeError, KeyError, OSError, struct.error):
        return im


def load_image(data: bytes) -> np.ndarray:
    """Image bytes -> (H, W) uint8 grey, upright and with any transparency flattened.

    The size is checked from the header before decoding; big JPEGs decode at a reduced scale
    (never below WORK_SIDE), so neither time nor memory grows with what a file claims.
    """
    if not data:
        raise BadImage("the file is empty")
    if len(data) > MAX_BYTES:
        raise BadImage(f"the file is {len(data) / 1e6:.1f} MB; the limit is {MAX_BYTES // 1_000_000} MB")
    try:
        with Image.open(io.BytesIO(data), formats=FORMATS) as im:
            _check_header(im)
            if im.format in ("JPEG", "MPO"):
                im.draft("L" if im.mode == "L" else "RGB", (WORK_SIDE, WORK_SIDE))
            im.seek(0)  # the first frame of a GIF or TIFF
            return np.asarray(flatten(_shrink(_upright(im))))
    except BadImage:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as exc:
        # The reason in words a user can act on; Python's exception names mean nothing to them.
        why = "it is truncated" if isinstance(exc, (EOFError, SyntaxError)) or "truncated" in str(exc) else \
            "its format is not recognised"
        raise BadImage(f"not a readable image ({why}); use PNG, JPEG, BMP, GIF, WebP or TIFF") from None


def _otsu(hist: np.ndarray) -> int:
    """Otsu's threshold over a 256-bin histogram: the level that best splits it in two classes."""
    p = hist.astype(np.float64) / max(1, hist.sum())
    omega, mu = np.cumsum(p), np.cumsum(p * np.arange(len(p)))
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (mu[-1] * omega - mu) ** 2 / (omega * (1 - omega))
    return int(np.nanargmax(np.nan_to_num(between, nan=-1.0)))


def _deep_to_grey(im: Image.Image) -> Image.Image:
    """16-bit, 32-bit or float grey -> "L" scaled by its range (Pillow's own convert clips at 255, which
    turned a 16-bit digit into a blank or solid image): 16-bit by 65535, floats in [0, 1] by 1, others by
    the largest value they hold."""
    a = np.asarray(im, dtype=np.float64)
    a = np.nan_to_num(a, nan=0.0, posinf=0.0, neginf=0.0)
    top = float(a.max()) if a.size else 0.0
    if im.mode.startswith("I;16"):
        top = 65535.0
    elif im.mode == "F" and a.min() >= 0.0 and top <= 1.0:
        top = 1.0
    elif im.mode == "I" and a.min() >= 0.0 and top <= 65535.0:
        top = 65535.0 if top > 255.0 else 255.0
    scaled = np.clip(a / top, 0.0, 1.0) if top > 0 else np.zeros_like(a)
    return Image.fromarray((scaled * 255).round().astype(np.uint8), "L")


def flatten(im: Image.Image) -> Image.Image:
    """Any mode -> grey "L", transparency composited onto the background its opaque part implies.

    Opaque pixels holding two tones (a dark 7 on a white card with a transparent margin): the
    majority tone is the paper, and the transparent margin becomes paper too. Opaque pixels of
    one tone (strokes on a transparent background): the alpha is the ink, white on black.
    """
    if im.mode.startswith("I") or im.mode == "F":
        return _deep_to_grey(im)
    if im.mode not in ("RGBA", "LA", "PA", "RGBa", "La") and "transparency" not in im.info:
        return im if im.mode == "L" else im.convert("L")
    la = im.convert("LA") if im.mode in ("RGBA", "LA") else im.convert("RGBA").convert("LA")
    grey, alpha = la.split()
    lo, hi = alpha.getextrema()
    if lo == 255:
        return grey
    if hi == 0:
        return alpha  # nothing visible: no ink
    opaque = alpha.point(lambda a: 255 if a >= 128 else 0)
    hist = np.asarray(grey.histogram(mask=opaque) if opaque.getextrema()[1] else grey.histogram(mask=alpha))
    t = _otsu(hist)
    dark, light = hist[:t + 1], hist[t + 1:]
    levels = np.arange(256)
    if dark.sum() and light.sum():
        mean_dark = (dark @ levels[:t + 1]) / dark.sum()
        mean_light = (light @ levels[t + 1:]) / light.sum()
        if mean_light - mean_dark > 64:  # two tones: paper and ink
            paper = mean_light if light.sum() >= dark.sum() else mean_dark
            return Image.composite(grey, Image.new("L", grey.size, int(round(paper))), alpha)
    return alpha


# ---------------------------------------------------------------- grey and ink
def _shrink(im: Image.Image) -> Image.Image:
    """Box-average a large decoded image to WORK_SIDE right away (in its own mode, alpha kept), so that
    nothing after the decode (flattening, thresholds, the page's cache) handles 64 megapixels."""
    try:
        return _reduce(im)
    except ValueError:  # a mode reduce() does not take (1-bit, palette): flatten copes with it at size
        return im


def _reduce(im: Image.Image) -> Image.Image:
    """Box-average down to WORK_SIDE on the long side (integer factor, cheap, no aliasing)."""
    factor = -(-max(im.size) // WORK_SIDE)
    return im.reduce(factor) if factor > 1 else im


def to_gray(image: np.ndarray | Image.Image) -> np.ndarray:
    """(H, W), (H, W, 3) or (H, W, 4) of uint8 or float -> (H, W) float in [0, 1], at most WORK_SIDE a side."""
    if isinstance(image, Image.Image):
        image = np.asarray(flatten(image))
    a = np.asarray(image)
    if a.ndim == 3 and a.shape[2] in (3, 4):
        if a.dtype != np.uint8:
            a = (np.clip(np.asarray(a, np.float32), 0.0, 1.0) * 255).round().astype(np.uint8)
        a = np.asarray(flatten(Image.fromarray(np.ascontiguousarray(a), "RGBA" if a.shape[2] == 4 else "RGB")))
    if a.ndim != 2:
        raise BadImage(f"expected a 2-D image, got shape {a.shape}")
    if a.size == 0:
        return np.zeros(a.shape, np.float32)
    if a.dtype == np.uint8:
        return np.asarray(_reduce(Image.fromarray(a)), dtype=np.float32) / 255.0
    a = np.clip(np.asarray(a, dtype=np.float32), 0.0, 1.0)
    return np.asarray(_reduce(Image.fromarray(a, "F")), dtype=np.float32)


def _box_blur(a: np.ndarray, r: int) -> np.ndarray:
    """Mean over a (2r+1)^2 window, edges repeated; separable running sums."""
    if r < 1:
        return a
    for axis in (0, 1):
        pad = [(0, 0), (0, 0)]
        pad[axis] = (r + 1, r)
        c = np.cumsum(np.pad(a, pad, mode="edge"), axis=axis, dtype=np.float64)
        n = a.shape[axis]
        hi = np.take(c, np.arange(2 * r + 1, 2 * r + 1 + n), axis=axis)
        lo = np.take(c, np.arange(0, n), axis=axis)
        a = ((hi - lo) / (2 * r + 1)).astype(np.float32)
    return a


def _background(g: np.ndarray) -> np.ndarray:
    """The paper's own level under bright ink: a grey opening wider than any stroke (~1/12 of the short
    side), so strokes vanish from it while light falloff and a shadow's edge, wider ramps, stay in it."""
    k = max(15, min(g.shape) // 12) | 1
    opened = cv2.morphologyEx(g, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    return cv2.blur(opened, (k // 2 | 1, k // 2 | 1))


def _noise(g: np.ndarray) -> float:
    """Pixel noise (sigma) from the median absolute difference of horizontal neighbours."""
    if g.shape[1] < 2:
        return 0.0
    return float(np.median(np.abs(np.diff(g, axis=1)))) * 1.4826 / np.sqrt(2)


def _trim(mask: np.ndarray, share: float = 0.003) -> tuple[slice, slice]:
    """Rows and columns holding all but `share` of the ink at each end: stray specks do not stretch the crop."""
    out = []
    for axis in (1, 0):
        c = np.cumsum(mask.sum(axis), dtype=np.float64)
        lo, hi = np.searchsorted(c, share * c[-1], "right"), np.searchsorted(c, (1 - share) * c[-1], "left")
        out.append(slice(int(lo), int(hi) + 1))
    return out[0], out[1]


def _without_lines(mask: np.ndarray) -> np.ndarray:
    """The mask without ruled, squared or margin lines: straight runs over most of the page's width or
    height (a digit spans at most ~60% of a photo, so its own strokes are never that long)."""
    m = mask.astype(np.uint8)
    h, w = m.shape
    lines = np.zeros_like(m)
    for long, gap in (((max(3, int(w * 0.7)), 1), (9, 1)), ((1, max(3, int(h * 0.7))), (1, 9))):
        # A faint line breaks up in noise: bridge short gaps along it first, then keep only long straight runs.
        bridged = cv2.morphologyEx(m, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, gap))
        lines |= cv2.morphologyEx(bridged, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, long))
    if not lines.any():
        return mask
    return mask & ~cv2.dilate(lines, np.ones((3, 3), np.uint8)).astype(bool)


def _digit_components(mask: np.ndarray) -> np.ndarray:
    """The digit among the mask's connected components: the largest one clear of the image's edge (a
    desk edge, a shadow's border or the page's rim touch it; a photographed digit does not), with the
    pieces near it (a 4 or 5 written in two strokes, a stroke cut where a ruled line crossed it)."""
    # Components of the mask grown by a few px, so a stroke cut by a removed line stays one piece.
    joined = cv2.dilate(mask.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7)))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(joined, connectivity=8)
    if n <= 2:
        return mask
    h, w = mask.shape
    x, y, bw, bh, area = (stats[1:, i] for i in range(5))
    inside = (x > 0) & (y > 0) & (x + bw < w) & (y + bh < h)
    pool = np.flatnonzero(inside) if inside.any() else np.arange(n - 1)
    main = pool[np.argmax(area[pool])]
    pool = pool[area[pool] >= 0.03 * area[main]]  # specks of noise or dust, however close, are no stroke
    margin = 0.25 * max(bw[main], bh[main])
    kept = {int(main)}
    while True:  # add the pieces near what is kept so far, until none is
        x0, y0 = min(x[k] for k in kept) - margin, min(y[k] for k in kept) - margin
        x1, y1 = max(x[k] + bw[k] for k in kept) + margin, max(y[k] + bh[k] for k in kept) + margin
        near = {int(k) for k in pool if x[k] < x1 and x[k] + bw[k] > x0 and y[k] < y1 and y[k] + bh[k] > y0}
        if near <= kept:
            break
        kept |= near
    return mask & np.isin(labels, [k + 1 for k in kept])


def _photo_ink(g: np.ndarray) -> np.ndarray:
    """Bright ink on a dark, uneven, noisy background -> clean ink on 0 (background removed, Otsu, specks cut)."""
    bg = _background(g)
    r = max(1, min(g.shape) // 300)
    diff = g - bg  # the noise is even here; dividing by the light first would amplify it in the shadows
    smooth = _box_blur(diff, r)
    hist, _ = np.histogram(np.clip(smooth, 0.0, 1.0), bins=256, range=(0.0, 1.0))
    # Otsu splits pure noise too: never below 6 sigma of the (blurred) noise, measured before the blur.
    floor = float(np.median(smooth)) + 6 * _noise(diff) / (2 * r + 1)
    mask = _digit_components(_without_lines(smooth > max((_otsu(hist) + 1) / 256, floor, 0.03)))
    if not mask.any():
        return np.zeros_like(g)
    rows, cols = _trim(mask)
    keep = np.zeros_like(mask)
    keep[rows, cols] = mask[rows, cols]
    ink = np.clip(smooth / np.maximum(1e-3, 1.0 - bg), 0.0, 1.0)  # = 1 - paper/local paper for dark ink
    top = float(np.percentile(ink[keep], 95)) if keep.any() else 1.0
    return np.where(keep, np.clip(ink / max(top, 1e-3), 0.0, 1.0), 0.0).astype(np.float32)


def ink_map(image: np.ndarray | Image.Image) -> np.ndarray:
    """Any image -> ink in [0, 1] on a 0 background, whichever the polarity (decided from the border).

    A drawing or clean scan (one background level) keeps its soft strokes as they are; a photo
    (uneven light, noise) has its background estimated and removed, then is thresholded.
    """
    g = to_gray(image)
    if g.size == 0:
        raise NoInk("the image is empty")
    border = np.concatenate([g[0], g[-1], g[:, 0], g[:, -1]])
    background = float(np.median(border))
    # A drawing's border is its background, bar where a stroke crosses it; a photo's drifts with the light.
    flat_border = float(np.mean(np.abs(border - background) < 0.03))
    if flat_border < 0.5 or _noise(g) > 0.015:
        return _photo_ink(1.0 - g if _dark_ink(g) else g)
    if background > 0.5:  # dark ink on light paper
        g, background = 1.0 - g, 1.0 - background
    return np.clip((g - background) / max(1e-6, 1.0 - background), 0.0, 1.0)


def _dark_ink(g: np.ndarray) -> bool:
    """Whether a photo's ink is darker than its paper: the strongest departures from the local paper
    level (a median over ~1/12 of the short side) go down, not up. The border cannot tell when a desk,
    a shadow or a dark board fills it."""
    u8 = (np.clip(g, 0, 1) * 255).astype(np.uint8)
    k = max(15, min(g.shape) // 12) | 1
    residual = u8.astype(np.int16) - cv2.medianBlur(u8, min(k, 255))
    return -float(np.percentile(residual, 0.05)) > float(np.percentile(residual, 99.95))  # ink can be 0.2% of it


def has_ink(image: np.ndarray | Image.Image, min_fraction: float = 0.0002) -> bool:
    """Whether there is enough ink to look at (more than a few stray pixels)."""
    try:
        ink = ink_map(image)
    except NoInk:
        return False
    return _enough_ink(ink, min_fraction)


def _enough_ink(ink: np.ndarray, min_fraction: float = 0.0002) -> bool:
    return ink.size > 0 and ink.max() >= 0.1 and (ink > 0.2 * ink.max()).sum() >= max(3, min_fraction * ink.size)


# ---------------------------------------------------------------- plausibility
def shape_of(mask: np.ndarray) -> dict[str, float]:
    """Scale-free shape of the ink (cropped boolean mask), measured at 64 px on the long side.

    length: long side over stroke width (stroke width ~ 2 area / boundary); a dot is ~2, a digit 5+.
    aspect: height over width. fill: the share of its box the ink covers.
    """
    h, w = mask.shape
    s = 64 / max(h, w)
    m = np.asarray(Image.fromarray(mask.astype(np.uint8) * 255).resize(
        (max(1, round(w * s)), max(1, round(h * s))), Image.Resampling.BOX)) >= 128
    area = int(m.sum())
    if area == 0:
        return {"length": 0.0, "aspect": h / w, "fill": 0.0}
    p = np.pad(m, 1)
    inner = p[1:-1, 1:-1] & p[:-2, 1:-1] & p[2:, 1:-1] & p[1:-1, :-2] & p[1:-1, 2:]
    boundary = max(1, area - int(inner.sum()))
    return {"length": max(m.shape) / (2 * area / boundary), "aspect": h / w, "fill": area / m.size}


MIN_LENGTH = 2.8  # a digit's strokes run several widths long; a click or short dash does not
MIN_ASPECT = 0.45  # MNIST digits are never much wider than tall; a dash is
MAX_FILL = 0.8  # ink over most of a box that is not narrow is a scribble or a blot (MNIST: <= 0.73)
SOLID_FILL = 0.9  # a round dot or a short dash fills at most ~0.8 of its box (a circle: pi/4); a filled patch ~1


def check_digit(mask: np.ndarray, frame: tuple[int, int] | None = None) -> None:
    """Raise NotADigit when the cropped ink `mask` cannot be a digit; the message can be shown as it is.

    `frame`, the whole image's (H, W), only picks the words: a dot is small in its frame, a blot is not.
    """
    f = shape_of(mask)
    big = frame is not None and max(mask.shape) >= min(frame) / 3
    solid = f["fill"] > SOLID_FILL  # a filled patch is a blot, not "too little ink", however small its frame share
    if f["length"] < MIN_LENGTH and not big and not solid:
        raise NotADigit("that doesn't look like a digit: too little ink (a dot or a dash); draw the whole digit, large")
    if f["aspect"] < MIN_ASPECT:
        raise NotADigit("that doesn't look like a digit: it is much wider than tall (a dash?); "
                        "draw one digit, upright")
    if f["length"] < MIN_LENGTH or (f["fill"] > MAX_FILL and f["aspect"] < 2.0):
        raise NotADigit("that doesn't look like a digit: the ink covers most of its area (a scribble or a blot); "
                        "clear and draw one digit with a single stroke width")


# ---------------------------------------------------------------- MNIST style
def mnist_style(image: np.ndarray | Image.Image) -> np.ndarray:
    """Any digit image -> (28, 28) float32 in [0, 1], white ink on black, as MNIST's digits are.

    Raises NoInk (nothing drawn) or NotADigit (ink that cannot be a digit).
    """
    ink = ink_map(image)
    if not _enough_ink(ink):
        raise NoInk("no digit found: the image has no ink (draw or upload a digit)")
    mask = ink > 0.2 * ink.max()
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    crop = ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    check_digit(mask[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1], ink.shape)
    return _fit(_even_stroke(crop))


MNIST_STROKE = 2.8  # MNIST's median stroke width, in px of the 20-px box its digits fill (bench/README.md)
THIN_STROKE = 1.7  # below all but ~3% of MNIST digits: a ballpoint or pencil line on a large photo


def stroke_width(mask: np.ndarray) -> float:
    """The ink's mean stroke width in px: twice its area over its outline's length (a stroke of width w
    and length L has area wL and an outline of ~2L)."""
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
    outline = sum(cv2.arcLength(c, True) for c in contours)
    return 2 * float(mask.sum()) / max(outline, 1.0)


def _even_stroke(crop: np.ndarray) -> np.ndarray:
    """A thin-pen digit redrawn at MNIST's stroke width: a hairline would shrink to a faint 1 px line at
    28x28, which models trained on MNIST's 2-3 px strokes misread. Strokes of MNIST width stay as they are."""
    side = max(crop.shape)
    width = stroke_width(crop > 0.2 * crop.max()) * BOX / side
    grow = int(round((MNIST_STROKE - width) * side / BOX))  # px to add across a stroke, at the crop's scale
    if width >= THIN_STROKE or grow < 2:
        return crop
    pad = grow // 2 + 1
    grown = cv2.dilate(np.pad(crop.astype(np.float32), pad), cv2.getStructuringElement(cv2.MORPH_ELLIPSE,
                                                                                        (grow | 1, grow | 1)))
    mask = grown > 0.2 * grown.max()
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    return grown[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]


def _fit(crop: np.ndarray) -> np.ndarray:
    """Cropped ink -> longest side 20 px in a 28x28 field, centre of mass at the centre."""
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
