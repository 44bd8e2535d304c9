"""Sweeps: which settings matter. Optuna proposes each trial's settings (TPE sampler), stops hopeless ones
early (median pruner on the per-epoch validation accuracy) and rates each setting's importance; the trials
are ordinary runs of our job registry, so they train, show and store like any other run.

Optuna rather than our own search: its samplers, pruners, storage and importance evaluators are the
field's standard, tested upstream, and need nothing beyond Python here.
"""
from __future__ import annotations

import itertools
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..config import FLAT_FIELDS, ConfigError, RunConfig, validate
from ..errors import RunStatus

POLL_SECONDS = 0.2
log = logging.getLogger(__name__)
# What Compare's sweep form offers for each setting, in parse_param's syntax (editable there).
DEFAULT_RANGES = {"lr": "1e-4:1e-1:log", "hidden": "16:128", "width": "8:64", "layers": "1:3", "dropout": "0:0.6",
                  "l2": "1e-5:1e-1:log", "weight_decay": "1e-6:1e-2:log", "batch_size": "16:256",
                  "momentum": "0:0.95", "label_noise": "0:0.5", "limit": "1000:12000",
                  "optimizer": "sgd,adam,rmsprop,adamw", "schedule": "constant,step,cosine,onecycle", "seed": "0:1000"}
SWEEPABLE = tuple(DEFAULT_RANGES)  # what a sweep may search: the settings the form offers a range for


@dataclass(frozen=True)
class Param:
    """One setting's range: numbers between low and high (on a log scale if `log`), or a list of choices."""
    name: str
    low: float = 0.0
    high: float = 0.0
    log: bool = False
    integer: bool = False
    choices: tuple = ()

    def distribution(self):
        from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

        if self.choices:
            return CategoricalDistribution(self.choices)
        if self.integer:
            return IntDistribution(int(self.low), int(self.high), log=self.log)
        return FloatDistribution(self.low, self.high, log=self.log)


    def grid(self, points: int = 3) -> list:
        """The values a grid search tries: the choices, else `points` values spread over the range (evenly, or
        evenly on a log scale; whole and distinct for an integer setting)."""
        if self.choices:
            return list(self.choices)
        spread = np.geomspace if self.log else np.linspace
        values = spread(self.low, self.high, points)
        if self.integer:
            return sorted({int(round(v)) for v in values})
        return [float(f"{v:.4g}") for v in values]


def _suggest(trial, p: Param) -> Any:
    if p.choices:
        return trial.suggest_categorical(p.name, list(p.choices))
    if p.integer:
        return trial.suggest_int(p.name, int(p.low), int(p.high), log=p.log)
    return trial.suggest_float(p.name, p.low, p.high, log=p.log)


def parse_param(text: str, base: RunConfig) -> Param:
    """"lr=1e-4:1e-1:log", "hidden=16:128", "optimizer=adam,sgd" -> a Param (integers where the field is)."""
    name, sep, spec = text.partition("=")
    name = name.strip()
    if not sep or name not in FLAT_FIELDS:
        raise ConfigError(f"a sweep parameter looks like lr=1e-4:1e-1:log or optimizer=adam,sgd; got {text!r}")
    if name not in SWEEPABLE:
        raise ConfigError(f"{name} cannot be swept; sweepable: {', '.join(SWEEPABLE)}")
    current = base.flat()[name]
    if "," in spec or isinstance(current, str):
        choices = tuple(type(current)(c.strip()) for c in spec.split(",") if c.strip())
        if len(choices) < 2:
            raise ConfigError(f"{name}: give at least two choices, e.g. {name}=a,b")
        return Param(name, choices=choices)
    parts = spec.split(":")
    try:
        low, high = float(parts[0]), float(parts[1])
    except (IndexError, ValueError):
        raise ConfigError(f"{name}: a range is low:high (and :log), e.g. {name}=1e-4:1e-1:log") from None
    log = len(parts) > 2 and parts[2].strip() == "log"
    if not (math.isfinite(low) and math.isfinite(high) and low < high) or (log and low <= 0):
        raise ConfigError(f"{name}: need low < high (and low > 0 on a log scale); got {spec!r}")
    return Param(name, low, high, log, integer=isinstance(current, int) and not isinstance(current, bool))


@dataclass
class TrialResult:
    number: int
    run_id: int | None
    params: dict
    state: str  # complete | pruned | failed
    value: float | None  # the metric: last validation accuracy (test accuracy without a validation set)
    message: str | None = None


def metric_of(snap) -> float | None:
    """What a sweep maximizes: the last validation accuracy, else the test accuracy."""
    if snap.epoch_rows and snap.epoch_rows[-1].get("val_acc") is not None:
        return float(snap.epoch_rows[-1]["val_acc"])
    acc = snap.result.get("test_acc") if snap.result else None
    return None if acc is None else float(acc)


def run_sweep(registry, base: RunConfig, params: Sequence[Param], trials: int, at_once: int = 2,
              name: str = "sweep", storage: str | None = None, prune: bool = True,
              on_trial: Callable[[TrialResult], None] | None = None, seed: int = 0,
              minutes: float | None = None, run_name: Callable[[int], str] | None = None,
              first: Sequence[dict] = (), grid: int = 0):
    """Train `trials` runs of `base` with settings Optuna proposes, `at_once` at a time; returns the study.
    `minutes`: no new trial starts after that long (those training finish); `run_name`: trial number -> name;
    `first`: settings to try before Optuna proposes any (e.g. the recipe's own); `grid` > 0: every combination
    of `grid` values per range, each once in a seeded random order (enqueued: Optuna's GridSampler stops a
    study from inside its own optimize loop, which a sweep of registry runs does not use), at most `trials`."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    pruner = optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=1) if prune else optuna.pruners.NopPruner()
    if grid:  # every combination once, in a seeded random order, then stop (a grid has nothing more to try)
        combos = [dict(zip([p.name for p in params], values, strict=True))
                  for values in itertools.product(*(p.grid(grid) for p in params))]
        np.random.default_rng(seed).shuffle(combos)
        first, trials = [*first, *combos], min(trials, len(first) + len(combos))
    sampler = optuna.samplers.TPESampler(seed=seed)
    study = optuna.create_study(direction="maximize", sampler=sampler,
                                pruner=pruner, storage=storage, study_name=name, load_if_exists=storage is not None)
    for values in first:
        study.enqueue_trial(values)
    live: dict[int, tuple[Any, int, int]] = {}  # trial number -> (trial, run id, epochs reported)
    asked = 0
    deadline = time.monotonic() + 60 * minutes if minutes else math.inf
    while (asked < trials and time.monotonic() < deadline) or live:
        while asked < trials and len(live) < at_once and time.monotonic() < deadline:
            trial = study.ask()
            asked += 1
            values = {p.name: _suggest(trial, p) for p in params}
            try:
                cfg = validate(base.override(**values))
                label = run_name(trial.number) if run_name else f"{name} · trial {trial.number}"
                run_id = registry.submit(cfg, name=label)
            except ConfigError as exc:  # this combination cannot train (e.g. dropout with 1 layer)
                study.tell(trial, state=optuna.trial.TrialState.FAIL)
                _report(on_trial, TrialResult(trial.number, None, values, "failed", None, str(exc)))
                continue
            live[trial.number] = (trial, run_id, 0)
        for number, (trial, run_id, reported) in list(live.items()):
            snap = registry.snapshot(run_id)
            rows = snap.epoch_rows if snap is not None else []
            for row in rows[reported:]:
                if row.get("val_acc") is not None:
                    trial.report(float(row["val_acc"]), int(row["epoch"]))
            live[number] = (trial, run_id, len(rows))
            if snap is not None and not snap.done and len(rows) > reported and trial.should_prune():
                registry.stop(run_id, "pruned by the sweep: its validation accuracy was below the median")
            if snap is None or snap.done:
                del live[number]
                _finish(study, trial, run_id, snap, on_trial)
        time.sleep(POLL_SECONDS)
    return study


def start_sweep(registry, base: RunConfig, params: Sequence[Param], trials: int, **kw) -> threading.Thread:
    """run_sweep in a daemon thread (the app's: a page never waits on a sweep); its trials are registry runs,
    so each reaches a final status whatever happens to the thread, which only asks and tells Optuna."""
    def body() -> None:
        try:
            run_sweep(registry, base, params, trials, **kw)
        except Exception:  # a thread's last word goes to the log, not to nowhere
            log.exception("sweep %s ended early", kw.get("name", "sweep"))

    thread = threading.Thread(target=body, name=f"sweep-{kw.get('name', 'sweep')}", daemon=True)
    thread.start()
    return thread


def _finish(study, trial, run_id: int, snap, on_trial) -> None:
    import optuna

    params = dict(trial.params)
    if snap is not None and snap.status == RunStatus.FINISHED and metric_of(snap) is not None:
        value = metric_of(snap)
        study.tell(trial, value)
        _report(on_trial, TrialResult(trial.number, run_id, params, "complete", value))
    elif snap is not None and snap.status == RunStatus.STOPPED and "pruned" in (snap.message or ""):
        study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        _report(on_trial, TrialResult(trial.number, run_id, params, "pruned", metric_of(snap)))
    else:
        study.tell(trial, state=optuna.trial.TrialState.FAIL)
        _report(on_trial, TrialResult(trial.number, run_id, params, "failed", None, snap.message if snap else None))


def _report(on_trial, result: TrialResult) -> None:
    if on_trial is not None:
        on_trial(result)


def importances(rows: Iterable[tuple[dict, float]], ranges: dict[str, Param] | None = None) -> dict[str, float]:
    """Each setting's share of the metric's variance explained (Optuna's evaluator) over (settings, value)
    rows: finished runs of a sweep or any runs picked on Compare. Settings that never vary are left out."""
    import optuna
    from optuna.distributions import CategoricalDistribution, FloatDistribution

    rows = [(p, v) for p, v in rows if v is not None]
    names = [k for k in (rows[0][0] if rows else {}) if len({repr(p[k]) for p, _ in rows}) > 1]
    if len(rows) < 3 or not names:
        return {}
    dists = {}
    for k in names:
        if ranges and k in ranges:
            dists[k] = ranges[k].distribution()
            continue
        values = [p[k] for p, _ in rows]
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            lo, hi = float(min(values)), float(max(values))
            dists[k] = FloatDistribution(lo, hi, log=lo > 0 and hi / lo > 20)
        else:
            dists[k] = CategoricalDistribution(sorted({repr(v) for v in values}))
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize")
    for p, v in rows:
        shown = {k: (float(p[k]) if isinstance(dists[k], FloatDistribution) else
                     (p[k] if k in (ranges or {}) else repr(p[k]))) for k in names}
        study.add_trial(optuna.trial.create_trial(params=shown, distributions=dists, value=float(v)))
    return dict(optuna.importance.get_param_importances(study))
