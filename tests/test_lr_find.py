"""The learning-rate range test against hand-worked answers, and Train's "Find a learning rate"."""
import numpy as np
import pytest

from playground import lr_find
from ui.train_form import RECIPE

from conftest import app_page, tiny


def test_smoothing_is_a_bias_corrected_moving_average():
    got = lr_find.smooth(np.array([1.0, 1.0, 1.0]))
    np.testing.assert_allclose(got, [1.0, 1.0, 1.0])  # corrected: a constant stays itself from the first step
    two = lr_find.smooth(np.array([2.0, 0.0]), beta=0.5)
    np.testing.assert_allclose(two, [2.0, (0.5 * 1.0 + 0.0) / 0.75])


def test_the_suggestion_is_a_tenth_of_the_lr_at_the_lowest_smoothed_loss():
    lrs = np.array([1e-4, 1e-3, 1e-2, 1e-1])
    assert lr_find.suggest(lrs, np.array([2.0, 1.0, 0.5, 3.0]))[0] == pytest.approx(1e-3)


LRS = np.logspace(-6, 0, 100)


def test_a_flat_start_that_falls_and_never_climbs_is_said_so_and_starts_where_it_falls_fastest():
    """Issue 29's curve: flat at 0.69 until ~0.05, then falling to the end; "start a little below the lowest
    point" named 0.057, where the fall only begins."""
    curve = 0.69 - 0.4 / (1 + np.exp(-6 * (np.log10(LRS) - np.log10(0.2))))  # steepest at 0.2
    sh = lr_find.shape(LRS, curve)
    assert sh.falls and not sh.climbs
    assert 0.02 < sh.flat_until < 0.08
    assert sh.steepest_lr == pytest.approx(0.2, rel=0.1)
    suggestion, _, text = lr_find.advise(sh)
    assert suggestion == sh.steepest_lr
    assert "flat at 0.69" in text and "never climbed" in text and "climbs" not in text


def test_a_fall_then_a_climb_keeps_a_tenth_of_the_lowest_point():
    curve = 2.3 - 1.8 * np.exp(-((np.log10(LRS) + 2) ** 2) / 2)  # lowest at 1e-2, back up after
    sh = lr_find.shape(LRS, curve)
    assert sh.falls and sh.climbs
    suggestion, rule, text = lr_find.advise(sh)
    assert suggestion == pytest.approx(1e-3, rel=0.1) and "lowest" in rule
    assert "climbed to" in text and "never climbed" not in text


def test_a_curve_that_never_falls_suggests_nothing():
    sh = lr_find.shape(LRS, 2.3 + 0.01 * np.sin(np.arange(100)))
    assert not sh.falls
    suggestion, _, text = lr_find.advise(sh)
    assert suggestion is None and "never fell 10% below" in text


def test_a_curve_that_never_falls_but_blows_up_says_it_climbed():
    """rnn128 with SGD: the loss never fell 10% and then blew up (the test stopped at 4x its minimum); the text
    said "lowest 2.19, up to a rate of 0.76" as if the curve were flat up to there."""
    curve = 2.3 + 8 * np.clip(np.log10(LRS) + 1, 0, None)  # flat, then up from 0.1
    sh = lr_find.shape(LRS, curve)
    assert not sh.falls and sh.climbs
    suggestion, _, text = lr_find.advise(sh)
    assert suggestion is None and "never fell 10% below" in text and f"climbed to {sh.end:.3g} by 1" in text


def test_a_range_test_rises_exponentially_from_start_to_end():
    test = lr_find.range_test(tiny(limit=300), start=1e-5, end=10.0, steps=60)
    ratios = test.lrs[1:] / test.lrs[:-1]
    np.testing.assert_allclose(ratios, ratios[0])  # one factor per step
    assert test.lrs[0] == pytest.approx(1e-5) and len(test.lrs) <= 60
    assert (test.suggestion, test.rule, test.text) == lr_find.advise(lr_find.shape(test.lrs, test.smoothed))


def test_train_runs_the_range_test_and_use_it_fills_the_form(home):
    at = app_page("pages/train.py").run()
    at.sidebar.number_input(key="f_hidden").set_value(8).run()  # a small model: seconds
    at.sidebar.button(key="lr_test_run").click().run()
    assert not at.exception
    assert at.main.get("plotly_chart") and not at.sidebar.get("plotly_chart")  # was 200 px wide in the sidebar
    assert sum(m.value.startswith("The loss ") for m in at.markdown) == 1  # the curve in words
    use = at.button(key="lr_test_use")
    suggested = float(use.label.removeprefix("Use "))
    use.click().run()
    assert at.session_state["f_lr"] == suggested  # what the button says, not a longer value behind it
    assert at.session_state[RECIPE] == "(custom)"
