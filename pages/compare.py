"""Compare: overlay stored runs, launch a regularization study or a sweep, rename or delete runs."""
import streamlit as st

from playground.config import ARCHITECTURES, DATASETS
from playground.errors import RunStatus
from ui.common import jobs, run_label
from ui.compare_selection import KEY, initial_selection, remember, study_picker
from ui.compare_view import show_comparison
from ui.navigation import require_app
from ui.run_admin import delete_many, manage_runs
from ui.study_form import study_form
from ui.sweep_form import follow, sweep_form

require_app()  # first: the app's frame even when Streamlit ran this page on its own

st.title("Compare")
store = jobs().store
study_box = st.container()  # drawn once we know whether there are runs

c1, c2, c3 = st.columns(3)
filter_label = lambda v: "all" if v is None else str(v)  # a filter option: None stands for all  # noqa: E731
dataset = c1.selectbox("Dataset", [None, *DATASETS], format_func=filter_label, key="filter_dataset")
arch = c2.selectbox("Architecture", [None, *ARCHITECTURES], format_func=filter_label, key="filter_arch")
status = c3.selectbox("Status", [None, *RunStatus], format_func=filter_label, key="filter_status")
runs = store.list_runs(dataset=dataset, arch=arch, status=status)
filtered = (dataset, arch, status) != (None, None, None)
follow(runs)  # a sweep's trials join the selection as they start (before its form watches for more)

with study_box, st.expander("🧪 Regularization study: train several settings of one recipe side by side",
                            expanded=not runs and not filtered):
    study_form()
with study_box, st.expander("🎛 Sweep: let Optuna search the settings, and see which ones matter"):
    sweep_form()
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

with st.expander("Rename or delete a run"):
    manage_runs(runs)
with st.expander("Delete several runs"):
    delete_many(runs)
