"""What a lesson's result shows beyond accuracy: the conv lesson's first-layer maps, and the saliency lesson's
deletion test (explain.deletion_scores, cached per checkpoint)."""
from __future__ import annotations

import streamlit as st

from playground import charts, explain
from playground.errors import PlaygroundError
from playground.lessons import Lesson
from ui.common import jobs, loaded_model
from ui.why_views import mtime

MAPS_DIGIT = 0  # the test digit the conv lesson's feature maps are shown on (a 7)


@st.cache_data(max_entries=16, show_spinner="Blacking out squares of 200 test digits…")
def _deletion(checkpoint: str, mtime: float) -> dict[str, float]:
    loaded = loaded_model(checkpoint)
    return explain.deletion_scores(loaded.model, loaded.config)


def deletion_results(run_id: int) -> dict[str, float]:
    """The deletion test of a finished run's checkpoint ({} when it has none or it cannot be read)."""
    rec = jobs().store.get_run(run_id)
    if rec is None or not rec.checkpoint:
        return {}
    try:
        return _deletion(rec.checkpoint, mtime(rec.checkpoint))
    except (PlaygroundError, OSError):
        return {}


def deletion_table(got: dict[str, float]) -> None:
    """How far the true class's probability fell, trained and untrained, salient vs random squares."""
    if "salient_drop" not in got:
        st.warning("The deletion test could not be run on this model's checkpoint.")
        return
    st.dataframe([{"model": name, "the map's 4 squares blacked out": _fall(got[pre + "salient_drop"]),
                   "4 random inked squares": _fall(got[pre + "random_drop"])}
                  for name, pre in (("trained", ""), ("untrained copy", "untrained_"))],
                 hide_index=True, width="stretch")
    st.caption("How far the probability of the true class fell, on average over the first 200 test digits, in "
               "percentage points (a rise shows as negative); the same random squares for both models.")


def _fall(drop: float) -> str:
    """A fall in probability as points: 0.606 -> "60.6 points", never a "-0.0"."""
    points = round(100 * drop, 1)
    return f"{points + 0.0:.1f} points"


def first_layer(lesson: Lesson, run_id: int | None) -> None:
    """The trained model's first conv layer on one test digit: the maps the lesson's question is about."""
    from playground import probes
    from playground.data import sample

    rec = jobs().store.get_run(run_id) if run_id is not None else None
    if rec is None or not rec.checkpoint:
        return
    st.subheader("What its first layer sees", anchor=False)
    try:
        loaded = loaded_model(rec.checkpoint)
        x, image, label = sample(loaded.config, MAPS_DIGIT)
        first = next((f for f in probes.feature_maps(loaded.model, x) if f.stage == "conv"), None)
    except (PlaygroundError, OSError) as exc:  # a checkpoint refused, or no dataset
        st.warning(f"No feature maps from run #{run_id}: {exc}")
        return
    if first is None:
        st.caption(f"Run #{run_id} has no conv layer to look at.")
        return
    left, right = st.columns([1, 4])
    left.plotly_chart(charts.image(image, f"Test digit {MAPS_DIGIT}: {loaded.classes[label]}"), width="stretch",
                      key=f"lesson-digit-{lesson.key}")
    c, h, w = first.maps.shape
    right.plotly_chart(charts.map_grid(first.maps, title=f"Run #{run_id}: block 1 after conv ({c}×{h}×{w})"),
                       width="stretch", key=f"lesson-maps-{lesson.key}", config=charts.STATIC)
    colours = ("red where the image matches the filter, blue where it matches its opposite"
               if first.maps.min() < 0 else "bright where the image matches the filter")
    st.caption(f"Each map is one of the {c} filters of the trained model's first conv layer slid over this digit: "
               f"{colours}. Look for edges and stroke sides in different directions.")




def filter_by_hand(lesson: Lesson, run_id: int | None) -> None:
    """"What does one filter compute?": the trained first layer's strongest cell on the same test digit, by hand."""
    from playground import by_hand
    from playground.data import sample
    from ui.inside_math import patch_figure

    rec = jobs().store.get_run(run_id) if run_id is not None else None
    if rec is None or not rec.checkpoint:
        return
    try:
        loaded = loaded_model(rec.checkpoint)
        x, _, _ = sample(loaded.config, MAPS_DIGIT)
        story = by_hand.strongest_cell(loaded.model, x)
    except (PlaygroundError, OSError, AttributeError) as exc:  # a checkpoint refused, no dataset, no conv layer
        st.caption(f"No filter to work out from run #{run_id}: {exc}")
        return
    st.subheader("What does one filter compute?", anchor=False)
    st.plotly_chart(patch_figure(story.cell, 0), width="stretch", key=f"lesson-filter-{lesson.key}")
    st.markdown(story.text)
    st.caption("Left, the pixels under the kernel (normalized as training normalized them); middle, the filter's "
               "weights; right, each pixel times its weight. Inside's \"Show the math\" does this for any cell of "
               "any layer, on your own drawing too.")
