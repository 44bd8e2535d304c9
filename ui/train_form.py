"""The Train sidebar: widgets <-> RunConfig. Widget bounds keep invalid values out."""
from __future__ import annotations

import streamlit as st

from playground.config import (
    ACTIVATIONS,
    ARCHITECTURES,
    DEVICES,
    NORMALIZATIONS,
    OPTIMIZERS,
    RECIPES,
    RECURRENT,
    RunConfig,
)
from playground.data import SPECS

PREFIX = "f_"
CUSTOM = "(custom)"


def _fill(cfg: RunConfig) -> None:
    for key, value in cfg.flat().items():
        st.session_state[PREFIX + key] = value


def _on_recipe() -> None:
    name = st.session_state["recipe"]
    if name in RECIPES:
        _fill(RECIPES[name])


def _custom() -> None:
    st.session_state["recipe"] = CUSTOM  # edited: no longer the named recipe


def _keep_state() -> None:
    """Streamlit forgets a widget's value when its page is left; re-assigning keeps it."""
    if PREFIX + "arch" not in st.session_state:
        st.session_state.setdefault("recipe", "lstm64")
        _fill(RECIPES["lstm64"])
    for key in list(st.session_state):
        if key.startswith(PREFIX) or key == "recipe":
            st.session_state[key] = st.session_state[key]


def sidebar_form() -> tuple[RunConfig, str, bool]:
    """Render the form; returns (config, run name, Train pressed)."""
    _keep_state()
    k = lambda name: PREFIX + name  # noqa: E731
    with st.sidebar:
        st.selectbox("Recipe", [CUSTOM, *RECIPES], key="recipe", on_change=_on_recipe,
                     help="Fills the form with a classic experiment; edit anything after.")
        st.selectbox("Dataset", list(SPECS), on_change=_custom, key=k("dataset"), format_func=lambda n: SPECS[n].title)
        arch = st.selectbox("Architecture", ARCHITECTURES, on_change=_custom, key=k("arch"))
        recurrent = arch in RECURRENT
        c1, c2 = st.columns(2)
        if recurrent:
            c1.number_input("Hidden size", 1, 1024, on_change=_custom, key=k("hidden"))
            c2.number_input("Layers", 1, 4, on_change=_custom, key=k("layers"))
        else:
            c1.number_input("Width (conv1 channels)", 2, 256, step=2, on_change=_custom, key=k("width"))
            c2.selectbox("Activation", ACTIVATIONS, on_change=_custom, key=k("activation"))
        st.slider("Dropout", 0.0, 0.9, step=0.05, on_change=_custom, key=k("dropout"),
                  help="Between recurrent layers (needs 2+ layers), or Dropout2d after each conv block.")
        st.checkbox("Batch-norm after each conv", on_change=_custom, key=k("batchnorm"), disabled=recurrent)
        st.divider()
        c1, c2 = st.columns(2)
        c1.selectbox("Optimizer", OPTIMIZERS, on_change=_custom, key=k("optimizer"))
        c2.number_input("Learning rate", 1e-6, 10.0, format="%.5f", step=1e-4, on_change=_custom, key=k("lr"))
        c1, c2 = st.columns(2)
        c1.number_input("Batch size", 1, 4096, on_change=_custom, key=k("batch_size"))
        c2.number_input("Epochs", 1, 500, on_change=_custom, key=k("epochs"))
        with st.expander("Regularization and more"):
            st.number_input("L2 penalty λ (added to the loss)", 0.0, 1.0, format="%.5f", step=1e-4, on_change=_custom, key=k("l2"))
            st.number_input("Weight decay (optimizer)", 0.0, 1.0, format="%.5f", step=1e-4, on_change=_custom, key=k("weight_decay"))
            st.number_input("Momentum (SGD)", 0.0, 0.99, step=0.1, on_change=_custom, key=k("momentum"))
            st.number_input("Gradient clip (0 = off)", 0.0, 100.0, step=0.5, on_change=_custom, key=k("clip"))
            st.selectbox("Input normalization", NORMALIZATIONS, on_change=_custom, key=k("normalize"),
                         format_func={"half": "(x-0.5)/0.5", "unit": "[0, 1]", "standard": "dataset mean/std"}.get)
            st.slider("Validation fraction", 0.0, 0.4, step=0.05, on_change=_custom, key=k("val_fraction"))
            st.number_input("Use only the first N samples (0 = all)", 0, 60000, step=500, on_change=_custom, key=k("limit"))
            st.number_input("Seed", 0, 2**31 - 1, on_change=_custom, key=k("seed"))
            st.selectbox("Device", DEVICES, on_change=_custom, key=k("device"))
        name = st.text_input("Run name (optional)", max_chars=120, key="run_name")
        pressed = st.button("Train", type="primary", width="stretch")
    values = {key[len(PREFIX):]: st.session_state[key] for key in st.session_state if key.startswith(PREFIX)}
    return RunConfig().override(**values), name, pressed
