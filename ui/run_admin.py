"""Rename or delete one stored run. Both act in button callbacks, before the page is drawn again,
so the picker can be kept on the run picked (its label changes with the name) and the
confirmation box cleared in the browser too."""
from __future__ import annotations

import streamlit as st

from playground.errors import PlaygroundError
from ui.common import jobs, plain, run_label

PICK, NAME, SURE, ERROR = "manage_id", "new_name", "confirm_delete", "manage_error"


def _unsure() -> None:
    st.session_state[SURE] = False  # another run picked: its deletion is not confirmed yet


def _rename() -> None:
    s = st.session_state
    target = s[PICK]
    try:
        jobs().store.rename(target, s[NAME])
    except (PlaygroundError, ValueError) as exc:
        s[ERROR] = str(exc)
        return
    st.toast(f"Renamed run #{target} to “{plain(s[NAME].strip())}”.", icon="✏️")


def _delete() -> None:
    s = st.session_state
    target = s[PICK]
    rec = jobs().store.get_run(target)
    try:
        jobs().store.delete_run(target)
    except (PlaygroundError, ValueError) as exc:
        s[ERROR] = str(exc)
        return
    s[SURE] = False
    s.pop(PICK, None)  # that run is gone: the picker starts over
    name = f" “{plain(rec.name)}”" if rec else ""
    st.toast(f"Deleted run #{target}{name}, its metrics and its checkpoint.", icon="🗑️")


def manage_runs(runs: list) -> None:
    """Pick a run, rename it, or delete it after ticking the confirmation."""
    labels = {r.id: run_label(r) for r in runs}
    if st.session_state.get(PICK) in labels:
        st.session_state[PICK] = st.session_state[PICK]  # stays on its run when the label changes
    else:
        st.session_state.pop(PICK, None)
    target = st.selectbox("Run", list(labels), format_func=labels.get, key=PICK, on_change=_unsure)
    st.text_input("New name", max_chars=120, key=NAME)
    st.button("Rename", on_click=_rename)
    sure = st.checkbox(f"Yes, delete run #{target}, its metrics and its checkpoint", key=SURE)
    st.button("Delete", disabled=not sure, on_click=_delete)
    if st.session_state.get(ERROR):
        st.error(st.session_state.pop(ERROR))
