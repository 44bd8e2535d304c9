"""Issue 31's small wording and URL points: run names spelled as recipes, and Draw's URL its own."""
from playground.config import RECIPES
from playground.engine.jobs import default_name

from conftest import app_page, tiny


def test_a_run_is_named_as_its_recipe_is_spelled():
    assert default_name(RECIPES["lstm64"]) == "lstm64 on mnist"  # was "lstm-64 on mnist"
    assert default_name(RECIPES["gru3x200"].override(hidden=50)).startswith("gru3x50")
    assert default_name(RECIPES["cnn-dropout"]) == "cnn-dropout on cifar2"


def test_draw_drops_another_pages_query_parameters(home):
    """After Back from Inside, Draw's URL still carried Inside's ?model=…&input=drawing."""
    at = app_page("pages/draw.py")
    at.query_params["model"] = "3"
    at.query_params["input"] = "drawing"
    at.run()
    assert not at.exception and not dict(at.query_params)


def test_inside_calls_an_uploaded_photo_this_image(home, store):
    """Issue 31: Inside offered "my drawing" for a photo uploaded on Draw."""
    import numpy as np

    from playground.engine.training import Trainer

    cfg = tiny(epochs=1, limit=200, hidden=8)
    assert Trainer(cfg, store, store.create_run(cfg, "tiny")).run().status == "finished"
    at = app_page("pages/inside.py")
    at.session_state["last_digit"] = np.zeros((28, 28), np.float32)
    at.session_state["last_source"] = "upload"
    at.run()
    assert not at.exception and "this image" in at.radio(key="inside_source").options
