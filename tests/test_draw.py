"""Draw: rendered canvases through the shared preprocessing, and the page under AppTest."""
import numpy as np
from PIL import Image

from playground import data
from playground.inference import load_checkpoint, predict_image
from playground.preprocess import NoInk, NotADigit

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


def rgba_canvas(strokes: list[list[tuple[int, int]]], width: int = 18) -> np.ndarray:
    """What st_canvas returns: RGBA, opaque black background, white freehand strokes of `width`."""
    from PIL import ImageDraw

    im = Image.new("RGBA", (280, 280), (0, 0, 0, 255))
    d = ImageDraw.Draw(im)
    for points in strokes:
        if len(points) > 1:
            d.line(points, fill=(255, 255, 255, 255), width=width, joint="curve")
        for x, y in (points[0], points[-1]):
            d.ellipse([x - width / 2, y - width / 2, x + width / 2, y + width / 2], fill=(255, 255, 255, 255))
    return np.asarray(im)


def test_canvas_input_that_is_no_digit_gets_no_prediction(trained):
    model = load_checkpoint(trained.checkpoint)
    zigzag = [(10 + (260 if k % 2 else 0), 10 + k * 12) for k in range(22)]
    for strokes, error in (([], NoInk), ([[(140, 140)]], NotADigit), ([[(140, 140), (143, 140)]], NotADigit),
                           ([zigzag], NotADigit)):
        try:
            predict_image(model, rgba_canvas(strokes) if strokes else np.dstack([np.zeros((280, 280, 3), np.uint8),
                                                                                 np.full((280, 280), 255, np.uint8)]))
        except error:
            continue
        raise AssertionError(f"{strokes[:1]} got a digit")


def test_a_drawn_seven_on_the_canvas_reads_as_seven(trained):
    model = load_checkpoint(trained.checkpoint)
    _, probs = predict_image(model, rgba_canvas([[(70, 60), (210, 60), (120, 240)]]))
    assert int(probs.argmax()) == 7


def test_draw_page_without_models_points_to_train(home):
    at = app_page("pages/draw.py").run()
    assert not at.exception
    assert any("Train" in i.value for i in at.info)


def test_draw_page_with_a_model_asks_for_a_digit_and_lists_models(trained):
    at = app_page("pages/draw.py").run()
    assert not at.exception
    assert any("Draw a digit" in i.value for i in at.info)
    assert at.multiselect(key="draw_models").value == [trained.id]
