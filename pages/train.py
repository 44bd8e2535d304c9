"""Train: pick a recipe or settings, start a background run, watch it live."""
import streamlit as st

from ui.common import POLL_SECONDS, jobs, plain, run_label
from ui.estimate_view import how_long
from ui.navigation import arrived, require_app, show_in_url, url_params
from ui.run_facts import run_from_link
from ui.run_view import active_runs, show_run
from ui.state import WATCH
from ui.train_form import (
    CUSTOM,
    RECIPE,
    form_config,
    form_params,
    from_link,
    link_done,
    range_test_result,
    sidebar_form,
    take_outcome,
)

require_app()  # first: the app's frame even when Streamlit ran this page on its own

MAX_AT_ONCE = 64  # PLAYGROUND_MAX_CONCURRENT's own bound (playground/settings.py): the box must show any valid value
KEPT = "watch_kept"  # the run shown last: the picker's label changes with its status, and the browser sends the old one

st.title("Train")
registry = jobs()
s = st.session_state
sidebar_form()  # the form <-> the URL's settings (read only on arriving at the page)
outcome, detail = take_outcome()
if outcome == "refused":
    st.error(f"Cannot train this configuration: {detail}")
elif outcome == "started":
    s[WATCH] = detail
range_test_result()  # the sidebar's "Find a learning rate", drawn where it can be read

runs = registry.store.list_runs(include_unreadable=True)  # an unreadable row is shown as such, never a crash
ids = [r.id for r in runs]
if arrived():  # a reload, a link or Back: the URL names the run to show; later runs are this session's own
    wanted, problem = run_from_link(url_params().get("run"), ids)
    if problem:
        st.warning(f"The link's run was not shown: {plain(problem)}.")
    if wanted is not None:
        s[WATCH] = wanted
    elif from_link():
        s[WATCH] = None  # a link's settings, not trained yet: no unrelated old run beside them

with st.sidebar:
    st.divider()
    cap = st.number_input("Runs training at once", 1, max(MAX_AT_ONCE, registry.max_concurrent),
                          value=registry.max_concurrent,
                          help="More runs wait as queued. On 2 CPU cores, 2 at once is the most that helps.")
    if cap != registry.max_concurrent:
        registry.set_max_concurrent(cap)

if not runs:
    took = how_long([form_config()], at_once=1)  # the sidebar's own estimate (cached): the recipe picked, measured
    picked = s.get(RECIPE) if s.get(RECIPE) != CUSTOM else "these settings"
    st.info("No runs yet. Pick a recipe in the sidebar and press **Train**"
            + (f": one run of {picked} takes {took}." if took and picked else "."))
    show_in_url(form_params())
    st.stop()

labels = {r.id: run_label(r) if r.readable else f"⚠️ #{r.id} {r.name} (unreadable)" for r in runs}
active = registry.active()
if s.get(WATCH) not in ids and not (s.get(WATCH) is None and from_link()):
    s[WATCH] = s[KEPT] if s.get(KEPT) in ids else (active[-1] if active else ids[0])

watch = st.selectbox("Run", ids, key=WATCH, format_func=labels.get, index=None,
                     placeholder="Pick a run to watch")
if watch is not None:
    s[KEPT] = watch
    link_done()
show_in_url({**form_params(), **({"run": str(watch)} if watch is not None else {})})
if active:
    st.fragment(active_runs, run_every=POLL_SECONDS)()  # kept current while they train; gone once none is left
if watch is None:
    st.info("The form in the sidebar holds the settings of the link you followed: press **Train** there to "
            "start it, or pick a run above to watch.")
else:
    show_run(watch)
