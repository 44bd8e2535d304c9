"""A run row this version cannot read (settings from a newer version, a damaged result): what is wrong,
its raw row and metrics as JSON, and delete. Nothing else on the page depends on it."""
from __future__ import annotations

import json

import streamlit as st

from playground.errors import PlaygroundError
from ui.common import jobs, plain
from ui.state import WATCH

UNREADABLE_SURE = "confirm_delete_unreadable"


def _delete(run_id: int) -> None:
    try:
        jobs().store.delete_run(run_id)
    except PlaygroundError as exc:
        st.session_state["unreadable_error"] = str(exc)
        return
    st.session_state.pop(WATCH, None)  # the picker starts over on another run
    st.session_state[UNREADABLE_SURE] = False
    st.toast(f"Deleted unreadable run #{run_id}, its metrics and its checkpoint.", icon="🗑️")


def show_unreadable(rec) -> None:
    st.subheader(f"⚠️ #{rec.id} {plain(rec.name)} (unreadable)", anchor=False)
    st.warning(f"This version of Playground cannot show run #{rec.id}: {rec.problem}. Export it to keep its "
               "settings and metrics, or delete it.")
    try:
        exported = json.dumps(jobs().store.export_run(rec.id), indent=2, default=str)
    except PlaygroundError as exc:
        st.error(str(exc))
        return
    c1, c2 = st.columns(2)
    c1.download_button("⬇ Export (.json)", exported, f"run-{rec.id}.json", mime="application/json",
                       key=f"export-{rec.id}", width="stretch")
    with c2:
        sure = st.checkbox(f"Yes, delete run #{rec.id}, its metrics and its checkpoint", key=UNREADABLE_SURE)
        st.button("Delete", key=f"delete-{rec.id}", disabled=not sure, on_click=_delete, args=(rec.id,),
                  width="stretch")
    if st.session_state.get("unreadable_error"):
        st.error(st.session_state.pop("unreadable_error"))
