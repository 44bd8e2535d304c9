"""The test-image grid as HTML (playground/tiles.py): the exact pixels, one cell per image, titles as before."""
import base64
import io
import re

import numpy as np
from PIL import Image

from playground.tiles import MISTAKE_RED, image_tiles, picture, titles


def pixels(uri: str) -> np.ndarray:
    assert uri.startswith("data:image/png;base64,")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))))


def figures(page: str) -> list[str]:
    return re.findall(r"<figure .*?</figure>", page)


def test_the_images_are_pngs_of_the_exact_pixels():
    rng = np.random.default_rng(0)
    grey, colour = rng.integers(0, 256, (28, 28), dtype=np.uint8), rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    page = image_tiles([grey, colour], ["1", "2"], ["1", "3"])
    sources = re.findall(r'src="([^"]+)"', page)
    np.testing.assert_array_equal(pixels(sources[0]), np.repeat(grey[..., None], 3, axis=2))
    np.testing.assert_array_equal(pixels(sources[1]), colour)


def test_every_image_gets_the_same_cell_and_its_title_over_it():
    """Issue 13: st.image sized each CIFAR image by its caption's length; a grid of equal columns does not."""
    images = [np.zeros((32, 32, 3), np.uint8)] * 3 + [np.zeros((32, 32), np.uint8)]
    page = image_tiles(images, ["bird", "airplane", "bird", "<b>x</b>"], ["bird", "bird", "bird", "<b>x</b>"],
                       [0.9, 0.6, 0.7, 0.5], cols=2)
    assert "grid-template-columns:repeat(2,minmax(0,1fr))" in page
    cells = figures(page)
    assert len(cells) == 4
    captions = [re.search(r"<figcaption[^>]*>(.*?)</figcaption>", c).group(1) for c in cells]
    assert captions[1] == "❌ airplane 60%<br>(bird)"  # the answer and its probability over the true class
    assert captions[0].startswith("✅") and "<b>" not in page and "&lt;b&gt;" in captions[3]  # shown, not markup
    heights = {re.search(r";height:(\d+)px", c).group(1) for c in cells}
    assert heights == {"26"}  # two caption lines for every image: the images of a row line up
    assert MISTAKE_RED in cells[1] and MISTAKE_RED not in cells[0]
    assert 'title="❌ airplane 60% (bird)"' in cells[1]  # hovering: the title on one line


def test_short_titles_stay_on_one_line():
    assert titles(["7", "1"], ["7", "7"]) == ["✅ 7 (7)", "❌ 1 (7)"]
    page = image_tiles([np.zeros((28, 28), np.uint8)] * 2, ["7", "1"], ["7", "7"])
    assert ";height:13px" in page and "<br>" not in page


def test_a_picture_shows_the_pixels_the_model_gets():
    """Inside's input, an HTML image (a plotly chart was one more to draw per visit): the exact pixels, grey
    [0, 1] floats as 0..255, sharp and square."""
    digit = np.random.default_rng(0).random((28, 28))
    page = picture(digit, "Input <b>")
    [src] = re.findall(r'src="([^"]+)"', page)
    np.testing.assert_array_equal(pixels(src)[..., 0], (digit * 255).round().astype(np.uint8))
    assert "image-rendering:pixelated" in page and "aspect-ratio:28/28" in page and "&lt;b&gt;" in page
    photo = np.random.default_rng(1).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    np.testing.assert_array_equal(pixels(re.findall(r'src="([^"]+)"', picture(photo, "Input"))[0]), photo)
