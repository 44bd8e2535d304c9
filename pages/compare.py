"""Compare: overlay stored runs, launch a regularization study, rename or delete runs."""
import streamlit as st

from playground import charts
from playground.compare import comparison_table
from playground.config import ARCHITECTURES, DATASETS
from playground.errors import RunStatus
from ui.common import POLL_SECONDS, jobs, run_label
from ui.navigation import require_app
from ui.run_admin import manage_runs
from ui.study_form import study_form

require_app()  # first: the app's frame even when Streamlit ran this page on its own

PERCENT = ("final train acc", "final val acc", "best val acc", "gap (train-val)", "test acc")

st.title("Compare")
registry = jobs()
store = registry.store
study_box = st.container()  # drawn once we know whether there are runs

c1, c2, c3 = st.columns(3)
everything = lambda v: "all" if v is None else str(v)  # noqa: E731
dataset = c1.selectbox("Dataset", [None, *DATASETS], format_func=everything, key="filter_dataset")
arch = c2.selectbox("Architecture", [None, *ARCHITECTURES], format_func=everything, key="filter_arch")
status = c3.selectbox("Status", [None, *RunStatus], format_func=everything, key="filter_status")
runs = store.list_runs(dataset=dataset, arch=arch, status=status)
filtered = (dataset, arch, status) != (None, None, None)

with study_box, st.expander("🧪 Regularization study: train several settings of one recipe side by side",
                            expanded=not runs and not filtered):
    study_form()
if not runs:
    st.info("No runs match these filters." if filtered else
            "No runs yet: launch a study above, or train on the Train page.")
    st.stop()

labels = {r.id: run_label(r) for r in runs}
kept = [i for i in st.session_state.get("compare_ids", []) if i in labels]  # a filter drops what it hides
if not kept and "compare_ids" not in st.session_state:
    kept = [r.id for r in runs if r.status == RunStatus.FINISHED][:2]
st.session_state["compare_ids"] = kept  # re-assigned: stays picked when a run's label changes
selected = st.multiselect("Runs to compare", list(labels), key="compare_ids", format_func=labels.get)


def comparison(run_ids: list[int], was_live: bool) -> None:
    active = set(registry.active())
    if was_live and not active & set(run_ids):
        st.rerun()  # everything ended: redraw once without polling
    pairs = [(rec, store.epochs(rec.id)) for rec in (store.get_run(i) for i in run_ids) if rec is not None]
    named = [(f"#{rec.id} {rec.name}", epochs) for rec, epochs in pairs]
    if active & set(run_ids):
        st.caption(f"🏃 {len(active & set(run_ids))} of these runs are training; the charts update every second.")
    if not any(epochs for _, epochs in named):
        st.info("No finished epochs yet; curves appear after each run's first epoch.")
    st.plotly_chart(charts.compare_curves(named), width="stretch")
    if any(r.get("val_acc") is not None for _, epochs in named for r in epochs):
        st.plotly_chart(charts.generalization_gap(named), width="stretch")
    elif any(epochs for _, epochs in named):
        st.caption("No generalization gap to show: these runs hold out no validation set "
                   "(validation fraction 0, as in the lstm64 recipe).")
    st.dataframe(comparison_table(pairs), hide_index=True, width="stretch", placeholder="–",
                 column_config={k: st.column_config.NumberColumn(format="percent") for k in PERCENT})


if selected:
    live = bool(set(registry.active()) & set(selected))
    st.fragment(comparison, run_every=POLL_SECONDS if live else None)(selected, live)
else:
    st.info("Pick runs above to overlay their curves.")

with st.expander("Rename or delete a run"):
    manage_runs(runs)
