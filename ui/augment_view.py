"""Train's batch preview: the first training batch as stored and as the first step trains on it
(augmented when the form says so): playground.engine.batches.first_batch, cached per setting."""
from __future__ import annotations

import streamlit as st

from playground.config import RunConfig, validate
from playground.engine.batches import first_batch
from playground.errors import PlaygroundError

SHOWN = 12


@st.cache_data(max_entries=8, show_spinner="Drawing the first batch…")
def _batch(config_json: str):
    return first_batch(RunConfig.from_json(config_json), SHOWN)


def batch_preview(cfg: RunConfig) -> None:
    try:
        seen, stored = _batch(validate(cfg).to_json())
    except (PlaygroundError, OSError) as exc:  # no dataset here, or settings that cannot split
        st.caption(f"No preview: {exc}")
        return
    st.caption("The first batch's images as stored:")
    st.image(list(stored), width=40)
    if cfg.data.augment:
        st.caption("…and as the first step trains on them (each with its own shift"
                   + (", turn" if cfg.data.dataset == "mnist" else ", flip half the time") + "):")
        st.image(list(seen), width=40)
    else:
        st.caption("Tick **Augment training images** to see them shifted as training would see them.")
