""""Show the code": a config as the standalone PyTorch script playground.codegen writes, to read or download."""
from __future__ import annotations

import streamlit as st

from playground.codegen import script
from playground.config import RunConfig
from playground.errors import PlaygroundError


def show_code(config: RunConfig, what: str, key: str, filename: str = "train.py") -> None:
    """The script for `config` (`what` says whose settings), or why there is none."""
    try:
        source = script(config)
    except PlaygroundError as exc:  # the form holds a value validate refuses
        st.warning(f"No script for {what}: {exc}")
        return
    st.caption(f"{what[0].upper()}{what[1:]} as a standalone PyTorch script (torch and torchvision only): the "
               "same data handling, model, optimizer, regularization and seed. `python train.py --help` lists "
               "its options.")
    st.download_button(f"⬇ {filename}", source, filename, mime="text/x-python", key=f"code-{key}")
    st.code(source, language="python")
