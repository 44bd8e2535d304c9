import io

import numpy as np
import pytest
from PIL import Image

from playground import data
from playground.preprocess import BadImage, NoInk, has_ink, load_image, mnist_style


def digit(i: int) -> np.ndarray:
    return data.load_dataset("mnist").test_x[i, 0].numpy().astype(np.float32) / 255.0


def on_canvas(d: np.ndarray, scale: int, top: int, left: int, size: int = 280) -> np.ndarray:
    big = np.asarray(Image.fromarray((d * 255).astype(np.uint8)).resize((28 * scale, 28 * scale),
                                                                      Image.Resampling.BILINEAR))
    canvas = np.zeros((size, size), dtype=np.uint8)
    h = min(big.shape[0], size - top)
    w = min(big.shape[1], size - left)
    canvas[top:top + h, left:left + w] = big[:h, :w]
    return canvas


@pytest.mark.parametrize("i", range(8))
def test_scaled_and_shifted_digit_comes_back_centred_and_equal(i):
    original = digit(i)
    got = mnist_style(on_canvas(original, 8, 10, 50))
    assert got.shape == (28, 28)
    assert np.abs(got - original).mean() < 0.06, np.abs(got - original).mean()
    assert np.corrcoef(got.ravel(), original.ravel())[0, 1] > 0.85


def test_dark_ink_on_white_paper_is_the_same_digit():
    canvas = on_canvas(digit(0), 6, 60, 20)
    assert np.abs(mnist_style(255 - canvas) - mnist_style(canvas)).max() < 1e-5


def test_rgba_canvas_reads_the_same():
    canvas = on_canvas(digit(1), 10, 0, 0)
    rgba = np.stack([canvas, canvas, canvas, np.full_like(canvas, 255)], axis=-1)
    assert np.allclose(mnist_style(rgba), mnist_style(canvas), atol=1e-5)


def test_thick_and_thin_strokes_both_fill_the_box():
    img = np.zeros((280, 280), dtype=np.uint8)
    img[40:240, 130:150] = 255  # a thick "1"
    thick = mnist_style(img)
    img2 = np.zeros((280, 280), dtype=np.uint8)
    img2[40:240, 138:141] = 255  # a thin one
    thin = mnist_style(img2)
    for out in (thick, thin):
        rows = np.flatnonzero(out.max(1) > 0.2)
        assert rows[-1] - rows[0] + 1 == 20  # longest side fit to 20 px
        ys, xs = np.nonzero(out)
        w = out[ys, xs]
        assert abs((ys * w).sum() / w.sum() - 14) <= 0.5 and abs((xs * w).sum() / w.sum() - 14) <= 0.5


@pytest.mark.parametrize("img", [np.zeros((280, 280)), np.full((280, 280), 255, np.uint8),
                                 np.zeros((1, 1)), np.zeros((0, 0))])
def test_no_ink_is_an_error_not_a_guess(img):
    assert not has_ink(img)
    with pytest.raises(NoInk):
        mnist_style(img)


def test_a_single_pixel_of_ink_is_not_a_digit_but_a_small_blob_is():
    img = np.zeros((280, 280), dtype=np.uint8)
    img[100, 100] = 255
    assert not has_ink(img)
    img[100:118, 100:118] = 255
    assert has_ink(img)


def png(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def test_load_image_accepts_png_and_refuses_junk():
    assert load_image(png(np.zeros((5, 7), np.uint8))).shape == (5, 7)
    with pytest.raises(BadImage, match="empty"):
        load_image(b"")
    with pytest.raises(BadImage, match="not a readable image"):
        load_image(b"%PDF-1.4 this is not an image")
    with pytest.raises(BadImage, match="limit"):
        load_image(png(np.zeros((1, 9000), np.uint8)))
