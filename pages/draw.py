"""Draw: a digit on a canvas (or an uploaded image) -> what each model sees and predicts."""
import streamlit as st

from playground.codegen import ARCH_NAMES
from playground.config import is_recurrent
from playground.inference import CheckpointError, drawing_checkpoints, predict_drawings
from playground.own import is_own
from ui.common import jobs, loaded_model, plain, run_label
from ui.draw_answer import answer, rows_read, why
from ui.draw_classes import (
    default_models,
    digit_models,
    linked_model,
    model_label,
    models_in_url,
    not_scored,
    put_models_in_url,
    side_by_side,
)
from ui.draw_input import SEEN, UPLOAD, draw_input, unlike_digits, warm_checks
from ui.draw_keep import keep_controls, kept_signature, test_set
from ui.draw_own import camera_keep, folder_io, own_classes, teach
from ui.navigation import require_app
from ui.state import KEPT_SEEN, LAST_DIGIT, LAST_SOURCE

require_app()  # first: the app's frame even when Streamlit ran this page on its own

st.title("Draw")
warm_checks()
store = jobs().store
models = drawing_checkpoints(store.list_runs())  # digits, or classes of your own: each answers in its own names
if not models:
    st.info("No MNIST model yet. Train one on the **Train** page first (the LSTM 64 recipe takes seconds).")
    st.page_link("pages/train.py", label="Go to Train", icon="🏋️")
    st.stop()

by_id = {r.id: r for r in models}
labels = {r.id: model_label(r, f"{run_label(r)} · {ARCH_NAMES[r.config.model.arch]}") for r in models}
s = st.session_state
if (linked := linked_model(labels)) is not None:  # a lesson's link: its model, whatever was picked before
    s["draw_models"] = [linked]
elif (named := models_in_url(labels)) is not None:  # a reload, or a link someone shared
    s["draw_models"] = named
elif s.get("draw_models") is None or any(i not in labels for i in s["draw_models"]):  # first visit, or a run gone
    s["draw_models"] = default_models(models)
chosen = st.multiselect("Models", list(labels), format_func=labels.get, max_selections=6, key="draw_models",
                        help="By default the finished model with the best test accuracy.")
put_models_in_url(chosen)
if st.session_state.get("draw_detail") not in chosen:
    st.session_state["draw_detail"] = chosen[0] if chosen else None
detail = st.selectbox("Explained in detail", chosen, key="draw_detail", format_func=labels.get,
                      disabled=len(chosen) < 2) if chosen else None
loaded, unreadable = {}, {}
for run_id in chosen:
    try:
        loaded[run_id] = loaded_model(by_id[run_id].checkpoint)
    except CheckpointError as exc:
        unreadable[run_id] = exc
first = detail if detail in loaded else next(iter(loaded), None)
s[KEPT_SEEN] = kept_signature()


@st.fragment
def drawing_and_answers() -> None:
    """The canvas and all a stroke changes (the answers, why, row by row, side by side, keeping it): a stroke
    reruns only this, not the pickers above or what follows (issue 36)."""
    if s.get(KEPT_SEEN) != kept_signature():  # kept, relabelled or deleted here: the whole page counts them
        st.rerun(scope="app")
    # The canvas's own column (its width) beside the results, wrapping below it in a narrow window: a canvas
    # squeezed into a third of 800 px showed half its area, and strokes started in the hidden half were lost.
    row = st.container(horizontal=True, gap="medium")
    left, right = row.container(width=300), row.container(width=460)
    with left:
        seen = draw_input()
        if seen.source == UPLOAD and seen.original is not None:
            st.image(seen.original, caption=f"uploaded: {seen.name}", width=160)
        camera_keep()

    digit = seen.digit
    st.session_state[LAST_DIGIT] = digit  # the Inside page can look at the same drawing
    st.session_state[LAST_SOURCE] = seen.source
    for run_id, exc in unreadable.items():
        right.warning(f"#{run_id}: {exc}")
    probs = {run_id: predict_drawings(m, digit[None])[0] for run_id, m in loaded.items()} if digit is not None else {}
    # Unlike MNIST's digits means nothing to a model of your own classes: it is checked for digit models only
    unlike = unlike_digits(digit, {i: by_id[i].checkpoint for i in digit_models(loaded)}) if digit is not None else {}
    with right:
        if seen.source is not None:
            note = " (the file in the upload box is not used: you drew after it)" if seen.upload_unused else ""
            st.caption(f"The models see **{SEEN[seen.source]}**{plain(note)}.")
        if seen.problem:
            st.warning(seen.problem)
        elif not chosen:
            st.info("Pick at least one model.")
        elif digit is None:
            st.info("✏️ Draw a digit (or upload one) to see what the models make of it.")
        elif first is not None:
            answer(first, loaded[first], digit, probs[first], unlike, seen.source)

    # Why?'s place, filled last: its maps take seconds, and every answer drawn after them stayed on screen,
    # faded, from the previous stroke until they were done (issue 31)
    why_slot = st.container()

    if probs and is_recurrent(loaded[first].config):
        rows_read(loaded[first], digit)

    side_by_side(probs, loaded, unlike)

    st.subheader("Your own test set", anchor=False)
    keep = st.container(width=320)
    if digit is not None:
        keep_controls(digit, keep)
    else:
        keep.caption("Draw or upload a digit to keep it here with its true label.")

    if probs and first is not None:
        with why_slot:
            why(first, loaded[first], digit, probs[first])


drawing_and_answers()
# The kept drawings' scores change when a drawing is kept or a model picked, never with a stroke: outside the
# fragment, so a stroke does not redraw their table and chart (issue 36). Kept drawings are labelled with digits:
# a model of other classes is not scored on them.
not_scored(loaded, labels)
test_set(digit_models(loaded), labels, by_id)

if first is not None:
    st.subheader("Teach it your handwriting", anchor=False)
    # The table exists only with kept drawings; the warning only where a model in it learned from them
    if kept_signature() and any(is_own(m.config.data.dataset) for m in digit_models(loaded).values()):
        st.caption("In the table above, a model taught your handwriting has trained on some of your drawings: "
                   "only its held-out numbers below are a fair test.")
    teach(by_id[first])
folder_io()
own_classes()
