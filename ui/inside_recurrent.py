"""Inside-page views of recurrent models: hidden states beside the input, gates, how the answer forms row by
row, for one model or several side by side (one colour scale for all by default); the gradient through time."""
from __future__ import annotations

import numpy as np
import streamlit as st
import torch

from playground import probes
from playground.codegen import ARCH_NAMES
from playground.inference import CheckpointError
from ui.common import loaded_model
from ui.figures import charts
from ui.inside_pick import gradient_defaults
from ui.inside_views import SCALES, Shown, columns, scale_words, title_room

GRADIENT_CAPTION = (
    "Each point is ‖∂loss/∂h_t‖: how strongly the hidden state after row t still changes the loss for the class "
    "'{target}', that is, how much learning signal reaches step t when the error is sent back through time"
    "{relative}. Read from the curves: {reading}.")
GRADIENT_THEORY = (
    "A curve that falls towards row 1 is the signal fading on its way back (the vanishing gradient): each step "
    "back multiplies it by the recurrent weights and the activation's slope, and a product of many factors below 1 "
    "shrinks geometrically. Untrained models, whose weights are small, show it clearly. A flat curve on a "
    "*trained* model does not mean the signal travels freely: a trained vanilla RNN's recurrent weights grow "
    "(which alone would make the gradient explode) while most of its tanh units saturate near ±1 (where they pass "
    "almost no gradient), and the two roughly cancel. The LSTM and GRU gates decide what is kept instead (a "
    "forget gate near 1 passes the cell's memory back unchanged), so their curves show which rows the answer "
    "still depends on.")


def share(ratio: float) -> str:
    """Row 1's signal as a share of the last row's: '1%', '35%', or '3.2×' where it grew on the way back."""
    if ratio >= 10:
        return f"{ratio:.0f}×"
    if ratio >= 1.5:
        return f"{ratio:.1f}×"
    return f"{ratio:.0%}" if ratio >= 0.01 else f"{ratio:.1%}" if ratio >= 0.001 else f"{ratio:.0e}"


def reading(series: dict[str, np.ndarray]) -> str:
    """What the curves on screen say: each model's row-1 signal as a share of its last row's."""
    parts = [f"{name}'s row 1 gets {share(float(g[0]) / max(float(g[-1]), 1e-30))} of the last row's signal"
             for name, g in series.items()]
    return "; ".join(parts)


GATES_CAPTION = {
    "lstm": "LSTM: rows are steps (image rows), columns units. A gate runs from 0 (closed, dark) to 1 (open, yellow): "
            "the input gate lets the new row in, a forget gate near 1 keeps the cell's memory, the output gate "
            "lets the cell show in h_t. The cell state c_t is the memory itself, on its own colour bar ({cell}).",
    "gru": "GRU: rows are steps (image rows), columns units, from 0 (dark) to 1 (yellow). An update gate near 1 keeps "
           "the previous state and ignores the new row; a reset gate near 0 forgets the state when reading it.",
}


def _layer_pick(layers: int, key: str) -> int:
    if layers == 1:
        return 1
    return st.selectbox("Layer", list(range(1, layers + 1)), index=layers - 1, key=f"inside_layer-{key}",
                        format_func=lambda k: f"layer {k} of {layers}" + (" (top)" if k == layers else ""))


def _traces(shown: dict[str, Shown], layer: int) -> dict[str, tuple[probes.RecurrentTrace, str]]:
    """Each model's trace of `layer` (its own top layer where it has fewer) and the title's layer words."""
    out = {}
    for name, s in shown.items():
        n = s.model.rnn.num_layers
        k = min(layer, n)
        out[name] = probes.recurrent_trace(s.model, s.x, k - 1), f" (layer {k} of {n})" if n > 1 else ""
    return out


def recurrent_view(shown: dict[str, Shown], image, classes, layers: int, key: str) -> dict[str, np.ndarray]:
    """Hidden states beside the input, gates and the per-row prediction of each model, side by side;
    returns each model's per-row prediction, (T, classes)."""
    layer = _layer_pick(layers, key)
    sort = st.toggle("Sort units by mean activation", key="inside_sort_units")
    names = list(shown)
    shared = len(names) == 1 or st.radio("Colour scale", SCALES[:2], horizontal=True, key="inside_rscale") == SCALES[0]
    traces = _traces(shown, layer)
    hidden = charts.colour_range([a for t, _ in traces.values() for a in (t.hidden, -t.hidden)])
    cells = [a for t, _ in traces.values() if "cell state" in t.gates
             for a in (t.gates["cell state"], -t.gates["cell state"])]
    cell = charts.colour_range(cells, robust=True) if cells else None
    for col, (name, (t, which)) in zip(columns(names), traces.items(), strict=True):
        col.plotly_chart(charts.hidden_states(t.hidden, image, sort, f"{name}: hidden state h_t{which}",
                                              zrange=hidden if shared else None),
                         width="stretch", key=f"hidden-{name}", config=charts.STATIC)
    both = "one scale for the models side by side" if len(names) > 1 and shared else "one scale per model"
    st.caption(f"Left, the input; right, row t is the hidden state h_t after the model read image rows 1 to t, one "
               f"column per unit (colour: {both}" + (f", {scale_words(*hidden)}" if shared else "") + "). "
               "Look for units that switch on where the strokes are and keep their value below the digit: memory.")
    kinds = [s.model.kind for s in shown.values() if s.model.kind in GATES_CAPTION]
    if kinds:
        for col, (name, (t, which)) in zip(columns(names), traces.items(), strict=True):
            if not t.gates:
                col.caption(f"{name}: a plain RNN has no gates; its whole state is h_t.")
                continue
            col.plotly_chart(charts.gates(t.gates, f"{name}: gates over time{which}",
                                          cell_range=cell if shared else None), width="stretch", key=f"gates-{name}",
                            config=charts.STATIC)
        cell_words = (f"{both}, {scale_words(*cell)}; larger values saturate" if shared and cell
                      else "each panel to its own 99th percentile of |c|; larger values saturate")
        st.caption(" ".join(GATES_CAPTION[k].format(cell=cell_words) for k in dict.fromkeys(kinds)))
    rows = {}
    for col, (name, s) in zip(columns(names), shown.items(), strict=True):
        rows[name] = probes.row_predictions(s.model, s.x)
        col.plotly_chart(charts.row_predictions(rows[name], classes, title=f"{name}: how the prediction forms, "
                                                "row by row", title_chars=title_room(len(names))),
                         width="stretch", key=f"rows-{name}", config=charts.STATIC)
    st.caption("Column t: the class probabilities if the model had to answer after reading rows 1 to t (bright = "
               "likely, one 0–100% scale for all); below, the probability of its final answer. Look for the row "
               "where the answer settles: usually once the part that tells this digit apart has been read.")
    return rows


def gradient_view(series: dict[str, np.ndarray], target: str, ids: dict[str, int], untrained: list[str]) -> None:
    """Each model's gradient through time (name -> norms), coloured as its run (`ids`: name -> run id)."""
    relative = st.toggle("Relative to the last step", value=True, key="inside_gtt_relative",
                         help="Off: raw norms, which also shrink when a model is simply confident.")
    st.plotly_chart(charts.gradient_norms(series, relative, ids, untrained), width="stretch", config=charts.STATIC)
    st.caption(GRADIENT_CAPTION.format(target=target, reading=reading(series),
                                       relative=" (*relative* on: each curve divided by its last step)"
                                       if relative else ""))
    with st.expander("Why the signal fades, and why a flat curve can still hide it"):
        st.markdown(GRADIENT_THEORY)


def gradients_through_time(candidates, run_id: int, labels: dict, pixels: torch.Tensor, target: int, classes,
                           untrained: tuple[str, torch.nn.Module, torch.Tensor] | None) -> None:
    """The gradient-through-time view: the models picked from `candidates` (run records, newest first; one RNN,
    one LSTM and one GRU at first), each reading `pixels` as its own training normalized them, plus the model
    untrained (`untrained`: its name, module and input) when it is shown beside."""
    by_id = {r.id: r for r in candidates}
    chosen = st.multiselect("Models (e.g. an RNN, an LSTM and a GRU)", list(by_id),
                            default=gradient_defaults(run_id, candidates), format_func=labels.get,
                            key="inside_gtt_models")
    series, ids = {}, {}  # ids: each curve's run, for its colour
    for other_id in chosen:
        try:
            m = loaded_model(by_id[other_id].checkpoint)
            name = f"#{other_id} {ARCH_NAMES[m.config.model.arch]}"
            x = probes.model_input(pixels, m.config)
            series[name], ids[name] = probes.gradient_through_time(m.model, x, target), other_id
        except CheckpointError as exc:
            st.warning(str(exc))
    if untrained is not None:
        name, model, x = untrained
        series[name], ids[name] = probes.gradient_through_time(model, x, target), run_id
    if series:
        gradient_view(series, classes[target], ids, untrained=[untrained[0]] if untrained else [])
