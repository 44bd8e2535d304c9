"""Inside's "show the math" for recurrent models: image row t through the cell, with this step's numbers
(playground.by_hand.recurrent_step, checked there against nn.LSTM / nn.GRU / nn.RNN)."""
from __future__ import annotations

import numpy as np
import streamlit as st
import torch

from playground import by_hand, charts, probes

# One equation a line: two a line were cut at 1,280 px in the three-quarter column they are shown in
EQUATIONS = {
    "LSTM": r"""i = \sigma(W_i x_t + U_i h_{t-1} + b_i) \\ f = \sigma(W_f x_t + U_f h_{t-1} + b_f) \\
g = \tanh(W_g x_t + U_g h_{t-1} + b_g) \\ o = \sigma(W_o x_t + U_o h_{t-1} + b_o) \\
c_t = f \odot c_{t-1} + i \odot g \\ h_t = o \odot \tanh(c_t)""",
    "GRU": r"""r = \sigma(W_r x_t + U_r h_{t-1} + b_r) \\ z = \sigma(W_z x_t + U_z h_{t-1} + b_z) \\
n = \tanh(W_n x_t + b_{in} + r \odot (U_n h_{t-1} + b_{hn})) \\ h_t = (1 - z) \odot n + z \odot h_{t-1}""",
    "RNN_TANH": r"h_t = \tanh(W x_t + U h_{t-1} + b)",
    "RNN_RELU": r"h_t = \mathrm{relu}(W x_t + U h_{t-1} + b)",
}


def recurrent_math(model: torch.nn.Module, x: torch.Tensor, image: np.ndarray, classes, key: str) -> None:
    """Pick a row t (and a layer): the cell's equations, the units that changed most, any unit's numbers."""
    k = f"rmath-{key}"
    st.subheader("Show the math: one row, by hand", anchor=False)
    steps = model.rows(x).shape[1]
    layers = model.rnn.num_layers
    c1, c2 = st.columns([3, 1])
    t = c1.slider("Image row t" + (" (rows after the image are blank)" if steps > image.shape[0] else ""),
                  1, steps, min(14, steps), key=f"{k}-t") - 1
    layer = c2.selectbox("Layer", range(layers), index=0, key=f"{k}-layer",
                         format_func=lambda i: f"layer {i + 1} of {layers}") if layers > 1 else 0
    step = by_hand.recurrent_step(model, x, t, layer)
    probs = probes.row_predictions(model, x)[t]
    left, right = st.columns([1, 3])
    left.plotly_chart(charts.image_rows(image, min(t + 1, image.shape[0]), f"Row {t + 1} read"), width="stretch",
                      key=f"{k}-rows", config=charts.STATIC)
    left.markdown(f"Answer after row {t + 1}: **{classes[int(probs.argmax())]}** ({probs.max():.0%} sure)")
    with right:
        st.latex(EQUATIONS[step.kind])
        rows = by_hand.unit_rows(step)
        show_all = st.toggle(f"All {len(rows)} units", key=f"{k}-all")
        st.dataframe(rows if show_all else rows[:8], hide_index=True, width="stretch", key=f"{k}-units")
        st.caption(f"The units whose h changed most at row {t + 1}, largest |change| first (click a column to sort). "
                   "x_t is the image row (28 pixels)" + (" or the layer below's h_t" if layers > 1 else "") +
                   f"; the same row t is row {t + 1} of the hidden-state heatmap and the row-by-row prediction in the "
                   "*Hidden states* tab.")
    s = st.session_state
    if s.get(f"{k}-at") != (t, layer):  # a new row or layer: start from the unit that changed most there
        s[f"{k}-at"] = (t, layer)
        s[f"{k}-unit"] = rows[0]["unit"]
    unit = st.number_input(f"Unit (1 to {len(step.h)})", 1, len(step.h), key=f"{k}-unit") - 1
    st.code("\n".join(by_hand.unit_equations(step, unit)), language=None, wrap_lines=True)  # whole at 1,280 px
    gap = float(np.abs(step.h - step.torch_h).max())
    if step.c is not None:
        gap = max(gap, float(np.abs(step.c - step.torch_c).max()))
    st.caption(f"Unit {unit + 1}'s numbers at row {t + 1}: W·x_t + b and U·h_(t−1) + b are this unit's rows of "
               f"the layer's weights times the input and the previous state. Over all {len(step.h)} units the "
               f"hand-computed state differs from PyTorch's own by at most {gap:.1e}.")
