"""An ended run's report: test numbers (computed on demand for a run that stopped before its test
pass), times, test predictions, confusion matrix and the downloads that have something in them."""
from __future__ import annotations

from functools import partial

import streamlit as st

from playground.data import known_spec
from playground.errors import PlaygroundError, RunStatus
from playground.inference import belongs_to, read_checkpoint_bytes, test_predictions
from playground.reports import metrics_csv
from playground.words import counted
from ui.common import duration, jobs, loaded_model
from ui.figures import charts, image_tiles
from ui.run_facts import TRAIN_HELP, wall_split
from ui.why_views import mistakes


def report(rec, snap) -> None:
    result = {**snap.result, **rec.result}  # the store's copy also holds a test accuracy computed later
    has_checkpoint = rec.checkpoint is not None  # the store names only a plain file of this run, inside the home
    _numbers(rec, snap, result, has_checkpoint)
    data = known_spec(rec.config.data.dataset)
    if data is None:  # its own data deleted, or a store copied from elsewhere: no test images to show
        st.info(f"Its dataset, {rec.config.data.dataset}, is no longer in this home: its test images and mistakes "
                "cannot be shown (its numbers above are kept).")
        has_checkpoint = False
    classes = data.classes if data else ()
    # A finished run's one confusion matrix is the clickable one beside its mistakes, in the open (a second,
    # prominent one only showed a tooltip and learners never found the click); a stopped run keeps a plain one.
    clickable = has_checkpoint and rec.status == RunStatus.FINISHED
    if has_checkpoint:
        left, right = (st.container(), None) if clickable else st.columns([3, 2])
        with left:
            _test_images(rec, cols=12 if clickable else 8)
        if right is not None and result.get("confusion"):
            right.plotly_chart(charts.confusion(result["confusion"], classes), width="stretch",
                               key=f"confusion-{rec.id}", config=charts.STATIC)
    if clickable:
        with st.container(border=True):
            st.markdown("**🔍 Its mistakes**: the classes it confuses (click a cell) and the test images it got "
                        "most wrong")
            try:
                belongs_to(loaded_model(rec.checkpoint), rec.config)  # this run's own file, or refused
                mistakes(rec, classes, key=str(rec.id))
            except PlaygroundError as exc:
                st.warning(f"Cannot look at its mistakes: {exc}")
    c1, c2 = st.columns(2)
    if has_checkpoint:
        # Read on click, through the same refusals as a load (a link swapped in meanwhile is not served).
        c1.download_button("⬇ Checkpoint (.pt)", partial(read_checkpoint_bytes, rec.checkpoint),
                           f"run-{rec.id}.pt", width="stretch", on_click="ignore")  # a download needs no rerun
    if snap.epoch_rows or snap.step_rows:  # a run that failed before its first step has no metrics
        # Built on click, from the store's every row (the live stream keeps a decimated copy of long runs).
        store = jobs().store
        c2.download_button("⬇ Metrics (.csv)", lambda: metrics_csv(store.epochs(rec.id), store.steps(rec.id)),
                           f"run-{rec.id}-metrics.csv", mime="text/csv", width="stretch", on_click="ignore",
                           help="One row per evaluated epoch, then one per step. An epoch row's seconds, samples/s "
                                "and L2 cover the epochs since the row before it (every N-th epoch when the run "
                                "evaluated every N).")


def _test_images(rec, cols: int) -> None:
    try:
        preds = test_predictions(belongs_to(loaded_model(rec.checkpoint), rec.config), count=24)
        st.markdown("**Test images: prediction (true)**, mistakes marked ❌")
        st.html(image_tiles([p.image for p in preds], [p.predicted for p in preds], [p.true for p in preds],
                            [p.probability for p in preds], cols=cols))
    except PlaygroundError as exc:  # a checkpoint refused (NaN weights, foreign file) or no dataset
        st.warning(str(exc))


def _numbers(rec, snap, result: dict, has_checkpoint: bool) -> None:
    # Filled from the left in the run view's four columns: "Training time" never sits alone on the right.
    shown = []
    if result.get("test_acc") is not None:
        shown += [("Test accuracy", f"{result['test_acc']:.2%}", None),
                  ("Test loss", f"{result['test_loss']:.4f}", None)]
    train_seconds = result.get("train_seconds")
    if train_seconds is not None:
        shown.append(("Training time", duration(train_seconds), TRAIN_HELP))
    if shown:
        for col, (label, value, help_text) in zip(st.columns(4), shown, strict=False):
            col.metric(label, value, help=help_text)
    if train_seconds is not None:
        st.caption(wall_split(snap.elapsed, train_seconds))
    moved = result.get("fine_tune")
    if moved:  # a fine-tune (issue 33): what it gained on the held-out drawings and what it forgot of MNIST
        mnist = (f"; MNIST's {moved['mnist_test']:,} test images {moved['mnist_before']:.1%} → "
                 f"{moved['mnist_after']:.1%}" if moved.get("mnist_after") is not None else "")
        st.caption(f"Fine-tuned from {rec.config.model.init_from.rsplit('/', 1)[-1]} "
                   f"({'the last layer only' if moved['train_layers'] == 'last' else 'all layers'}"
                   f"{', ' + str(moved['replay']) + ' MNIST images mixed in' if moved['replay'] else ''}): its "
                   f"{counted(moved['held_out'], 'held-out drawing')} "
                   f"{moved['own_before']:.0%} → {moved['own_after']:.0%}"
                   f"{mnist}.")
    if result.get("test_acc") is not None and result.get("test_samples") and rec.status != RunStatus.FINISHED:
        st.caption(f"Test accuracy computed afterwards from the checkpoint, on {result['test_samples']:,} test images.")
    elif result.get("test_acc") is None and has_checkpoint and snap.step:
        st.caption(f"This run {rec.status} before its test pass (a stop never waits for one).")
        failed = st.session_state.setdefault(TEST_FAILURES, {})  # this browser session's own
        if rec.id in failed:
            st.warning(f"No test accuracy: {failed[rec.id]}")
        # The work is done in the click's callback, not in the script after st.button: a click elsewhere
        # while it evaluates (a few seconds) reruns the page, and a script is cut at its next st.* call or
        # session-state access, which would fall between the evaluation and writing it to the store.
        st.button("🧪 Compute test accuracy", key=f"test-{rec.id}", on_click=compute_test_accuracy,
                  args=(jobs().store, rec.id, failed),
                  help="Evaluates the run's checkpoint on the test set (a few seconds) and keeps the result "
                       "with the run.")


TEST_FAILURES = "test_failures"  # session state: run id -> why its last "Compute test accuracy" gave none


def compute_test_accuracy(store, run_id: int, failed: dict[int, str]) -> None:
    """The button's callback: evaluate the checkpoint and write the numbers to the store.

    Callbacks run before the script, and nothing here touches Streamlit (no st.* call, no session
    state, no cached resource: each is a point where a newer rerun request interrupts), so a click on
    another button meanwhile only queues its rerun until the result is stored. The store is passed in
    for the same reason: jobs() reads the session state; `failed` is the session's own dict, passed in as well."""
    from playground.inference import load_checkpoint, test_accuracy

    rec = store.get_run(run_id)
    if rec is None or rec.result.get("test_acc") is not None:  # deleted, or a second click already did it
        return
    try:
        if rec.checkpoint is None or rec.config is None:
            raise PlaygroundError(f"run #{run_id} has no checkpoint of its own to evaluate")
        out = test_accuracy(belongs_to(load_checkpoint(rec.checkpoint), rec.config))
    except PlaygroundError as exc:  # a checkpoint refused (NaN weights, foreign file) or no dataset
        failed[run_id] = str(exc)
        return
    fresh = store.get_run(run_id) or rec  # the latest row: a rename meanwhile is kept
    store.update_run(run_id, result={**fresh.result, **out})
    failed.pop(run_id, None)
