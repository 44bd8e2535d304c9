"""JobRegistry: queue jobs (a run, or a batched group of runs), cap how many train at once, start/stop them,
serve snapshots."""
from __future__ import annotations

import atexit
import contextlib
import logging
import os
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch

from ..config import RECIPES, ConfigError, RunConfig, is_recurrent, validate
from ..errors import PlaygroundError, RunStatus
from ..models import estimate_memory
from ..store import RunStore
from .batched import can_batch
from .executors import Executor, LocalExecutor, Run
from .group import GroupTrainer
from .metrics import NO_STEP_ROWS, Snapshot
from .runner import resolve_device
from .steps import GATE

KEEP_FINISHED = 16  # ended runs kept whole (step rows and all) for pollers; the store has every run
KEEP_ENDED = 10_000  # ended runs' final state (no step rows, a few KB) kept for `snapshot` after that
HEARTBEAT_SECONDS = 5.0  # well inside store.HEARTBEAT_STALE, so a live process's runs never look dead
SHUTDOWN_SECONDS = 120.0  # a stop ends within a batch and one checkpoint write; this bounds a hung one
MEMORY_SHARE = 0.7  # of the device's memory that runs may plan to use: the OS, the app and data need the rest
_REGISTRIES: weakref.WeakSet[JobRegistry] = weakref.WeakSet()
log = logging.getLogger(__name__)


def memory_budget(device: torch.device) -> int:
    """Bytes training runs may plan to use on `device`."""
    if device.type == "cuda":
        with GATE.shared():  # a CUDA call: never during a run's graph capture
            total = torch.cuda.mem_get_info(device)[1]
    else:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return int(total * MEMORY_SHARE)


def _gb(n: int) -> str:
    return f"{n / 1e9:.1f} GB" if n >= 1e8 else f"{n / 1e6:.0f} MB"


def memory_in_use(device: torch.device) -> int:
    """Bytes the runs training now on `device` in this process planned to use (queued runs use none yet), and
    what training outside a registry holds (a learning-rate range test, `holding_memory`)."""
    return sum(registry.training_memory(device) for registry in list(_REGISTRIES)) + held_outside(str(device))


# Memory held by training outside any registry (the learning-rate range test), by a token per holder. Its lock
# is taken alone or inside a registry's lock (_has_room), never the other way round.
_OUTSIDE: dict[object, tuple[str, int]] = {}
_OUTSIDE_LOCK = threading.Lock()


def held_outside(device: str, but: object = None) -> int:
    """Bytes training outside the registries holds on `device` (not counting holder `but`)."""
    with _OUTSIDE_LOCK:
        return sum(need for token, (where, need) in _OUTSIDE.items() if where == device and token is not but)


@contextlib.contextmanager
def holding_memory(config: RunConfig, device: torch.device) -> Iterator[int]:
    """Admit training outside a registry (a range test) beside the runs training now, and count its need as
    memory in use until the block ends: a run submitted meanwhile waits in its queue for the room."""
    need, token = estimate_memory(config), object()
    with _OUTSIDE_LOCK:
        _OUTSIDE[token] = (str(device), need)  # held first, then checked: a run starting at the same moment
    try:                                        # either sees this hold or is seen by the check below
        in_use = sum(r.training_memory(device) for r in list(_REGISTRIES)) + held_outside(str(device), token)
        admit_memory(config, device, need, in_use)
        yield need
    finally:
        with _OUTSIDE_LOCK:
            _OUTSIDE.pop(token, None)
        for registry in list(_REGISTRIES):  # runs waiting for this room may start now
            registry.pump()


def admit_memory(config: RunConfig, device: torch.device | None = None, need: int | None = None,
                 in_use: int = 0) -> int:
    """The admission every path that trains goes through (a run, a study's runs, the learning-rate range test):
    ConfigError unless `config` fits in this device's usable memory beside `in_use` bytes training now.
    Returns its estimated need."""
    device = device or resolve_device(config.device)
    need = estimate_memory(config) if need is None else need
    budget = memory_budget(device)
    if need + in_use > budget:
        where = "GPU memory" if device.type == "cuda" else "RAM"
        if need > budget:
            raise ConfigError(f"this configuration needs about {_gb(need)} to train (weights, optimizer state and "
                              f"activations at batch size {config.optim.batch_size}); {_gb(budget)} of {where} is "
                              "usable here. Try a smaller batch size or model.")
        raise ConfigError(f"this needs about {_gb(need)} of {where} now, and runs training here hold about "
                          f"{_gb(in_use)} of the {_gb(budget)} usable; wait for them to end, or stop one.")
    return need


@atexit.register
def _shutdown_all() -> None:
    """At interpreter exit, stop every run (stopped, with a checkpoint) before torch's threads are torn down."""
    for registry in list(_REGISTRIES):
        registry.shutdown()


def default_name(config: RunConfig) -> str:
    """A recipe's own name when the config is one, else the same spelling: "lstm64", "gru3x200" (not "lstm-64")."""
    same = [name for name, recipe in RECIPES.items() if recipe == config]
    if same:
        return f"{same[0]} on {config.data.dataset}"
    m, r = config.model, config.reg
    parts = [m.arch]
    if is_recurrent(config):
        parts = [m.arch + (f"{m.layers}x{m.hidden}" if m.layers > 1 else str(m.hidden))]
    elif m.width != 16:
        parts.append(f"w{m.width}")
    if r.dropout:
        parts.append(f"drop{r.dropout:g}")
    if r.batchnorm:
        parts.append("bn")
    if r.l2:
        parts.append(f"l2={r.l2:g}")
    if r.weight_decay:
        parts.append(f"wd={r.weight_decay:g}")
    return f"{'-'.join(parts)} on {config.data.dataset}"


@dataclass(eq=False)
class Job:
    """What holds one slot: a run, or a batched group of runs (engine/group.py); `trainer.run()` trains them all."""
    trainer: Any  # a Run, or the GroupTrainer of `members`
    members: dict[int, Run]  # run id -> what pollers and stops reach, in submission order
    need: int  # estimated bytes while it trains (0: not counted here)
    device: str

    @property
    def id(self) -> int:
        return next(iter(self.members))

    def active_ids(self) -> tuple[int, ...]:
        """Its runs not ended yet."""
        return tuple(i for i, m in self.members.items() if m.stream.status().active)


class JobRegistry:
    """Owns the Trainers of this process. Every public method is thread-safe.

    A job is one run or a batched group of them (`Job`); it waits in the queue, then holds one slot while it trains.
    The lock guards this object's state only: store writes happen after it is released, so a store
    that blocks (a busy timeout of seconds) never stalls `active()`, `snapshot()` or the heartbeat.
    """

    def __init__(self, store: RunStore, max_concurrent: int | None = 1, threads_per_run: int | None = None,
                 executor: Executor | None = None):
        """`max_concurrent` None: as many as the executor has room for (2 on a CPU, 5 on a GPU, a cluster's slots)."""
        self.executor = executor or LocalExecutor(max_concurrent)
        max_concurrent = max_concurrent or self.executor.capacity()
        if max_concurrent < 1:
            raise ValueError("max_concurrent must be >= 1")
        self.store = store
        self.max_concurrent = max_concurrent
        self.threads_per_run = threads_per_run
        self._lock = threading.Lock()
        self._jobs: dict[int, Run] = {}  # every run not forgotten, by id (a group's runs each under its own)
        self._budgets: dict[str, int] = {}  # usable bytes per device, measured at admission (outside the lock)
        self._pending: deque[Job] = deque()
        self._running: dict[int, Job] = {}  # by job id (its first run's)
        self._threads: dict[int, threading.Thread] = {}  # by job id
        self._finished: deque[int] = deque()
        self._ended: dict[int, Snapshot] = {}  # forgotten runs' final state, without step rows
        self._unsettled: dict[int, Run] = {}  # ended runs whose final status the store has not taken yet
        # Without a shutdown at exit, the interpreter kills trainer threads inside torch ("terminate called").
        _REGISTRIES.add(self)
        self._closed = threading.Event()
        # Beats from here, not from the training loop: a long evaluation or a queued run must not look dead.
        threading.Thread(target=self._beat, args=(weakref.ref(self),), name="heartbeat", daemon=True).start()

    def submit(self, config: RunConfig, name: str | None = None) -> int:
        """Validate, record as queued, and start as soon as a slot is free. Returns the run id."""
        def one(ids: list[int]) -> tuple[Run, list[Run]]:
            run = self.executor.make_run(config, self.store, ids[0], self.threads_per_run)
            return run, [run]
        return self._enqueue([config], [name], one)[0]

    def submit_group(self, configs: list[RunConfig], names: list[str | None] | None = None,
                     batch: bool | None = None) -> list[int]:
        """Submit runs of one shape: as one batched model holding one slot (engine/group.py), each still a run of
        its own, when `batch` is True (ConfigError if they cannot batch) or None on CUDA; else one by one.

        Only CUDA by default: a step of these models is launch-bound there, compute-bound on a CPU (issue 24).
        """
        names = list(names) if names is not None else [None] * len(configs)
        if not self.batches(configs, batch):
            return [self.submit(c, n) for c, n in zip(configs, names, strict=True)]

        def group(ids: list[int]) -> tuple[GroupTrainer, list[Run]]:
            trainer = GroupTrainer(configs, self.store, ids, self.threads_per_run)
            return trainer, list(trainer.members)
        return self._enqueue(configs, names, group)

    def _enqueue(self, configs: list[RunConfig], names: list[str | None],
                 make: Callable[[list[int]], tuple[Any, list[Run]]]) -> list[int]:
        """Admit `configs` as one job, record their runs as queued, `make` its trainer from their ids, queue it."""
        device, need = self._admission(configs)
        ids = [self.store.create_run(c, n or default_name(c)) for c, n in zip(configs, names, strict=True)]
        trainer, members = make(ids)
        job = Job(trainer, dict(zip(ids, members, strict=True)), need, str(device))
        with self._lock:
            self._jobs.update(job.members)
            self._pending.append(job)
        self._pump()
        return ids

    def batches(self, configs: list[RunConfig], batch: bool | None = None) -> bool:
        """Whether submit_group(configs, batch=batch) trains them as one batched model; ConfigError when `batch`
        asks for it and they cannot."""
        reason = can_batch(configs) if len(configs) > 1 else "a group needs two runs or more"
        if batch is None:
            return reason is None and self.executor.trains_here and all(
                resolve_device(c.device).type == "cuda" for c in configs)
        if batch and (reason is not None or not self.executor.trains_here):
            raise ConfigError(f"these runs cannot train as one batched model: {reason or 'they train elsewhere'}")
        return batch

    def admit(self, configs: list[RunConfig], need: int | None = None) -> int:
        """Validate `configs` and refuse them (ConfigError) unless, trained together as one job, they could fit
        this device's memory; nothing is recorded. Returns their estimated need (0 when they train elsewhere)."""
        return self._admission(configs, need)[1]

    def _admission(self, configs: list[RunConfig], need: int | None = None) -> tuple[torch.device, int]:
        """The one admission of a job: valid configs, a device that exists ("cuda" without a GPU is refused now,
        not as a failed run later) and, trained here, a need that could fit alone. A job that fits waits in the
        queue until the runs training beside it leave it room (_pump): queued runs never count as memory in use."""
        for config in configs:
            validate(config)
        device = resolve_device(configs[0].device)
        if not self.executor.trains_here:
            return device, 0
        # Estimated outside the lock (a forward pass on the meta device).
        need = sum(estimate_memory(c) for c in configs) if need is None else need
        if need:
            admit_memory(configs[0], device, need)
            budget = memory_budget(device)
            with self._lock:
                self._budgets[str(device)] = budget
        return device, need

    def training_memory(self, device: torch.device) -> int:
        """Bytes the runs holding a slot on `device` planned to use."""
        with self._lock:
            return self._held(str(device))

    def _held(self, device: str) -> int:
        return sum(job.need for job in self._running.values() if job.device == device)

    def _has_room(self, job: Job) -> bool:
        """Whether queued `job` fits beside what trains now (under the lock): this registry's runs and a range
        test (held_outside); with nothing training it always may start (admission checked it fits alone)."""
        if not job.need:
            return True
        held = self._held(job.device) + held_outside(job.device)
        return not held or job.need + held <= self._budgets.get(job.device, job.need)

    def set_max_concurrent(self, n: int) -> None:
        self.max_concurrent = max(1, int(n))
        self._pump()

    def stop(self, run_id: int, reason: str = "stopped by the user") -> None:
        """End a run within a batch; a queued one ends at once without starting (its job leaves the queue with its
        last waiting run). A run another process trains gets a stop request in the store, which its trainer polls.
        """
        with self._lock:
            run = self._jobs.get(run_id)
            job = next((j for j in self._pending if run_id in j.members), None)
            dropped = job is not None and job.active_ids() == (run_id,)  # nothing left to start
            if run is not None:
                run.stop(reason)
            if dropped:
                self._pending.remove(job)
        if run is None:
            self.store.request_stop(run_id)
        elif dropped:
            run.end(RunStatus.STOPPED, f"{reason} before it started")
            for member_id in job.members:
                self._ended_run(member_id)
        else:
            run.end_if_waiting(reason)  # a group not started yet ends it now (booked when the group ends)

    def shutdown(self, timeout: float = SHUTDOWN_SECONDS) -> None:
        """Stop every run (recorded as stopped, with a checkpoint) and wait for their threads."""
        for run_id in list(self._jobs):
            self.stop(run_id, "stopped: the server shut down")
        with self._lock:
            threads = list(self._threads.values())
        deadline = time.time() + timeout
        for thread in threads:
            thread.join(max(0.0, deadline - time.time()))
        self.executor.shutdown()
        self._closed.set()

    def snapshot(self, run_id: int, steps_from: int = 0) -> Snapshot | None:
        """The live state of a run this process trains or trained (a forgotten one without step rows)."""
        run = self._jobs.get(run_id)
        if run is not None:
            return run.snapshot(steps_from)
        return self._ended.get(run_id)

    def view(self, run_id: int, steps_from: int = 0) -> Snapshot | None:
        """The live snapshot when this process runs it, else one rebuilt from the store (None if unknown)."""
        run = self._jobs.get(run_id)
        return run.snapshot(steps_from) if run is not None else self.store.snapshot(run_id, steps_from)

    def active(self) -> list[int]:
        """Run ids queued or running in this process, oldest first."""
        with self._lock:
            return sorted(i for job in [*self._running.values(), *self._pending] for i in job.active_ids())

    def running(self) -> list[int]:
        """Job ids holding a training slot now (a group's by its first run), read at once (one lock), oldest first."""
        with self._lock:
            return sorted(self._running)

    def wait(self, run_id: int, timeout: float | None = None) -> Snapshot | None:
        """Block until the run ends (tests and the CLI); None if unknown."""
        deadline = None if timeout is None else time.time() + timeout
        while True:
            snap = self.snapshot(run_id, steps_from=NO_STEP_ROWS)
            if snap is None or snap.done:
                with self._lock:
                    thread = self._threads.get(run_id)
                if thread is not None and thread is not threading.current_thread():
                    thread.join()  # the run has ended; this is its thread booking it (slot, retries)
                return None if snap is None else self.snapshot(run_id)  # polled without rows; returned whole
            if deadline is not None and time.time() > deadline:
                raise TimeoutError(f"run {run_id} still {snap.status} after {timeout}s")
            time.sleep(0.05)

    @staticmethod
    def _beat(ref: weakref.ref[JobRegistry]) -> None:
        """Every few seconds, mark this process's queued and running runs alive in the store."""
        while (registry := ref()) is not None and not registry._closed.is_set():
            closed = registry._closed
            registry.beat_once()
            del registry  # hold no reference while waiting, so an unused registry can be collected
            closed.wait(HEARTBEAT_SECONDS)

    def beat_once(self) -> None:
        """Mark active runs alive, end queued ones another process asked to stop, retry unsettled finals."""
        with self._lock:
            queued = [i for job in self._pending for i in job.active_ids()]
        for run_id in self.active():
            with contextlib.suppress(PlaygroundError):  # busy or closed: the next beat is seconds away
                self.store.beat(run_id)
        for run_id in queued:  # a running run polls for this itself; a queued one has no trainer loop yet
            with contextlib.suppress(PlaygroundError):
                if self.store.stop_requested(run_id):
                    self.stop(run_id, "stopped from another process")
        self._settle()

    def pump(self) -> None:
        """Start queued jobs while slots and memory allow (after memory held outside the registry is freed)."""
        self._pump()

    def _pump(self) -> None:
        with self._lock:
            while self._pending and len(self._running) < self.max_concurrent and self._has_room(self._pending[0]):
                job = self._pending.popleft()
                self._running[job.id] = job
                thread = threading.Thread(target=self._run, args=(job,), name=f"job-{job.id}", daemon=True)
                self._threads[job.id] = thread
                thread.start()

    def _run(self, job: Job) -> None:
        try:
            job.trainer.run()
        except BaseException:
            log.exception("job %s: its thread raised past the run's own exit path", job.id)
            for member in job.members.values():
                if member.stream.status().active:
                    member.end(RunStatus.FAILED, "the run's thread ended unexpectedly")
        finally:
            with self._lock:
                self._running.pop(job.id, None)
                self._threads.pop(job.id, None)
            for run_id in job.members:
                self._ended_run(run_id)
            self._pump()

    def _ended_run(self, run_id: int) -> None:
        """Book an ended run: its final status retried if the store refused it; only recent ones kept whole."""
        run = self._jobs.get(run_id)
        settled = run is None or run.recorder.settle()  # store I/O: before taking the lock
        with self._lock:
            if not settled:
                self._unsettled[run_id] = run
            self._finished.append(run_id)
            # Finished runs live on in the store; keep only recent ones in memory, the rest as a small final state.
            while len(self._finished) > KEEP_FINISHED:
                old = self._finished.popleft()
                if (gone := self._jobs.pop(old, None)) is not None:
                    self._ended[old] = final = gone.snapshot()
                    final.step_rows = []
            while len(self._ended) > KEEP_ENDED:
                self._ended.pop(next(iter(self._ended)))

    def _settle(self) -> None:
        """Retry the final status of ended runs the store refused (disk full, I/O error, busy)."""
        with self._lock:
            waiting = list(self._unsettled.items())
        for run_id, run in waiting:
            if run.recorder.settle():
                with self._lock:
                    self._unsettled.pop(run_id, None)
