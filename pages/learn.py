"""Learn: one lesson per classic experiment; guess first, run it live, compare with the original."""
import streamlit as st

from playground.lessons import BY_KEY, LESSONS, current_scale
from ui.common import jobs, plain
from ui.lesson_view import LESSON, show_lesson
from ui.measured_view import how_we_measured
from ui.navigation import require_app, show_in_url

require_app()  # first: the app's frame even when Streamlit ran this page on its own

st.title("🎓 Learn")
st.markdown("Each lesson is a classic experiment: read what it asks, **guess the outcome first**, run it live, "
            "then see your guess next to the result, the number the original reported and the spread our "
            "own runs gave over seeds.")
progress = jobs().store.lessons()
keys = [lesson.key for lesson in LESSONS]
wanted = st.query_params.get("lesson")
if st.session_state.get(LESSON) not in keys:  # arriving: the URL's lesson, said when there is no such lesson
    if wanted is not None and wanted not in keys:
        shown = wanted[:40] + ("…" if len(wanted) > 40 else "")
        st.warning(f"This link's lesson “{plain(shown)}” is not one of these lessons: here is lesson 1.")
    st.session_state[LESSON] = wanted if wanted in keys else keys[0]


def _label(key: str) -> str:
    # Fixed labels: a ✓ added to an option when its lesson ends made the browser drop the selection.
    return f"{keys.index(key) + 1}. {BY_KEY[key].title}"


with st.sidebar:
    done = [k for k in keys if progress.get(k, {}).get("done")]
    st.progress(len(done) / len(keys), text=f"{len(done)} of {len(keys)} lessons done")
    for k in done:
        st.caption(f"✓ {_label(k)}")
key = st.radio("Lesson", keys, format_func=_label, key=LESSON, horizontal=False)
show_in_url({"lesson": key})  # in place: Back leaves Learn, not the lesson picked before
st.divider()
show_lesson(BY_KEY[key], progress.get(key, {}), current_scale())
st.divider()
how_we_measured()
