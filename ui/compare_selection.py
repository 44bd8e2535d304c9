"""Which runs Compare shows: kept in the session, mirrored in the URL (?ids=3,4,5) so that a reload
or a copied link shows the same selection, and "select this study's runs". The URL is written in place
(ui.navigation.show_in_url: a change of selection is no history entry, so Back leaves the page) and read
only when the page is arrived at (a reload, a link, Back/Forward: a rerun's URL may lag behind the last one
written)."""
from __future__ import annotations

import streamlit as st

from playground.compare import default_selection, studies
from playground.config import ConfigError
from playground.links import IDS_KEY, compare_params, ids_from_params
from ui.common import plain
from ui.navigation import arrived, show_in_url, url_params
from ui.state import COMPARE_IDS

KEY = COMPARE_IDS  # the multiselect's own state
KEPT = "compare_kept"  # a copy that outlives the widget when another page is shown
STUDY = "compare_study"


def _from_link(known: set[int]) -> list[int] | None:
    """The link's ids that still exist (None when the link names none); a message for the rest."""
    try:
        wanted = ids_from_params(url_params())
    except ConfigError as exc:
        st.warning(f"This link's run selection cannot be read ({plain(str(exc))}); pick runs below.")
        return None
    if not wanted:
        return None
    gone = [i for i in wanted if i not in known]
    if gone:
        st.caption(f"Runs in the link that no longer exist or are hidden by the filters: "
                   f"{', '.join(f'#{i}' for i in gone)}.")
    return [i for i in wanted if i in known]


def initial_selection(runs: list) -> list[int]:
    """On arriving at the page, the link's selection if it names one; else this session's, else the newest
    study's runs or the two newest finished runs of one dataset; always among `runs` (a filter drops what it
    hides)."""
    known = {r.id for r in runs}
    s = st.session_state
    chosen = _from_link(known) if arrived() and IDS_KEY in url_params() else None
    if chosen is None:
        chosen = s.get(KEY, s.get(KEPT))
    if chosen is None:
        chosen = default_selection(runs)
    return [i for i in chosen if i in known]


def remember(selected: list[int]) -> None:
    """Keep the selection for this session and in the URL, in place, so a reload or a copied link shows it:
    each st.query_params write was a history entry, and Back stepped through the selections (issue 31)."""
    st.session_state[KEPT] = list(selected)
    show_in_url(compare_params(selected) if selected else {})


def _select_study() -> None:
    s = st.session_state
    s[KEY] = list(s.get("_study_ids", {}).get(s.get(STUDY), []))


def study_picker(runs: list) -> None:
    """A picker of the studies among these runs and a button that selects all of one study's runs."""
    found = studies(runs)
    if not found:
        return
    st.session_state["_study_ids"] = found
    selected = set(st.session_state.get(KEY) or ())
    shown = next((n for n, ids in found.items() if selected and set(ids) == selected), None)
    if shown is not None:  # the runs on screen are one study's: the picker names that one (a new launch, a link)
        st.session_state[STUDY] = shown
    elif st.session_state.get(STUDY) not in found:
        st.session_state.pop(STUDY, None)
    names = {n: f"study {n} ({len(ids)} runs: #{ids[0]}–#{ids[-1]})" for n, ids in found.items()}
    c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
    c1.selectbox("Study", list(found), format_func=names.get, key=STUDY)
    c2.button("Select this study's runs", on_click=_select_study, width="stretch")
