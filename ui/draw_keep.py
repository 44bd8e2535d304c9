"""Draw page: the user's own test set. Keep a drawing with its true label, review, relabel and delete
kept ones, and see each model's accuracy and a confusion matrix on them.

The true label starts empty for every new drawing: defaulting to the model's guess (the first
stroke's, even) kept wrong labels and biased the set towards the model. Keep is a callback that
gets the digit as it was when the button was drawn, so a fast click is never lost or applied to
the next drawing.
"""
from __future__ import annotations

import hashlib
import os

import numpy as np
import streamlit as st

from playground.explain import confused_pairs
from playground.inference import predict_digits
from playground.probes import confusion_matrix
from playground.store import Drawing
from playground.words import counted
from ui.common import jobs, plain
from ui.figures import charts

DIGITS = [str(d) for d in range(10)]
LABEL, KEPT_FOR, MESSAGE = "true_label", "keep_for", "keep_message"
# "Keep and clear": the label the next drawing starts with (the user's own, never the model's guess), and how
# it follows from the one just kept: the same digit again, or the next one (a round of 0-9).
NEXT_LABEL, AFTER_KEEP = "keep_next_label", "keep_then"
THEN = {"same": "same digit next", "next": "next digit (0→9)"}
GALLERY_MAX = 40


def keep_labelled(digit: np.ndarray, label_key: str, note_key: str, then: str = "") -> int | None:
    """Keep `digit` under the digit picked in the box `label_key`, say so (or why not) in `note_key` and empty
    the box; the label kept, or None when none was picked. Draw's Keep and the camera's use it."""
    s = st.session_state
    label = s.get(label_key)
    if label is None:
        s[note_key] = ("warning", "Pick the digit it really is first, then press Keep.")
        return None
    jobs().store.add_drawing(digit, int(label))
    s[note_key] = ("success", f"Kept as a {label}.{then}")
    # The next drawing starts without a label again. Set, not deleted: a deleted key let the browser keep
    # showing the old choice (found in Chromium: "7" stayed in the box after Keep).
    s[label_key] = None
    return int(label)


def _keep(digit: np.ndarray, clear: bool = False) -> None:
    label = keep_labelled(digit, LABEL, MESSAGE, " Draw the next one." if clear else "")
    if label is not None and clear:  # many drawings in a row: an empty canvas, and the label chosen for the next
        from ui.draw_input import _clear

        _clear()
        s = st.session_state
        s[NEXT_LABEL] = (label + 1) % 10 if s.get(AFTER_KEEP) == "next" else label


def keep_controls(digit: np.ndarray, container) -> None:
    """'The digit really is' (no default) and Keep, for the digit the models see now."""
    s = st.session_state
    seen = hashlib.blake2b(np.ascontiguousarray(digit).tobytes(), digest_size=16).hexdigest()
    if s.get(KEPT_FOR) != seen:  # a new drawing: its label is the user's to pick (or set by Keep and clear)
        s[KEPT_FOR] = seen
        s[LABEL] = s.pop(NEXT_LABEL, None)
    container.selectbox("The digit really is", list(range(10)), index=None, placeholder="pick the true digit",
                        key=LABEL)
    kept = np.array(digit, copy=True)
    container.button("Keep this drawing", on_click=_keep, args=(kept,), key="draw_keep")
    container.button("Keep and clear", on_click=_keep, args=(kept, True), key="draw_keep_clear",
                     help="Keep it, empty the canvas, and start the next drawing with a label: 50 in a few minutes.")
    s.setdefault(AFTER_KEEP, "same")
    container.radio("then", list(THEN), format_func=THEN.get, key=AFTER_KEEP, label_visibility="collapsed")
    kind, text = s.pop(MESSAGE, (None, None))
    if kind:
        getattr(container, kind)(text)


# The last deleted drawing (for Undo); keep the gallery open; what a gallery action could not do (another tab);
# what Undo did
DELETED, OPEN, GALLERY_NOTE, RESTORED = "draw_deleted", "draw_gallery_open", "draw_gallery_note", "draw_restored"
GALLERY_COLS = 8
GALLERY = "draw_gallery"  # the gallery expander's own state: open or shut


def _relabel(drawing_id: int) -> None:
    label = st.session_state.get(f"relabel-{drawing_id}")
    if label is not None and not jobs().store.relabel_drawing(drawing_id, int(label)):
        st.session_state[GALLERY_NOTE] = (f"Drawing #{drawing_id} is no longer kept (deleted in another tab?): "
                                          f"its new label {label} was not saved.")


def _delete(drawing: Drawing) -> None:
    st.session_state.pop(f"relabel-{drawing.id}", None)
    st.session_state[OPEN] = True
    if jobs().store.delete_drawing(drawing.id):
        st.session_state[DELETED] = drawing
    else:  # another tab deleted it first and offers its Undo: a second Undo here would keep it twice
        st.session_state[GALLERY_NOTE] = f"Drawing #{drawing.id} was already deleted (in another tab?)."


def _undo() -> None:
    drawing = st.session_state.pop(DELETED, None)
    if drawing is None:
        return
    if jobs().store.restore_drawing(drawing):  # back under its own number, once
        st.session_state[RESTORED] = f"Drawing #{drawing.id} is back, labelled {drawing.label}."
    else:
        st.session_state[GALLERY_NOTE] = f"Drawing #{drawing.id} is already back (restored in another tab?)."


def _unreadable(ids: list[int]) -> None:
    """Rows the store cannot read are left out of the test set, said, and can be deleted."""
    if not ids:
        return
    c1, c2 = st.columns([3, 1])
    c1.warning(f"{counted(len(ids), 'kept drawing')} could not be read and are left out: "
               + ", ".join(f"#{i}" for i in ids[:10]) + (" …" if len(ids) > 10 else "") + ".")
    c2.button("🗑 Delete them", key="draw_delete_unreadable", on_click=_delete_ids, args=(ids,))


def _delete_ids(ids: list[int]) -> None:
    for drawing_id in ids:
        jobs().store.delete_drawing(drawing_id)


def predictions(loaded: dict, digits: np.ndarray) -> dict[int, np.ndarray]:
    """Each model's class probabilities for every kept drawing, (N, 10)."""
    if not len(digits):
        return {run_id: np.zeros((0, 10), np.float32) for run_id in loaded}
    return {run_id: predict_digits(m, digits) for run_id, m in loaded.items()}


def kept_signature() -> tuple:
    """The kept drawings' ids and labels: what a keep, relabel, delete or undo changes."""
    return tuple((d.id, d.label) for d in jobs().store.list_drawings())


@st.cache_data(max_entries=16, show_spinner=False)
def _evaluation(kept: tuple, models: tuple, _loaded: dict, _digits: np.ndarray) -> dict[int, np.ndarray]:
    """predictions() once per (kept drawings' ids and labels, models' checkpoint files): a stroke changes neither."""
    return predictions(_loaded, _digits)


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def test_set(loaded: dict, labels: dict, by_id: dict) -> None:
    """Accuracy per model on the kept drawings, a confusion matrix, and the gallery."""
    deleted = st.session_state.get(DELETED)
    if deleted is not None:
        c1, c2 = st.columns([3, 1])
        c1.caption(f"Deleted #{deleted.id} (labelled {deleted.label}).")
        c2.button("↩ Undo", key="draw_undo", on_click=_undo)
    if GALLERY_NOTE in st.session_state:
        st.warning(st.session_state.pop(GALLERY_NOTE))
    if RESTORED in st.session_state:
        st.success(st.session_state.pop(RESTORED), icon="↩")
    drawings, unreadable = jobs().store.read_drawings()
    _unreadable(unreadable)
    if not drawings:
        st.caption("Keep a few drawings with their true labels to see how each model does on *your* handwriting.")
        return
    digits = np.stack([d.pixels for d in drawings])
    truth = np.array([d.label for d in drawings])
    files = tuple((i, by_id[i].checkpoint, os.path.getmtime(by_id[i].checkpoint)) for i in loaded)
    probs = _evaluation(tuple((d.id, d.label) for d in drawings), files, loaded, digits)
    preds = {run_id: p.argmax(1) for run_id, p in probs.items()}
    # A static table: a few rows a learner reads, not sorts; the data grid was the slowest thing Draw drew (issue 36)
    st.table([{"model": plain(labels[run_id]), "accuracy on your drawings": f"{(p == truth).mean():.1%}",
               "MNIST test accuracy": _percent(by_id[run_id].result.get("test_acc"))} for run_id, p in preds.items()],
             hide_index=True)
    st.caption(f"{counted(len(drawings), 'drawing')} kept.")
    if preds:
        which = st.selectbox("Confusion matrix of", list(preds), format_func=labels.get, key="draw_confusion_model")
        matrix = confusion_matrix(truth, preds[which], 10)
        st.plotly_chart(charts.confusion(matrix, DIGITS, f"#{which} on your {counted(len(drawings), 'drawing')}"),
                        width="stretch", key="draw-confusion", config=charts.STATIC)
        pairs = confused_pairs(matrix)
        if pairs:
            st.caption(f"#{which} confuses most on your drawings: "
                       + " · ".join(f"{t} read as {p} ({n}×)" for t, p, n in pairs)
                       + ". To see them, open **Your kept drawings** below: ✗ marks each one.")
    first = next(iter(probs), None)
    _gallery(drawings, probs.get(first), first)


def _gallery(drawings: list, probs: np.ndarray | None, run_id: int | None) -> None:
    predicted = probs.argmax(1) if probs is not None else None
    order = list(enumerate(drawings))[::-1]  # newest first
    if probs is not None and st.toggle("Its mistakes first, the most confident first", key="draw_gallery_mistakes"):
        truth = np.array([d.label for d in drawings])
        p_true = probs[np.arange(len(drawings)), truth]  # lowest = the highest loss
        order = sorted(order, key=lambda item: (predicted[item[0]] == truth[item[0]], p_true[item[0]]))
    newest = order[:GALLERY_MAX]
    if st.session_state.pop(OPEN, False):  # a delete in it: it stays open
        st.session_state[GALLERY] = True
    # A fixed label: one with the count in it was a new expander after each delete, and it closed. Its tiles (an
    # image and two widgets each) are built only while it is open: shut, a stroke built them all (issue 36).
    panel = st.expander("Your kept drawings: review, relabel, delete", key=GALLERY, on_change="rerun")
    if not panel.open:
        return
    with panel:
        if len(drawings) > GALLERY_MAX:
            st.caption(f"The newest {GALLERY_MAX} of {len(drawings)}.")
        if run_id is not None:
            st.caption(f"✗3 marks a drawing that #{run_id} reads as a 3 (another digit than its label); ✓ one it "
                       "reads right.")
        # One row of columns per 8 tiles, so a row is as tall as its tallest tile and the next starts level; a
        # caption short enough for one line ("#12 ✗3"); an icon button ("🗑 Delete" was cut to "De…").
        for start in range(0, len(newest), GALLERY_COLS):
            for col, (i, d) in zip(st.columns(GALLERY_COLS), newest[start:start + GALLERY_COLS], strict=False):
                with col:
                    guess = int(predicted[i]) if predicted is not None else None
                    mark = "" if guess is None else (f" ✗{guess}" if guess != d.label else " ✓")
                    st.image((d.pixels * 255).astype(np.uint8), width=56, caption=f"#{d.id}{mark}")
                    st.session_state[f"relabel-{d.id}"] = d.label  # as stored: another tab may have relabelled it
                    st.selectbox("label", list(range(10)), key=f"relabel-{d.id}", on_change=_relabel, args=(d.id,),
                                 label_visibility="collapsed")
                    st.button("🗑", key=f"delete-{d.id}", on_click=_delete, args=(d,), width="stretch",
                              help=f"Delete drawing #{d.id} (Undo appears above)")
