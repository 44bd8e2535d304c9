"""Rename or delete one stored run, or delete several at once. All act in button callbacks, before
the page is drawn again, so the picker can be kept on the run picked (its label changes with the name) and the
confirmation box cleared in the browser too."""
from __future__ import annotations

import streamlit as st

from playground.errors import PlaygroundError, RunStatus
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


BULK, BULK_SURE, BULK_REPORT = "bulk_ids", "bulk_confirm", "bulk_report"


def _bulk_unsure() -> None:
    st.session_state[BULK_SURE] = False  # another set of runs: not confirmed yet


def _take_compared() -> None:
    s = st.session_state
    s[BULK] = list(s.get("compare_ids", []))
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
    s["compare_ids"] = [i for i in s.get("compare_ids", []) if i not in gone]
    s[BULK_SURE] = False
    s[BULK_REPORT] = ([f"Deleted {len(deleted)} run(s), their metrics and checkpoints: "
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
