"""Learn, "Teach it your handwriting": what the lesson needs first (your kept drawings, an LSTM 64 of MNIST), and
its results as a fine-tune states them (your held-out drawings and MNIST, before and after)."""
from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from playground import own
from playground.config import recipe
from playground.lessons import Lesson, handwriting_base, handwriting_configs, handwriting_missing, handwriting_sizes
from playground.links import config_params
from ui.common import jobs


def teach_ready(lesson: Lesson) -> Callable[[str], list] | None:
    """Say what the lesson uses or still needs; returns how to build its runs at a scale, or None until it can."""
    store = jobs().store
    drawings = store.list_drawings()
    base = handwriting_base(store.list_runs())
    missing = handwriting_missing([d.label for d in drawings])
    if missing:
        st.info(missing + " Keep them on Draw first (**Keep and clear** takes one click a drawing), then come back.")
        st.page_link("pages/draw.py", label="Keep drawings on Draw", icon="✏️")
    if base is None:
        st.info("It fine-tunes an LSTM 64 that learned MNIST, and you have none finished yet: train one (the LSTM 64 "
                "recipe, one epoch), then come back.")
        st.page_link("pages/train.py", label="Train an LSTM 64 on MNIST", icon="🏋️",
                     query_params=config_params(recipe("lstm64"), "lstm64"))
    else:
        acc = base.result.get("test_acc")
        st.caption(f"It fine-tunes #{base.id} {base.name}" + (f" ({acc:.1%} on MNIST's test digits)" if acc else "")
                   + "; each fine-tune is a run of its own.")
    if missing or base is None:
        return None
    st.caption(split_words([d.label for d in drawings]))
    return lambda scale: handwriting_configs(lesson, base, drawings, scale)


def split_words(labels: list[int]) -> str:
    """What the lesson's fine-tunes train on and hold out of kept digit `labels`, as handwriting_configs splits
    them: in the sentence Draw's own fine-tune says its split in (own.split_note), each naming its rule."""
    trained, held = handwriting_sizes(labels)  # the same number of each digit trained on
    return own.split_note(len(labels), trained, held, own.split_rule(trained // len(own.DIGITS)))


def teach_row(run, got: dict) -> dict:
    """One fine-tune's line in "What happened": its numbers before and after, beside our spread over seeds."""
    def moved(before: str, after: str, fmt: str) -> str:
        return f"{got[before]:{fmt}} → {got[after]:{fmt}}" if before in got and after in got else "–"

    held = f"{got['held_out']:.0f}" if "held_out" in got else "–"
    return {"run": run.label, "your held-out drawings": moved("own_before", "own_after", ".0%"),
            "held out": held, "MNIST test": moved("mnist_before", "mnist_after", ".1%"),
            "our spread, your drawings after": run.measured.text() if run.measured else "not measured",
            "our spread, MNIST lost": run.measured_forgot.pts if run.measured_forgot else "not measured"}


def teach_note() -> str:
    """Under the fine-tunes' table: what its columns are, and what our spread was measured on."""
    from playground.lessons import MEASURED_ON
    from ui.measured_view import ANCHOR

    return ("Each fine-tune's accuracy before → after: on your held-out drawings (never trained on) and on MNIST's "
            f"test digits. Our spread: {MEASURED_ON}, on digits drawn from strokes, not yours; a single run can land "
            f"outside it ([how we measured](#{ANCHOR})).")
