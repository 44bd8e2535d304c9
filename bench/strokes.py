"""Digits and letters drawn with a mouse, rendered from strokes: polylines in a unit box, jittered as a hand
jitters them (size, place, slant, rotation, aspect, wobble), drawn with a round pen of the Draw page's widths
on its 280x280 black canvas, then read through mnist_style as the page reads a canvas.

Used by bench/novelty.py (how many drawn letters the "unlike digits" check flags, and how many drawn digits)
and by tests/test_novelty.py (a few of each, deterministic).
"""
from __future__ import annotations

from typing import NamedTuple

import cv2
import numpy as np

from playground.preprocess import NotADigit, mnist_style

CANVAS = 280
PENS = (8, 18, 28)  # px: the Draw page's thin, medium and thick pens (ui/draw_input.BRUSHES)


def _arc(cx: float, cy: float, rx: float, ry: float, start: float, end: float, n: int = 16) -> list:
    """Points on an ellipse from angle `start` to `end` (degrees, 0 = right, 90 = down: image y grows down)."""
    t = np.radians(np.linspace(start, end, n))
    return list(zip(cx + rx * np.cos(t), cy + ry * np.sin(t), strict=True))


# Each glyph: variants, each a list of strokes, each a list of (x, y) in [0, 1] (y down), as a person draws it.
DIGITS: dict[str, list[list[list]]] = {
    "0": [[_arc(0.5, 0.5, 0.38, 0.5, -90, 275, 24)], [_arc(0.5, 0.5, 0.3, 0.5, -100, 265, 24)]],
    "1": [[[(0.5, 0), (0.5, 1)]], [[(0.3, 0.2), (0.55, 0), (0.55, 1)]], [[(0.55, 0), (0.45, 1)]]],
    "2": [[_arc(0.5, 0.28, 0.38, 0.28, 190, 370, 10) + [(0.05, 1), (0.95, 1)]],
          [_arc(0.45, 0.3, 0.35, 0.3, 200, 380, 10) + [(0.1, 0.95), (0.5, 0.9), (0.95, 1)]]],
    "3": [[_arc(0.45, 0.25, 0.38, 0.25, 200, 450, 12) + _arc(0.45, 0.74, 0.45, 0.26, -90, 160, 12)],
          [[(0.1, 0.05), (0.85, 0.05), (0.4, 0.45)] + _arc(0.45, 0.72, 0.45, 0.28, -90, 160, 12)]],
    "4": [[[(0.6, 0), (0.05, 0.65), (0.95, 0.65)], [(0.7, 0.3), (0.7, 1)]],
          [[(0.1, 0), (0.1, 0.6), (0.9, 0.6)], [(0.72, 0), (0.72, 1)]]],
    "5": [[[(0.85, 0), (0.2, 0), (0.15, 0.45)] + _arc(0.45, 0.7, 0.42, 0.3, -120, 150, 12)],
          [[(0.2, 0), (0.15, 0.45)] + _arc(0.45, 0.7, 0.42, 0.3, -120, 150, 12), [(0.2, 0), (0.9, 0)]]],
    "6": [[_arc(0.75, 0.55, 0.6, 0.55, -90, -180, 8) + _arc(0.5, 0.72, 0.35, 0.28, 180, 540, 20)],
          [[(0.7, 0), (0.25, 0.5)] + _arc(0.5, 0.72, 0.32, 0.28, 200, 560, 20)]],
    "7": [[[(0.05, 0), (0.95, 0), (0.35, 1)]],
          [[(0.05, 0.1), (0.1, 0), (0.95, 0), (0.4, 1)], [(0.3, 0.5), (0.8, 0.5)]]],
    "8": [[_arc(0.5, 0.25, 0.3, 0.25, 90, 450, 18) + _arc(0.5, 0.74, 0.38, 0.26, -90, 270, 18)],
          [_arc(0.5, 0.26, 0.32, 0.26, 0, 360, 18), _arc(0.5, 0.75, 0.4, 0.25, 0, 360, 18)]],
    "9": [[_arc(0.5, 0.28, 0.38, 0.28, 0, -360, 20) + [(0.88, 0.3), (0.8, 1)]],
          [_arc(0.45, 0.28, 0.38, 0.28, 20, -340, 20) + [(0.75, 1)]]],
}

# Letters a digit-reader cannot mistake for a digit as drawn: not O/D/Q (0), I/l (1), Z (2), S (5), G/b (6),
# B (8), g/q (9), which a person would read as those digits too.
LETTERS: dict[str, list[list[list]]] = {
    "A": [[[(0, 1), (0.5, 0), (1, 1)], [(0.22, 0.6), (0.78, 0.6)]]],
    "C": [[_arc(0.6, 0.5, 0.55, 0.5, -50, -310, 18)]],
    "E": [[[(0.9, 0), (0.1, 0), (0.1, 1), (0.9, 1)], [(0.1, 0.5), (0.7, 0.5)]]],
    "F": [[[(0.9, 0), (0.1, 0), (0.1, 1)], [(0.1, 0.48), (0.7, 0.48)]]],
    "H": [[[(0.1, 0), (0.1, 1)], [(0.9, 0), (0.9, 1)], [(0.1, 0.5), (0.9, 0.5)]]],
    "K": [[[(0.15, 0), (0.15, 1)], [(0.85, 0), (0.15, 0.55), (0.85, 1)]]],
    "L": [[[(0.15, 0), (0.15, 1), (0.85, 1)]]],
    "M": [[[(0, 1), (0.1, 0), (0.5, 0.7), (0.9, 0), (1, 1)]]],
    "N": [[[(0.1, 1), (0.1, 0), (0.9, 1), (0.9, 0)]]],
    "P": [[[(0.15, 1), (0.15, 0)] + _arc(0.15, 0.27, 0.7, 0.27, -90, 90, 12)]],
    "R": [[[(0.15, 1), (0.15, 0)] + _arc(0.15, 0.25, 0.65, 0.25, -90, 90, 12) + [(0.9, 1)]]],
    "T": [[[(0, 0), (1, 0)], [(0.5, 0), (0.5, 1)]]],
    "U": [[[(0.1, 0)] + _arc(0.5, 0.6, 0.4, 0.4, 180, 0, 14) + [(0.9, 0)]]],
    "V": [[[(0, 0), (0.5, 1), (1, 0)]]],
    "W": [[[(0, 0), (0.25, 1), (0.5, 0.3), (0.75, 1), (1, 0)]]],
    "X": [[[(0, 0), (1, 1)], [(1, 0), (0, 1)]]],
    "Y": [[[(0, 0), (0.5, 0.5), (1, 0)], [(0.5, 0.5), (0.5, 1)]]],
    "a": [[_arc(0.45, 0.6, 0.38, 0.38, -20, -380, 18) + [(0.83, 1)]]],
    "e": [[[(0.1, 0.5), (0.9, 0.5)] + _arc(0.5, 0.5, 0.42, 0.48, 0, -300, 16)]],
    "h": [[[(0.15, 0), (0.15, 1)], [(0.15, 0.6)] + _arc(0.5, 0.6, 0.35, 0.25, 180, 360, 8) + [(0.85, 1)]]],
    "k": [[[(0.15, 0), (0.15, 1)], [(0.8, 0.4), (0.15, 0.7), (0.85, 1)]]],
    "m": [[[(0.05, 1), (0.05, 0.3)] + _arc(0.27, 0.45, 0.22, 0.15, 180, 360, 6) + [(0.5, 1)],
           [(0.5, 0.45)] + _arc(0.72, 0.45, 0.22, 0.15, 180, 360, 6) + [(0.95, 1)]]],
    "n": [[[(0.15, 1), (0.15, 0.2)] + _arc(0.5, 0.45, 0.35, 0.3, 180, 360, 8) + [(0.85, 1)]]],
    "r": [[[(0.2, 1), (0.2, 0.1)], [(0.2, 0.45)] + _arc(0.6, 0.4, 0.4, 0.3, 180, 300, 6)]],
    "t": [[[(0.45, 0), (0.45, 0.85)] + _arc(0.65, 0.85, 0.2, 0.15, 180, 90, 5), [(0.1, 0.3), (0.85, 0.3)]]],
    "y": [[[(0.05, 0), (0.5, 0.55)], [(0.95, 0), (0.3, 1)]]],
}


def _jittered(strokes: list, rng: np.random.Generator, pen: int) -> list[np.ndarray]:
    """The glyph's strokes placed on the canvas as a hand would draw them: random size, aspect, slant,
    rotation and place, every point wobbled and the line resampled."""
    height = rng.uniform(120, 250)
    width = height * rng.uniform(0.5, 0.95)
    angle, slant = np.radians(rng.uniform(-12, 12)), rng.uniform(-0.25, 0.25)
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    out = []
    for stroke in strokes:
        p = np.asarray(stroke, dtype=np.float64)
        dense = [p[0]]
        for a, b in zip(p[:-1], p[1:], strict=True):  # resample: a mouse reports a point every few px
            n = max(1, int(np.hypot(*(b - a)) * 25))
            dense.extend(a + (b - a) * t for t in np.linspace(0, 1, n + 1)[1:])
        q = np.array(dense) - 0.5
        q += rng.normal(0, 0.015, q.shape).cumsum(0) * 0.35  # a hand's slow drift along the stroke
        q[:, 0] += slant * -q[:, 1]
        q = q * [width, height] @ rot.T
        out.append(q)
    allp = np.concatenate(out)
    lo, hi = allp.min(0) - pen, allp.max(0) + pen
    room = np.maximum(CANVAS - (hi - lo), 0)
    shift = -lo + rng.uniform(0, 1, 2) * room
    return [q + shift for q in out]


def render(strokes: list, rng: np.random.Generator, pen: int | None = None) -> np.ndarray:
    """One glyph drawn on the 280x280 canvas: (280, 280) uint8, white ink on black."""
    pen = int(rng.choice(PENS)) if pen is None else pen
    canvas = np.zeros((CANVAS, CANVAS), np.uint8)
    for q in _jittered(strokes, rng, pen):
        pts = np.round(q).astype(np.int32).reshape(-1, 1, 2)
        cv2.polylines(canvas, [pts], False, 255, thickness=pen, lineType=cv2.LINE_AA)  # round joins and caps
    return canvas


def drawn(glyphs: dict[str, list], per_glyph: int, seed: int = 0) -> tuple[np.ndarray, list[str]]:
    """`per_glyph` jittered drawings of each glyph (variants in turn), read as the Draw page reads a canvas:
    (N, 28, 28) floats in [0, 1] and each one's glyph. Drawings the page refuses (NotADigit) are left out."""
    rng = np.random.default_rng(seed)
    images, names = [], []
    for name, variants in glyphs.items():
        for i in range(per_glyph):
            try:
                images.append(mnist_style(render(variants[i % len(variants)], rng)))
                names.append(name)
            except NotADigit:
                continue
    return np.array(images), names


# A second writer (issue 29's re-validation): made after the shape check's threshold was fixed, so nothing was
# tuned on what it draws. New shapes for the same letters (and a few digits), drawn by a different hand: its own
# pen widths, sizes, slants and rotations, each stroke put down a little off where it should join, its ends
# overshooting or stopping short, corners rounded by a fast hand, a tremor, and its own seeds (FRESH_SEED).
FRESH_LETTERS: dict[str, list[list[list]]] = {
    "A": [[[(0.05, 1), (0.35, 0), (0.65, 0), (0.95, 1)], [(0.2, 0.6), (0.8, 0.6)]]],  # flat-topped
    "C": [[[(0.9, 0.1), (0.25, 0), (0.05, 0.5), (0.25, 1), (0.9, 0.9)]]],  # angular
    "E": [[[(0.15, 0), (0.15, 1)], [(0.15, 0), (0.9, 0)], [(0.15, 0.5), (0.75, 0.5)], [(0.15, 1), (0.9, 1)]],
          [_arc(0.55, 0.27, 0.4, 0.27, -30, -270, 12) + _arc(0.55, 0.74, 0.45, 0.26, -90, -320, 12)]],  # rounded
    "F": [[[(0.15, 0), (0.15, 1)], [(0.15, 0), (0.9, 0)], [(0.15, 0.45), (0.7, 0.45)]]],
    "H": [[[(0.15, 0), (0.05, 1)], [(0.85, 0), (0.95, 1)], [(0.1, 0.45), (0.9, 0.45)]]],  # splayed
    "K": [[[(0.15, 0), (0.15, 1)], [(0.85, 0), (0.15, 0.6)], [(0.4, 0.45), (0.9, 1)]]],
    "L": [[[(0.2, 0), (0.2, 1)], [(0.2, 1), (0.75, 1)]]],
    "M": [[[(0.05, 1), (0.05, 0), (0.5, 1), (0.95, 0), (0.95, 1)]]],
    "N": [[[(0.1, 0), (0.1, 1)], [(0.1, 0), (0.9, 1)], [(0.9, 1), (0.9, 0)]]],
    "P": [[[(0.2, 1), (0.2, 0), (0.75, 0), (0.9, 0.2), (0.75, 0.42), (0.2, 0.42)]]],
    "R": [[[(0.15, 1), (0.15, 0), (0.7, 0), (0.85, 0.22), (0.7, 0.45), (0.15, 0.45)], [(0.45, 0.45), (0.9, 1)]]],
    "T": [[[(0.5, 0), (0.5, 1)], [(0.05, 0.05), (0.95, 0)]]],  # stem first
    "U": [[[(0.1, 0)] + _arc(0.45, 0.65, 0.35, 0.35, 180, 0, 12) + [(0.8, 0)], [(0.8, 0), (0.85, 1)]]],  # with a stem
    "V": [[[(0.05, 0), (0.45, 0.95), (0.55, 0.95), (0.95, 0)]]],
    "W": [[[(0, 0), (0.2, 1), (0.5, 0), (0.8, 1), (1, 0)]]],
    "X": [[[(0.1, 0), (0.9, 1)], [(0.85, 0.05), (0.2, 0.95)]]],
    "Y": [[[(0, 0), (0.5, 0.5), (0.5, 1)], [(1, 0), (0.5, 0.5)]]],
    "a": [[_arc(0.5, 0.28, 0.35, 0.22, 200, 360, 8) + [(0.85, 0.95), (0.95, 1)],  # two-storey
           [(0.85, 0.55)] + _arc(0.5, 0.75, 0.35, 0.22, -90, -330, 12) + [(0.85, 0.85)]]],
    "e": [[[(0.1, 0.6), (0.8, 0.4)] + _arc(0.5, 0.5, 0.35, 0.4, -40, -320, 14)]],
    "h": [[[(0.15, 0), (0.15, 1), (0.15, 0.65)] + _arc(0.5, 0.65, 0.35, 0.25, 180, 360, 8) + [(0.85, 1)]]],
    "k": [[[(0.15, 0), (0.15, 1)], [(0.75, 0.35), (0.2, 0.7), (0.45, 0.6), (0.85, 1)]]],  # looped
    "m": [[[(0.05, 1), (0.05, 0.2), (0.27, 0.05), (0.5, 0.2), (0.5, 1), (0.5, 0.2), (0.73, 0.05), (0.95, 0.2),
            (0.95, 1)]]],  # one stroke, pointed arches
    "n": [[[(0.15, 0.1), (0.15, 1)], [(0.15, 0.4)] + _arc(0.5, 0.4, 0.35, 0.3, 180, 360, 8) + [(0.85, 1)]]],
    "r": [[[(0.2, 1), (0.2, 0.2), (0.2, 0.5)] + _arc(0.6, 0.45, 0.4, 0.3, 180, 300, 6)]],
    "t": [[[(0.1, 0.3), (0.9, 0.3)], [(0.5, 0), (0.5, 1)]]],  # bar first, no hook
    "y": [[[(0.05, 0), (0.5, 0.5)], [(0.95, 0), (0.45, 0.8)] + _arc(0.3, 0.8, 0.17, 0.2, 0, 160, 6)]],  # tail curls
}
FRESH_DIGITS: dict[str, list[list[list]]] = {
    "1": [[[(0.3, 0.2), (0.55, 0), (0.55, 1)], [(0.3, 1), (0.8, 1)]]],  # with a foot
    "4": [[[(0.65, 0), (0.1, 0.6), (0.9, 0.6)], [(0.65, 0), (0.65, 1)]]],  # closed top
    "7": [[[(0.05, 0), (0.95, 0)] + _arc(-0.15, 0.0, 1.1, 1.0, -5, 70, 8)]],  # a curved stem
    "9": [[_arc(0.45, 0.28, 0.38, 0.28, 0, 360, 20), [(0.85, 0.15), (0.85, 1)]]],  # straight stem, two strokes
}
FRESH_SEED = 20261206


def _fresh_glyphs(old: dict[str, list], new: dict[str, list]) -> dict[str, list]:
    """Every glyph's old shapes and new ones, the new first (so one drawing of each glyph is new)."""
    return {name: new.get(name, []) + variants for name, variants in old.items()}


def _written(strokes: list, rng: np.random.Generator, pen: int) -> list[np.ndarray]:
    """The second writer's hand: the glyph's strokes placed on the canvas with its own ranges and habits."""
    height = rng.uniform(90, 265)
    width = height * rng.uniform(0.4, 1.1)
    angle, slant = np.radians(rng.uniform(-18, 18)), rng.uniform(-0.4, 0.35)
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    out = []
    for stroke in strokes:
        p = np.asarray(stroke, dtype=np.float64)
        ends = rng.uniform(-0.06, 0.1, 2)  # overshoot (> 0) or stop short (< 0), as a share of the end segment
        if len(p) > 1:
            p[0] = p[0] + (p[0] - p[1]) * ends[0]
            p[-1] = p[-1] + (p[-1] - p[-2]) * ends[1]
        dense = [p[0]]
        for a, b in zip(p[:-1], p[1:], strict=True):  # a mouse reporting a point every ~7 px
            n = max(1, int(np.hypot(*(b - a)) * 15))
            dense.extend(a + (b - a) * t for t in np.linspace(0, 1, n + 1)[1:])
        q = np.array(dense)
        k = int(rng.integers(1, 4))  # a fast hand rounds its corners: a moving average over 1-3 points each side
        if len(q) > 2 * k + 1:
            # padded by the stroke mirrored through its ends: a straight stroke keeps its ends and stays straight
            padded = np.concatenate([2 * q[0] - q[k:0:-1], q, 2 * q[-1] - q[-2:-k - 2:-1]])
            q = np.stack([np.convolve(padded[:, i], np.ones(2 * k + 1) / (2 * k + 1), "valid") for i in (0, 1)], 1)
        q = q - 0.5 + rng.normal(0, 0.03, 2)  # the pen put down again a little off the join
        q += rng.normal(0, 0.02, q.shape).cumsum(0) * 0.3 + rng.normal(0, 0.004, q.shape)  # drift and tremor
        q[:, 0] += slant * -q[:, 1]
        out.append(q * [width, height] @ rot.T)
    allp = np.concatenate(out)
    lo, hi = allp.min(0) - pen, allp.max(0) + pen
    room = np.maximum(CANVAS - (hi - lo), 0)
    shift = -lo + rng.uniform(0, 1, 2) * room  # one place for the whole glyph
    return [q + shift for q in out]


class Drawings(NamedTuple):
    """The second writer's drawings as Draw reads them, and how each was drawn."""
    images: np.ndarray  # (N, 28, 28) floats in [0, 1]
    names: list[str]  # each one's glyph
    new: np.ndarray  # (N,) bool: one of the new shapes (FRESH_LETTERS, FRESH_DIGITS), not an old one
    pens: np.ndarray  # (N,) the pen's width in px


def written(glyphs: dict[str, list], per_glyph: int, seed: int = FRESH_SEED,
            new: dict[str, list] | None = None) -> Drawings:
    """`drawn` by the second writer: pens of any width from 6 to 32 px, its own hand (`_written`) and seeds.
    A glyph's first len(new[glyph]) variants count as new shapes."""
    rng = np.random.default_rng(seed)
    images, names, fresh, pens = [], [], [], []
    for name, variants in glyphs.items():
        for i in range(per_glyph):
            pen = int(rng.integers(6, 33))
            canvas = np.zeros((CANVAS, CANVAS), np.uint8)
            for q in _written(variants[i % len(variants)], rng, pen):
                cv2.polylines(canvas, [np.round(q).astype(np.int32).reshape(-1, 1, 2)], False, 255, thickness=pen,
                              lineType=cv2.LINE_AA)
            try:
                images.append(mnist_style(canvas))
            except NotADigit:
                continue
            names.append(name)
            fresh.append(i % len(variants) < len((new or {}).get(name, [])))
            pens.append(pen)
    return Drawings(np.array(images), names, np.array(fresh, bool), np.array(pens))


def fresh_letters(per_glyph: int = 20) -> Drawings:
    """The re-validation's drawn letters: the same 26 letters, new shapes and old, by the second writer."""
    return written(_fresh_glyphs(LETTERS, FRESH_LETTERS), per_glyph, FRESH_SEED, FRESH_LETTERS)


def fresh_digits(per_glyph: int = 40) -> Drawings:
    """The re-validation's drawn digits, by the same second writer."""
    return written(_fresh_glyphs(DIGITS, FRESH_DIGITS), per_glyph, FRESH_SEED + 1, FRESH_DIGITS)
