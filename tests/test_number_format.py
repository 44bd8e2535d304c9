"""Numbers as the pages print them: ranges with a negative end, and a gap that rounds to zero."""
from __future__ import annotations

from playground.compare import Difference, Effect
from playground.measured import Spread


def test_a_range_with_a_negative_end_reads_as_a_range():
    # Learn's lesson 7 table printed "-30.7–-26.1 points": a dash between two minus signs reads as a typo
    assert Spread(-0.307, -0.261, -0.278).pts == "-30.7 to -26.1 points"
    assert Spread(-0.003, 0.021, 0.005).pts == "-0.3 to 2.1 points"
    assert Spread(0.132, 0.161, 0.152).pts == "13.2–16.1 points"


def test_a_gap_that_rounds_to_zero_has_no_minus_sign():
    from ui.compare_view import effect_line

    # Compare printed "gap 1.7 → -0.0 points" for a run whose train and validation accuracy were equal but for noise
    gap = Difference("gap", reference=0.0167, value=-0.0002, spread=None)
    line = effect_line(Effect("#2 lstm64", "#3 cnn", gap, None))
    assert "gap 1.7 → 0.0 points" in line and "-0.0" not in line


def test_a_spread_every_seed_gave_reads_as_one_value():
    """Walkthrough: lesson 10's table read "95.3%–95.3% (mean 95.3%)" where every seed gave 95.3%."""
    from playground.measured import Spread

    assert Spread(0.9533, 0.9533, 0.9533).text() == "95.3% (every seed)"
    assert Spread(0.816, 0.841, 0.826).text() == "81.6%–84.1% (mean 82.6%)"
