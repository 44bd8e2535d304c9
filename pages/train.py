"""Train: pick a recipe or settings, start a background run, watch it live."""
import streamlit as st

from ui.common import jobs, plain, run_label
from ui.navigation import require_app
from ui.run_facts import run_from_link
from ui.run_view import show_run
from ui.train_form import sidebar_form, take_outcome

require_app()  # first: the app's frame even when Streamlit ran this page on its own

st.title("Train")
registry = jobs()
sidebar_form()  # the form <-> the URL's settings
outcome, detail = take_outcome()
if outcome == "refused":
    st.error(f"Cannot train this configuration: {detail}")
elif outcome == "started":
    st.query_params["run"] = str(detail)
    st.session_state.pop("watch", None)

runs = registry.store.list_runs(include_unreadable=True)  # an unreadable row is shown as such, never a crash
ids = [r.id for r in runs]
wanted, problem = run_from_link(st.query_params.get("run"), ids)
if problem:
    st.warning(f"The link's run was not shown: {plain(problem)}.")
    del st.query_params["run"]
if not runs:
    st.info("No runs yet. Pick a recipe in the sidebar (LSTM 64 takes seconds per epoch) and press **Train**.")
    st.stop()

labels = {r.id: run_label(r) if r.readable else f"⚠️ #{r.id} {r.name} (unreadable)" for r in runs}
active = registry.active()
# A run named by a link this session did not write (a reload, a link from Learn) is the one shown.
if wanted is not None and wanted != st.session_state.get("watch_link"):
    st.session_state["watch"] = wanted
if st.session_state.get("watch") not in ids:
    st.session_state["watch"] = active[-1] if active else ids[0]

with st.sidebar:
    st.divider()
    cap = st.number_input("Runs training at once", 1, 8, value=registry.max_concurrent,
                          help="More runs wait as queued. On 2 CPU cores, 2 at once is the most that helps.")
    if cap != registry.max_concurrent:
        registry.set_max_concurrent(cap)

watch = st.selectbox("Run", ids, key="watch", format_func=labels.get)
st.session_state["watch_link"] = watch
st.query_params["run"] = str(watch)
if active:
    st.caption(f"{len(active)} run(s) queued or training: " + ", ".join(f"#{i}" for i in active))
show_run(watch)
