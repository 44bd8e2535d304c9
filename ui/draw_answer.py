"""Draw's answer to a stroke: the detailed model's input, answer and probability bars; how a recurrent model's
answer forms row by row; and Why?, which pixels made it answer so (each drawn inside the stroke's fragment)."""
from __future__ import annotations

import numpy as np
import streamlit as st

from playground.bars import probability_bars
from playground.codegen import ARCH_NAMES
from playground.config import is_recurrent
from playground.inference import LoadedModel, named, to_input
from playground.models import untrained
from playground.probes import row_predictions
from playground.tiles import picture
from ui.draw_input import UPLOAD, unlike_caption
from ui.figures import charts
from ui.inside_views import title_room
from ui.why_views import kept_expander, saliency, why_target


def answer(run_id: int, model: LoadedModel, digit: np.ndarray, p: np.ndarray, unlike: dict, source) -> None:
    """What model `run_id` gets (28x28) and answers, its probabilities (`p`) in its own class names; a warning
    beside the answer where the drawing is unlike the digits it learned from (`unlike`, digit models only)."""
    c1, c2 = st.columns([1, 2])
    c1.html(picture(digit, "Model input, 28×28", px=200))  # HTML: no chart to redraw on every stroke
    said, sure = named(model, p)
    c2.metric(f"#{run_id} predicts · {sure:.0%} sure", said)
    if unlike.get(run_id):  # beside the answer it qualifies
        c2.warning(f"This looks unlike the handwritten digits #{run_id} learned from ({unlike[run_id]}): its "
                   f"answer {said} means little.", icon="❓")
    c2.html(probability_bars(p, list(model.classes)))
    if run_id in unlike:  # the digits' check; a model of your own classes is not checked
        st.caption(unlike_caption())
    st.page_link("pages/inside.py", icon="🔬", query_params={"model": str(run_id), "input": "drawing"},
                 label=f"Look inside with this {'image' if source == UPLOAD else 'drawing'}")


def rows_read(model: LoadedModel, digit: np.ndarray) -> None:
    """A recurrent model's answer as it reads the drawing row by row, up to a row the learner picks."""
    names = list(model.classes)
    st.subheader("How the prediction forms", anchor=False)
    rows = row_predictions(model.model, to_input(digit[None], model.config))
    row = st.slider("Rows read so far", 1, 28, 28, key="draw_row")
    a, b = st.columns([1, 3])
    a.plotly_chart(charts.image_rows(digit, row, f"after row {row}: {names[rows[row - 1].argmax()]} "
                                                 f"({rows[row - 1].max():.0%})"), width="stretch",
                   config=charts.STATIC)
    b.plotly_chart(charts.row_predictions(rows, names, row), width="stretch", config=charts.STATIC)


def why(run_id: int, model: LoadedModel, digit: np.ndarray, p: np.ndarray) -> None:
    """Why?: which pixels made the model answer what it did, beside the same model untrained; computed only
    while open, and open it stays across strokes, answers and pages."""
    me = f"#{run_id} {ARCH_NAMES[model.config.model.arch]}"
    panel = kept_expander(f"🔍 Why? Which pixels made {me} answer what it did", "draw")
    if not panel.open:
        return
    with panel:
        names, x = list(model.classes), to_input(digit[None], model.config)
        saliency({f"{me}, trained": (model.model, model.config, x),
                  f"{me}, untrained": (untrained(model.config), model.config, x)},
                 why_target(int(p.argmax()), names, "draw"), names, "draw",
                 outline=digit, title_chars=title_room(4 if is_recurrent(model.config) else 2))
