"""The Draw page's "unlike the training digits" signal against its stated rates."""
import numpy as np

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
