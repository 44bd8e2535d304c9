"""Draw: rendered canvases through the shared preprocessing, and the page under AppTest."""
import numpy as np
from PIL import Image

from playground import data
from playground.inference import load_checkpoint, predict_image
from conftest import app_page


def canvas_of(digit: np.ndarray, size: int, top: int, left: int) -> np.ndarray:
    """An MNIST digit drawn large and off-centre on a 280x280 black canvas, as RGBA like st_canvas gives."""
    big = np.asarray(Image.fromarray(digit).resize((size, size), Image.Resampling.BILINEAR))
    canvas = np.zeros((280, 280), np.uint8)
    canvas[top:top + size, left:left + size] = big
    return np.dstack([canvas, canvas, canvas, np.full_like(canvas, 255)])


def test_the_trained_model_reads_rendered_canvases(trained):
    model = load_checkpoint(trained.checkpoint)
    ds = data.load_dataset("mnist")
    rng = np.random.default_rng(0)
    correct = 0
    for i in range(40):
        size = int(rng.integers(120, 260))
        top, left = (int(rng.integers(0, 280 - size + 1)) for _ in range(2))
        _, probs = predict_image(model, canvas_of(ds.test_x[i, 0].numpy(), size, top, left))
        correct += int(probs.argmax()) == int(ds.test_y[i])
    assert correct >= 36  # the model's own test accuracy is ~95%


def test_draw_page_without_models_points_to_train(home):
    at = app_page("pages/draw.py").run()
    assert not at.exception
    assert any("Train" in i.value for i in at.info)


def test_draw_page_with_a_model_asks_for_a_digit_and_lists_models(trained):
    at = app_page("pages/draw.py").run()
    assert not at.exception
    assert any("Draw a digit" in i.value for i in at.info)
    assert at.multiselect(key="draw_models").value == [trained.id]
