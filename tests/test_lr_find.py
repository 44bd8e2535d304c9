"""The learning-rate range test against hand-worked answers, and Train's "Find a learning rate"."""
import numpy as np
import pytest

from playground import lr_find

from conftest import app_page, tiny


def test_smoothing_is_a_bias_corrected_moving_average():
    got = lr_find.smooth(np.array([1.0, 1.0, 1.0]))
    np.testing.assert_allclose(got, [1.0, 1.0, 1.0])  # corrected: a constant stays itself from the first step
    two = lr_find.smooth(np.array([2.0, 0.0]), beta=0.5)
    np.testing.assert_allclose(two, [2.0, (0.5 * 1.0 + 0.0) / 0.75])


def test_the_suggestion_is_a_tenth_of_the_lr_at_the_lowest_smoothed_loss():
    lrs = np.array([1e-4, 1e-3, 1e-2, 1e-1])
    assert lr_find.suggest(lrs, np.array([2.0, 1.0, 0.5, 3.0]))[0] == pytest.approx(1e-3)


def test_a_range_test_rises_exponentially_from_start_to_end():
    test = lr_find.range_test(tiny(limit=300), start=1e-5, end=10.0, steps=60)
    ratios = test.lrs[1:] / test.lrs[:-1]
    np.testing.assert_allclose(ratios, ratios[0])  # one factor per step
    assert test.lrs[0] == pytest.approx(1e-5) and len(test.lrs) <= 60
    assert test.suggestion == pytest.approx(test.lrs[int(np.argmin(test.smoothed))] / 10)


def test_train_runs_the_range_test_and_use_it_fills_the_form(home):
    at = app_page("pages/train.py").run()
    at.sidebar.number_input(key="f_hidden").set_value(8).run()  # a small model: seconds
    at.sidebar.button(key="lr_test_run").click().run()
    assert not at.exception
    use = at.sidebar.button(key="lr_test_use")
    suggested = float(use.label.removeprefix("Use "))
    use.click().run()
    assert at.session_state["f_lr"] == suggested  # what the button says, not a longer value behind it
    assert at.session_state["recipe"] == "(custom)"
