"""The Draw page's "unlike the training digits" signal against its stated rates."""
import json
from pathlib import Path

import numpy as np
import torch

from playground import novelty
from playground.data import load_dataset


def test_it_flags_about_one_percent_of_real_test_digits_it_was_not_set_on():
    space = novelty.digit_space()
    held_out = load_dataset("mnist").test_x[novelty.CALIBRATION:novelty.CALIBRATION + 3000, 0].numpy() / 255.0
    rate = space.unlike(held_out).mean()
    assert 0.002 <= rate <= 0.025  # FALSE_ALARM = 1%, measured on other digits (bench: 0.77% of 8,000)


def test_fit_sets_the_threshold_at_the_calibration_quantile():
    rng = np.random.default_rng(0)
    train = rng.random((200, 28, 28)) * 0.1
    calibration = rng.random((100, 28, 28)) * 0.1
    space = novelty.fit(train, calibration, false_alarm=0.1)
    assert abs(space.unlike(calibration).mean() - 0.1) <= 0.011
    assert space.unlike(np.ones((1, 28, 28)))[0]  # far from everything: flagged


def test_drawn_strokes_an_m_is_flagged_and_drawn_digits_are_not():
    """Glyphs drawn from strokes on the canvas (bench/strokes.py) and read as Draw reads them."""
    from bench import strokes

    space = novelty.digit_space()
    letters, _ = strokes.drawn({"m": strokes.LETTERS["m"]}, 3, seed=0)
    digits, names = strokes.drawn(strokes.DIGITS, 1, seed=0)
    assert names == list("0123456789")  # every digit read as a digit, none refused
    assert space.unlike(letters).all() and not space.unlike(digits).any()
    flagged = [n for n, f in zip(names, novelty.unlike_digits(digits), strict=True) if f]
    assert novelty.unlike_digits(letters).all() and flagged in ([], ["0"])  # a drawn 0: the shape check's weak spot


def test_a_models_own_feature_space_flags_what_it_places_far_from_the_digits():
    from torch import nn

    from conftest import tiny

    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 10)).eval()  # its features: the pixels themselves
    rng = np.random.default_rng(0)
    train, calibration = rng.random((300, 28, 28)) * 0.1, rng.random((100, 28, 28)) * 0.1
    space = novelty.fit_features(model, tiny(), train, calibration, false_alarm=0.1)
    assert abs(space.unlike(calibration).mean() - 0.1) <= 0.011
    odd = np.zeros((1, 28, 28), np.float32)
    odd[0, :, :14] = 1.0  # half the image lit: in no direction the training inputs point
    assert space.unlike(odd)[0]


def test_the_draw_pages_measured_rates_are_the_bench_results():
    results = json.loads((Path(__file__).resolve().parents[1] / "bench" / "results" / novelty.MEASURED_FILE)
                         .read_text())
    for key, (lo, hi) in novelty.MEASURED.items():
        # beside each model on the first sets, and on the fresh sets drawn after the threshold was fixed
        flagged = [m["flagged"][key] for m in results["models"].values()] + [results["fresh"]["flagged"][key]]
        assert (lo, hi) == (min(flagged), max(flagged)), key


def test_the_fresh_sets_on_record_are_the_second_writers():
    """bench/results/novelty.json's "fresh" rows were measured on bench/strokes.py's second writer as it is."""
    from bench import novelty as bench_novelty
    from bench import strokes

    fresh = json.loads((Path(__file__).resolve().parents[1] / "bench" / "results" / novelty.MEASURED_FILE)
                       .read_text())["fresh"]
    assert (fresh["seed"], fresh["new_letter_shapes"], fresh["new_digit_shapes"]) == \
        (strokes.FRESH_SEED, "".join(strokes.FRESH_LETTERS), "".join(strokes.FRESH_DIGITS))
    assert fresh["drawn_letters"] <= bench_novelty.FRESH_LETTERS * len(strokes.LETTERS)
    assert fresh["drawn_digits"] <= bench_novelty.FRESH_DIGITS * len(strokes.DIGITS)


def test_the_second_writer_keeps_a_glyphs_strokes_together_and_repeats_itself():
    """Each stroke is jittered on its own, but the glyph is placed on the canvas once: a "+" stays a cross
    (each stroke's middle within the other's span), and the same seed draws the same images."""
    from bench import strokes

    plus = [[(0, 0.5), (1, 0.5)], [(0.5, 0), (0.5, 1)]]
    rng = np.random.default_rng(0)
    for _ in range(100):
        bar, stem = strokes._written(plus, rng, 12)
        assert bar[:, 0].min() < stem[:, 0].mean() < bar[:, 0].max()
        assert stem[:, 1].min() < bar[:, 1].mean() < stem[:, 1].max()
    glyphs = {"4": strokes.FRESH_DIGITS["4"] + strokes.DIGITS["4"], "k": strokes.FRESH_LETTERS["k"]}
    once, again = strokes.written(glyphs, 4, seed=5, new=strokes.FRESH_DIGITS), strokes.written(glyphs, 4, seed=5)
    assert np.array_equal(once.images, again.images) and once.names == ["4"] * 4 + ["k"] * 4
    assert once.new.tolist() == [True, False, False, True] + [False] * 4  # "4": its 1 new shape, then 2 old; "k": none
    assert ((once.pens >= 6) & (once.pens <= 32)).all()


def test_the_shape_check_ships_small_weights_loaded_as_weights_only():
    assert novelty.WEIGHTS.stat().st_size < 500_000
    saved = torch.load(novelty.WEIGHTS, map_location="cpu", weights_only=True)  # tensors and a float, no pickle
    assert set(saved) == {"state_dict", "threshold"}
    check = novelty.not_a_digit()
    assert check.params < 100_000 and 0 < check.threshold < 1


def test_the_shape_check_flags_drawn_letters_the_pixels_pass_and_not_drawn_digits():
    """bench/not_a_digit.py's CNN (trained on typed glyphs, never on these strokes) and Draw's flag with it."""
    from bench import strokes

    letters, _ = strokes.drawn({g: strokes.LETTERS[g] for g in "KNX"}, 2, seed=0)
    digits, names = strokes.drawn(strokes.DIGITS, 2, seed=0)
    check = novelty.not_a_digit()
    assert check.unlike(letters).all() and not novelty.digit_space().unlike(letters).all()  # pixels miss some
    assert novelty.unlike_digits(letters).all()  # Draw's flag: pixels or shape
    flagged = {n for n, f in zip(names, check.unlike(digits), strict=True) if f}
    assert flagged <= {"0"}, flagged  # a drawn 0 was the first CNN's weak spot (bench/README.md)
    again = novelty.NotADigitNet()
    again.load_state_dict(torch.load(novelty.WEIGHTS, map_location="cpu", weights_only=True)["state_dict"])
    assert np.array_equal(novelty.score(check.model, letters), novelty.score(again.eval(), letters))  # deterministic


def test_the_pixel_distance_equals_torchs_cdist_nearest_neighbours():
    """The per-stroke distance is a matrix product with kept lengths; cdist is the reference answer."""
    rng = np.random.default_rng(0)
    reference = torch.as_tensor(rng.random((500, 784), dtype=np.float32))
    images = rng.random((7, 28, 28), dtype=np.float32)
    space = novelty.DigitSpace(reference, 1.0)
    want = torch.cdist(torch.as_tensor(images.reshape(7, -1)), reference)
    want = want.topk(novelty.NEIGHBOURS, largest=False).values.mean(1).numpy()
    np.testing.assert_allclose(space.distance(images), want, rtol=1e-5, atol=1e-5)


def test_the_fresh_sets_interval_is_wilsons():
    """Reference values of the Wilson score interval (95%): 0 of 10 and 5 of 10."""
    from bench.novelty import wilson

    assert wilson(np.zeros(10, bool)) == [0.0, 0.2775]
    assert wilson(np.arange(10) < 5) == [0.2366, 0.7634]


def test_the_validation_writer_draws_its_own_shapes_and_repeats_itself():
    """bench/strokes_val.py, where the shape CNN's choices are made, shares no glyph shape and no seed with the
    two test writers (bench/strokes.py), and the same seed draws the same images."""
    from bench import strokes, strokes_val

    def shapes(glyphs: dict) -> set:
        return {repr(np.round(np.concatenate([np.asarray(s, float) for s in v]), 3).tolist())
                for vs in glyphs.values() for v in vs}

    tested = shapes(strokes.LETTERS) | shapes(strokes.DIGITS) | shapes(strokes.FRESH_LETTERS) | \
        shapes(strokes.FRESH_DIGITS)
    assert not (shapes(strokes_val.LETTERS) | shapes(strokes_val.DIGITS)) & tested
    assert set(strokes_val.LETTERS) == set(strokes.LETTERS) and set(strokes_val.DIGITS) == set(strokes.DIGITS)
    assert strokes_val.VAL_SEED not in (0, 1, 2, strokes.FRESH_SEED, strokes.FRESH_SEED + 1)
    once, names = strokes_val.drawn(strokes_val.DIGITS, 1, seed=3)
    again, _ = strokes_val.drawn(strokes_val.DIGITS, 1, seed=3)
    assert names == list("0123456789") and np.array_equal(once, again)


def test_the_shipped_flag_meets_the_target_on_both_test_writers_chosen_on_the_third():
    """bench/results/novelty.json: Draw's flag (pixels or shape) on the original and the fresh drawn sets meets
    issue 29's target, and the shape CNN's row was validated on bench/strokes_val.py's writer, not on those."""
    from bench import strokes_val
    from bench.novelty import TARGET

    results = json.loads((Path(__file__).resolve().parents[1] / "bench" / "results" / novelty.MEASURED_FILE)
                         .read_text())
    for flagged in (results["flagged"], results["fresh"]["flagged"]):
        assert flagged["drawn_letters"] >= TARGET["drawn_letters"], flagged
        assert flagged["drawn_digits"] <= TARGET["drawn_digits"] and flagged["test_digits"] <= TARGET["test_digits"]
    validation = results["not_a_digit"]["validation"]
    assert validation["seed"] == strokes_val.VAL_SEED
    assert results["not_a_digit"]["threshold"] == round(novelty.not_a_digit().threshold, 4)  # the weights shipped


def test_no_image_or_a_broken_one_gets_a_plain_answer():
    """Adversary, round 4: an empty batch raised in reshape; a NaN image read as a digit (not flagged)."""
    assert novelty.unlike_digits(np.zeros((0, 28, 28), np.float32)).shape == (0,)
    broken = np.zeros((2, 28, 28), np.float32)
    broken[0, 5:20, 14] = 1.0
    broken[1, 10, 10] = np.nan
    flags = novelty.unlike_digits(broken)
    assert flags.dtype == bool and flags[1]
