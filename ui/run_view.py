"""One run, live while it trains (a polling fragment), with its report once it ends."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st

from playground import charts
from playground.data import SPECS
from playground.errors import ACTIVE, RunStatus
from playground.inference import CheckpointError
from playground.reports import metrics_csv, test_predictions
from ui.common import POLL_SECONDS, STATUS_ICON, duration, jobs, loaded_model, plain


def show_run(run_id: int) -> None:
    registry = jobs()
    rec = registry.store.get_run(run_id)  # one row: whether to poll (a CLI process may be training it)
    live = run_id in registry.active() or (rec is not None and rec.status in ACTIVE)
    # Poll only while the run is live; a finished run is drawn once.
    st.fragment(_live_body, run_every=POLL_SECONDS if live else None)(run_id, live)


def _live_body(run_id: int, was_live: bool) -> None:
    registry = jobs()
    snap = registry.view(run_id)
    rec = registry.store.get_run(run_id)
    if snap is None or rec is None:
        st.info("That run no longer exists.")
        return
    if was_live and snap.done:
        st.rerun()  # whole page: stops this fragment's polling and draws the final report
    st.subheader(f"{STATUS_ICON.get(snap.status, '')} #{run_id} {plain(rec.name)}", anchor=False)
    st.caption(f"{rec.config.model.arch} on {SPECS[rec.config.data.dataset].title} · {snap.status}"
               f" · device {rec.device or '–'} · {rec.params or '–'} parameters")
    if snap.message:
        {RunStatus.DIVERGED: st.warning, RunStatus.FAILED: st.error}.get(snap.status, st.info)(snap.message)
    text = f"epoch {min(snap.epoch + 1, snap.epochs)}/{snap.epochs} · step {snap.step}/{snap.total_steps or '?'}"
    st.progress(snap.fraction if snap.status != RunStatus.FINISHED else 1.0, text=text)
    c = st.columns(4)
    c[0].metric("Elapsed", duration(snap.elapsed))
    c[1].metric("Samples/s", f"{snap.samples_per_s:,.0f}" if snap.samples_per_s else "–")
    c[2].metric("ETA", duration(snap.eta))
    last = snap.epoch_rows[-1] if snap.epoch_rows else {}
    c[3].metric("Val accuracy", f"{last['val_acc']:.1%}" if last.get("val_acc") is not None else "–")
    if not snap.done and st.button("⏹ Stop", key=f"stop-{run_id}"):
        registry.stop(run_id)
    if snap.step_rows:
        st.plotly_chart(charts.step_loss(snap.step_rows), width="stretch", key=f"steps-{run_id}")
    if snap.epoch_rows:
        st.plotly_chart(charts.epoch_curves(snap.epoch_rows), width="stretch", key=f"epochs-{run_id}")
    if snap.done:
        _report(rec, snap)


def _report(rec, snap) -> None:
    result = snap.result
    if result.get("test_acc") is not None:
        c = st.columns(3)
        c[0].metric("Test accuracy", f"{result['test_acc']:.2%}")
        c[1].metric("Test loss", f"{result['test_loss']:.4f}")
        c[2].metric("Training time", duration(result.get("train_seconds")))
    classes = SPECS[rec.config.data.dataset].classes
    if rec.checkpoint and Path(rec.checkpoint).is_file():
        left, right = st.columns([3, 2])
        with left:
            st.markdown("**Test images: prediction (true)**, mistakes marked ❌")
            try:
                preds = test_predictions(loaded_model(rec.checkpoint), count=24)
                scale = 3 if preds[0].image.shape[0] <= 28 else 2
                st.image([np.kron(p.image, np.ones((scale, scale) + (1,) * (p.image.ndim - 2), np.uint8))
                          for p in preds],
                         caption=[f"{'✅' if p.correct else '❌'} {p.predicted} ({p.true})" for p in preds])
            except CheckpointError as exc:
                st.warning(str(exc))
        with right:
            if result.get("confusion"):
                st.plotly_chart(charts.confusion(result["confusion"], classes), width="stretch")
        c1, c2 = st.columns(2)
        c1.download_button("⬇ Checkpoint (.pt)", Path(rec.checkpoint).read_bytes(), f"run-{rec.id}.pt",
                           width="stretch")
    else:
        c1, c2 = st.columns(2)
    c2.download_button("⬇ Metrics (.csv)", metrics_csv(snap.epoch_rows, snap.step_rows),
                       f"run-{rec.id}-metrics.csv", mime="text/csv", width="stretch")
