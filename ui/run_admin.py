"""Rename or delete one stored run, or delete several at once, in button callbacks (before the redraw).

The browser sends back the picker label it was last shown, which may name no run any more: callbacks act
only on a run id that exists, and after a delete the picker gets a new key so no stale label can fill it.
"""
from __future__ import annotations

import streamlit as st

from playground.errors import PlaygroundError, RunStatus
from playground.words import counted
from ui.common import jobs, plain, run_label
from ui.state import COMPARE_IDS

PICK, NEW_NAME, DELETE_SURE, MANAGE_ERROR = "manage_id", "manage_new_name", "manage_confirm_delete", "manage_error"
GENERATION = "manage_generation"  # bumped to draw the picker as a new widget, with no run picked


def pick_key() -> str:
    """The picker's current widget key: `manage_id`, then `manage_id 1`, `manage_id 2`... after each reset."""
    n = st.session_state.get(GENERATION, 0)
    return PICK if not n else f"{PICK} {n}"


def _reset_picker() -> None:
    s = st.session_state
    s.pop(pick_key(), None)
    s[GENERATION] = s.get(GENERATION, 0) + 1
    s[DELETE_SURE] = False


def _picked():
    """The stored run picked, or None with the reason in MANAGE_ERROR (nothing picked, a stale label, a run gone)."""
    s = st.session_state
    value = s.get(pick_key())
    if value is None:
        s[MANAGE_ERROR] = "Pick a run first."
        return None
    rec = jobs().store.get_run(value) if isinstance(value, int) and not isinstance(value, bool) else None
    if rec is None:
        s[MANAGE_ERROR] = ("The run shown in the picker no longer exists (deleted, perhaps in another tab): "
                           "nothing was changed. Pick a run again.")
        _reset_picker()
    return rec


def _unsure() -> None:
    st.session_state[DELETE_SURE] = False  # another run picked: its deletion is not confirmed yet


def _rename() -> None:
    s = st.session_state
    rec = _picked()
    if rec is None:
        return
    try:
        jobs().store.rename(rec.id, s[NEW_NAME])
    except (PlaygroundError, ValueError) as exc:
        s[MANAGE_ERROR] = str(exc)
        return
    st.toast(f"Renamed run #{rec.id} to “{plain(s[NEW_NAME].strip())}”.", icon="✏️")


def _delete() -> None:
    s = st.session_state
    rec = _picked()
    if rec is None:
        return
    if not s.get(DELETE_SURE):
        s[MANAGE_ERROR] = f"Tick “Yes, delete run #{rec.id}” first."
        return
    try:
        jobs().store.delete_run(rec.id)
    except (PlaygroundError, ValueError) as exc:
        s[MANAGE_ERROR] = str(exc)
        return
    _reset_picker()  # that run is gone: a new picker, with nothing picked
    st.toast(f"Deleted run #{rec.id} “{plain(rec.name)}”, its metrics and its checkpoint.", icon="🗑️")


def manage_runs(runs: list) -> None:
    """Pick a run, rename it, or delete it after ticking the confirmation."""
    labels = {r.id: run_label(r) for r in runs}
    s = st.session_state
    if pick_key() in s:
        if s[pick_key()] in labels:
            s[pick_key()] = s[pick_key()]  # stays on its run when the label changes: the browser gets the new one
        elif s[pick_key()] is not None:
            _reset_picker()  # a label or run no longer here: a new picker, nothing picked
    target = st.selectbox("Run", list(labels), format_func=labels.get, key=pick_key(), on_change=_unsure,
                          index=None, placeholder="Pick a run to rename or delete")
    if target not in labels:  # belt and braces: only a run of this list is ever acted on
        target = None
    st.text_input("New name", max_chars=120, key=NEW_NAME)
    st.button("Rename", on_click=_rename, disabled=target is None)
    what = f"run #{target}" if target is not None else "the run picked"
    sure = st.checkbox(f"Yes, delete {what}, its metrics and its checkpoint", key=DELETE_SURE, disabled=target is None)
    st.button("Delete", disabled=not (sure and target is not None), on_click=_delete)
    if s.get(MANAGE_ERROR):
        st.error(s.pop(MANAGE_ERROR))


BULK, BULK_SURE, BULK_REPORT = "bulk_ids", "bulk_confirm", "bulk_report"


def _bulk_unsure() -> None:
    st.session_state[BULK_SURE] = False  # another set of runs: not confirmed yet


def _take_compared() -> None:
    s = st.session_state
    s[BULK] = list(s.get(COMPARE_IDS, []))
    s[BULK_SURE] = False


def _delete_many() -> None:
    s = st.session_state
    store = jobs().store
    deleted, refused = [], []
    for run_id in list(s.get(BULK, [])):
        rec = store.get_run(run_id)
        if rec is None:
            continue
        name = f"#{run_id} “{plain(rec.name)}”"
        if RunStatus(rec.status).active:
            refused.append(f"{name} is {rec.status}: stop it before deleting it")
            continue
        try:
            store.delete_run(run_id)
        except (PlaygroundError, ValueError) as exc:
            refused.append(f"{name}: {exc}")
            continue
        deleted.append((run_id, name))
    gone = {i for i, _ in deleted}
    s[BULK] = [i for i in s.get(BULK, []) if i not in gone]  # what was refused stays picked
    s[COMPARE_IDS] = [i for i in s.get(COMPARE_IDS, []) if i not in gone]
    s[BULK_SURE] = False
    s[BULK_REPORT] = ([f"Deleted {counted(len(deleted), 'run')}, their metrics and checkpoints: "
                       + ", ".join(n for _, n in deleted) + "."] if deleted else [], refused)


def delete_many(runs: list) -> None:
    """Pick several runs (or take the comparison's), confirm once, delete; running ones are refused, with why."""
    labels = {r.id: run_label(r) for r in runs}
    s = st.session_state
    s[BULK] = [i for i in s.get(BULK, []) if i in labels]
    st.button("Take the runs selected for comparison", on_click=_take_compared)
    picked = st.multiselect("Runs to delete", list(labels), format_func=labels.get, key=BULK,
                            on_change=_bulk_unsure)
    active = [r.id for r in runs if r.id in picked and RunStatus(r.status).active]
    if active:
        st.caption(f"{', '.join(f'#{i}' for i in active)} queued or training: stop them first; they will be kept.")
    sure = st.checkbox(f"Yes, delete these {len(picked)} runs, their metrics and their checkpoints", key=BULK_SURE,
                       disabled=not picked)
    st.button(f"Delete {len(picked)} runs", disabled=not (sure and picked), on_click=_delete_many)
    done, refused = s.pop(BULK_REPORT, ([], []))
    for text in done:
        st.success(text, icon="🗑️")
    if refused:
        st.warning("Not deleted: " + "; ".join(refused) + ".")
