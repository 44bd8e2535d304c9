"""What every page shares: the store and job registry (one per server process), small formatters."""
from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import streamlit as st

from playground.errors import RunStatus

if TYPE_CHECKING:  # the library pulls in torch (~3 s cold): imported when first needed, not here
    from playground.engine.jobs import JobRegistry
    from playground.inference import LoadedModel

STATUS_ICON = {RunStatus.QUEUED: "⏳", RunStatus.RUNNING: "🏃", RunStatus.FINISHED: "✅", RunStatus.STOPPED: "⏹️",
               RunStatus.DIVERGED: "💥", RunStatus.FAILED: "❌", RunStatus.INTERRUPTED: "⚠️"}
POLL_SECONDS = 1.0


@st.cache_resource(show_spinner=False)
def _registry(home: str) -> JobRegistry:
    from playground.engine.executors import executor_from_env
    from playground.engine.jobs import JobRegistry
    from playground.settings import Settings
    from playground.store import RunStore

    s = Settings.from_env()
    executor = executor_from_env(s.ray_address, s.max_concurrent)  # Ray when PLAYGROUND_RAY_ADDRESS is set
    return JobRegistry(RunStore(home), max_concurrent=s.max_concurrent, threads_per_run=s.threads_per_run,
                       executor=executor)


def jobs() -> JobRegistry:
    """The process-wide job registry (and its store); stops the page with a clear message if unusable."""
    from playground.errors import PlaygroundError
    from playground.settings import Settings
    from playground.store import StoreError

    try:
        home = st.session_state.get("store_home") or str(Settings.from_env().home)
        return _registry(home)
    except StoreError as exc:
        st.error(str(exc))
        fresh = Path(home).with_name(Path(home).name + "-fresh")
        if st.button(f"Use a fresh store in {fresh} (the old file is kept)"):
            st.session_state["store_home"] = str(fresh)
            st.rerun()
        st.stop()
    except PlaygroundError as exc:  # a bad PLAYGROUND_* value, or Ray asked for and missing
        st.error(f"The app cannot start its training engine: {exc}")
        st.stop()


@st.cache_resource(show_spinner=False, max_entries=16)
def _load(path: str, mtime: float) -> LoadedModel:
    from playground.inference import load_checkpoint

    return load_checkpoint(path)


def loaded_model(path: str) -> LoadedModel:
    """A checkpoint loaded once per file version (its own model copy, never a live one)."""
    return _load(path, os.path.getmtime(path))


def run_label(rec) -> str:
    acc = rec.result.get("test_acc")
    acc_text = f" · test acc {acc:.1%}" if acc is not None else ""
    return f"{STATUS_ICON.get(rec.status, '')} #{rec.id} {rec.name}{acc_text}"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    seconds = int(round(seconds))
    return f"{seconds // 60}m {seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def plain(text: str) -> str:
    """User text for a markdown element, shown literally (no links, emphasis or HTML)."""
    return "".join("\\" + ch if ch in "\\`*_{}[]()#+-.!|<>~$:" else ch for ch in text)


def dataset_here(name: str) -> str | None:
    """None when built-in dataset `name` is on this machine, downloaded now once if it must be (online users keep
    the real download); else why its runs cannot train here. Each run of a study or sweep failing offline, the
    reason only in its log, was the alternative."""
    from playground.data import DataUnavailable, load_dataset, missing_offline

    missing = missing_offline(name)
    if missing is None:
        return None
    try:
        with st.spinner(f"Downloading {name} once: its runs need it…"):
            load_dataset(name)
    except DataUnavailable as exc:
        return f"{missing} The download failed too: {str(exc)[:300]}"
    return None


@contextlib.contextmanager
def values_kept(keys: Iterable[str]):
    """Widgets whose values outlive runs that do not draw them (their panel shut): each value is put back before
    the widgets are drawn and copied after (Streamlit forgets a widget's value on a run that does not draw it)."""
    keys = tuple(keys)
    for key in keys:
        restore_kept(key)
    yield
    s = st.session_state
    for key in keys:
        if key in s:
            s[f"{key}-kept"] = s[key]


def restore_kept(widget: str) -> str:
    """A widget's kept value put back before it is drawn: Streamlit forgets a widget's state on a run that
    does not draw it (another page, or the panel shut), the copy under `widget + "-kept"` outlives that.
    Returns that copy's key, for the caller to store the widget's value in once it is drawn."""
    kept = f"{widget}-kept"
    if widget not in st.session_state and kept in st.session_state:
        st.session_state[widget] = st.session_state[kept]
    return kept


def open_panel(label: str, key: str, expanded: bool = False):
    """An expander kept as the learner left it, open or shut, across reruns and pages; its caller builds what is
    in it only while `.open`: shut, its charts cost a visit nothing (a shut expander's charts were still sent
    and drawn, issue 36). `expanded`: how it starts, before the learner opens or shuts it."""
    kept = restore_kept(key)
    st.session_state.setdefault(key, expanded)
    panel = st.expander(label, key=key, on_change="rerun")  # "rerun": its state is kept and .open is known
    st.session_state[kept] = bool(panel.open)
    return panel
