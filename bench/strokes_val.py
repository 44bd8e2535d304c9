"""A third writer: the VALIDATION set for the "digit or not" CNN (bench/not_a_digit.py).

Every choice in training the CNN (data, epochs, threshold checks) is made on these drawings and on held-out
MNIST digits; bench/strokes.py's two writers (the original and the fresh one) are the test, measured once at the
end. Nothing here is trained on either: it only measures. Its own glyph shapes (not bench/strokes.py's), its own
hand (pen widths, sizes, slant, a lead-in tick, a wavy wobble, pen lifts) and its own seeds (VAL_SEED).
"""
from __future__ import annotations

import cv2
import numpy as np

from playground.preprocess import NotADigit, mnist_style

CANVAS = 280
VAL_SEED = 7_301
VAL_LETTERS, VAL_DIGITS = 20, 40  # drawings of each glyph


def _ell(cx: float, cy: float, rx: float, ry: float, start: float, end: float, n: int = 14) -> list:
    """Points on an ellipse from `start` to `end` degrees (0 = right, 90 = down)."""
    t = np.radians(np.linspace(start, end, n))
    return [(float(x), float(y)) for x, y in zip(cx + rx * np.cos(t), cy + ry * np.sin(t), strict=True)]


# The same 26 letters as bench/strokes.py (none a person reads as a digit), in this writer's own shapes.
LETTERS: dict[str, list] = {
    "A": [[[(0.1, 1), (0.5, 0.05), (0.9, 1)], [(0.3, 0.65), (0.75, 0.62)]],
          [[(0.15, 1), (0.45, 0), (0.55, 0), (0.85, 1)], [(0.25, 0.5), (0.75, 0.5)]]],
    "C": [[_ell(0.55, 0.5, 0.45, 0.5, -40, -320, 16)], [[(0.85, 0.05), (0.15, 0.1), (0.15, 0.9), (0.85, 0.95)]]],
    "E": [[[(0.85, 0.05), (0.15, 0), (0.1, 1), (0.85, 0.95)], [(0.12, 0.5), (0.6, 0.5)]],
          [[(0.9, 0), (0.1, 0), (0.1, 0.5), (0.6, 0.5), (0.1, 0.5), (0.1, 1), (0.9, 1)]]],
    "F": [[[(0.2, 1), (0.2, 0), (0.9, 0)], [(0.2, 0.45), (0.65, 0.45)]]],
    "H": [[[(0.15, 0), (0.15, 1)], [(0.15, 0.55), (0.85, 0.45)], [(0.85, 0), (0.85, 1)]],
          [[(0.1, 0), (0.1, 1), (0.1, 0.5), (0.9, 0.5), (0.9, 0), (0.9, 1)]]],
    "K": [[[(0.2, 0), (0.2, 1)], [(0.8, 0.05), (0.22, 0.5), (0.85, 0.95)]],
          [[(0.2, 0), (0.2, 1)], [(0.8, 0), (0.2, 0.5)], [(0.2, 0.5), (0.9, 1)]]],
    "L": [[[(0.2, 0), (0.15, 1), (0.85, 0.95)]], [[(0.25, 0), (0.25, 1)], [(0.25, 1), (0.9, 1)]]],
    "M": [[[(0.05, 1), (0.15, 0), (0.5, 0.55), (0.85, 0), (0.95, 1)]],
          [[(0.1, 1), (0.1, 0)], [(0.1, 0), (0.5, 0.6), (0.9, 0)], [(0.9, 0), (0.9, 1)]]],
    "N": [[[(0.15, 1), (0.15, 0), (0.85, 1), (0.85, 0)]], [[(0.15, 1), (0.2, 0), (0.8, 1), (0.85, 0)]]],
    "P": [[[(0.2, 1), (0.2, 0)] + _ell(0.2, 0.25, 0.6, 0.25, -90, 90, 10)],
          [[(0.2, 0), (0.2, 1)], [(0.2, 0)] + _ell(0.45, 0.25, 0.35, 0.25, -90, 90, 10) + [(0.2, 0.5)]]],
    "R": [[[(0.2, 1), (0.2, 0)] + _ell(0.2, 0.27, 0.6, 0.27, -90, 90, 10) + [(0.85, 1)]],
          [[(0.2, 0), (0.2, 1)], [(0.2, 0), (0.75, 0.05), (0.75, 0.45), (0.2, 0.5), (0.85, 1)]]],
    "T": [[[(0.05, 0.05), (0.95, 0.05)], [(0.5, 0.05), (0.5, 1)]], [[(0.1, 0), (0.9, 0)], [(0.55, 0), (0.45, 1)]]],
    "U": [[[(0.15, 0)] + _ell(0.5, 0.65, 0.35, 0.35, 180, 0, 12) + [(0.85, 0)]],
          [[(0.15, 0), (0.15, 0.8), (0.3, 1), (0.7, 1), (0.85, 0.8), (0.85, 0)]]],
    "V": [[[(0.05, 0), (0.5, 1), (0.95, 0)]], [[(0.1, 0), (0.45, 1)], [(0.45, 1), (0.9, 0)]]],
    "W": [[[(0, 0), (0.25, 1), (0.5, 0.4), (0.75, 1), (1, 0)]], [[(0, 0), (0.3, 1), (0.5, 0), (0.7, 1), (1, 0)]]],
    "X": [[[(0.05, 0), (0.95, 1)], [(0.95, 0), (0.05, 1)]], [[(0.9, 0), (0.1, 1)], [(0.1, 0), (0.9, 1)]]],
    "Y": [[[(0.05, 0), (0.5, 0.45)], [(0.95, 0), (0.5, 0.45), (0.5, 1)]],
          [[(0.1, 0), (0.5, 0.5), (0.9, 0)], [(0.5, 0.5), (0.45, 1)]]],
    "a": [[_ell(0.45, 0.55, 0.35, 0.4, 0, 360, 16), [(0.8, 0.2), (0.8, 1)]],
          [_ell(0.5, 0.6, 0.35, 0.35, -30, -390, 16) + [(0.85, 0.95)]]],
    "e": [[[(0.1, 0.5), (0.85, 0.45)] + _ell(0.5, 0.5, 0.38, 0.45, -10, -320, 14)]],
    "h": [[[(0.2, 0), (0.2, 1)], [(0.2, 0.55), (0.5, 0.4), (0.8, 0.55), (0.8, 1)]],
          [[(0.15, 0), (0.15, 1), (0.15, 0.6)] + _ell(0.5, 0.6, 0.35, 0.2, 180, 360, 8) + [(0.85, 1)]]],
    "k": [[[(0.2, 0), (0.2, 1)], [(0.85, 0.35), (0.2, 0.68)], [(0.4, 0.58), (0.85, 1)]]],
    "m": [[[(0.05, 1), (0.05, 0.25)] + _ell(0.27, 0.4, 0.22, 0.18, 180, 360, 6) + [(0.5, 1)],
           [(0.5, 0.4)] + _ell(0.72, 0.4, 0.22, 0.18, 180, 360, 6) + [(0.95, 1)]],
          [[(0.05, 1), (0.05, 0.1), (0.05, 0.35), (0.25, 0.1), (0.5, 0.35), (0.5, 1), (0.5, 0.35), (0.75, 0.1),
            (0.95, 0.35), (0.95, 1)]]],
    "n": [[[(0.15, 0.05), (0.15, 1), (0.15, 0.4)] + _ell(0.5, 0.4, 0.35, 0.3, 180, 360, 8) + [(0.85, 1)]]],
    "r": [[[(0.2, 0.1), (0.2, 1)], [(0.2, 0.5), (0.45, 0.15), (0.85, 0.1)]]],
    "t": [[[(0.5, 0), (0.5, 1)], [(0.15, 0.3), (0.85, 0.3)]],
          [[(0.4, 0), (0.4, 0.85), (0.55, 1), (0.8, 0.9)], [(0.1, 0.3), (0.8, 0.3)]]],
    "y": [[[(0.1, 0), (0.5, 0.55)], [(0.9, 0), (0.35, 1)]],
          [[(0.15, 0), (0.15, 0.4), (0.5, 0.55), (0.85, 0.4)], [(0.85, 0), (0.85, 0.85), (0.5, 1), (0.2, 0.9)]]],
}
DIGITS: dict[str, list] = {
    "0": [[_ell(0.5, 0.5, 0.35, 0.5, -80, 285, 22)], [_ell(0.5, 0.5, 0.45, 0.5, -120, 245, 22)]],
    "1": [[[(0.5, 0), (0.47, 1)]], [[(0.25, 0.25), (0.55, 0), (0.5, 1)]], [[(0.6, 0), (0.4, 1)]]],
    "2": [[_ell(0.5, 0.3, 0.4, 0.3, 180, 380, 10) + [(0.1, 1), (0.9, 1)]],
          [_ell(0.5, 0.3, 0.4, 0.3, 200, 360, 8) + [(0.15, 0.95), (0.9, 0.95)]]],
    "3": [[_ell(0.5, 0.25, 0.35, 0.25, 210, 450, 10) + _ell(0.5, 0.74, 0.4, 0.26, -90, 150, 10)],
          [[(0.15, 0), (0.8, 0), (0.45, 0.4)] + _ell(0.5, 0.7, 0.4, 0.3, -90, 160, 10)]],
    "4": [[[(0.55, 0), (0.1, 0.65), (0.9, 0.65)], [(0.65, 0.35), (0.65, 1)]],
          [[(0.15, 0), (0.15, 0.55), (0.85, 0.55)], [(0.75, 0.05), (0.75, 1)]]],
    "5": [[[(0.85, 0), (0.25, 0), (0.2, 0.45)] + _ell(0.45, 0.68, 0.4, 0.32, -110, 150, 10)],
          [[(0.25, 0), (0.2, 0.45)] + _ell(0.45, 0.7, 0.4, 0.3, -110, 150, 10), [(0.25, 0), (0.85, 0)]]],
    "6": [[[(0.75, 0), (0.3, 0.35), (0.15, 0.7)] + _ell(0.5, 0.72, 0.35, 0.28, 180, 530, 16)],
          [_ell(0.8, 0.6, 0.65, 0.6, -90, -170, 8) + _ell(0.5, 0.72, 0.33, 0.28, 190, 540, 16)]],
    "7": [[[(0.05, 0), (0.95, 0), (0.4, 1)]], [[(0.1, 0), (0.9, 0), (0.55, 0.5), (0.45, 1)]],
          [[(0.05, 0.05), (0.95, 0), (0.35, 1)], [(0.3, 0.5), (0.75, 0.5)]]],
    "8": [[_ell(0.5, 0.25, 0.3, 0.25, 90, 450, 16) + _ell(0.5, 0.74, 0.36, 0.26, -90, 270, 16)],
          [[(0.8, 0.1), (0.5, 0), (0.2, 0.15), (0.8, 0.8), (0.5, 1), (0.2, 0.8), (0.8, 0.15)]]],
    "9": [[_ell(0.5, 0.3, 0.35, 0.3, 0, -360, 18) + [(0.85, 0.3), (0.85, 1)]],
          [_ell(0.5, 0.3, 0.35, 0.3, 10, -350, 18) + [(0.6, 1)]]],
}


def _hand(strokes: list, rng: np.random.Generator, pen: int) -> list[np.ndarray]:
    """This writer's hand: its sizes, slant and rotation; a lead-in tick, a wavy wobble, a pen lifted off."""
    height = rng.uniform(100, 270)
    width = height * rng.uniform(0.45, 1.15)
    angle, slant = np.radians(rng.uniform(-20, 20)), rng.uniform(-0.3, 0.45)
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    out = []
    for stroke in strokes:
        p = np.asarray(stroke, dtype=np.float64)
        if rng.random() < 0.3:  # a tick where the pen comes down
            p = np.vstack([p[:1] + rng.normal(0, 0.05, 2), p])
        p[-1] = p[-1] + (p[-1] - p[-2]) * rng.uniform(-0.08, 0.12)
        dense = [p[0]]
        for a, b in zip(p[:-1], p[1:], strict=True):  # a point every ~8 px
            n = max(1, int(np.hypot(*(b - a)) * 12))
            dense.extend(a + (b - a) * t for t in np.linspace(0, 1, n + 1)[1:])
        q = np.array(dense) - 0.5 + rng.normal(0, 0.025, 2)
        s = np.linspace(0, 1, len(q))[:, None]
        q += rng.uniform(0, 0.025) * np.sin(2 * np.pi * (rng.uniform(0.5, 3) * s + rng.uniform(0, 1, 2)))
        q[:, 0] += slant * -q[:, 1]
        out.append(q * [width, height] @ rot.T)
    allp = np.concatenate(out)
    lo, hi = allp.min(0) - pen, allp.max(0) + pen
    shift = -lo + rng.uniform(0, 1, 2) * np.maximum(CANVAS - (hi - lo), 0)
    return [q + shift for q in out]


def drawn(glyphs: dict[str, list], per_glyph: int, seed: int) -> tuple[np.ndarray, list[str]]:
    """`per_glyph` drawings of each glyph by this writer, read as Draw reads a canvas (refused ones left out)."""
    rng = np.random.default_rng(seed)
    images, names = [], []
    for name, variants in glyphs.items():
        for i in range(per_glyph):
            pen = int(rng.choice((8, 18, 28))) if rng.random() < 0.6 else int(rng.integers(5, 35))
            canvas = np.zeros((CANVAS, CANVAS), np.uint8)
            for q in _hand(variants[i % len(variants)], rng, pen):
                lifted = rng.random() < 0.1 and len(q) > 6  # the pen lifts off for a moment mid-stroke
                cut = int(rng.integers(2, len(q) - 2)) if lifted else len(q)
                for part in (q[:cut], q[cut:]) if lifted else (q,):
                    cv2.polylines(canvas, [np.round(part).astype(np.int32).reshape(-1, 1, 2)], False, 255,
                                  thickness=pen, lineType=cv2.LINE_AA)
            try:
                images.append(mnist_style(canvas))
            except NotADigit:
                continue
            names.append(name)
    return np.array(images), names


def val_letters(per_glyph: int = VAL_LETTERS) -> tuple[np.ndarray, list[str]]:
    return drawn(LETTERS, per_glyph, VAL_SEED)


def val_digits(per_glyph: int = VAL_DIGITS) -> tuple[np.ndarray, list[str]]:
    return drawn(DIGITS, per_glyph, VAL_SEED + 1)
