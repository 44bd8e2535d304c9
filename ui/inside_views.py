"""Inside-page views: what a CNN and a recurrent model compute for one input, for one model or two
side by side (e.g. trained and untrained), and how far each layer's weights moved in training."""
from __future__ import annotations

import numpy as np
import streamlit as st
import torch

from playground import charts, probes
from playground.models import layer_table

GRADIENT_CAPTION = (
    "Each point is ‖∂loss/∂h_t‖: how strongly the hidden state after row t still changes the loss for the class "
    "'{target}', that is, how much learning signal reaches step t when the error is sent back through time. "
    "With *relative* on, each curve is divided by its last step. A curve that falls towards row 1 is the signal "
    "fading on its way back (the vanishing gradient); untrained models, whose weights are small, show it clearly. "
    "A flat curve on a *trained* model does not mean the signal travels freely: a trained vanilla RNN's recurrent "
    "weights grow (which alone would make the gradient explode) while most of its tanh units saturate near ±1 "
    "(where they pass almost no gradient), and the two roughly cancel. The LSTM and GRU gates decide what is "
    "kept instead, so their curves show which rows the answer still depends on.")


def _columns(names: list[str]):
    return st.columns(len(names)) if len(names) > 1 else [st.container()]


def predictions(models: dict[str, torch.nn.Module], x: torch.Tensor, classes) -> None:
    """Each model's answer and class probabilities, side by side."""
    for col, (name, m) in zip(_columns(list(models)), models.items(), strict=True):
        p = probes.class_probabilities(m, x)
        col.metric(f"{name} predicts · {p.max():.0%} sure", classes[int(p.argmax())])
        col.plotly_chart(charts.probabilities(p, classes, f"{name}: class probabilities"), width="stretch",
                         key=f"probs-{name}")


def cnn_view(models: dict[str, torch.nn.Module], x: torch.Tensor, config) -> None:
    """Feature maps per stage and first-layer filters, for one model or two side by side."""
    names = list(models)
    table = layer_table(models[names[0]], config)
    st.dataframe(table, hide_index=True, width="stretch", height="content")  # every row, no scroll box
    shared = st.radio("Colour scale", ["shared by the maps of a stage", "one per map"], horizontal=True) \
        .startswith("shared")
    all_maps = {name: probes.feature_maps(m, x) for name, m in models.items()}
    stages = [(fm.block, fm.stage) for fm in all_maps[names[0]]]
    picked = st.multiselect("Stages", stages, default=[s for s in stages if s[1] in ("conv", "activation", "pool")],
                            format_func=lambda s: f"block {s[0]}: after {s[1]}")
    for block, stage in picked:
        for col, name in zip(_columns(names), names, strict=True):
            fm = next((f for f in all_maps[name] if (f.block, f.stage) == (block, stage)), None)
            if fm is None:
                col.caption(f"{name}: no {stage} stage in block {block}")
                continue
            c, h, w = fm.maps.shape
            col.plotly_chart(charts.map_grid(fm.maps, shared, f"{name}: block {block} after {stage} ({c}×{h}×{w})",
                                             cols=8 if len(names) == 1 else 4),
                             width="stretch", key=f"maps-{name}-{block}-{stage}")
    for col, (name, m) in zip(_columns(names), models.items(), strict=True):
        col.plotly_chart(charts.filter_grid(probes.first_filters(m), f"{name}: first-layer filters"),
                         width="stretch", key=f"filters-{name}")


def recurrent_view(models: dict[str, torch.nn.Module], x: torch.Tensor, image, classes, layers: int,
                   key: str) -> dict[str, np.ndarray]:
    """Hidden states beside the input, gates and the per-row prediction of each model, side by side;
    returns each model's per-row prediction, (T, classes)."""
    layer = layers
    if layers > 1:
        layer = st.selectbox("Layer", list(range(1, layers + 1)), index=layers - 1, key=f"inside_layer-{key}",
                             format_func=lambda k: f"layer {k} of {layers}" + (" (top)" if k == layers else ""))
    sort = st.toggle("Sort units by mean activation", key="sort_units")
    which = f" (layer {layer} of {layers})" if layers > 1 else ""
    rows = {}
    for col, (name, m) in zip(_columns(list(models)), models.items(), strict=True):
        trace = probes.recurrent_trace(m, x, layer - 1)
        col.plotly_chart(charts.hidden_states(trace.hidden, image, sort, f"{name}: hidden state h_t{which}"),
                         width="stretch", key=f"hidden-{name}")
        if trace.gates:
            col.plotly_chart(charts.gates(trace.gates, f"{name}: gates over time{which}"), width="stretch",
                             key=f"gates-{name}")
        rows[name] = probes.row_predictions(m, x)
        col.plotly_chart(charts.row_predictions(rows[name], classes, title=f"{name}: how the prediction forms, "
                                                                            "row by row"),
                         width="stretch", key=f"rows-{name}")
    return rows


def gradient_view(series: dict[str, np.ndarray], target: str) -> None:
    relative = st.toggle("Relative to the last step", value=True, key="gtt_relative",
                         help="Off: raw norms, which also shrink when a model is simply confident.")
    st.plotly_chart(charts.gradient_norms(series, relative), width="stretch")
    st.caption(GRADIENT_CAPTION.format(target=target))


def weights_view(pairs: dict[str, tuple[torch.nn.Module, torch.nn.Module]]) -> None:
    """How far each layer of each trained model moved from its initial weights (name -> (model, initial))."""
    series = {name: probes.weight_change(m, m0) for name, (m, m0) in pairs.items()}
    st.plotly_chart(charts.weight_change(series), width="stretch")
    st.caption("‖w − w₀‖ / ‖w₀‖ for each layer (weights and biases together), w₀ being the exact weights the run "
               "started from (its config and seed). A layer that moved only a few percent still computes much "
               "what it did untrained, so its feature maps look alike trained and untrained.")
