"""Draw page: models of your own classes beside digit models. Each answers in its own class names; only digit models
are scored on the kept drawings (labelled with digits) and checked against MNIST's digits."""
from __future__ import annotations

import streamlit as st

from playground import own
from playground.bars import probability_bars
from playground.codegen import ARCH_NAMES
from playground.data import spec
from playground.inference import best_finished, named, reads_digits
from ui.common import jobs


def model_label(record, label: str) -> str:
    """A Draw model's label, with its class names when they are not the digits (each model answers in its own)."""
    classes = spec(record.config.data.dataset).classes
    return label if classes == own.DIGITS else f"{label} · classes {', '.join(classes)}"


def default_models(records) -> list[int]:
    """Draw's first choice: the best finished digit model (the canvas asks for a digit), else the best of any."""
    return [r.id for r in best_finished([r for r in records if reads_digits(r.config)]) or best_finished(records)]


def linked_model(labels: dict) -> int | None:
    """The model a link opened Draw on (`?model=<run id>`, from a lesson), when it is one Draw can use."""
    from playground.links import MODEL_KEY, whole_number
    from ui.navigation import link_params

    wanted = whole_number(link_params().get(MODEL_KEY))
    return wanted if wanted in labels else None


def models_in_url(labels: dict) -> list[int] | None:
    """The models Draw's URL names (`?models=3,5`: a reload or a shared link), those Draw can still use; None
    where it names none of them."""
    from playground.links import MODELS_KEY, whole_number
    from ui.navigation import link_params

    ids = (whole_number(t) for t in link_params().get(MODELS_KEY, "")[:1000].split(","))  # 6 ids need far less
    return [i for i in dict.fromkeys(ids) if i in labels][:6] or None


def put_models_in_url(chosen: list[int]) -> None:
    """The picked models in Draw's URL, so a reload keeps them (the session's pick is lost with it)."""
    from playground.links import MODELS_KEY
    from ui.navigation import put_in_url

    put_in_url(MODELS_KEY, ",".join(map(str, chosen)) or None)


def digit_models(loaded: dict) -> dict:
    """The loaded models (run id -> LoadedModel) that read digits: those kept drawings and MNIST's look-alikes fit."""
    return {i: m for i, m in loaded.items() if reads_digits(m.config)}


def not_scored(loaded: dict, labels: dict) -> None:
    """Say which picked models the kept drawings (labelled with digits) do not score: another label space."""
    other = [i for i, m in loaded.items() if not reads_digits(m.config)]
    if other and jobs().store.list_drawings():  # no kept drawings: nothing to leave them out of
        st.caption("Not scored on your kept drawings, which are labelled with digits: "
                   + "; ".join(f"{labels[i]}" for i in other) + ". Their classes are not digits.")


def likeness(run_id: int, classes: list[str], unlike: dict) -> str:
    """A side-by-side model's caption: whether the drawing is like the digits it learned from (digit models only)."""
    if run_id not in unlike:
        return f"Reads your own classes ({', '.join(classes)}): not checked against MNIST's digits."
    if unlike[run_id]:
        return f"❓ Unlike the digits #{run_id} learned from ({unlike[run_id]}): this answer means little."
    return f"Like the digits #{run_id} learned from, in pixels and in shape."


def side_by_side(probs: dict, loaded: dict, unlike: dict) -> None:
    """Every chosen model's probabilities for the drawing, each in its own class names (two models or more)."""
    if len(probs) < 2:
        return
    st.subheader("Side by side", anchor=False)
    for col, (run_id, p) in zip(st.columns(len(probs)), probs.items(), strict=True):
        model = loaded[run_id]
        names = list(model.classes)
        col.html(probability_bars(p, names, f"#{run_id} {ARCH_NAMES[model.config.model.arch]}: {named(model, p)[0]}"))
        col.caption(likeness(run_id, names, unlike))
