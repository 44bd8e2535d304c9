"""Photos of handwritten digits on paper, made here: varied pens, papers, light, shadows, rotation, size.

    .venv/bin/python -m bench.photos --checkpoint runs/checkpoints/run-1.pt [--checkpoint ...] [--side 4000]

Each photo redraws an MNIST test digit the way a person writes it: its strokes thinned to a centre line
and drawn again with a pen (a ballpoint hairline, a pencil, a marker, chalk), on a page (plain, ruled,
squared, a chalkboard), lit unevenly, with a shadow or a desk edge, noise and JPEG compression, some
rotated by EXIF. `photo(kind, digit, side)` returns the file's bytes; tests use small sides, this
script 4,000 px (12 megapixels). It prints and writes (bench/results/photos.json) per category and
model how many were read right, and the preprocessing time of a 12-megapixel photo.
"""
from __future__ import annotations

import argparse
import io
import json
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

KINDS = ("ballpoint", "pencil-ruled", "squared", "marker-shadow-edge", "chalkboard", "small-corner",
         "exif-rotated", "dim-noisy")
DIGITS = (0, 1, 2, 3, 4, 7, 8, 11, 18, 61)  # MNIST test indices: digits 7 2 1 0 4 9 5 6 3 8
RESULTS = Path(__file__).resolve().parent / "results"


THIN_SIDE = 280  # the centre line is found at this size, then scaled up: thinning is per pixel


def _thin(img: np.ndarray) -> np.ndarray:
    """Zhang-Suen thinning of a 0/1 image to 1-px lines that keep its topology (no spurs or holes)."""
    img = np.pad(img.astype(np.uint8), 1)
    while True:
        changed = False
        for step in (0, 1):
            p = [np.roll(np.roll(img, -dy, 0), -dx, 1) for dy, dx in
                 ((-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1))]  # P2..P9
            b = sum(p)
            a = sum((p[k] == 0) & (p[(k + 1) % 8] == 1) for k in range(8))
            c1 = p[0] * p[2] * (p[4] if step == 0 else p[6])
            c2 = (p[2] if step == 0 else p[0]) * p[4] * p[6]
            drop = (img == 1) & (b >= 2) & (b <= 6) & (a == 1) & (c1 == 0) & (c2 == 0)
            if drop.any():
                img[drop] = 0
                changed = True
        if not changed:
            return img[1:-1, 1:-1]


def centre_line(digit: np.ndarray, size: int) -> np.ndarray:
    """The digit's strokes thinned to their centre line, as a `size` px mask (lines ~size/THIN_SIDE thick)."""
    big = cv2.GaussianBlur(cv2.resize(digit, (THIN_SIDE, THIN_SIDE), interpolation=cv2.INTER_CUBIC), (0, 0), 2)
    skel = _thin(big > 100)
    return (cv2.resize(skel * 255, (size, size), interpolation=cv2.INTER_LINEAR) > 0).astype(np.uint8)


def pen(skel: np.ndarray, width: int) -> np.ndarray:
    """The centre line drawn with a round pen `width` px wide: ink in [0, 1]."""
    w = max(1, int(width))
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (w, w))
    ink = cv2.dilate(skel, disc).astype(np.float32)
    return cv2.GaussianBlur(ink, (0, 0), max(0.5, w / 6))


def _page(h: int, w: int, rng: np.random.Generator, kind: str) -> np.ndarray:
    """RGB float paper in [0, 1] with the kind's ruling."""
    paper = np.ones((h, w, 3), np.float32) * np.array([0.93, 0.92, 0.88], np.float32)
    step = max(8, h // 28)
    if kind == "pencil-ruled":
        for y in range(step, h, step):
            cv2.line(paper, (0, y), (w, y), (0.85, 0.75, 0.55), max(1, h // 900))  # blue lines, BGR as RGB
        cv2.line(paper, (w // 8, 0), (w // 8, h), (0.6, 0.6, 0.95), max(1, h // 700))  # the margin
    if kind == "squared":
        for y in range(step, h, step):
            cv2.line(paper, (0, y), (w, y), (0.75, 0.8, 0.9), max(1, h // 1000))
        for x in range(step, w, step):
            cv2.line(paper, (x, 0), (x, h), (0.75, 0.8, 0.9), max(1, h // 1000))
    if kind == "chalkboard":
        paper = np.ones((h, w, 3), np.float32) * np.array([0.13, 0.2, 0.16], np.float32)
        paper += rng.normal(0, 0.03, (h, w, 1)).astype(np.float32)  # the board's grain
    return paper


def _light(h: int, w: int, rng: np.random.Generator, strength: float) -> np.ndarray:
    """A smooth light falloff across the page (a lamp to one side)."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    ang = rng.uniform(0, 2 * np.pi)
    ramp = (np.cos(ang) * xx / w + np.sin(ang) * yy / h)
    ramp = (ramp - ramp.min()) / max(1e-6, np.ptp(ramp))
    return (1 - strength * ramp)[..., None]


def photo(kind: str, digit: np.ndarray, side: int = 1600, seed: int = 0) -> bytes:
    """One photo (JPEG bytes) of `digit` (28x28 uint8, white on black) written as `kind` says."""
    rng = np.random.default_rng(seed)
    h, w = side, side * 3 // 4
    page = _page(h, w, rng, kind)
    size = int(h * (0.18 if kind == "small-corner" else rng.uniform(0.45, 0.6)))
    width = {"ballpoint": h / 1000, "pencil-ruled": h / 700, "marker-shadow-edge": h / 60, "chalkboard": h / 120}
    stroke = width.get(kind, h / 250)
    ink = pen(centre_line(digit, size), stroke)
    if kind == "small-corner":
        top, left = int(h * 0.06), int(w * 0.06)
    else:
        top, left = (h - size) // 2 + int(rng.integers(-h // 12, h // 12)), (w - size) // 2
    colour = {"ballpoint": (0.15, 0.2, 0.6), "pencil-ruled": (0.45, 0.45, 0.47), "chalkboard": (0.92, 0.92, 0.9)}
    c = np.array(colour.get(kind, (0.08, 0.08, 0.1)), np.float32)
    region = page[top:top + size, left:left + size]
    alpha = ink[..., None] * (0.75 if kind == "pencil-ruled" else 1.0)
    region[:] = region * (1 - alpha) + c * alpha
    if kind == "marker-shadow-edge":
        yy, xx = np.mgrid[0:h, 0:w]
        shadow = 1 - 0.45 * (1 / (1 + np.exp(-(xx - w * 0.55 + 0.3 * yy) / (w * 0.03))))  # a hand's shadow
        page *= shadow[..., None].astype(np.float32)
        page[:, : w // 14] = np.array([0.25, 0.18, 0.12], np.float32)  # the desk beyond the page's edge
    page *= _light(h, w, rng, 0.15 if kind == "chalkboard" else 0.35)
    noise = 0.06 if kind == "dim-noisy" else 0.015
    if kind == "dim-noisy":
        page *= 0.45
    page += rng.normal(0, noise, page.shape).astype(np.float32)
    rgb = (np.clip(page, 0, 1) * 255).astype(np.uint8)
    im = Image.fromarray(rgb)
    buf = io.BytesIO()
    if kind == "exif-rotated":  # the camera held sideways: pixels stored turned, EXIF says how to turn back
        exif = Image.Exif()
        exif[0x0112] = 6
        im.transpose(Image.Transpose.ROTATE_90).save(buf, format="JPEG", quality=85, exif=exif)
    else:
        im.save(buf, format="JPEG", quality=70 if kind == "dim-noisy" else 85)
    return buf.getvalue()


def first_of_each_class(per_class: int) -> list[int]:
    """The first `per_class` MNIST test digits of each class (no choosing the easy ones)."""
    from playground.data import load_dataset

    labels = load_dataset("mnist").test_y.tolist()
    return sorted(i for c in range(10) for i in [j for j, y in enumerate(labels) if y == c][:per_class])


def photo_set(side: int, digits: list[int] | tuple[int, ...] = DIGITS) -> list[tuple[str, int, bytes]]:
    """(kind, true label, JPEG bytes) for every kind and digit."""
    from playground.data import load_dataset

    ds = load_dataset("mnist")
    return [(kind, int(ds.test_y[i]), photo(kind, ds.test_x[i, 0].numpy(), side, seed=k * 100 + i))
            for k, kind in enumerate(KINDS) for i in digits]


def main() -> None:
    from playground.inference import load_checkpoint, predict_digits
    from playground.preprocess import NoInk, load_image, mnist_style

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", action="append", required=True)
    ap.add_argument("--side", type=int, default=4000)
    ap.add_argument("--per-class", type=int, default=3, help="digits of each class per kind of photo")
    args = ap.parse_args()
    chosen = first_of_each_class(args.per_class)
    photos = photo_set(args.side, chosen)
    seconds, digits = [], []
    for _, _, data in photos:
        t0 = time.perf_counter()
        try:
            digits.append(mnist_style(load_image(data)))
        except NoInk:  # NotADigit included: counted as wrong
            digits.append(None)
        seconds.append(time.perf_counter() - t0)
    out = {"side": args.side, "digits": len(chosen), "megapixels": round(args.side * args.side * 3 / 4 / 1e6, 1),
           "seconds_per_photo": {"median": round(float(np.median(seconds)), 3), "max": round(max(seconds), 3)},
           "photos": len(photos), "models": {}}
    import torch

    from playground.data import load_dataset

    ds = load_dataset("mnist")
    for path in args.checkpoint:
        model = load_checkpoint(path)
        idx = torch.as_tensor(chosen)
        clean = predict_digits(model, ds.test_x[idx, 0].numpy() / 255.0).argmax(1) == ds.test_y[idx].numpy()
        per_kind: dict[str, list[int]] = {"the same digits, clean 28x28": [int(c) for c in clean]}
        for (kind, label, _), digit in zip(photos, digits, strict=True):
            right = digit is not None and int(predict_digits(model, digit[None])[0].argmax()) == label
            per_kind.setdefault(kind, []).append(int(right))
        name = f"{model.config.model.arch} ({Path(path).name})"
        photos_only = [v for k, v in per_kind.items() if k in KINDS]
        out["models"][name] = {"all photos": round(float(np.mean(sum(photos_only, []))), 3),
                               **{k: f"{sum(v)}/{len(v)}" for k, v in per_kind.items()}}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "photos.json").write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
