"""Draw's probability bars in plain HTML (issue 36): the same content as charts.probabilities, escaped."""
import re

from playground import bars, charts


def test_one_bar_per_class_with_its_percentage_and_the_answer_in_the_second_colour():
    markup = bars.probability_bars([0.1, 0.7, 0.2], ["a", "b", "c"], "Class probabilities")
    assert re.findall(r'data-class="([^"]*)"', markup) == ["a", "b", "c"]
    assert [float(p) for p in re.findall(r'data-p="([^"]*)"', markup)] == [0.1, 0.7, 0.2]
    assert re.findall(r">(\d+%)</span>", markup) == ["10%", "70%", "20%"]  # as plotly's bar labels read
    colours = re.findall(r"background:(#[0-9A-Fa-f]{6})", markup)
    assert colours == [charts.PALETTE[0], charts.PALETTE[1], charts.PALETTE[0]]
    heights = [float(h) for h in re.findall(r"height:([\d.]+)px;background", markup)]
    assert heights[1] == max(heights) and abs(heights[0] / heights[1] - 1 / 7) < 1e-3  # bars in proportion
    assert "<figcaption" in markup and "Class probabilities</figcaption>" in markup


def test_class_names_and_titles_are_escaped():
    markup = bars.probability_bars([0.5, 0.5], ["<b>x</b>", 'say "hi"'], "#3 <LSTM>")
    assert "<b>" not in markup and "<LSTM>" not in markup
    assert "&lt;b&gt;x&lt;/b&gt;" in markup and "&quot;hi&quot;" in markup


def test_probabilities_out_of_range_are_drawn_within_the_box():
    markup = bars.probability_bars([1.2, -0.1], ["a", "b"])
    heights = [float(h) for h in re.findall(r"height:([\d.]+)px;background", markup)]
    assert heights == [bars.BAR_AREA_PX - 16, 0.0]
