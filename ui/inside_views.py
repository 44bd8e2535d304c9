"""Inside-page views of any model and of CNNs: each model's answer, the layer table, feature maps and
filters for one model or several side by side, and how far each layer's weights moved in training.
Every view has a caption under it: what a tile, row, column and colour mean, and what to look for."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import streamlit as st
import torch

from playground import probes
from playground.bars import probability_bars
from playground.tiles import picture
from ui.figures import charts

SCALES = ("one for the models compared", "one per model", "one per map")


class Shown(NamedTuple):
    """One model on the page and the input as *its* training normalized it (models differ in that)."""
    model: torch.nn.Module
    x: torch.Tensor


def columns(names: list[str]):
    return st.columns(len(names)) if len(names) > 1 else [st.container()]


# At 1,280 px, the narrowest window the pages are checked at (tests/test_browser_inside_layout.py), the main area
# is about 820 px wide, columns 16 px apart, and a chart title (bold 16 px) takes about 7.5 px a character.
def title_room(columns: int) -> int:
    """The characters a chart title has in one of `columns` side by side before plotly cuts it."""
    return int((820 - 16 * (columns - 1)) / columns / 7.5)


def filter_caption(filters: dict[str, np.ndarray], shared: bool) -> str:
    """What the first-layer filter tiles show, for the kernels drawn: RGB images for 3 input channels (a photo
    model), one colour scale for 1 (a digit model), as charts.filter_grid draws them."""
    if all(w.shape[1] == 3 for w in filters.values()):
        return ("Each tile is one 3-channel kernel of the first conv layer drawn as a colour picture: its red, green "
                "and blue weights as the pixel's red, green and blue, each kernel's weights stretched on their own "
                "from its lowest (none of that colour) to its highest (all of it), so grey is not 0 and brightness "
                "does not compare between tiles. A kernel's colour is the colour its map responds to; trained kernels "
                "often become colour blobs or edges (a bright side beside a dark side), untrained ones are noise.")
    lo, _ = charts.colour_range(list(filters.values()))
    first = " (its first input channel)" if any(w.shape[1] > 1 for w in filters.values()) else ""
    weights = ("a red weight adds that pixel, a blue one subtracts it, white is 0" if lo < 0
               else "every weight is ≥ 0, from dark (0) to bright (the largest)")
    return (f"Each tile is one kernel of the first conv layer{first}, the pattern its map responds to: {weights}"
            + (", on one colour scale for all models" if shared else "") + ". Trained kernels often become edge "
            "detectors (" + ("a red side beside a blue side" if lo < 0 else "a bright side beside a dark side")
            + "); untrained ones are noise.")


def scale_words(lo: float, hi: float) -> str:
    return (f"blue −{hi:.2g}, white 0, red +{hi:.2g}" if lo < 0 else f"dark 0 to bright {hi:.2g}")


def predictions(shown: dict[str, Shown], classes, image: np.ndarray, label: int | None = None) -> dict[str, int]:
    """The input, then each model's answer and class probabilities beside it, in one row above Inside's views;
    each answer marked right or wrong where the input's true class (`label`) is known. Returns the answers."""
    first, *cols = st.columns([1] + [2] * len(shown))
    first.html(picture(image, "Input"))  # HTML: one chart fewer to draw on every visit
    answers, sure = {}, {}
    for col, (name, s) in zip(cols, shown.items(), strict=True):
        p = probes.class_probabilities(s.model, s.x)
        answer = answers[name] = int(p.argmax())
        sure[name] = float(p.max())
        col.metric(f"{name} predicts · {p.max():.0%} sure", classes[answer])
        if label is not None:  # under the answer (in its label it was cut at 1,280 px)
            col.caption("✓ right" if answer == label else f"✗ wrong: the true class is {classes[label]}")
        col.html(probability_bars(p, classes, f"{name}: class probabilities"))  # HTML: no chart to draw
    st.caption("Each bar is the probability a model gives that class for this image (they add up to 100%; an even "
               f"spread would give each {1 / len(classes):.0%}). Here: "
               + ", ".join(f"{name} gives its answer {v:.0%}" for name, v in sure.items()) + ".")
    return answers


def _maps_of_stage(all_maps: dict, block: int, stage: str) -> dict:
    return {name: next((f for f in maps if (f.block, f.stage) == (block, stage)), None)
            for name, maps in all_maps.items()}


def _shape(maps: np.ndarray) -> str:
    return "×".join(map(str, maps.shape))


def map_stage(maps: dict, block: int, stage: str, mode: str) -> charts.Stage:
    """One stage's row of Inside's map chart: one model's maps titled with its layer and shape, or several
    models' side by side, each labelled (and its own layer noted where the models' differ)."""
    layers = {name: f.layer for name, f in maps.items() if f is not None}
    fm = next(f for f in maps.values() if f is not None)
    if len(maps) == 1:
        return charts.Stage(f"after {fm.layer} · {_shape(fm.maps)}", {"": fm.maps}, scale=mode)
    grids = {name: f.maps if f is not None else None for name, f in maps.items()}
    if len(set(layers.values())) > 1:  # e.g. a tanh CNN beside a ReLU LeNet
        return charts.Stage(f"block {block}: {stage}", grids, {name: f"after {layer}" for name, layer in
                                                               layers.items()}, mode)
    return charts.Stage(f"after {fm.layer}", grids, scale=mode)


def cnn_view(shown: dict[str, Shown], config) -> None:
    """Layer table, feature maps per stage and first-layer filters, for one model or several side by side."""
    names = list(shown)
    # A static table: it wraps (the formula column was cut at 1,280 px) and costs no data grid to draw
    st.table(probes.layer_table(config), hide_index=True)
    st.caption("One row per layer, in the order the image goes through them. *Output shape* is channels × height × "
               "width after the layer; for a conv or pooling layer the formula turns the size before it into the "
               "size after (padding p, kernel k, stride s). *Parameters* are the weights and biases it learns.")
    scale = st.radio("Colour scale", SCALES if len(names) > 1 else SCALES[1:], horizontal=True, key="inside_scale")
    all_maps = {name: probes.feature_maps(s.model, s.x) for name, s in shown.items()}
    first = all_maps[names[0]]
    options = [(fm.block, fm.stage) for fm in first]
    layer = {(fm.block, fm.stage): fm.layer for fm in first}
    picked = st.multiselect("Stages", options, default=[s for s in options if s[1] in ("conv", "activation", "pool")],
                            format_func=lambda s: f"block {s[0]}: after {layer[s]}")
    mode = {SCALES[0]: "shared", SCALES[1]: "per model", SCALES[2]: "per map"}[scale]
    stages = [map_stage(_maps_of_stage(all_maps, block, stage), block, stage, mode) for block, stage in picked]
    filters = {name: probes.first_filters(s.model) for name, s in shown.items()}
    common = charts.colour_range(list(filters.values())) if scale == SCALES[0] else None  # across the models
    grey = all(w.shape[1] == 1 for w in filters.values())
    if grey:  # grey kernels: one more row of the same chart (a photo model's are colour pictures, drawn apart)
        one = {"" if len(names) == 1 else name: w[:, 0] for name, w in filters.items()}
        stages.append(charts.Stage("first-layer filters" + (f" · {_shape(filters[names[0]][:, 0])}"
                                                             if len(names) == 1 else ""),
                                   one, None, "shared" if common or len(names) == 1 else mode, noun="filters"))
    if stages:  # one chart for every stage: a chart each took the browser about as long each (issue 36)
        st.plotly_chart(charts.stage_grids(stages, f"{names[0]}: feature maps" if len(names) == 1
                                           else "Feature maps", cols=8 if len(names) == 1 else 4,
                                           title_chars=title_room(1)),
                        width="stretch", key="maps", config=charts.STATIC)
    if picked:
        st.caption("Each tile is one channel after that stage: a picture of where in the image one filter responds "
                   "(red positive, blue negative, white 0; dark to bright where all values are ≥ 0). Colour scale: "
                   + {SCALES[0]: "one per stage, shared by the models side by side, so brightness compares.",
                      SCALES[1]: "one per stage and model: brightness compares within a model only.",
                      SCALES[2]: "each map stretched to its own largest value: shapes compare, brightness does "
                                 "not (hover for true values)."}[scale]
                   + " Look for maps that light up along strokes or edges of one direction.")
    if not grey:
        for col, (name, w) in zip(columns(names), filters.items(), strict=True):
            col.plotly_chart(charts.filter_grid(w, f"{name}: first-layer filters", zrange=common,
                                                title_chars=title_room(len(names))),
                             width="stretch", key=f"filters-{name}", config=charts.STATIC)
    st.caption(filter_caption(filters, common is not None))


def weights_view(pairs: dict[str, tuple[torch.nn.Module, torch.nn.Module]], recurrent: bool,
                 ids: dict[str, int] | None = None) -> None:
    """How far each layer of each trained model moved from its initial weights (name -> (model, initial)),
    each model's bars in its run's colour (`ids`: name -> run id)."""
    series = {name: probes.weight_change(m, m0) for name, (m, m0) in pairs.items()}
    st.plotly_chart(charts.weight_change(series, ids), width="stretch", config=charts.STATIC)
    looks = "hidden states and gates" if recurrent else "feature maps"
    st.caption("One bar per layer: ‖w − w₀‖ / ‖w₀‖ (weights and biases together), w₀ being the exact weights the "
               "run started from (its config and seed). A layer that moved only a few percent still computes much "
               f"what it did untrained, so its {looks} look alike trained and untrained.")
