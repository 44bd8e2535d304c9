"""Draw: a digit on a canvas (or an uploaded image) -> what each model sees and predicts."""
import numpy as np
import streamlit as st

from playground import charts
from playground.config import is_recurrent
from playground.inference import CheckpointError, accuracy_on, mnist_checkpoints, predict_digits, to_input
from playground.preprocess import BadImage, NoInk, load_image, mnist_style
from playground.probes import row_predictions
from ui.common import jobs, loaded_model, run_label
from ui.navigation import require_app

require_app()  # first: the app's frame even when Streamlit ran this page on its own

DIGITS = [str(d) for d in range(10)]

st.title("Draw")
store = jobs().store
models = mnist_checkpoints(store.list_runs())
if not models:
    st.info("No MNIST model yet. Train one on the **Train** page first (the LSTM 64 recipe takes seconds).")
    st.page_link("pages/train.py", label="Go to Train", icon="🏋️")
    st.stop()

by_id = {r.id: r for r in models}
labels = {r.id: f"{run_label(r)} · {r.config.model.arch.upper()}" for r in models}
chosen = st.multiselect("Models (the first one is explained in detail)", list(labels), default=[models[0].id],
                        format_func=labels.get, max_selections=6, key="draw_models")
left, right = st.columns([1, 2])
with left:
    from streamlit_drawable_canvas import st_canvas  # only inside the page script: it needs a running page

    st.caption("Draw one digit, large, in the middle. White ink on black, like MNIST.")
    st.session_state.setdefault("canvas_n", 0)
    canvas = st_canvas(stroke_width=18, stroke_color="#FFFFFF", background_color="#000000", height=280, width=280,
                       drawing_mode="freedraw", key=f"canvas-{st.session_state['canvas_n']}",
                       update_streamlit=True, return_image_data=True)
    if st.button("Clear"):
        st.session_state["canvas_n"] += 1
        st.rerun()
    upload = st.file_uploader("…or upload a digit image", type=["png", "jpg", "jpeg", "bmp", "gif", "webp"])

try:
    if upload is not None:
        source = load_image(upload.getvalue())
    elif canvas is not None and canvas.image_data is not None:
        source = np.asarray(canvas.image_data)[..., 0]  # RGBA with the black background: ink is in channel 0
    else:
        source = None
    digit = mnist_style(source) if source is not None else None
except NoInk:
    digit = None
except BadImage as exc:
    right.error(f"That file cannot be used: {exc}")
    st.stop()

st.session_state["last_digit"] = digit  # the Inside page can look at the same drawing
with right:
    if digit is None or not chosen:
        st.info("✏️ Draw a digit (or upload one) to see what the models make of it." if chosen
                else "Pick at least one model.")
        st.stop()
    loaded = {}
    for run_id in chosen:
        try:
            loaded[run_id] = loaded_model(by_id[run_id].checkpoint)
        except CheckpointError as exc:
            st.warning(f"#{run_id}: {exc}")
    probs = {run_id: predict_digits(m, digit[None])[0] for run_id, m in loaded.items()}
    first = chosen[0] if chosen[0] in loaded else next(iter(loaded), None)
    if first is None:
        st.stop()
    c1, c2 = st.columns([1, 2])
    c1.plotly_chart(charts.image(digit, "Model input, 28×28"), width="stretch")
    p = probs[first]
    c2.metric(f"#{first} predicts", f"{int(p.argmax())}", f"{p.max():.0%} sure", delta_color="off")
    c2.plotly_chart(charts.probabilities(p, DIGITS), width="stretch")

m = loaded[first]
if is_recurrent(m.config):
    st.subheader("How the prediction forms", anchor=False)
    rows = row_predictions(m.model, to_input(digit[None], m.config))
    row = st.slider("Rows read so far", 1, 28, 28, key="draw_row")
    a, b = st.columns([1, 3])
    a.plotly_chart(charts.image_rows(digit, row, f"after row {row}: {rows[row - 1].argmax()} "
                                                 f"({rows[row - 1].max():.0%})"), width="stretch")
    b.plotly_chart(charts.row_predictions(rows, DIGITS, row), width="stretch")

if len(loaded) > 1:
    st.subheader("Side by side", anchor=False)
    for col, (run_id, p) in zip(st.columns(len(loaded)), probs.items(), strict=True):
        arch = loaded[run_id].config.model.arch.upper()
        col.plotly_chart(charts.probabilities(p, DIGITS, f"#{run_id} {arch}: {p.argmax()}"),
                         width="stretch", key=f"side-{run_id}")

st.subheader("Your own test set", anchor=False)
k1, k2 = st.columns([1, 3])
true_label = k1.selectbox("The digit really is", list(range(10)), index=int(probs[first].argmax()), key="true_label")
if k1.button("Keep this drawing"):
    store.add_drawing(digit, true_label)
    st.toast(f"Kept as a {true_label}.")
digits, truth = store.drawings()
if len(truth):
    k2.dataframe([{"model": labels[run_id], "accuracy on your drawings": accuracy_on(mm, digits, truth),
                   "MNIST test accuracy": by_id[run_id].result.get("test_acc")}
                  for run_id, mm in loaded.items()], hide_index=True,
                 column_config={c: st.column_config.NumberColumn(format="percent")
                                for c in ("accuracy on your drawings", "MNIST test accuracy")})
    k2.caption(f"{len(truth)} drawing(s) kept.")
else:
    k2.caption("Keep a few drawings with their true labels to see how each model does on *your* handwriting.")
