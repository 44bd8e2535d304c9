"""Inside-page views: what a CNN and a recurrent model compute for one input."""
from __future__ import annotations

import numpy as np
import streamlit as st
import torch

from playground import charts, probes
from playground.models import layer_table


def cnn_view(models: dict[str, torch.nn.Module], x: torch.Tensor, config) -> None:
    """Feature maps per stage and first-layer filters, for one model or two side by side."""
    names = list(models)
    st.dataframe(layer_table(models[names[0]], config), hide_index=True, width="stretch")
    shared = st.radio("Colour scale", ["shared by the maps of a stage", "one per map"], horizontal=True) \
        .startswith("shared")
    all_maps = {name: probes.feature_maps(m, x) for name, m in models.items()}
    stages = [(fm.block, fm.stage) for fm in all_maps[names[0]]]
    picked = st.multiselect("Stages", stages, default=[s for s in stages if s[1] in ("conv", "activation", "pool")],
                            format_func=lambda s: f"block {s[0]}: after {s[1]}")
    for block, stage in picked:
        cols = st.columns(len(names))
        for col, name in zip(cols, names, strict=True):
            fm = next((f for f in all_maps[name] if (f.block, f.stage) == (block, stage)), None)
            if fm is None:
                col.caption(f"{name}: no {stage} stage in block {block}")
                continue
            c, h, w = fm.maps.shape
            col.plotly_chart(charts.map_grid(fm.maps, shared, f"{name}: block {block} after {stage} ({c}×{h}×{w})",
                                             cols=8 if len(names) == 1 else 4),
                             width="stretch", key=f"maps-{name}-{block}-{stage}")
    cols = st.columns(len(names))
    for col, (name, m) in zip(cols, models.items(), strict=True):
        col.plotly_chart(charts.filter_grid(probes.first_filters(m), f"{name}: first-layer filters"),
                         width="stretch", key=f"filters-{name}")


def recurrent_view(model, x: torch.Tensor, image, classes) -> np.ndarray:
    """Hidden states beside the input, gates, and the per-row prediction; returns the latter, (T, classes)."""
    trace = probes.recurrent_trace(model, x)
    sort = st.toggle("Sort units by mean activation", key="sort_units")
    st.plotly_chart(charts.hidden_states(trace.hidden, image, sort), width="stretch")
    if trace.gates:
        st.markdown("**Gates over time** (one row per step, like the image)")
        st.plotly_chart(charts.gates(trace.gates), width="stretch")
    rows = probes.row_predictions(model, x)
    st.plotly_chart(charts.row_predictions(rows, classes), width="stretch")
    return rows
