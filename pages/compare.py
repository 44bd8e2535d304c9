"""Compare: overlay stored runs, launch a regularization study or a sweep, rename or delete runs."""
import streamlit as st

from playground.config import ARCHITECTURES, DATASETS
from playground.errors import RunStatus
from ui.common import jobs, open_panel, run_label
from ui.compare_selection import KEY, initial_selection, remember, study_picker
from ui.compare_view import show_comparison
from ui.navigation import require_app
from ui.run_admin import delete_many, manage_runs
from ui.study_form import study_form
from ui.sweep_form import follow, sweep_form, sweep_status

require_app()  # first: the app's frame even when Streamlit ran this page on its own

st.title("Compare")
store = jobs().store
study_box = st.container()  # drawn once we know whether there are runs

c1, c2, c3 = st.columns(3)
# "all" is an option, not None: a None value that a rerun writes back (a study's launch, a kept filter) reaches the
# browser as "no selection", which it showed as "Choose an option".
ALL = "all"
picked = lambda v: None if v == ALL else v  # noqa: E731
dataset = picked(c1.selectbox("Dataset", [ALL, *DATASETS], key="filter_dataset"))
arch = picked(c2.selectbox("Architecture", [ALL, *ARCHITECTURES], key="filter_arch"))
status = picked(c3.selectbox("Status", [ALL, *RunStatus], key="filter_status"))
runs = store.list_runs(dataset=dataset, arch=arch, status=status)
filtered = (dataset, arch, status) != (None, None, None)
follow(runs)  # a sweep's trials join the selection as they start (before its form watches for more)

# Each form is built only while its panel is open: shut, their ~40 widgets were most of a visit's second
# (issue 36). A running sweep's status and watcher are drawn either way.
with study_box:
    study = open_panel("🧪 Regularization study: train several settings of one recipe side by side", "panel-study",
                       expanded=not runs and not filtered)
    if study.open:
        with study:
            study_form()
    sweep = open_panel("🎛 Sweep: let Optuna search the settings, and see which ones matter", "panel-sweep")
    with sweep:
        if sweep.open:
            sweep_form()
        sweep_status()
if not runs:
    st.info("No runs match these filters." if filtered else
            "No runs yet: launch a study above, or train on the Train page.")
    st.stop()

labels = {r.id: run_label(r) for r in runs}
st.session_state[KEY] = initial_selection(runs)  # re-assigned: stays picked when a run's label changes
study_picker(runs)
selected = st.multiselect("Runs to compare", list(labels), key=KEY, format_func=labels.get)
remember(selected)

if selected:
    show_comparison(selected)
else:
    st.info("Pick runs above to overlay their curves.")

rename = open_panel("Rename or delete a run", "panel-rename")
if rename.open:
    with rename:
        manage_runs(runs)
several = open_panel("Delete several runs", "panel-delete-many")
if several.open:
    with several:
        delete_many(runs)
