"""Draw page: your own data. Photograph a digit on paper and keep it like a drawing; teach a model your
handwriting (a fine-tune on the kept drawings, some of each digit held out: own.split_rule) and see what it
gained on your held-out drawings and lost on MNIST."""
from __future__ import annotations

import streamlit as st

from playground import own
from playground.config import ConfigError
from playground.errors import RunStatus
from playground.inference import reads_digits
from playground.words import counted
from ui.common import jobs
from ui.draw_keep import keep_labelled

PHOTO_LABEL, PHOTO_NOTE = "photo_label", "photo_note"
CAMERA_OPEN = "draw_camera_open"  # the camera expander's own state: open or shut
FINE_TUNE_BATCH = 16  # a few dozen drawings: a batch of 64 would be one step an epoch


def camera_keep() -> None:
    """A camera photo of a digit on paper, read by the uploads' photo pipeline, kept with its true label."""
    from ui.draw_input import prepare_upload

    s = st.session_state
    # Open while a photo is in it or its answer is pending: keeping one reruns the page, which closed it
    # (found in Chromium), and the next photo needs it open.
    if s.get("draw_camera") is not None or PHOTO_NOTE in s:
        s[CAMERA_OPEN] = True
    panel = st.expander("📷 Photograph a digit on paper (phone or laptop camera)", key=CAMERA_OPEN, on_change="rerun")
    if not panel.open:  # the camera widget is built only while open: shut, it was the last thing each visit drew
        return  # (issue 36), and a camera is asked for only when the learner opens it
    with panel:
        st.caption("Dark ink on light paper, one digit filling much of the frame. The photo is read exactly like "
                   "an uploaded one (uneven light removed, cropped to the ink, fitted in 20 px) and kept like a "
                   "drawing.")
        shot = st.camera_input("Photograph a digit", key="draw_camera", label_visibility="collapsed")
        if shot is None:
            return
        _, digit, problem = prepare_upload(shot.getvalue())
        if problem or digit is None:
            st.warning(problem or "No digit found in the photo.")
            return
        c1, c2 = st.columns([1, 2])
        c1.image((digit * 255).astype("uint8"), width=84, caption="what a model gets")
        c2.selectbox("The digit really is", list(range(10)), index=None, placeholder="pick the true digit",
                     key=PHOTO_LABEL)
        c2.button("Keep this photo", key="draw_keep_photo", on_click=keep_labelled,
                  args=(digit.copy(), PHOTO_LABEL, PHOTO_NOTE))
        kind, text = st.session_state.pop(PHOTO_NOTE, (None, None))
        if kind:
            getattr(c2, kind)(text)


def teach(record) -> None:
    """'Teach it my handwriting': a fine-tune of `record`'s model on the kept drawings, as a run of its own."""
    if not reads_digits(record.config):  # your handwriting is kept as digits: a letters model cannot learn them
        st.caption(f"#{record.id} reads your own classes, not digits. To teach a model your handwriting, pick a "
                   "digit model as the one explained in detail.")
        return
    drawings = jobs().store.list_drawings()
    st.caption(f"Fine-tunes #{record.id} on your kept drawings. " + split_words([d.label for d in drawings]))
    with st.form("teach_form", border=False):
        c1, c2, c3, c4 = st.columns(4)
        layers = c1.selectbox("Train", ["all", "last"], key="teach_layers",
                              format_func={"all": "all layers", "last": "the last layer only"}.get)
        lr = c2.number_input("Learning rate", 0.0, 1.0, float(record.config.optim.lr), format="%g", key="teach_lr")
        epochs = c3.number_input("Epochs", 1, 200, 5, key="teach_epochs")
        replay = c4.number_input("MNIST images mixed in", 0, own.MAX_IMAGES, 0, step=100, key="teach_replay",
                                 help="Replay: MNIST training images trained on beside yours, against forgetting.")
        pressed = st.form_submit_button(f"Teach #{record.id} my handwriting", type="primary")
    if pressed:
        try:
            run_id = start_fine_tune(record, drawings, layers, float(lr), int(epochs), int(replay))
        except (own.OwnDataError, ConfigError) as exc:
            st.warning(f"Not started: {exc}")
        else:
            st.success(f"Run #{run_id} is teaching #{record.id} your handwriting.")
            st.page_link("pages/train.py", label=f"Watch run #{run_id}", icon="🏋️",
                         query_params={"run": str(run_id)})
    results(record)
    with st.expander("What 20 drawings did here (measured)"):
        st.caption(measured_note())


def split_words(labels: list[int]) -> str:
    """What the fine-tune below trains on and holds out of kept digit `labels`, as start_fine_tune splits them
    (own.write_snapshot's default share); lesson 10's fine-tunes say theirs in the same sentence."""
    counts = ", ".join(f"{k}: {labels.count(k)}" for k in range(10) if k in labels) or "none yet"
    try:
        own.check_enough(labels, own.DIGITS)
    except own.OwnDataError as exc:
        return f"Kept so far: {counts}; not enough yet: {exc}."
    trained, held = own.split_sizes(labels)
    return (own.split_note(len(labels), trained, held, own.split_rule()) + f" By digit: {counts}. The held-out ones "
            "measure it before and after, as MNIST's test set measures what it forgets.")


def start_fine_tune(record, drawings, layers: str, lr: float, epochs: int, replay: int) -> int:
    """Snapshot the kept drawings and submit the fine-tune of `record`'s checkpoint on them; returns its run id."""
    snap = own.write_snapshot([d.id for d in drawings], [d.label for d in drawings], [d.pixels for d in drawings])
    cfg = record.config.override(dataset=snap.dataset, init_from=str(record.checkpoint), limit=0, val_fraction=0.0,
                                 label_noise=0.0, patience=0, eval_every=1, train_layers=layers, lr=lr,
                                 epochs=epochs, replay=replay, batch_size=FINE_TUNE_BATCH)
    return jobs().submit(cfg, f"#{record.id} taught your handwriting ({len(snap.train_ids)} drawings)")


def results(record) -> None:
    """The finished fine-tunes of this model: held-out and MNIST accuracy, before and after (newest first)."""
    rows = []
    for r in sorted(jobs().store.list_runs(), key=lambda r: r.id, reverse=True):
        moved = r.result.get("fine_tune") if r.status == RunStatus.FINISHED else None
        if not moved or r.config.model.init_from != str(record.checkpoint):
            continue
        rows.append({"run": f"#{r.id}", "trained": moved["train_layers"], "lr": r.config.optim.lr,
                     "epochs": r.config.optim.epochs, "MNIST mixed in": moved["replay"],
                     "held out": moved["held_out"], "yours before": moved["own_before"],
                     "yours after": moved["own_after"], "MNIST before": moved.get("mnist_before"),
                     "MNIST after": moved.get("mnist_after")})
    if not rows:
        return
    pct = st.column_config.NumberColumn(format="percent")
    st.dataframe(rows, hide_index=True, column_config={c: pct for c in ("yours before", "yours after",
                                                                        "MNIST before", "MNIST after")})
    last = rows[0]
    mnist = (f", MNIST {last['MNIST before']:.1%} → {last['MNIST after']:.1%}" if last["MNIST after"] is not None
             else "")
    st.caption(f"Latest ({last['run']}): your {counted(last['held out'], 'held-out drawing')} "
               f"{last['yours before']:.0%} → "
               f"{last['yours after']:.0%}{mnist}. One seed on a few drawings: one drawing is "
               f"{1 / max(last['held out'], 1):.0%} of them, so a small move is noise; teach again with another "
               "seed to see the spread.")


IMPORT_NOTE = "own_import_note"


def folder_io() -> None:
    """Your own data as an ImageFolder: download a snapshot (the layout PLAYGROUND_MNIST_DIR and the exported script
    read), or import one (digits, or classes of your own: letters, shapes, ✓/✗), which Train then lists."""
    with st.expander("📦 Your own data as an image folder: export or import"):
        snaps = own.list_snapshots()
        if snaps:
            snap = st.selectbox("Dataset", snaps, format_func=lambda s: f"{s.name} · {', '.join(s.classes)} · "
                                f"{len(s.train_ids)} to train on, {len(s.test_ids)} held out", key="own_export")
            # Zipped on a click, not on every Draw rerun (each stroke): 10,000 images took seconds a stroke.
            # No rerun on the click ("ignore"): a rerun registered the zip's builder anew while the browser was
            # still fetching the first one, and under load the download never came (a test's 60 s, once)
            st.download_button("Download it (zip: train/ and test/ by class)", lambda: own.export_zip(snap),
                               file_name=f"{snap.name}.zip", mime="application/zip", key="own_download",
                               on_click="ignore")
        else:
            st.caption("No dataset of your own yet: teach a model your handwriting, or import a folder.")
        st.caption(f"Import a zip of 28×28 images in class folders (<class>/*.png, or train/ and test/ of them). "
                   f"Digit folders 0–9 need {own.MIN_PER_CLASS} drawings of each digit you include; classes of your "
                   f"own need {own.MIN_PER_OWN_CLASS} each. Train then offers it as a dataset.")
        name = st.text_input("Name", "mine", max_chars=40, key="own_import_name")
        got = st.file_uploader("Zip of an image folder", type=["zip"], key="own_import_zip")
        if st.button("Import", key="own_import", disabled=got is None):
            try:
                snap = own.import_examples(*own.read_zip(got.getvalue()), name=name.strip())
            except own.OwnDataError as exc:
                st.session_state[IMPORT_NOTE] = ("warning", f"Not imported: {exc}")
            else:
                st.session_state[IMPORT_NOTE] = ("success", f"Imported as {snap.dataset} ({', '.join(snap.classes)}; "
                                                            f"{len(snap.test_ids)} held out): pick it on Train.")
        kind, text = st.session_state.pop(IMPORT_NOTE, (None, None))
        if kind:
            getattr(st, kind)(text)


def measured_note() -> str:
    """What 20 drawings did to lstm64 here, over seeds: formatted from bench/results (playground/measured.py)."""
    import json
    from pathlib import Path

    from playground import measured

    results = Path(__file__).resolve().parents[1] / "bench" / "results"
    fast, slow = (json.loads((results / measured.MEASURED[k].file).read_text())
                  for k in ("finetune-lr0.01", "finetune"))
    ft, sl = measured.runs("finetune-lr0.01"), measured.runs("finetune")
    seeds = measured.MEASURED["finetune-lr0.01"].seeds
    from ui.measured_view import LINK

    return (f"Measured here over {seeds} seeds ({LINK}): the LSTM 64 recipe taught "
            f"{fast['configs']['all']['trained_on']['mean']:.0f} digits drawn with a mouse (rendered from strokes; "
            f"it already read {ft['all'].own_before.pct0} of the held-out ones) at "
            f"lr {fast['lr']:g} for {fast['epochs']} epochs. All layers: held-out drawings moved "
            f"{ft['all'].own_gain.pts}, MNIST lost {ft['all'].mnist_loss.pts}. The last layer only: MNIST lost "
            f"{ft['last'].mnist_loss.pts}. With {fast['replay']} MNIST images mixed in: MNIST lost "
            f"{ft['replay'].mnist_loss.pts}. At lr {slow['lr']:g} for {slow['epochs']} epochs little moved: held-out "
            f"{sl['all'].own_gain.pts}, MNIST lost {sl['all'].mnist_loss.pts} (below zero: gained).")


CLASS_NOTE = "own_class_note"


def own_classes() -> None:
    """Classes of your own (letters, shapes, ✓/✗): a collection in the run store, drawings kept in it from the
    canvas, and a dataset made of it that Train offers to any architecture."""
    from playground.store import Refused
    from ui.state import LAST_DIGIT

    store = jobs().store
    with st.expander("🔤 Classes of your own: letters, shapes, ✓ and ✗", expanded=CLASS_NOTE in st.session_state):
        collections = store.collections()
        with st.form("own_new_collection", border=False):
            c1, c2 = st.columns([1, 2])
            name = c1.text_input("New collection", placeholder="marks", key="own_new_name")
            names = c2.text_input("Its classes, comma-separated", placeholder="check, cross", key="own_new_classes")
            if st.form_submit_button("Create"):
                try:
                    store.add_collection(name, [c for c in names.split(",") if c.strip()])
                    st.session_state[CLASS_NOTE] = ("success", f"Collection '{name.strip()}' created.")
                except Refused as exc:
                    st.session_state[CLASS_NOTE] = ("warning", f"Not created: {exc}")
                collections = store.collections()
        if collections:
            chosen = st.selectbox("Collection", list(collections), key="own_collection")
            classes = collections[chosen]
            kept = store.examples(chosen)
            counts = [sum(d.label == i for d in kept) for i in range(len(classes))]
            st.caption(" · ".join(f"{c}: {n}" for c, n in zip(classes, counts, strict=True))
                       + f" (each class needs {own.MIN_PER_OWN_CLASS} to make a dataset)")
            label = st.radio("The drawing on the canvas is", classes, horizontal=True, key="own_class_label")
            c1, c2 = st.columns(2)
            if c1.button("Keep it in this collection", key="own_keep_example"):
                digit = st.session_state.get(LAST_DIGIT)
                if digit is None:
                    st.session_state[CLASS_NOTE] = ("warning", "Draw it on the canvas first.")
                else:
                    store.add_example(chosen, digit, classes.index(label))
                    st.session_state[CLASS_NOTE] = ("success", f"Kept as '{label}' in {chosen}.")
            if c2.button("Make it a dataset for Train", key="own_make_dataset"):
                try:
                    snap = own.write_snapshot([d.id for d in kept], [d.label for d in kept], [d.pixels for d in kept],
                                              classes=classes, name=chosen, per_class=own.MIN_PER_OWN_CLASS)
                    st.session_state[CLASS_NOTE] = ("success", f"Dataset {snap.dataset} made "
                                                               f"({len(snap.test_ids)} held out): pick it on Train.")
                except own.OwnDataError as exc:
                    st.session_state[CLASS_NOTE] = ("warning", f"Not made: {exc}")
        kind, text = st.session_state.pop(CLASS_NOTE, (None, None))
        if kind:
            getattr(st, kind)(text)
