"""One run, live while it trains (a polling fragment), with its report once it ends."""
from __future__ import annotations

import streamlit as st

from playground.data import known_spec
from playground.errors import ACTIVE, RunStatus
from ui.common import POLL_SECONDS, STATUS_ICON, duration, jobs, open_panel, plain
from ui.figures import charts
from ui.run_code import show_code
from ui.run_facts import WALL_HELP, progress, trained_by
from ui.run_report import report
from ui.run_unreadable import show_unreadable
from ui.train_form import use_config


def active_runs() -> None:
    """The runs queued or training in this process; a full rerun once none is left (the run picker's statuses
    change then, and this stops polling)."""
    active = jobs().active()
    if not active:
        st.rerun()
    st.caption(f"{len(active)} run(s) queued or training: " + ", ".join(f"#{i}" for i in active))


def show_run(run_id: int) -> None:
    registry = jobs()
    rec = registry.store.get_run(run_id)  # one row: whether to poll (a CLI process may be training it)
    if rec is None:
        st.info("That run no longer exists.")
        return
    if not rec.readable:
        show_unreadable(rec)
        return
    live = run_id in registry.active() or rec.status in ACTIVE
    # Poll only while the run is live; a finished run is drawn once.
    st.fragment(_live_body, run_every=POLL_SECONDS if live else None)(run_id, live)
    # Outside the fragment: these do not change while it trains, and their clicks redraw the form.
    st.button("🔁 Train again with one change", key=f"again-{run_id}", on_click=use_config, args=(rec.config, run_id),
              help="Loads this run's settings into the form on the left (and the link).")
    code = open_panel("</> Show the code", f"panel-run-code-{run_id}")  # built only while open (issue 36)
    if code.open:
        with code:
            show_code(rec.config, f"run #{run_id}'s settings", key=f"run-{run_id}")


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
    data = known_spec(rec.config.data.dataset)
    title = data.title if data else f"{rec.config.data.dataset} (no longer in this home)"
    st.caption(f"{rec.config.model.arch} on {title} · {snap.status}"
               f" · device {rec.device or '–'} · {rec.params or '–'} parameters")
    st.caption(f"🖥️ {trained_by(rec)}")
    if snap.message:
        {RunStatus.DIVERGED: st.warning, RunStatus.FAILED: st.error}.get(snap.status, st.info)(snap.message)
    fraction, text = progress(snap)
    st.progress(fraction, text=text)
    c = st.columns(4)
    c[0].metric("Wall time", duration(snap.elapsed), help=WALL_HELP)
    c[1].metric("Samples/s", f"{snap.samples_per_s:,.0f}" if snap.samples_per_s else "–",
                help="Training samples per second of training-step time.")
    c[2].metric("ETA", duration(snap.eta))
    last = snap.epoch_rows[-1] if snap.epoch_rows else {}
    c[3].metric(f"Val accuracy, epoch {last['epoch']}" if last else "Val accuracy",
                f"{last['val_acc']:.1%}" if last.get("val_acc") is not None else "–",
                help="Measured at the last evaluated epoch (a run with 'Evaluate every N epochs' above 1 "
                     "measures every N-th).")
    if not snap.done:
        _stop(registry, rec)
    if snap.step_rows:
        # A scheduled run shows its rate from the first step (a step schedule's is flat until half way).
        scheduled = rec.config is not None and rec.config.optim.schedule != "constant"
        st.plotly_chart(charts.step_loss(snap.step_rows, show_lr=scheduled or None), width="stretch",
                        key=f"steps-{run_id}", config=charts.STATIC)
    kept = snap.result.get("kept_epoch")
    if snap.epoch_rows:
        st.plotly_chart(charts.epoch_curves(snap.epoch_rows, kept_epoch=kept), width="stretch", key=f"epochs-{run_id}",
                        config=charts.STATIC)
    if kept is not None:
        st.caption(f"⭐ Early stopping kept epoch {kept}: the test accuracy, the checkpoint, Draw and Inside use its "
                   "weights, not the last epoch's.")
    if snap.done:
        report(rec, snap)


def _stop(registry, rec) -> None:
    """Stop here ends the run within a batch; for another process's run it writes a request to the store."""
    here = registry.snapshot(rec.id) is not None
    if rec.stop_requested and not here:
        st.info("⏹ Stop requested: the process training this run stops it at its next batch.")
    elif st.button("⏹ Stop", key=f"stop-{rec.id}"):
        registry.stop(rec.id)
        if not here:
            st.info(f"⏹ Stop requested: the process training this run (pid {rec.pid or '?'}"
                    f"{f' on host {rec.host}' if rec.host else ''}) stops it at its next batch.")
