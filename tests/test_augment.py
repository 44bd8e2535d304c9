"""Augmentation: the warp against hand-made answers, and the preview is the batch the first step trained on."""
import numpy as np
import pytest
import torch

from playground import augment
from playground.augment import Augmenter, warp
from playground.engine.batches import first_batch
from playground.engine.training import Trainer

from conftest import tiny


def draws_for(dx: int = 0, dy: int = 0, shift: int = 2, flip: bool = False) -> torch.Tensor:
    """Uniform draws that warp() turns into these whole-pixel shifts, no turn, and a flip or not."""
    def at(d: int) -> float:
        return (d + shift + 0.5) / (2 * shift + 1)
    return torch.tensor([[at(dx), at(dy), 0.5, 0.25 if flip else 0.75]])


def test_a_shift_moves_the_image_by_whole_pixels_with_zeros_coming_in():
    x = torch.arange(1, 37, dtype=torch.uint8).view(1, 1, 6, 6)
    right = warp(x, draws_for(dx=1), shift=2, turn=0.0, flip=False)
    want = torch.zeros(1, 1, 6, 6)
    want[..., 1:] = x[..., :-1].float()  # one pixel right: the left column is new, black
    assert torch.equal(right, want)
    down = warp(x, draws_for(dy=-2), shift=2, turn=0.0, flip=False)
    want = torch.zeros(1, 1, 6, 6)
    want[..., :-2, :] = x[..., 2:, :].float()  # two pixels up
    assert torch.equal(down, want)


def test_a_flip_mirrors_left_and_right_and_no_draw_changes_nothing():
    x = torch.randint(0, 256, (1, 3, 8, 8), dtype=torch.uint8)
    assert torch.equal(warp(x, draws_for(flip=True), shift=4, turn=0.0, flip=True), x.flip(-1).float())
    assert torch.equal(warp(x, draws_for(), shift=4, turn=0.0, flip=True), x.float())


def test_each_image_of_a_batch_gets_its_own_draw():
    cfg = tiny(arch="lenet", augment=True)
    x = torch.full((64, 1, 28, 28), 0, dtype=torch.uint8)
    x[:, :, 10:18, 10:18] = 255
    out = Augmenter(cfg)(x)
    assert len({tuple(o.flatten().round().tolist()) for o in out}) > 20  # not one transform for all
    assert out.min() >= 0 and out.max() <= 255 + 1e-3  # bilinear turns: within rounding of the pixel range


def test_the_preview_is_the_batch_the_first_step_trained_on(monkeypatch):
    cfg = tiny(arch="lenet", augment=True, epochs=1, limit=300, batch_size=32)
    seen = []
    real = augment.Augmenter.__call__

    def record(self, x):
        out = real(self, x)
        seen.append(out.round().clamp(0, 255).to(torch.uint8))
        return out

    monkeypatch.setattr(augment.Augmenter, "__call__", record)
    assert Trainer(cfg).run().status == "finished"
    monkeypatch.setattr(augment.Augmenter, "__call__", real)
    shown, plain = first_batch(cfg, 16)
    trained = seen[0][:16, 0].numpy()  # the first step's batch, grey (N, H, W)
    assert np.array_equal(shown, trained) and not np.array_equal(shown, plain)
    assert len(seen) == 300 * 0.9 // 32 + 1  # every training step, and nothing else (not evaluation)


def test_a_run_without_augmentation_previews_its_images_as_stored():
    shown, plain = first_batch(tiny(arch="lenet", limit=300), 8)
    assert np.array_equal(shown, plain)


@pytest.mark.parametrize("dataset", ["mnist", "cifar2"])
def test_every_dataset_has_a_policy(dataset):
    assert dataset in augment.POLICIES
