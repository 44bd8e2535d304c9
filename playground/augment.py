"""Data augmentation of training batches: each image gets its own random shift (CIFAR: a crop of the image
padded by 4 px, and a horizontal flip half the time; MNIST: up to 2 px and a turn of up to 10 degrees), as
one affine warp per batch (torch's affine_grid + grid_sample: one batched op with per-image parameters;
torchvision's v2 transforms draw one parameter set per call, the same for the whole batch).

The draws come from the run's own CPU generator (seed + AUGMENT_SEED_OFFSET): a run repeats, its weights and
batch order stay what they are without augmentation, and `first_batch` shows exactly what the first step
trained on (engine/batches.py). Validation, test and the training-accuracy probe see the images as they are.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .config import RunConfig

AUGMENT_SEED_OFFSET = 7919  # the augmentation stream is the run's seed plus this: its own, never shared


@dataclass(frozen=True)
class Policy:
    shift: int  # at most this many pixels each way (a crop of the image padded by `shift`, zeros outside)
    turn: float  # at most this many degrees either way
    flip: bool  # left-right, half the time (a bird flies either way; a mirrored 3 is not a 3)


POLICIES = {"cifar2": Policy(4, 0.0, True), "mnist": Policy(2, 10.0, False)}


def warp(x: torch.Tensor, draws: torch.Tensor, shift: int, turn: float, flip: bool) -> torch.Tensor:
    """uint8 (B, C, H, W) and uniform draws (B, 4) in [0, 1) -> float (B, C, H, W) in [0, 255]: each image
    shifted by whole pixels, turned and flipped as its row of draws says, zeros where nothing maps."""
    b, _, h, w = x.shape
    d = draws.to(x.device)
    dx = torch.floor(d[:, 0] * (2 * shift + 1)) - shift  # whole pixels in [-shift, shift]
    dy = torch.floor(d[:, 1] * (2 * shift + 1)) - shift
    angle = (d[:, 2] * 2 - 1) * (turn * math.pi / 180)
    sx = torch.where(d[:, 3] < 0.5, -1.0, 1.0) if flip else torch.ones_like(angle)
    cos, sin = torch.cos(angle), torch.sin(angle)
    # affine_grid maps each output pixel to where it reads the input, in [-1, 1] units (a pixel is 2/size).
    theta = torch.stack([torch.stack([sx * cos, -sin, -2 * dx / w], 1),
                         torch.stack([sx * sin, cos, -2 * dy / h], 1)], 1)
    grid = F.affine_grid(theta, [b, x.shape[1], h, w], align_corners=False)
    # Whole-pixel shifts and flips only (no turn): nearest reads the pixels exactly, a crop of the padded image.
    return F.grid_sample(x.float(), grid, mode="bilinear" if turn else "nearest", padding_mode="zeros",
                         align_corners=False)


class Augmenter:
    """The run's augmentation: uint8 batch -> float batch in [0, 255], one draw of 4 numbers per image."""

    def __init__(self, config: RunConfig):
        self.policy = POLICIES.get(config.data.dataset, POLICIES["mnist"])  # own data: 28x28 grey, like MNIST
        self.generator = torch.Generator().manual_seed(config.seed + AUGMENT_SEED_OFFSET)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        draws = torch.rand(len(x), 4, generator=self.generator)  # on the CPU: the same stream on any device
        p = self.policy
        return warp(x, draws, p.shift, p.turn, p.flip)


class AugmentedNormalizer:
    """The training step's input: augment, then normalize as evaluation does (a Normalizer's interface)."""

    def __init__(self, norm, augmenter: Augmenter):
        self.norm, self.augmenter = norm, augmenter

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.augmenter(x))
