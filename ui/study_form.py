"""The regularization-study form: one base recipe, ticked variants, launched together with one seed."""
from __future__ import annotations

import streamlit as st

from playground.compare import StudyChoice, study_variants
from playground.config import RECIPES, ConfigError
from ui.common import jobs


def _launch() -> None:
    s = st.session_state
    base = RECIPES[s["study_recipe"]].override(epochs=int(s["study_epochs"]), seed=int(s["study_seed"]),
                                               limit=int(s["study_limit"]))
    choice = StudyChoice(baseline=s["study_base"], l2=s["study_l2"] if s["study_use_l2"] else None,
                         dropout=s["study_p"] if s["study_use_p"] else None,
                         batchnorm=s["study_bn"], wider=s["study_wide"])
    variants = study_variants(base, choice)
    if not variants:
        s["study_error"] = "Tick at least one variant."
        return
    try:
        ids = [jobs().submit(cfg, name=f"{s['study_recipe']} · {label}") for label, cfg in variants]
    except ConfigError as exc:
        s["study_error"] = f"Cannot run this study: {exc}"
        return
    s["study_error"] = None
    s["compare_ids"] = ids  # show the study's runs in the comparison right away


def study_form() -> None:
    c1, c2, c3, c4 = st.columns(4)
    c1.selectbox("Base recipe", list(RECIPES), index=list(RECIPES).index("cnn"), key="study_recipe")
    c2.number_input("Epochs", 1, 200, value=5, key="study_epochs")
    c3.number_input("Seed (shared)", 0, 2**31 - 1, value=0, key="study_seed")
    c4.number_input("First N samples (0 = all)", 0, 60000, value=0, step=1000, key="study_limit")
    c = st.columns(5)
    c[0].checkbox("No regularization", value=True, key="study_base")
    c[1].checkbox("L2 penalty", value=True, key="study_use_l2")
    c[1].number_input("λ", 0.0, 1.0, value=0.001, format="%.4f", step=0.0005, key="study_l2")
    c[2].checkbox("Dropout", value=True, key="study_use_p")
    c[2].slider("p", 0.05, 0.8, value=0.3, step=0.05, key="study_p")
    c[3].checkbox("Batch-norm (CNNs)", key="study_bn")
    c[4].checkbox("Wider (×2)", key="study_wide")
    st.button("🚀 Launch study", type="primary", on_click=_launch)
    if st.session_state.get("study_error"):
        st.error(st.session_state["study_error"])
