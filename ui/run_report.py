"""An ended run's report: test numbers (computed on demand for a run that stopped before its test
pass), times, test predictions, confusion matrix and the downloads that have something in them."""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from playground import charts
from playground.data import SPECS
from playground.errors import PlaygroundError, RunStatus
from playground.reports import metrics_csv, test_predictions
from ui.common import duration, jobs, loaded_model
from ui.run_facts import TRAIN_HELP


def report(rec, snap) -> None:
    result = {**snap.result, **rec.result}  # the store's copy also holds a test accuracy computed later
    has_checkpoint = bool(rec.checkpoint and Path(rec.checkpoint).is_file())
    _numbers(rec, snap, result, has_checkpoint)
    classes = SPECS[rec.config.data.dataset].classes
    if has_checkpoint:
        left, right = st.columns([3, 2])
        with left:
            try:
                preds = test_predictions(loaded_model(rec.checkpoint), count=24)
                grid = charts.prediction_grid([p.image for p in preds], [p.predicted for p in preds],
                                              [p.true for p in preds], [p.probability for p in preds])
                st.markdown("**Test images: prediction (true)**, mistakes marked ❌")
                st.plotly_chart(grid, width="stretch", key=f"grid-{rec.id}")
            except PlaygroundError as exc:  # a checkpoint refused (NaN weights, foreign file) or no dataset
                st.warning(str(exc))
        with right:
            if result.get("confusion"):
                st.plotly_chart(charts.confusion(result["confusion"], classes), width="stretch",
                                key=f"confusion-{rec.id}")
    c1, c2 = st.columns(2)
    if has_checkpoint:
        c1.download_button("⬇ Checkpoint (.pt)", Path(rec.checkpoint).read_bytes(), f"run-{rec.id}.pt",
                           width="stretch")
    if snap.epoch_rows or snap.step_rows:  # a run that failed before its first step has no metrics
        c2.download_button("⬇ Metrics (.csv)", metrics_csv(snap.epoch_rows, snap.step_rows),
                           f"run-{rec.id}-metrics.csv", mime="text/csv", width="stretch")


def _numbers(rec, snap, result: dict, has_checkpoint: bool) -> None:
    c = st.columns(3)
    if result.get("test_acc") is not None:
        c[0].metric("Test accuracy", f"{result['test_acc']:.2%}")
        c[1].metric("Test loss", f"{result['test_loss']:.4f}")
    train_seconds = result.get("train_seconds")
    if train_seconds is not None:
        c[2].metric("Training time", duration(train_seconds), help=TRAIN_HELP)
        other = max(0.0, snap.elapsed - train_seconds)
        st.caption(f"Wall time {duration(snap.elapsed)} = training steps {duration(train_seconds)} + "
                   f"{duration(other)} loading data, building the model, evaluating each epoch and writing "
                   "checkpoints.")
    if result.get("test_acc") is not None and result.get("test_samples") and rec.status != RunStatus.FINISHED:
        st.caption(f"Test accuracy computed afterwards from the checkpoint, on {result['test_samples']:,} test images.")
    elif result.get("test_acc") is None and has_checkpoint and snap.step:
        st.caption(f"This run {rec.status} before its test pass (a stop never waits for one).")
        if st.button("🧪 Compute test accuracy", key=f"test-{rec.id}",
                     help="Evaluates the run's checkpoint on the test set and keeps the result with the run."):
            _compute_test_accuracy(rec)


def _compute_test_accuracy(rec) -> None:
    from playground.inference import test_accuracy

    try:
        with st.spinner("Evaluating the checkpoint on the test set…"):
            out = test_accuracy(loaded_model(rec.checkpoint))
    except PlaygroundError as exc:
        st.warning(f"No test accuracy: {exc}")
        return
    jobs().store.update_run(rec.id, result={**rec.result, **out})
    st.rerun()  # the whole page: the run picker's label shows the new accuracy too
