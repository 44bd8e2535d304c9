"""Training on a Ray cluster: one actor per GPU (per node without one) hosts the same in-process engine.

Why actors and not one Ray task per run: runs sharing a GPU as separate processes time-slice it
(2.6x slower than threads of one process), so the actor, holding several Trainer threads, is what
Ray schedules; runs are placed on actors by free slots.

What travels: the config (JSON) and each dataset's uint8 tensors, put in Ray's object store once by
the driver (actors read no files and need no internet); back come step and epoch rows, status, and
the checkpoint as bytes at each epoch's end, which the app writes to its own store. The app side
pulls every PULL_SECONDS, so the live view, Compare, the CSV and reports work as for a local run.
Actors belong to the app's process: when it exits Ray ends them, and on restart the store marks
their runs interrupted (a restarted app has no handle to reconnect to).
"""
from __future__ import annotations

import contextlib
import io
import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ray
import torch
from ray.exceptions import GetTimeoutError, RayActorError, RayError
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

import playground

from .. import data as data_module
from ..config import RunConfig
from ..errors import PlaygroundError, RunStatus, first_line
from ..store import RunStore
from .capacity import CPU_RUNS_AT_ONCE, GPU_RUNS_AT_ONCE
from .live import LiveRun
from .metrics import NO_STEP_ROWS, Snapshot
from .recorder import NullRecorder, StoreRecorder
from .training import Trainer

log = logging.getLogger(__name__)

PULL_SECONDS = 0.5  # how often the app pulls a remote run's new rows
PULL_TIMEOUT = 60.0  # an actor that does not answer a pull for this long counts as lost
GCS_RECONNECT_SECONDS = 10 * 365 * 24 * 3600  # never, in effect (see _init)
OBJECT_STORE_BYTES = 512 * 1024 * 1024  # for a cluster started here: the datasets are < 250 MB


# ------------------------------------------------------------------ the actor side
class BufferRecorder(NullRecorder):
    """Keeps a run's events in the actor until the app pulls them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.values: dict[str, Any] = {}
        self.steps: list[dict[str, float]] = []
        self.epochs: list[dict[str, Any]] = []
        self.checkpoint: bytes | None = None

    def update(self, **values: Any) -> None:
        with self._lock:
            self.values.update(values)

    def add_steps(self, rows: list[dict[str, float]]) -> None:
        with self._lock:
            self.steps += rows

    def add_epoch(self, row: dict[str, Any]) -> None:
        with self._lock:
            self.epochs.append(row)

    def save_checkpoint(self, payload: dict[str, Any]) -> str | None:
        buffer = io.BytesIO()
        torch.save(payload, buffer)
        with self._lock:
            self.checkpoint = buffer.getvalue()  # only the newest matters: older ones are superseded
        return None

    def take(self) -> dict[str, Any]:
        with self._lock:
            out = {"values": self.values, "steps": self.steps, "epochs": self.epochs, "checkpoint": self.checkpoint}
            self.values, self.steps, self.epochs, self.checkpoint = {}, [], [], None
            return out


class Host:
    """A Ray actor's body: Trainer threads for the runs placed on it."""

    def __init__(self, threads: int | None = None):
        self.threads = threads
        self.runs: dict[int, tuple[Trainer, BufferRecorder]] = {}

    def where(self) -> dict[str, Any]:
        """The node this actor lives on, for the run's record."""
        ctx = ray.get_runtime_context()
        return {"node_id": ctx.get_node_id(), "ip": ray.util.get_node_ip_address(),
                "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None}

    def start(self, run_id: int, config_json: str, dataset: data_module.Dataset) -> None:
        data_module.provide_dataset(dataset)  # from the object store: no files needed here
        recorder = BufferRecorder()
        trainer = Trainer(RunConfig.from_json(config_json), run_id=run_id, recorder=recorder, threads=self.threads)
        self.runs[run_id] = (trainer, recorder)
        trainer.start()

    def pull(self, run_id: int) -> dict[str, Any]:
        """Events since the last pull and the run's state; a run that ended is forgotten after this."""
        trainer, recorder = self.runs[run_id]
        # State first, rows second: a run reported ended has every row and checkpoint in this pull.
        snap = trainer.snapshot(steps_from=NO_STEP_ROWS)
        update = recorder.take()
        update["state"] = {k: getattr(snap, k) for k in ("message", "started", "samples_per_s", "seconds_per_step",
                                                         "steps_per_epoch", "total_steps", "result")}
        update["state"]["status"] = str(snap.status)
        if snap.done:
            self.runs.pop(run_id)
        return update

    def stop(self, run_id: int, reason: str) -> None:
        if run_id in self.runs:
            self.runs[run_id][0].stop(reason)


# ------------------------------------------------------------------ the app side
@dataclass
class Slot:
    """One actor and the runs the app placed on it."""
    actor: Any
    capacity: int
    label: str
    runs: set[int] = field(default_factory=set)


class RayExecutor:
    """Runs on Ray actors: `local` starts a cluster here, `auto` joins one, `ray://host:10001` a remote head."""
    name = "ray"

    def __init__(self, address: str, threads_per_run: int | None = 1):
        connect(address)
        self.address = address
        self.trains_here = address == "local"  # a cluster started on this machine: its memory is ours
        self._lock = threading.Lock()
        self._datasets: dict[str, ray.ObjectRef] = {}
        self.slots = [self._actor(node, gpu) for node, gpus in _nodes() for gpu in range(max(gpus, 1))
                      if gpus or gpu == 0]
        self.threads = threads_per_run
        if not self.slots:
            raise PlaygroundError(f"the Ray cluster at {address} has no alive nodes")

    def _actor(self, node: dict, gpu: int) -> Slot:
        has_gpu = node["Resources"].get("GPU", 0) > 0
        cpus = int(node["Resources"].get("CPU", 1))
        actor = ray.remote(Host).options(
            num_cpus=0 if has_gpu else min(1, cpus), num_gpus=1 if has_gpu else 0,
            max_concurrency=4,  # pulls and stops answer while a start is still loading data
            scheduling_strategy=NodeAffinitySchedulingStrategy(node["NodeID"], soft=False),
        ).remote(None if has_gpu else 1)
        capacity = GPU_RUNS_AT_ONCE if has_gpu else max(1, min(CPU_RUNS_AT_ONCE, cpus))
        label = f"{node['NodeManagerAddress']}" + (f" GPU {gpu}" if has_gpu else "") + f" ({node['NodeID'][:8]})"
        return Slot(actor, capacity, label)

    def capacity(self) -> int:
        return sum(s.capacity for s in self.slots)

    def make_run(self, config: RunConfig, store: RunStore, run_id: int, threads: int | None) -> RemoteRun:
        return RemoteRun(self, config, store, run_id)

    def dataset_ref(self, name: str) -> ray.ObjectRef:
        """The dataset's tensors in the object store, put there once per app process."""
        with self._lock:
            if name not in self._datasets:
                self._datasets[name] = ray.put(data_module.load_dataset(name))
            return self._datasets[name]

    def place(self, run_id: int) -> Slot:
        """The actor with the most free slots (the registry never starts more runs than there are slots)."""
        with self._lock:
            slot = max(self.slots, key=lambda s: s.capacity - len(s.runs))
            slot.runs.add(run_id)
            return slot

    def release(self, slot: Slot, run_id: int) -> None:
        with self._lock:
            slot.runs.discard(run_id)

    def shutdown(self) -> None:
        """End this executor's actors (Ray ends them anyway when this process exits)."""
        if not ray.is_initialized():
            return
        for slot in self.slots:
            with contextlib.suppress(RayError):  # already gone
                ray.kill(slot.actor)


class RemoteRun(LiveRun):
    """A run trained by an actor, with a Trainer's face: the app side of it pulls rows into the store."""

    def __init__(self, executor: RayExecutor, config: RunConfig, store: RunStore | None, run_id: int):
        super().__init__(config)
        self.executor, self.run_id = executor, run_id
        self.recorder = StoreRecorder(store, run_id) if store is not None else NullRecorder()
        self.slot: Slot | None = None
        self.checkpoint: str | None = None  # this process's copy of the newest checkpoint

    def run(self) -> Snapshot:
        slot = self.slot = self.executor.place(self.run_id)
        status, message = RunStatus.FAILED, None
        try:
            self.recorder.update(executor=f"ray {self.executor.address}", node=slot.label)
            started = slot.actor.start.remote(self.run_id, self.config.to_json(),
                                              self.executor.dataset_ref(self.config.data.dataset))
            ray.get(started, timeout=PULL_TIMEOUT)
            status, message = self._follow(slot)
        except (RayActorError, GetTimeoutError) as exc:
            status = RunStatus.INTERRUPTED
            message = f"the Ray actor on {slot.label} was lost ({type(exc).__name__}); rows received so far are kept"
        except RayError as exc:
            cause = getattr(exc, "cause", None) or exc
            message = f"on Ray: {type(cause).__name__}: {first_line(cause, last=True)[:300]}"
        except Exception as exc:  # a failed run is recorded, never lost in a thread
            log.exception("remote run %s failed", self.run_id)
            message = f"{type(exc).__name__}: {exc}"
        finally:
            self.executor.release(slot, self.run_id)
            self.end(status, message)
        return self.snapshot()

    def _follow(self, slot: Slot) -> tuple[RunStatus, str | None]:
        """Pull until the run ends; pass stops on (from this process or, via the store, from another)."""
        asked = False
        while True:
            update = ray.get(slot.actor.pull.remote(self.run_id), timeout=PULL_TIMEOUT)
            state = self._apply(update)
            if RunStatus(state["status"]) not in (RunStatus.QUEUED, RunStatus.RUNNING):
                return RunStatus(state["status"]), state["message"]
            if not asked and (self._stop.is_set() or self.recorder.poll()):
                reason = self._stop_reason if self._stop.is_set() else "stopped from another process"
                slot.actor.stop.remote(self.run_id, reason)
                asked = True
            self._stop.wait(PULL_SECONDS)

    def _apply(self, update: dict[str, Any]) -> dict[str, Any]:
        """Write one pull's rows, checkpoint and state into the stream and the store."""
        state = update["state"]
        if update["steps"]:
            self.stream.add_steps(update["steps"], update["steps"][-1]["step"])
            self.recorder.add_steps(update["steps"])
        for row in update["epochs"]:
            self.stream.add_epoch(row)
            self.recorder.add_epoch(row)
        if update["checkpoint"] is not None:
            # weights_only: whatever the cluster sends, nothing in it runs here.
            payload = torch.load(io.BytesIO(update["checkpoint"]), weights_only=True)
            self.checkpoint = self.recorder.save_checkpoint(payload)
        values = {k: v for k, v in update["values"].items() if k in ("device", "params", "started")}
        if values:
            self.recorder.update(**values)
        live = {k: state[k] for k in ("samples_per_s", "seconds_per_step", "steps_per_epoch", "total_steps")}
        if state["status"] == RunStatus.RUNNING:
            if self.stream.status() != RunStatus.RUNNING:  # once: the store says running while it trains
                self.recorder.update(status=RunStatus.RUNNING)
            live.update(status=RunStatus.RUNNING, started=state["started"])
        elif state["status"] != RunStatus.QUEUED:  # ended: its result, with the checkpoint written here
            result = dict(state["result"] or {})
            result.pop("checkpoint", None)
            if self.checkpoint:
                result["checkpoint"] = self.checkpoint
            live["result"] = result
        self.stream.update(**live)
        return state


def connect(address: str) -> None:
    """Join (or start, for `local`) the cluster once per process, shipping this package to its workers.

    Ray's local processes (GCS, raylet) are started with a parent-death signal, which Linux ties to the
    *thread* that started them: started from a Streamlit script thread, they were killed when that
    script run ended, and the server went down with them (measured: exit 1 some 8 s after the first
    run). So Ray starts from a thread that lives as long as the process.
    """
    with _connect_lock:
        if ray.is_initialized():
            return
        started, failure = threading.Event(), []

        def keeper() -> None:
            try:
                _init(address)
            except BaseException as exc:  # handed to the caller below
                failure.append(exc)
            finally:
                started.set()
            threading.Event().wait()  # never returns: Ray's processes share this thread's life

        threading.Thread(target=keeper, name="ray-keeper", daemon=True).start()
        started.wait()
        if failure:
            raise PlaygroundError(f"cannot start or join the Ray cluster at {address}: {failure[0]}") from failure[0]


def _init(address: str) -> None:
    # Ray's core worker ends the whole process when it cannot reach the head's GCS for this long (60 s by
    # default): the app or CLI would exit with its runs left queued. Our own pull timeout notices a lost
    # head first and marks its runs interrupted, so the process stays up to say so.
    os.environ.setdefault("RAY_gcs_rpc_server_reconnect_timeout_s", str(GCS_RECONNECT_SECONDS))
    env = {"py_modules": [str(Path(playground.__file__).parent)], "excludes": ["__pycache__"]}
    if address == "local":
        ray.init(include_dashboard=False, object_store_memory=OBJECT_STORE_BYTES, runtime_env=env,
                 logging_level=logging.WARNING)
    else:
        ray.init(address=address, runtime_env=env, logging_level=logging.WARNING)


_connect_lock = threading.Lock()


def _nodes() -> list[tuple[dict, int]]:
    """Alive nodes and their GPU counts."""
    return [(n, int(n["Resources"].get("GPU", 0))) for n in ray.nodes() if n.get("Alive")]
