"""Inside page choices: the model (kept in the URL, so a reload keeps it), what to show beside it,
and the input (a test image, its index bounded by the dataset's test set, or the user's drawing)."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import streamlit as st
import torch

from playground.data import display_images, load_dataset
from playground.errors import RunStatus
from playground.links import whole_number
from ui.draw_input import UPLOAD
from ui.navigation import arrived, put_in_url
from ui.state import LAST_DIGIT, LAST_SOURCE

UNTRAINED, NOTHING = "untrained", "nothing"
MODEL_PARAM, BESIDE_PARAM, INPUT_PARAM, VIEW_PARAM, INDEX_PARAM = "model", "vs", "input", "view", "index"
# Inside's views, one tab each (its name in the URL: its label): a CNN's and a recurrent model's
MAPS, STATES, MATH, GRADIENT = "Feature maps", "Hidden states", "The math", "Gradient through time"
PIXELS, WEIGHTS, PROJECTION = "Which pixels decided it", "How far the weights moved", "The model's map of inputs"
# A view both kinds have sits at the same place in both: Streamlit's tabs, given new labels and a new open index
# in one update, could look the index up in the old labels before the new arrived (under load, 1 model change in
# 8) and open a tab the page had not built. At the same index, the open index does not change with the labels.
CNN_VIEWS = (MAPS, MATH, PIXELS, WEIGHTS, PROJECTION)
RECURRENT_VIEWS = (STATES, MATH, PIXELS, WEIGHTS, PROJECTION, GRADIENT)
SLUGS = {MAPS: "maps", STATES: "states", MATH: "math", GRADIENT: "gradient", PIXELS: "pixels", WEIGHTS: "weights",
         PROJECTION: "projection"}
DRAWING = "my drawing"


def _from_url(param: str, options: list):
    """The option the URL names (its text form), or None."""
    wanted = st.query_params.get(param)
    return next((o for o in options if str(o) == wanted), None)


def pick_model(ids: list[int], labels: dict, container) -> int:
    """The model to look inside; the choice is written to the URL (?model=ID) and read back on reload."""
    s = st.session_state
    wanted = _from_url(MODEL_PARAM, ids)
    if s.get("inside_model") not in ids or (arrived() and wanted is not None):  # a link (Draw's) names it
        s["inside_model"] = wanted if wanted is not None else ids[0]
    run_id = container.selectbox("Model", ids, format_func=labels.get, key="inside_model")
    put_in_url(MODEL_PARAM, str(run_id))
    return run_id


def pick_beside(run_id: int, peers: list[int], labels: dict, container):
    """What to show side by side: the same model untrained (default), another checkpoint, or nothing."""
    options = [UNTRAINED, *peers, NOTHING]
    s = st.session_state
    if s.get("inside_other") not in options:
        wanted = _from_url(BESIDE_PARAM, options)
        s["inside_other"] = wanted if wanted is not None else UNTRAINED
    names = {UNTRAINED: f"#{run_id} untrained (the weights it started from)", NOTHING: "nothing"}
    beside = container.selectbox("Side by side with", options, key="inside_other",
                                 format_func=lambda o: names.get(o) or labels[o])
    put_in_url(BESIDE_PARAM, str(beside))
    return beside


def pick_view(views: tuple[str, ...]):
    """Inside's views as tabs, only the open one built: all of them at once were 25 charts and 3 s of drawing
    on each visit (issue 36). The open one is kept in the URL (?view=) and across pages; returns its label and
    its tab to draw in."""
    s = st.session_state
    wanted = next((v for v in views if SLUGS[v] == st.query_params.get(VIEW_PARAM)), None)
    if s.get("inside_view") not in views or (arrived() and wanted is not None):  # e.g. a CNN's view on an LSTM
        s["inside_view"] = wanted if wanted is not None else views[0]
    tabs = dict(zip(views, st.tabs(list(views), key="inside_view", on_change="rerun"), strict=True))
    view = next((v for v, tab in tabs.items() if tab.open), views[0])
    put_in_url(VIEW_PARAM, SLUGS[view])
    return view, tabs[view]


GRADIENT_ARCHS = ("rnn", "lstm", "gru")


def gradient_defaults(run_id: int, candidates) -> list[int]:
    """The gradient-through-time chart's models at first: one of each of RNN, LSTM and GRU where one exists,
    in that order; the model looked at stands for its own kind, the newest finished run for the others.
    `candidates` are run records, newest first (as the store lists them)."""
    by_arch: dict[str, int] = {}
    for rec in candidates:
        if rec.id == run_id or rec.status == RunStatus.FINISHED:
            by_arch.setdefault(rec.config.model.arch, rec.id)
    mine = next((r.config.model.arch for r in candidates if r.id == run_id), None)
    if mine is not None:
        by_arch[mine] = run_id  # even where a newer run of its kind exists
    return [by_arch[a] for a in GRADIENT_ARCHS if a in by_arch]


def _random_index(n: int) -> None:
    st.session_state["inside_index"] = int(np.random.default_rng().integers(0, n))


class Picked(NamedTuple):
    """The chosen input before any normalization: each model normalizes it as its own training did."""
    pixels: torch.Tensor  # (1, C, H, W) on the 0..255 scale
    image: np.ndarray  # for display
    label: int | None  # None for a drawing


def pick_input(rec, classes) -> Picked:
    """The chosen input: a test image (its index bounded by the test set) or the user's drawing."""
    s = st.session_state
    sources = ["test image"] + ([DRAWING] if rec.config.data.dataset == "mnist" and
                                s.get(LAST_DIGIT) is not None else [])
    c1, c2, c3 = st.columns([2, 2, 1])
    if arrived() and st.query_params.get(INPUT_PARAM) == "drawing" and DRAWING in sources:
        s["inside_source"] = DRAWING  # Draw's "look inside with this drawing"
    source = c1.radio("Input", sources, horizontal=True, key="inside_source",
                      format_func=lambda o: "this image" if o == DRAWING and s.get(LAST_SOURCE) == UPLOAD else o)
    if source != DRAWING:
        put_in_url(INPUT_PARAM, None)
    if source == DRAWING:
        put_in_url(INDEX_PARAM, None)
        image = s[LAST_DIGIT]  # (28, 28) floats in [0, 1], as Draw's to_input takes them
        return Picked(torch.as_tensor(np.asarray(image, dtype=np.float32))[None, None] * 255.0, image, None)
    ds = load_dataset(rec.config.data.dataset)
    n = len(ds.test_y)
    wanted = whole_number(st.query_params.get(INDEX_PARAM))
    if arrived() and wanted is not None and wanted < n:  # a reload or a link keeps the test image
        s["inside_index"] = wanted
    if not 0 <= s.get("inside_index", 0) < n:  # e.g. from a dataset with a bigger test set
        s["inside_index"] = 0
    c3.button("🎲 Random", on_click=_random_index, args=(n,))
    index = int(c2.number_input(f"Test image index (0 to {n - 1})", 0, n - 1, key="inside_index"))
    put_in_url(INDEX_PARAM, str(index) if index else None)
    raw = ds.test_x[index:index + 1]
    label = int(ds.test_y[index])
    c2.caption(f"true class: **{classes[label]}**")
    return Picked(raw, display_images(raw)[0], label)
