"""Inside's "the model's own map": the last layer's view of 2,000 test images in 2-D (PCA or t-SNE),
trained beside untrained, with the learner's drawing placed on it. The work is playground.explain."""
from __future__ import annotations

import numpy as np
import streamlit as st
import torch

from playground import explain
from playground.codegen import ARCH_NAMES
from playground.errors import PlaygroundError
from playground.measured import WHY
from playground.models import untrained
from ui.common import loaded_model
from ui.figures import charts
from ui.measured_view import LINK
from ui.why_views import mtime

MAPS = {"pca": "PCA", "tsne": "t-SNE"}
HOW = {
    "pca": "PCA: the two directions the layer's outputs vary most, a linear view that keeps distances along "
           "them. Training pulls each class into its own region, so the classifier can cut between them. "
           "Untrained, the classes overlap far more, though not entirely (random features still echo the "
           f"input): on {WHY.map_images:,} test images of lesson 8's {WHY.recipe}, {WHY.separation()} ({LINK}).",
    "tsne": "t-SNE (scikit-learn): each image kept near the images the layer finds most alike. It shows which "
            "images the model groups together; the gaps between groups and their sizes mean little, so "
            "compare trained with untrained on this map, not with the PCA numbers."}
DRAWING_ON_TSNE = (f" Your drawing (the star) sits among its {explain.NEIGHBOURS} nearest test images in the layer's "
                   "space: t-SNE cannot place a new point itself.")


# No time is promised: a typed "about 10 s" took 20-34 s for new users (issue 29); t-SNE's seconds are not measured.
@st.cache_data(max_entries=16, show_spinner=f"Placing {explain.PROJECTED:,} test images on the map (a t-SNE map "
                                            "takes far longer than PCA's)…")
def _projected(checkpoint: str, mtime: float, trained: bool, method: str) -> tuple:
    from playground.data import Normalizer, load_dataset

    loaded = loaded_model(checkpoint)
    model = loaded.model if trained else untrained(loaded.config)
    cfg = loaded.config
    ds = load_dataset(cfg.data.dataset)
    x = Normalizer.of(cfg.data.dataset, cfg.data.normalize)(ds.test_x[:explain.PROJECTED])
    feats, outputs = explain.features_and_outputs(model, x)  # one pass gives both
    mapped = explain.pca(feats) if method == "pca" else explain.tsne(feats)
    return mapped, ds.test_y[:explain.PROJECTED].numpy(), outputs.argmax(1)


def _clicked(col, event, rec, classes, labels: np.ndarray, predicted: np.ndarray) -> None:
    """The test image behind a clicked dot, with its true class and the model's answer."""
    from playground.data import display_images, load_dataset

    points = [p for p in event.selection.points if p.get("customdata")] if event else []
    if not points:
        return
    data = points[0]["customdata"]  # [test index, answer]; a dict {"0": ..., "1": ...} when sent as an array
    index = int(float(data[0] if isinstance(data, list) else data["0"]))
    image = display_images(load_dataset(rec.config.data.dataset).test_x[index:index + 1])[0]
    left, right = col.columns([1, 3], vertical_alignment="center")
    left.image(image, width=84)
    right.caption(f"The dot you clicked: test image {index}, a {classes[int(labels[index])]}, read as "
                  f"{classes[int(predicted[index])]}.")


def projector(rec, classes, drawing_x: torch.Tensor | None = None, with_untrained: bool = True) -> None:
    """The last layer's view of 2,000 test images, projected to 2-D: trained (beside untrained)."""
    method = st.radio("Map", list(MAPS), format_func=MAPS.get, horizontal=True, key=f"map-method-{rec.id}")
    when = mtime(rec.checkpoint)
    which = (True, False) if with_untrained else (True,)
    for col, trained in zip(st.columns(2), which, strict=False):
        try:
            mapped, labels, predicted = _projected(rec.checkpoint, when, trained, method)
        except PlaygroundError as exc:  # too few test images for t-SNE: say so, and PCA is one click away
            col.info(str(exc))
            continue
        extra = None
        if drawing_x is not None:
            model = loaded_model(rec.checkpoint).model if trained else untrained(rec.config)
            extra = mapped.place(explain.features(model, drawing_x))
        name = "trained" if trained else "untrained"
        event = col.plotly_chart(charts.projection(mapped.points, labels, classes, np.asarray(predicted),
                                                   f"#{rec.id} {ARCH_NAMES[rec.config.model.arch]}, {name}", extra,
                                                   axis="component" if method == "pca" else "t-SNE"),
                                 width="stretch", key=f"projection-{rec.id}-{name}", on_select="rerun",
                                 selection_mode="points")
        kept = (f"; the two axes keep {mapped.explained:.0%} of the last layer's variance"
                if method == "pca" else "")
        col.caption(f"Classes kept apart: {explain.separation(mapped.points, labels):.0%} of the spread on this "
                    f"map is between classes{kept}.")
        _clicked(col, event, rec, classes, labels, np.asarray(predicted))
    st.caption("Each dot is one test image, placed by what the layer before the answer computes for it, squeezed "
               f"to two dimensions; colour is the true class. {HOW[method]}"
               f"{DRAWING_ON_TSNE if method == 'tsne' and drawing_x is not None else ''} Hover a dot for its "
               "image number and the model's answer; click it to see the image.")
