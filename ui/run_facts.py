"""The run view's sentences: progress, which process trains a run, what a `?run=` value means.

Plain functions of a snapshot or record (no widgets), so each wording is tested on its own.
"""
from __future__ import annotations

from collections.abc import Collection

from playground import links
from playground.config import ConfigError
from playground.errors import RunStatus

WALL_HELP = ("Wall time since the run started: loading the data, building the model, the training steps, "
             "evaluating (validation and a training sample) and writing checkpoints.")
TRAIN_HELP = "Time in training steps only: no data loading, no evaluation, no checkpoints."
OTHER_TIME = "loading data, building the model, evaluation and checkpoints"


def _clock(units: int, tenths: bool) -> str:
    if tenths:
        return f"{units / 10:.1f}s"
    return f"{units // 60}m {units % 60:02d}s" if units >= 60 else f"{units}s"


def wall_split(wall: float, train: float) -> str:
    """"Wall time W = training steps T + the rest R" with R = W - T on the shown numbers, so the parts add up.

    Both are rounded to one unit first (tenths of a second under a minute, whole seconds above) and the
    rest is their difference; training time over the wall time (clocks read apart) counts as all of it."""
    tenths = wall < 59.95
    scale = 10 if tenths else 1
    w = max(0, round(wall * scale))
    t = min(max(0, round(train * scale)), w)
    return (f"Wall time {_clock(w, tenths)} = training steps {_clock(t, tenths)} + {OTHER_TIME} "
            f"{_clock(w - t, tenths)}.")


def progress(snap) -> tuple[float, str]:
    """The progress bar's fill and text. A live run names the epoch it is in; an ended one the epochs it
    completed (a stop at an epoch boundary is "5/10 epochs done", not "epoch 6/10")."""
    status = RunStatus(snap.status)
    if status == RunStatus.QUEUED:
        return 0.0, "queued: it starts when a slot is free"
    if status == RunStatus.RUNNING:
        if not snap.total_steps:
            return 0.0, "loading the data and building the model"
        return snap.fraction, (f"epoch {min(snap.epoch + 1, snap.epochs)}/{snap.epochs} · "
                               f"step {snap.step:,}/{snap.total_steps:,}")
    text = f"{snap.epoch}/{snap.epochs} epochs done"
    if snap.steps_per_epoch and snap.step > snap.epoch * snap.steps_per_epoch:
        text += f" and part of epoch {snap.epoch + 1}"
    if status == RunStatus.FINISHED:
        return 1.0, f"{text} · {snap.step:,} steps"
    if not snap.step:
        return 0.0, f"{text} · no training step"
    steps = f"step {snap.step:,}/{snap.total_steps:,}" if snap.total_steps else f"{snap.step:,} steps"
    return (snap.fraction if snap.total_steps else snap.epoch / max(snap.epochs, 1)), f"{text} · {steps}"


def _process(rec) -> str:
    pid = f"pid {rec.pid}" if rec.pid else "pid unknown"
    return f"{pid} on host {rec.host}" if rec.host else pid


def trained_by(rec) -> str:
    """Which process trains (or trained) the run: this server, another process, or a Ray node."""
    status = RunStatus(rec.status)
    verb = {RunStatus.RUNNING: "Training", RunStatus.QUEUED: "Queued"}.get(status, "Trained")
    if rec.node:
        driver = "this server" if rec.owned_here else f"another process ({_process(rec)})"
        return f"{verb} on Ray node {rec.node}, sent by {driver}."
    if rec.owned_here:
        return f"{verb} in this server ({_process(rec)})."
    where = f"{verb} in another process ({_process(rec)}): the command line, or another app server"
    return where + (". Stop asks it through the run store." if status.active else ".")


def run_from_link(text: str | None, ids: Collection[int]) -> tuple[int | None, str | None]:
    """The run a `?run=` value names, or why it names none (links.run_id reads it: ASCII digits only)."""
    if not text:
        return None, None
    try:
        run_id = links.run_id(text)
    except ConfigError:
        shown = text.strip()[:20] + ("…" if len(text.strip()) > 20 else "")
        return None, f"“{shown}” is not a run number"
    if run_id not in ids:
        return None, f"there is no run #{run_id}"
    return run_id, None
