"""Inside: feature maps and filters of CNNs; hidden states, gates and gradients of recurrent models;
each beside the same model untrained (or another checkpoint), and how far training moved each layer."""
import streamlit as st

from playground import probes
from playground.codegen import ARCH_NAMES
from playground.compare import compatible_runs
from playground.config import is_recurrent
from playground.data import spec
from playground.inference import CheckpointError
from playground.models import untrained
from ui.common import jobs, loaded_model, run_label
from ui.figures import charts
from ui.inside_math import conv_math
from ui.inside_math_rnn import recurrent_math
from ui.inside_math_train import training_step_math
from ui.inside_pick import NOTHING, UNTRAINED, gradient_defaults, pick_beside, pick_input, pick_model
from ui.inside_recurrent import gradient_view, recurrent_view
from ui.inside_views import Shown, cnn_view, predictions, title_room, weights_view
from ui.navigation import require_app
from ui.projector_view import projector
from ui.why_views import saliency, why_target

require_app()  # first: the app's frame even when Streamlit ran this page on its own

st.title("Inside")
runs = [r for r in jobs().store.list_runs() if r.checkpoint]
if not runs:
    st.info("Nothing to look inside yet: train a model on the **Train** page first.")
    st.page_link("pages/train.py", label="Go to Train", icon="🏋️")
    st.stop()
labels = {r.id: run_label(r) for r in runs}
by_id = {r.id: r for r in runs}

c1, c2 = st.columns(2)
run_id = pick_model(list(labels), labels, c1)
rec = by_id[run_id]
peers = [r.id for r in compatible_runs(runs, rec.config) if r.id != run_id]
beside = pick_beside(run_id, peers, labels, c2)
try:
    loaded = loaded_model(rec.checkpoint)
except CheckpointError as exc:
    st.error(str(exc))
    st.stop()
classes = spec(rec.config.data.dataset).classes

initial = untrained(rec.config)  # the exact weights this run started from (its config and seed)
me = f"#{run_id} {ARCH_NAMES[rec.config.model.arch]}"  # every title names the architecture, not only the run
mine = f"{me}, trained"
models = {mine: (loaded.model, rec.config)}
start = {me: (loaded.model, initial)}  # for the weight movement: each trained model and its start
start_ids = {me: run_id}  # ... and its run, for its colour
if beside == UNTRAINED:
    models[f"{me}, untrained"] = (initial, rec.config)
elif beside != NOTHING:
    try:
        other = loaded_model(by_id[beside].checkpoint)
        them = f"#{beside} {ARCH_NAMES[other.config.model.arch]}"
        models[f"{them}, trained"] = (other.model, other.config)
        start[them], start_ids[them] = (other.model, untrained(other.config)), beside
    except CheckpointError as exc:
        st.warning(str(exc))

picked = pick_input(rec, classes)
# Each model gets the input exactly as its own training normalized it (models side by side may differ).
shown = {name: Shown(m, probes.model_input(picked.pixels, cfg)) for name, (m, cfg) in models.items()}

if is_recurrent(rec.config):
    layers = max(m.rnn.num_layers for m, _ in models.values())
    rows = recurrent_view(shown, picked.image, classes, layers, str(run_id))
    recurrent_math(loaded.model, shown[mine].x, picked.image, classes, str(run_id))
    st.subheader("Gradient through time", anchor=False)
    candidates = compatible_runs(runs, rec.config)  # newest first
    others = [r.id for r in candidates]
    default = gradient_defaults(run_id, candidates)  # one RNN, one LSTM, one GRU where they exist
    chosen = st.multiselect("Models (e.g. an RNN, an LSTM and a GRU)", others, default=default,
                            format_func=labels.get, key="inside_gtt_models")
    target = picked.label if picked.label is not None else int(rows[mine][-1].argmax())
    series, ids = {}, {}  # ids: each curve's run, for its colour
    for other_id in chosen:
        try:
            m = loaded_model(by_id[other_id].checkpoint)
            x = probes.model_input(picked.pixels, m.config)
            name = f"#{other_id} {ARCH_NAMES[m.config.model.arch]}"
            series[name], ids[name] = probes.gradient_through_time(m.model, x, target), other_id
        except CheckpointError as exc:
            st.warning(str(exc))
    if beside == UNTRAINED:
        series[f"{me}, untrained"] = probes.gradient_through_time(initial, shown[f"{me}, untrained"].x, target)
        ids[f"{me}, untrained"] = run_id
    if series:
        gradient_view(series, classes[target], ids, untrained=[f"{me}, untrained"])
else:
    a, _ = st.columns([1, 4])
    a.plotly_chart(charts.image(picked.image, "Input"), width="stretch", config=charts.STATIC)
    predictions(shown, classes)
    cnn_view(shown, rec.config)
    conv_math(loaded.model, shown[mine].x, picked.image, str(run_id))
training_step_math(loaded.model, rec.config, shown[mine].x, picked.label, classes, str(run_id))

st.subheader("Which pixels decided it", anchor=False)
answer = int(probes.class_probabilities(loaded.model, shown[mine].x).argmax())
saliency({name: (s.model, models[name][1], s.x) for name, s in shown.items()},
         why_target(answer, classes, f"inside-{run_id}"), classes, f"inside-{run_id}",
         outline=picked.image if picked.image.ndim == 2 else None,  # a digit's outline; a photo has none
         title_chars=title_room(len(shown) * (2 if is_recurrent(rec.config) else 1)))  # a recurrent map has rows

st.subheader("How far training moved the weights", anchor=False)
weights_view(start, is_recurrent(rec.config), start_ids)

st.subheader("The model's own map of the inputs", anchor=False)
projector(rec, classes, probes.model_input(picked.pixels, rec.config) if picked.label is None else None,
          with_untrained=beside == UNTRAINED)
