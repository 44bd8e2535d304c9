"""Draw page input: a canvas and an upload; whichever changed last (by its signature) is what the
models see, and the page says which. Clear empties both. An upload is decoded once per file.
"""
from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass

import numpy as np
import streamlit as st

from playground import novelty
from playground.preprocess import BadImage, NoInk, NotADigit, load_image, mnist_style
from ui.navigation import arrived

CANVAS, UPLOAD = "canvas", "upload"
STROKES, RESTORE = "draw_strokes", "draw_restore"  # the canvas's strokes (fabric.js JSON), kept across pages
INK, PENDING = "draw_ink", "draw_restore_pending"  # its last ink, used until the restored canvas sends its own
BRUSHES = {"thin": 8, "medium": 18, "thick": 28}  # px on the 280-px canvas
SEEN = {CANVAS: "your drawing on the canvas", UPLOAD: "the uploaded image"}
SEND_NOW = "Update the app with this drawing"  # the canvas toolbar's own button: it sends without waiting
# streamlit-drawable-canvas sends a finished stroke after a fixed 200 ms debounce (its `Bc`), most of a stroke's
# time to an answer (issue 36: the first message left the browser ~210 ms after mouse-up, the server answered
# in ~10 ms). Once the pen lifts there is nothing left to wait for: this presses the toolbar's "send now",
# which cancels the pending send and sends the same drawing at once (one message, not two). Installed once.
_SEND_ON_PEN_UP = """<style>[data-testid="stElementContainer"]:has(script[data-pen-up]) { display: none; }</style>
<script data-pen-up>(() => {
  if (window.__pgPenUp) return;
  window.__pgPenUp = true;
  let canvas = null;  // the canvas a stroke started on (inside the component's shadow root: read the event's path)
  document.addEventListener("pointerdown", (e) => {
    canvas = e.composedPath().find((n) => n instanceof Element && n.matches("canvas.upper-canvas")) || null;
  }, true);
  const lifted = () => {
    const started = canvas;
    canvas = null;
    if (!started) return;
    setTimeout(() => {  // after the canvas's own mouse-up handling (it records the stroke in a microtask)
      const send = started.getRootNode().querySelector('button[aria-label="SEND_NOW"]');
      if (send && !send.disabled) send.click();
    }, 0);
  };
  document.addEventListener("pointerup", lifted, true);
  document.addEventListener("pointercancel", lifted, true);
})();</script>""".replace("SEND_NOW", SEND_NOW)


@st.cache_resource(show_spinner=False)
def warm_checks() -> threading.Thread:
    """Build the unlike-the-digits checks in the background, once per server, when Draw is opened: built by the
    first stroke instead, they made it wait seconds (MNIST loaded, 20,000 digits' distances; issue 36)."""
    def build() -> None:
        novelty.digit_space()
        novelty.not_a_digit().unlike(np.zeros((1, 28, 28), np.float32))  # its first forward pass is the slow one

    # Not a daemon: a process leaving while it ran inside torch aborted ("terminate called"); it ends in seconds
    thread = threading.Thread(target=build, name="draw-warm", daemon=False)
    thread.start()
    return thread


@dataclass
class DrawInput:
    digit: np.ndarray | None  # the 28x28 the models get; None when there is nothing to read
    source: str | None  # CANVAS or UPLOAD: the input the models see; None before anything is drawn
    original: np.ndarray | None = None  # the uploaded image as decoded, to show beside the canvas
    problem: str | None = None  # why that input gives no digit, ready to show
    name: str = ""  # the uploaded file's name
    upload_unused: bool = False  # a file is in the box, but the canvas changed after it: the models see the canvas


def newest(state: dict, canvas_sig: str | None, upload_sig: str | None) -> str | None:
    """Which input the models see: the one whose signature changed last (None = empty). `state` keeps
    the previous signatures and answer between reruns and is updated in place."""
    latest = state.get("latest")
    if upload_sig is not None and upload_sig != state.get("upload"):
        latest = UPLOAD
    elif canvas_sig is not None and canvas_sig != state.get("canvas"):
        latest = CANVAS
    if latest == UPLOAD and upload_sig is None:  # the upload was removed: back to the canvas
        latest = CANVAS if canvas_sig is not None else None
    if latest == CANVAS and canvas_sig is None:  # the canvas was cleared
        latest = UPLOAD if upload_sig is not None else None
    state.update(canvas=canvas_sig, upload=upload_sig, latest=latest)
    return latest


@st.cache_data(max_entries=16, show_spinner=False)
def prepare_upload(data: bytes) -> tuple[np.ndarray | None, np.ndarray | None, str | None]:
    """An uploaded file's bytes -> (the decoded image, its 28x28 digit, a message when there is none)."""
    try:
        original = load_image(data)
    except BadImage as exc:
        return None, None, f"That file cannot be used: {exc}"
    try:
        return original, mnist_style(original), None
    except NotADigit as exc:  # before NoInk: a NotADigit is a NoInk
        return original, None, str(exc)
    except NoInk as exc:  # an inkless image: "no ink found", not the idle prompt
        return original, None, str(exc)


def canvas_digit(ink: np.ndarray | None) -> tuple[np.ndarray | None, str | None]:
    """The canvas's ink (H, W) -> (its 28x28 digit, a message when the ink is not a digit)."""
    if ink is None or not ink.any():
        return None, None
    try:
        return mnist_style(ink), None
    except NotADigit as exc:
        return None, str(exc)
    except NoInk:  # too faint to count: as if nothing were drawn yet
        return None, None


def canvas_ink(key: str) -> np.ndarray | None:
    """The canvas widget; returns its ink, (280, 280) uint8 white on black, or None before it renders."""
    from streamlit_drawable_canvas import st_canvas  # only inside a page run: it needs a running page

    s = st.session_state
    if arrived():  # back from another page: the canvas comes back empty unless given the strokes again
        s[RESTORE] = s.get(STROKES)
        s[PENDING] = s.get(INK) is not None
    s.setdefault("draw_brush", "medium")
    brush = st.segmented_control("Pen", list(BRUSHES), key="draw_brush",
                                 help="Try a thin and a thick pen: the model gets strokes of MNIST's width either way.")
    st.space("medium")  # room for the toolbar the canvas floats above itself on hover, clear of the pens
    canvas = st_canvas(stroke_width=BRUSHES.get(brush, 18), stroke_color="#FFFFFF", background_color="#000000",
                       height=280, width=280, drawing_mode="freedraw", key=key, update_streamlit=True,
                       return_image_data=True,
                       initial_drawing=s.get(RESTORE))  # fixed for the visit: a new value would redraw mid-stroke
    st.html(_SEND_ON_PEN_UP, unsafe_allow_javascript=True)
    if canvas is None or canvas.image_data is None:
        return s.get(INK) if s.get(PENDING) else None
    ink = np.asarray(canvas.image_data)[..., 0]  # RGBA on the black background: ink is in channel 0
    if canvas.json_data is not None and canvas.json_data.get("objects"):
        s[STROKES], s[PENDING] = canvas.json_data, False  # the canvas shows (and returns) strokes again
    if s.get(PENDING) and not ink.any():  # just back on the page: the restored strokes are drawn, not yet sent
        return s[INK]
    s[INK] = ink if ink.any() else None
    return ink


def _clear() -> None:
    s = st.session_state
    s["canvas_n"] = s.get("canvas_n", 0) + 1
    s["upload_n"] = s.get("upload_n", 0) + 1  # a new key empties the file box too
    s["draw_inputs"] = {}
    s[STROKES] = s[RESTORE] = s[INK] = None
    s[PENDING] = False


def _signature(data: bytes | np.ndarray) -> str:
    return hashlib.blake2b(data if isinstance(data, bytes) else data.tobytes(), digest_size=16).hexdigest()


def draw_input() -> DrawInput:
    """The canvas, Clear and the upload box (in the current container); returns what the models see."""
    s = st.session_state
    st.caption("Draw one digit, large, in the middle. White ink on black, like MNIST.")
    ink = canvas_ink(f"canvas-{s.setdefault('canvas_n', 0)}")
    st.button("Clear", on_click=_clear, help="Empties the canvas and removes the upload.")
    upload = st.file_uploader("…or upload a digit image (the newest input is the one the models see)",
                              type=["png", "jpg", "jpeg", "bmp", "gif", "webp"],
                              key=f"upload-{s.setdefault('upload_n', 0)}")
    data = upload.getvalue() if upload is not None else None
    has_ink = ink is not None and bool(ink.any())
    which = newest(s.setdefault("draw_inputs", {}), _signature(ink) if has_ink else None,
                   _signature(data) if data is not None else None)
    if which == UPLOAD:
        original, digit, problem = prepare_upload(data)
        return DrawInput(digit, UPLOAD, original, problem, upload.name)
    if which == CANVAS:
        digit, problem = canvas_digit(ink)
        return DrawInput(digit, CANVAS, None, problem, upload.name if upload is not None else "",
                         upload_unused=upload is not None)
    return DrawInput(None, None)


def unlike_digits(digit: np.ndarray, checkpoints: dict[int, str]) -> dict[int, str | None]:
    """Per model (run id -> checkpoint): why the drawing is unlike the digits it learned from ("in pixels",
    "in shape", both), or None when it is not. The checks compare with MNIST's digits, so every model that
    learned from them gets the same verdict (its own features are measured, not used: playground.novelty)."""
    image = digit[None]
    why = " and ".join(w for w, f in (("in pixels", novelty.digit_space().unlike(image)[0]),
                                      ("in shape", novelty.not_a_digit().unlike(image)[0])) if f) or None
    return dict.fromkeys(checkpoints, why)


def unlike_caption() -> str:
    """What the ❓ warning checks and how often it is right, formatted from the measured rates."""
    m = novelty.MEASURED

    def span(key: str, fmt: str) -> str:
        lo, hi = (format(v, fmt) for v in m[key])
        return lo if lo == hi else f"{lo}–{hi}"

    return ("A model must answer one of 0–9, even for a letter or a scribble, and often with high confidence. "
            "The ❓ warning compares the 28×28 with the training digits instead: in pixels, and in shape (a small "
            "network trained to tell digits from letters, symbols and scribbles). Measured: it flags "
            f"{span('test_digits', '.1%')} of MNIST's test digits, {span('drawn_digits', '.1%')} of digits drawn "
            f"with a mouse and {span('drawn_letters', '.0%')} of letters drawn the same way (the ranges: two "
            "simulated hands, neither seen while it was tuned on a third). Some letters still pass for a digit, "
            "so no ❓ does not prove a digit.")
