"""Compare: overlay stored runs, launch a regularization study, rename or delete runs."""
import streamlit as st

from playground import charts
from playground.compare import comparison_table
from ui.common import POLL_SECONDS, jobs, run_label
from ui.navigation import require_app
from ui.study_form import study_form

require_app()  # first: the app's frame even when Streamlit ran this page on its own

st.title("Compare")
registry = jobs()
store = registry.store

with st.expander("🧪 Regularization study: train several settings of one recipe side by side",
                 expanded=not store.list_runs()):
    study_form()

runs = store.list_runs()
if not runs:
    st.info("No runs yet: launch a study above, or train on the Train page.")
    st.stop()

c1, c2, c3 = st.columns(3)
datasets = c1.multiselect("Dataset", sorted({r.config.data.dataset for r in runs}))
archs = c2.multiselect("Architecture", sorted({r.config.model.arch for r in runs}))
statuses = c3.multiselect("Status", sorted({r.status for r in runs}))
shown = [r for r in runs if (not datasets or r.config.data.dataset in datasets)
         and (not archs or r.config.model.arch in archs) and (not statuses or r.status in statuses)]
labels = {r.id: run_label(r) for r in runs}
ids = [r.id for r in shown]
kept = [i for i in st.session_state.get("compare_ids", []) if i in labels]
if not kept:
    kept = [r.id for r in runs if r.status == "finished"][:2]
st.session_state["compare_ids"] = kept
selected = st.multiselect("Runs to compare", sorted(set(ids) | set(kept), reverse=True), key="compare_ids",
                          format_func=labels.get)


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
    st.dataframe(comparison_table(pairs), hide_index=True, width="stretch",
                 column_config={k: st.column_config.NumberColumn(format="percent") for k in
                                ("final train acc", "final val acc", "best val acc", "gap (train-val)", "test acc")})


if selected:
    live = bool(set(registry.active()) & set(selected))
    st.fragment(comparison, run_every=POLL_SECONDS if live else None)(selected, live)
else:
    st.info("Pick runs above to overlay their curves.")

with st.expander("Rename or delete a run"):
    target = st.selectbox("Run", [r.id for r in runs], format_func=labels.get, key="manage_id")
    new_name = st.text_input("New name", max_chars=120, key="new_name")
    if st.button("Rename"):
        try:
            store.rename(target, new_name)
            st.rerun()
        except ValueError as exc:
            st.error(str(exc))
    sure = st.checkbox(f"Yes, delete run #{target}, its metrics and its checkpoint", key="confirm_delete")
    if st.button("Delete", disabled=not sure):
        try:
            store.delete_run(target)
            st.session_state.pop("confirm_delete", None)
            st.rerun()
        except ValueError as exc:
            st.error(str(exc))
