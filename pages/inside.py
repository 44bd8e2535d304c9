"""Inside: feature maps and filters of CNNs; hidden states, gates and gradients of recurrent models."""
import numpy as np
import streamlit as st

from playground import charts, probes
from playground.compare import compatible_runs
from playground.config import is_recurrent
from playground.data import sample, spec
from playground.inference import CheckpointError, to_input
from playground.models import untrained
from ui.common import jobs, loaded_model, run_label
from ui.inside_views import cnn_view, recurrent_view
from ui.navigation import require_app

require_app()  # first: the app's frame even when Streamlit ran this page on its own

st.title("Inside")
runs = [r for r in jobs().store.list_runs() if r.checkpoint]
if not runs:
    st.info("Nothing to look inside yet: train a model on the **Train** page first.")
    st.page_link("pages/train.py", label="Go to Train", icon="🏋️")
    st.stop()
labels = {r.id: run_label(r) for r in runs}
by_id = {r.id: r for r in runs}

c1, c2 = st.columns([3, 1])
run_id = c1.selectbox("Model", list(labels), format_func=labels.get, key="inside_model")
fresh = c2.toggle("Untrained copy", help="The same architecture at its initial weights.", key="inside_untrained")
rec = by_id[run_id]
try:
    loaded = loaded_model(rec.checkpoint)
except CheckpointError as exc:
    st.error(str(exc))
    st.stop()
model = untrained(rec.config) if fresh else loaded.model
classes = spec(rec.config.data.dataset).classes

sources = ["test image"] + (["my drawing"] if rec.config.data.dataset == "mnist" and
                            st.session_state.get("last_digit") is not None else [])
c1, c2, c3 = st.columns([2, 2, 1])
source = c1.radio("Input", sources, horizontal=True, key="inside_source")
if source == "my drawing":
    image = st.session_state["last_digit"]
    x, label = to_input(image[None], rec.config), None
else:
    st.session_state.setdefault("inside_index", 0)
    if c3.button("🎲 Random"):
        st.session_state["inside_index"] = int(np.random.default_rng().integers(0, 10_000))
    index = c2.number_input("Test image index", 0, 99_999, key="inside_index")
    x, image, label = sample(rec.config, index)
    c2.caption(f"true class: **{classes[label]}**")

if is_recurrent(rec.config):
    rows = recurrent_view(model, x, image, classes)
    st.subheader("Gradient through time", anchor=False)
    others = [r.id for r in compatible_runs(runs, rec.config)]
    chosen = st.multiselect("Models (e.g. an RNN, an LSTM and a GRU)", others, default=others[:3],
                            format_func=labels.get, key="gtt_models")
    target = label if label is not None else int(rows[-1].argmax())  # a drawing: explain the model's answer
    series = {}
    for other in chosen:
        try:
            m = loaded_model(by_id[other].checkpoint)
            series[f"#{other} {m.config.model.arch.upper()}"] = probes.gradient_through_time(m.model, x, target)
        except CheckpointError as exc:
            st.warning(str(exc))
    if series:
        relative = st.toggle("Relative to the last step", value=True, key="gtt_relative",
                             help="Off: raw norms, which also shrink when a model is simply confident.")
        st.plotly_chart(charts.gradient_norms(series, relative), width="stretch")
        st.caption(f"How much each row's hidden state still moves the loss for the class '{classes[target]}'. "
                   "A curve falling towards the first rows is the error signal vanishing on its way back "
                   "in time; a flat one means early rows still get learning signal.")
else:
    a, b = st.columns([1, 4])
    a.plotly_chart(charts.image(image, "Input"), width="stretch")
    peers = [r.id for r in compatible_runs(runs, rec.config) if r.id != run_id]
    other = b.selectbox("Side by side with", [None, *peers],
                        format_func=lambda i: "nothing" if i is None else labels[i], key="inside_other")
    models = {f"#{run_id}" + (" untrained" if fresh else ""): model}
    if other is not None:
        try:
            models[f"#{other}"] = loaded_model(by_id[other].checkpoint).model
        except CheckpointError as exc:
            st.warning(str(exc))
    cnn_view(models, x, rec.config)
