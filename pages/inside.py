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
from ui.inside_math import conv_math
from ui.inside_math_rnn import recurrent_math
from ui.inside_math_train import training_step_math
from ui.inside_pick import (
    CNN_VIEWS,
    GRADIENT,
    MAPS,
    MATH,
    NOTHING,
    PIXELS,
    RECURRENT_VIEWS,
    STATES,
    UNTRAINED,
    WEIGHTS,
    pick_beside,
    pick_input,
    pick_model,
    pick_view,
)
from ui.inside_recurrent import gradients_through_time, recurrent_view
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

recurrent = is_recurrent(rec.config)
mine_x = shown[mine].x
answer = predictions(shown, classes, picked.image, picked.label)[mine]

view, tab = pick_view(RECURRENT_VIEWS if recurrent else CNN_VIEWS)
with tab:
    if view == MAPS:
        cnn_view(shown, rec.config)
    elif view == STATES:
        recurrent_view(shown, picked.image, classes, max(m.rnn.num_layers for m, _ in models.values()), str(run_id))
    elif view == MATH:
        if beside not in (UNTRAINED, NOTHING):  # the choice above is not silently dropped
            st.caption(f"The math is worked out for {me} alone, the model picked above (not the one beside it).")
        if recurrent:
            recurrent_math(loaded.model, mine_x, picked.image, classes, str(run_id))
        else:
            conv_math(loaded.model, mine_x, picked.image, str(run_id))
        training_step_math(loaded.model, rec.config, mine_x, picked.label, classes, str(run_id))
    elif view == GRADIENT:
        target = picked.label if picked.label is not None else answer
        gradients_through_time(compatible_runs(runs, rec.config), run_id, labels, picked.pixels, target, classes,
                               untrained=(f"{me}, untrained", initial, shown[f"{me}, untrained"].x)
                               if beside == UNTRAINED else None)
    elif view == PIXELS:
        saliency({name: (s.model, models[name][1], s.x) for name, s in shown.items()},
                 why_target(answer, classes, f"inside-{run_id}"), classes, f"inside-{run_id}",
                 outline=picked.image if picked.image.ndim == 2 else None,  # a digit's outline; a photo has none
                 title_chars=title_room(len(shown) * (2 if recurrent else 1)))  # a recurrent map has rows
    elif view == WEIGHTS:
        weights_view(start, recurrent, start_ids)
    else:
        if beside not in (UNTRAINED, NOTHING):
            st.caption(f"The map of {me} alone (beside its untrained copy where that is picked): pick the other "
                       "model above to see its own map.")
        projector(rec, classes, probes.model_input(picked.pixels, rec.config) if picked.label is None else None,
                  with_untrained=beside == UNTRAINED)
