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
import os
import random
import statistics
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..compare import BOOKKEEPING, applies
from ..config import FLAT_FIELDS, ConfigError, RunConfig, is_valid, validate
from ..errors import RunStatus, first_line
from ..store import HOST, PROCESS_TOKEN
from ..store.database import pid_alive

POLL_SECONDS = 0.2
log = logging.getLogger(__name__)
# What Compare's sweep form offers for each setting, in parse_param's syntax (editable there). Not the seed,
# eval_every or device (BOOKKEEPING): they never change what a network learns, so a sweep never ranks them.
# The numeric ends are measured values at which LeNet learned (RANGES_MEASURED): most trials learn.
DEFAULT_RANGES = {"lr": "3e-4:3e-2:log", "hidden": "16:128", "width": "8:64", "layers": "1:3", "dropout": "0:0.6",
                  "l2": "1e-5:1e-2:log", "weight_decay": "1e-6:1e-2:log", "batch_size": "16:256",
                  "momentum": "0:0.95", "label_noise": "0:0.5", "limit": "1000:12000",
                  "optimizer": "sgd,adam,rmsprop,adamw", "schedule": "constant,step,cosine,onecycle"}
# What bench/sweep_ranges.py measured, as bench/results/sweep-ranges.json records it (tests/test_sweep.py checks
# they agree): LeNet's final validation accuracy (0 = diverged) after RANGES_SCALE, one run per value.
RANGES_FILE, RANGES_SCALE, LEARNS_AT = "sweep-ranges.json", {"epochs": 2, "limit": 3000}, 0.5
RANGES_MEASURED = {
    "lr": {1e-4: 0.457, 3e-4: 0.717, 1e-3: 0.880, 1e-2: 0.940, 3e-2: 0.857, 1e-1: 0.0},
    "l2": {1e-5: 0.857, 1e-4: 0.863, 1e-3: 0.863, 1e-2: 0.830, 1e-1: 0.123},
    "weight_decay": {1e-6: 0.867, 1e-2: 0.857},
    "dropout": {0: 0.880, 0.3: 0.853, 0.6: 0.787},
    "batch_size": {16: 0.933, 64: 0.880, 256: 0.620},
    "label_noise": {0: 0.880, 0.5: 0.800},
}
SWEEPABLE = tuple(DEFAULT_RANGES)  # what a sweep may search: the settings the form offers a range for
GRID_POINTS_MAX = 50  # values per range in a grid: beyond this a "grid" is a sampled search by another name
GRID_LIST_MAX = 100_000  # a grid up to this many combinations is shuffled as a list; a larger one is drawn from
PROBE_CHOICES = 4  # choices per setting that check_sweep tries in combination before any trial
OWNER = "playground_owner"  # a trial's user attribute: the process that asked it (its budget share, _taken)
OVER_BUDGET = "playground_over_budget"  # asked when the study's budget was spent: told FAIL, never trained


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
        values = spread(self.low, self.high, min(points, GRID_POINTS_MAX))
        if self.integer:
            return sorted({int(round(v)) for v in values})
        return [float(f"{v:.4g}") for v in values]

    def middle(self) -> Any:
        """The range's middle value (geometric on a log scale), or the first choice."""
        if self.choices:
            return self.choices[0]
        mid = math.sqrt(self.low * self.high) if self.log else (self.low + self.high) / 2
        return int(round(mid)) if self.integer else mid

    def ends(self) -> tuple:
        """The choices, or the range's two ends."""
        if self.choices:
            return self.choices
        return (int(self.low), int(self.high)) if self.integer else (self.low, self.high)


def ranges_note() -> str:
    """Where the default ranges come from, formatted from RANGES_MEASURED (what the form says under them)."""
    outside = []
    for name, measured in RANGES_MEASURED.items():
        low, high = (float(x) for x in DEFAULT_RANGES[name].split(":")[:2])
        outside += [f"{name}={v:g} ({f'{acc:.0%}' if acc else 'diverged'})" for v, acc in measured.items()
                    if not low <= v <= high]
    tried = sum(len(m) for m in RANGES_MEASURED.values())
    return (f"Default ranges measured on LeNet ({RANGES_SCALE['epochs']} epochs on {RANGES_SCALE['limit']:,} "
            f"images, {tried} runs): every value tried inside them reached {LEARNS_AT:.0%} validation accuracy or "
            f"more; outside them {', '.join(outside)} did not (bench/results/{RANGES_FILE}).")


def _suggest(trial, p: Param) -> Any:
    if p.choices:
        return trial.suggest_categorical(p.name, list(p.choices))
    if p.integer:
        return trial.suggest_int(p.name, int(p.low), int(p.high), log=p.log)
    return trial.suggest_float(p.name, p.low, p.high, log=p.log)


def _number(name: str, text: str, integer: bool) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or (integer and value != int(value)):
        kind = "a whole number" if integer else "a number"
        raise ConfigError(f"{name}: {text.strip()!r} is not {kind}; a range looks like {name}="
                          f"{DEFAULT_RANGES.get(name, 'low:high')}")
    return value


def parse_param(text: str, base: RunConfig) -> Param:
    """"lr=1e-4:1e-1:log", "hidden=16:128", "optimizer=adam,sgd" -> a Param (integers where the field is)."""
    name, sep, spec = text.partition("=")
    name = name.strip()
    if not sep or name not in FLAT_FIELDS:
        raise ConfigError(f"a sweep parameter looks like lr=1e-4:1e-1:log or optimizer=adam,sgd; got {text!r}")
    if name not in SWEEPABLE:
        why = " (bookkeeping: it never changes what a run learns)" if name in BOOKKEEPING else ""
        raise ConfigError(f"{name} cannot be swept{why}; sweepable: {', '.join(SWEEPABLE)}")
    current = base.flat()[name]
    integer = isinstance(current, int) and not isinstance(current, bool)
    if "," in spec or isinstance(current, str):
        parts = [c.strip() for c in spec.split(",") if c.strip()]
        if len(parts) > GRID_POINTS_MAX:  # thousands of choices made check_sweep's probes run for minutes
            raise ConfigError(f"{name}: {len(parts):,} choices; give at most {GRID_POINTS_MAX} (or a range, e.g. "
                              f"{name}={DEFAULT_RANGES[name]})")
        choices = tuple(c if isinstance(current, str) else type(current)(_number(name, c, integer)) for c in parts)
        if len(set(choices)) < 2:
            raise ConfigError(f"{name}: give at least two choices (different), e.g. {name}=a,b")
        return Param(name, choices=choices)
    parts = spec.split(":")
    if len(parts) not in (2, 3):
        raise ConfigError(f"{name}: a range is low:high (and :log), e.g. {name}={DEFAULT_RANGES[name]}")
    low, high = (_number(name, part, integer) for part in parts[:2])
    scale = parts[2].strip().lower() if len(parts) == 3 else ""
    if scale not in ("", "log"):  # ":lg" or ":log10" once meant a linear search, silently
        raise ConfigError(f"{name}: the third part of a range can only be 'log' (a log scale); got {parts[2]!r}")
    log = scale == "log"
    if not low < high or (log and low <= 0):
        raise ConfigError(f"{name}: need low < high (and low > 0 on a log scale); got {spec!r}")
    return Param(name, low, high, log, integer=integer)


def settings_text(values: dict) -> str:
    """{"lr": 0.00312, "batch_size": 64} -> "lr=0.00312, batch_size=64" (what a trial's name and line show)."""
    return ", ".join(f"{k}={f'{v:.3g}' if isinstance(v, float) else v}" for k, v in values.items())


def check_sweep(base: RunConfig, params: Sequence[Param]) -> None:
    """Refuse, before any trial, a sweep that cannot mean anything: invalid base settings, a setting given
    twice, a setting that does nothing for this model (hidden for LeNet, momentum with Adam), ranges whose
    middle cannot train, or a range end that cannot train whatever the others are."""
    try:
        validate(base)
    except ConfigError as exc:
        raise ConfigError(f"the base settings cannot train: {exc}") from None
    names = [p.name for p in params]
    if not params:
        raise ConfigError("give at least one setting to search")
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ConfigError(f"{', '.join(twice)} given twice: give each setting one range")
    # Probes: every combination of the choices (a few: at most PROBE_CHOICES of each, spread over its list, so
    # at most 4**4 probes), numbers at their middle; the base alone besides.
    choices = [p for p in params if p.choices][:4]
    middles = {p.name: p.middle() for p in params}
    probes = [{**middles, **dict(zip([p.name for p in choices], combo, strict=True))}
              for combo in itertools.product(*(_spread(p.choices, PROBE_CHOICES) for p in choices))]
    configs = [base.override(**probe) for probe in probes]
    for p in params:
        if not any(applies(p.name, cfg) for cfg in configs):
            arch, opt = base.model.arch, configs[0].optim.optimizer
            raise ConfigError(f"{p.name} does nothing for {arch} with {opt}: sweeping it would rank noise; "
                              "leave it out")
    errors = []
    for cfg, probe in zip(configs, probes, strict=True):
        try:
            validate(cfg)
        except ConfigError as exc:
            errors.append(f"at {settings_text(probe)}: {exc}")
    if len(errors) == len(probes):
        raise ConfigError(f"no trial could train: {errors[0]}")
    valid = [probe for probe, cfg in zip(probes, configs, strict=True) if is_valid(cfg)]
    # Each end of a range and each choice (a typo like optimizer=adam,adma once spent most trials on refusals):
    # tried alone, then with the valid probes, lazily (a value that trains stops at its first valid config).
    for p in params:
        what = "one of its choices" if p.choices else "an end of its range"
        for end in p.choices or p.ends():
            tries = itertools.chain([{p.name: end}], ({**probe, p.name: end} for probe in valid))
            if not any(is_valid(base.override(**values)) for values in tries):
                try:
                    validate(base.override(**{p.name: end}))
                except ConfigError as exc:
                    raise ConfigError(f"{settings_text({p.name: end})} ({what}) cannot train: {exc}") from None


def _spread(values: tuple, n: int) -> tuple:
    """At most n of `values`, evenly spaced from the first to the last."""
    if len(values) <= n:
        return values
    return tuple(values[round(i * (len(values) - 1) / (n - 1))] for i in range(n))


def sweep_key(base: RunConfig, params: Sequence[Param], grid: int = 0, prune: bool = True) -> str:
    """A short digest of what a sweep searches: a kept study's name, so the same command resumes it."""
    import hashlib

    text = repr((base.to_json(), [repr(p) for p in params], grid, prune))
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def check_storage(url: str | None) -> None:
    """Refuse a storage Optuna would answer with a SQLAlchemy traceback: not a URL, a missing or read-only
    folder, a directory; a database whose driver is missing is refused when it is opened (open_study)."""
    if url is None:
        return
    if "://" not in url:
        raise ConfigError(f"--storage takes a database URL, e.g. sqlite:///{url}; got {url!r}")
    if url.startswith("sqlite:"):
        path = url.split(":///", 1)[1] if ":///" in url else ""
        if not path or path == ":memory:":
            raise ConfigError(f"--storage {url!r}: name a file, e.g. sqlite:///sweep.db (a memory database keeps "
                              "nothing to resume)")
        file = Path(path)
        if file.is_dir():
            raise ConfigError(f"--storage: {file} is a directory; name a file in it, e.g. {file / 'sweep.db'}")
        if not file.parent.is_dir():
            raise ConfigError(f"--storage: the folder {file.parent} does not exist")
        import os

        if not os.access(file if file.exists() else file.parent, os.W_OK):
            raise ConfigError(f"--storage: cannot write {file if file.exists() else file.parent} (read-only)")


def open_study(name: str, storage: str | None, sampler, pruner):
    """The study `name` in `storage` (resumed where it exists), or a clear ConfigError instead of a traceback."""
    import optuna

    check_storage(storage)
    for attempt in range(3):
        try:
            return optuna.create_study(direction="maximize", sampler=sampler, pruner=pruner, storage=storage,
                                       study_name=name, load_if_exists=storage is not None)
        except ImportError as exc:  # postgresql:// without psycopg2, mysql:// without its driver
            raise ConfigError(f"--storage {storage.split('://')[0]}:// needs a database driver that is not "
                              f"installed ({first_line(exc)})") from None
        except Exception as exc:  # noqa: BLE001  SQLAlchemy's and Optuna's many errors: one line, the cause
            # Two sweeps opening a new storage at once: one creates its tables, the other's creation fails
            # ("UNIQUE constraint failed: alembic_version"); a moment later the tables are there to open.
            if attempt == 2:
                raise ConfigError(f"cannot open --storage {storage}: {first_line(exc)}") from None
            time.sleep(0.5 * (attempt + 1))
    raise AssertionError("unreachable")


@dataclass
class TrialResult:
    number: int
    run_id: int | None
    params: dict
    state: str  # complete | pruned | failed | diverged | stopped
    value: float | None  # the metric: last validation accuracy (test accuracy without a validation set)
    message: str | None = None


def metric_of(snap) -> float | None:
    """What a sweep maximizes: the last validation accuracy, else the test accuracy."""
    if snap.epoch_rows and snap.epoch_rows[-1].get("val_acc") is not None:
        return float(snap.epoch_rows[-1]["val_acc"])
    acc = snap.result.get("test_acc") if snap.result else None
    return None if acc is None else float(acc)


def _grid(params: Sequence[Param], points: int, trials: int, seed: int) -> Iterator[dict]:
    """At most `trials` combinations of `points` values per range, each once, in a seeded random order, built
    one at a time (the whole product of 14 ranges is millions: it never exists)."""
    if not 2 <= points <= GRID_POINTS_MAX:
        raise ConfigError(f"a grid takes 2 to {GRID_POINTS_MAX} values per range; got {points}")
    axes = [p.grid(points) for p in params]
    total = math.prod(len(a) for a in axes)
    rng = random.Random(seed)
    # Small: a shuffled list of indices (never more than 4x the trials, nor GRID_LIST_MAX: `--trials 10**9` over
    # a 50**5 grid once listed 312 million indices). Large: draw indices, skipping repeats (rare when the grid is
    # 4x the trials or more); the set of those drawn grows only with the trials actually tried.
    if total <= 4 * trials and total <= GRID_LIST_MAX:
        order: Iterable[int] = rng.sample(range(total), total)
    else:
        def draws() -> Iterator[int]:
            seen: set[int] = set()
            while len(seen) < total:
                i = rng.randrange(total)
                if i not in seen:
                    seen.add(i)
                    yield i
        order = draws()
    for n, index in enumerate(order):
        if n >= trials:
            return
        values = {}
        for p, axis in zip(params, axes, strict=True):  # mixed-radix digits of the index
            index, digit = divmod(index, len(axis))
            values[p.name] = axis[digit]
        yield values


@dataclass
class SweepHandle:
    """A sweep started in a thread: ask it to stop (the running trials stop, none starts), read its trials."""
    thread: threading.Thread | None = None
    stop_event: threading.Event = field(default_factory=threading.Event)
    results: list = field(default_factory=list)
    error: str | None = None
    base: RunConfig | None = None

    def alive(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def stop(self) -> None:
        self.stop_event.set()


def run_sweep(registry, base: RunConfig, params: Sequence[Param], trials: int, at_once: int = 2,
              name: str = "sweep", storage: str | None = None, prune: bool = True,
              on_trial: Callable[[TrialResult], None] | None = None, seed: int = 0,
              minutes: float | None = None, run_name: Callable[[int, dict], str] | None = None,
              first: Sequence[dict] = (), grid: int = 0, stop: Callable[[], bool] | None = None):
    """Train `trials` runs of `base` with settings Optuna proposes, `at_once` at a time; returns the study.
    `minutes`: no new trial starts after that long (those training finish); `run_name`: (trial number,
    settings) -> name; `first`: settings to try before Optuna proposes any (e.g. the recipe's own); `grid` > 0:
    combinations of `grid` values per range, each once in a seeded random order, at most `trials` (enqueued one
    at a time: Optuna's GridSampler stops a study from inside its own optimize loop, which this does not use);
    `stop`: once it returns True, no trial starts and the running ones are stopped. With a `storage` the study
    resumes: trials it already finished count towards `trials` and are not trained again."""
    import optuna

    check_sweep(base, params)
    if trials < 1:
        raise ConfigError("a sweep needs at least one trial")
    if minutes is not None and not (math.isfinite(minutes) and minutes >= 0):
        raise ConfigError(f"minutes must be 0 (no limit) or more; got {minutes}")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    pruner = optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=1) if prune else optuna.pruners.NopPruner()
    combos = _grid(params, grid, trials, seed) if grid else iter(())
    study = open_study(name, storage, optuna.samplers.TPESampler(seed=seed), pruner)
    if study.trials:  # resumed: a sampler seeded as the first session's proposed its trials again, retrained
        study.sampler = optuna.samplers.TPESampler(seed=seed + len(study.trials))
    done_before = [t for t in study.trials if t.state.is_finished() and OVER_BUDGET not in t.user_attrs]
    tried = {repr(sorted(t.params.items())) for t in done_before}
    sweep = _Trials(registry, study, base, params, trials, at_once, name, run_name, on_trial,
                    pending=[v for v in first if repr(sorted(v.items())) not in tried], combos=combos, tried=tried,
                    grid=grid, deadline=time.monotonic() + 60 * minutes if minutes else math.inf)
    while sweep.more() or sweep.live:
        if not sweep.ended and stop is not None and stop():
            sweep.stop()
        sweep.start()
        sweep.follow()
        if sweep.live or sweep.more():
            time.sleep(POLL_SECONDS)
    return study


@dataclass
class _Trials:
    """A sweep's trial loop: start trials up to `at_once` while the budget and time last; follow those training
    (report each epoch to Optuna, prune, tell the study how each ended)."""
    registry: Any
    study: Any
    base: RunConfig
    params: Sequence[Param]
    trials: int
    at_once: int
    name: str
    run_name: Callable[[int, dict], str] | None
    on_trial: Callable[[TrialResult], None] | None
    pending: list[dict]  # settings to try before Optuna proposes any
    combos: Iterator[dict]  # a grid's combinations, or none
    tried: set[str]
    grid: int
    deadline: float
    live: dict[int, tuple[Any, int, int]] = field(default_factory=dict)  # trial -> (trial, run id, epochs reported)
    ended: bool = False  # stopped, the study's budget spent, or a grid with nothing more to try

    def more(self) -> bool:
        return not self.ended and time.monotonic() < self.deadline

    def stop(self) -> None:
        self.ended = True
        for _trial, run_id, _ in self.live.values():
            self.registry.stop(run_id, "stopped with its sweep")

    def start(self) -> None:
        import optuna

        while self.more() and len(self.live) < self.at_once:
            trial = self._ask()
            if trial is None:
                self.ended = True
                return
            values = {p.name: _suggest(trial, p) for p in self.params}
            try:
                cfg = validate(self.base.override(**values))
                label = (self.run_name(trial.number, values) if self.run_name
                         else f"{self.name} · trial {trial.number}: " + settings_text(values))
                run_id = self.registry.submit(cfg, name=label)
            except ConfigError as exc:  # this combination cannot train (e.g. dropout with 1 layer)
                self.study.tell(trial, state=optuna.trial.TrialState.FAIL)
                _report(self.on_trial, TrialResult(trial.number, None, values, "failed", None, f"refused: {exc}"))
                continue
            self.live[trial.number] = (trial, run_id, 0)

    def _ask(self):
        """The next trial, or None when the study's budget is spent or a grid has nothing more to try."""
        import optuna

        if _taken(self.study) >= self.trials:  # the study's budget, shared by every process sweeping its storage
            return None
        values = self.pending.pop(0) if self.pending else next(
            (c for c in self.combos if repr(sorted(c.items())) not in self.tried), None)
        if values is None and self.grid:
            return None
        if values is not None:
            self.study.enqueue_trial(values)
        trial = self.study.ask()
        trial.set_user_attr(OWNER, _owner())
        if _taken(self.study, before=trial.number) >= self.trials:  # another process asked at the same moment
            trial.set_user_attr(OVER_BUDGET, True)
            self.study.tell(trial, state=optuna.trial.TrialState.FAIL)
            return None
        return trial

    def follow(self) -> None:
        for number, (trial, run_id, reported) in list(self.live.items()):
            snap = self.registry.snapshot(run_id)
            rows = snap.epoch_rows if snap is not None else []
            for row in rows[reported:]:
                if row.get("val_acc") is not None:
                    trial.report(float(row["val_acc"]), int(row["epoch"]))
            self.live[number] = (trial, run_id, len(rows))
            if snap is not None and not snap.done and len(rows) > reported and trial.should_prune():
                self.registry.stop(run_id, _prune_message(self.study, rows[-1]))
            if snap is None or snap.done:
                del self.live[number]
                _finish(self.study, trial, run_id, snap, self.on_trial)


def _taken(study, before: int | None = None) -> int:
    """Trials (numbered below `before`) that count towards a study's budget: finished, or asked by a process
    still alive (two CLIs on one --storage each trained the whole budget). A trial of a process that died
    running it, or one asked past the budget, does not count: a resumed sweep trains in their place."""
    import optuna

    alive = {}
    count = 0
    for t in study.get_trials(deepcopy=False):
        if (before is not None and t.number >= before) or OVER_BUDGET in t.user_attrs:
            continue
        if t.state == optuna.trial.TrialState.RUNNING:
            owner = t.user_attrs.get(OWNER)
            if owner is None:  # asked a moment ago (its owner not written yet), or by a version before owners
                count += t.datetime_start is None or time.time() - t.datetime_start.timestamp() < 60
            else:
                count += alive.setdefault(owner, _owner_alive(owner))
        else:
            count += 1  # finished, or waiting to be asked (enqueued by another process a moment ago)
    return count


def _owner() -> str:
    """This process, as a trial's OWNER attribute: "host:pid:token"."""
    return f"{HOST}:{os.getpid()}:{PROCESS_TOKEN}"


def _owner_alive(owner: str) -> bool:
    """Whether the process that asked a trial still runs; another machine's counts as alive (it cannot be seen)."""
    host, pid, token = ([*str(owner).rsplit(":", 2), "", ""])[:3]
    if token == PROCESS_TOKEN:
        return True
    return host != HOST or pid_alive(int(pid) if pid.isdigit() else None)


def _prune_message(study, row: dict) -> str:
    """Why a trial is pruned, with the numbers the pruner compared: its accuracy and the median's."""
    import optuna

    step = int(row["epoch"])
    others = [t.intermediate_values[step] for t in study.get_trials(deepcopy=False,
                                                                   states=(optuna.trial.TrialState.COMPLETE,))
              if step in t.intermediate_values]
    median = f" ({statistics.median(others):.1%})" if others else ""
    return (f"pruned by the sweep at epoch {step}: validation accuracy {float(row['val_acc']):.1%}, below the median "
            f"of the finished trials at that epoch{median}")


def start_sweep(registry, base: RunConfig, params: Sequence[Param], trials: int, **kw) -> SweepHandle:
    """run_sweep in a daemon thread (the app's: a page never waits on a sweep); its trials are registry runs,
    so each reaches a final status whatever happens to the thread, which only asks and tells Optuna. The
    handle stops it as a whole and collects each trial's result (for the sweep's conclusion)."""
    handle = SweepHandle(base=base)
    on_trial = kw.pop("on_trial", None)

    def collect(result: TrialResult) -> None:
        handle.results.append(result)
        _report(on_trial, result)

    def body() -> None:
        try:
            run_sweep(registry, base, params, trials, on_trial=collect, stop=handle.stop_event.is_set, **kw)
        except ConfigError as exc:
            handle.error = str(exc)
        except Exception as exc:  # a thread's last word goes to the log and the page, not to nowhere
            handle.error = f"the sweep ended early: {first_line(exc)}"
            log.exception("sweep %s ended early", kw.get("name", "sweep"))

    handle.thread = threading.Thread(target=body, name=f"sweep-{kw.get('name', 'sweep')}", daemon=True)
    handle.thread.start()
    return handle


def _finish(study, trial, run_id: int, snap, on_trial) -> None:
    import optuna

    params = dict(trial.params)
    status = snap.status if snap is not None else None
    if status == RunStatus.FINISHED and metric_of(snap) is not None:
        value = metric_of(snap)
        study.tell(trial, value)
        _report(on_trial, TrialResult(trial.number, run_id, params, "complete", value))
    elif status == RunStatus.STOPPED and (snap.message or "").startswith("pruned"):
        study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        _report(on_trial, TrialResult(trial.number, run_id, params, "pruned", metric_of(snap), snap.message))
    else:
        study.tell(trial, state=optuna.trial.TrialState.FAIL)
        state = {RunStatus.DIVERGED: "diverged", RunStatus.STOPPED: "stopped"}.get(status, "failed")
        _report(on_trial, TrialResult(trial.number, run_id, params, state, None,
                                      (snap.message if snap else None) or str(status or "its run vanished")))


def _report(on_trial, result: TrialResult) -> None:
    if on_trial is not None:
        on_trial(result)


def earlier_results(study, reported: Sequence[TrialResult]) -> list[TrialResult]:
    """The finished trials of a resumed study that this session did not report (for its conclusion)."""
    seen = {r.number for r in reported}
    states = {"COMPLETE": "complete", "PRUNED": "pruned", "FAIL": "failed"}
    return [TrialResult(t.number, None, dict(t.params), states[t.state.name], t.value,
                        None if t.state.name == "COMPLETE" else "in an earlier session")
            for t in study.trials
            if t.number not in seen and t.state.name in states and OVER_BUDGET not in t.user_attrs]


def conclusion(results: Sequence[TrialResult], metric: str = "validation accuracy",
               chance: float | None = None) -> tuple[list[str], list[str]]:
    """What a sweep found, for a person: (the verdict lines, one line per trial that failed, was pruned,
    diverged, stopped or did not learn, with what it hit)."""
    done = [r for r in results if r.state == "complete" and r.value is not None]
    flagged = []
    for r in sorted(results, key=lambda r: r.number):
        if r.state != "complete":
            flagged.append(f"trial {r.number} ({settings_text(r.params)}) {r.state}: {r.message or 'no reason given'}")
        elif chance is not None and r.value is not None and r.value < chance + 0.1 * (1 - chance):
            flagged.append(f"trial {r.number} ({settings_text(r.params)}) did not learn: {metric} {r.value:.1%}, "
                           f"chance is {chance:.0%}")
    if not results:
        return ["No trial started."], flagged
    if not done:
        return [f"No trial trained to the end: all {len(results)} failed, were pruned or stopped (below)."], flagged
    best = max(done, key=lambda r: r.value)
    median = statistics.median(r.value for r in done)
    lines = [f"Best trial {best.number}: {settings_text(best.params)} → {best.value:.1%} {metric}."]
    if len(done) > 1:
        lines.append(f"That is {100 * (best.value - median):+.1f} points over the median trial ({median:.1%}) of "
                     f"the {len(done)} that trained to the end.")
    return lines, flagged


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


def setting_shares(rows: Sequence[dict], settings: Sequence[str]) -> tuple[dict[str, float], float | None]:
    """Each setting's share of the metric's variance, and the seed's (the noise floor: what a setting's share
    must beat to be more than noise), or None when the runs share one seed."""
    keys = [*settings, *(["seed"] if len({r["seed"] for r in rows}) > 1 else [])]
    shares = importances([({k: r[k] for k in keys}, r["metric"]) for r in rows])
    floor = shares.pop("seed", None)
    return shares, floor
