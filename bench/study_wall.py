"""Where a study's wall time goes beyond its runs' training time.

    .venv/bin/python -m bench.study_wall [--recipe cnn] [--variants none,l2,dropout,batchnorm] [--epochs 100]
                                         [--limit 1500] [--val 0.4] [--lr 0.03] [--at-once 2] [--seeds 1]

Defaults: the Compare page's default study (engine/study.py), with a fourth variant so that the runs fill both
slots to the end (3 equal runs on 2 slots leave one idle for a third of the time whatever the engine does).
Runs a study as the CLI and the Compare page do (one JobRegistry, the app's thread policy, a store in a
temporary home) and times each phase of every run by wrapping the engine's functions in this process:
dataset loading, the rest of prepare, training epochs (the runs' own train_seconds), evaluation
(validation + train probe each epoch, the test set at the end), checkpoints, the recorder's SQLite
writes, and what is left (queue gaps: a slot with no run in it). Target (issue 24): wall <= 1.2 x
sum(train_seconds) / runs at once. Writes bench/results/study_wall-<recipe>.json.
"""
from __future__ import annotations

import argparse
import collections
import dataclasses
import functools
import json
import os
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
SECONDS: dict[str, float] = collections.defaultdict(float)  # phase -> seconds, summed over runs
_LOCK = threading.Lock()
_DEPTH = threading.local()  # nested timed calls count once, in the outermost phase


def timed(phase: str, fn):
    """`fn` timed into SECONDS[phase]; a phase named "~..." is always counted and nests nothing."""
    always = phase.startswith("~")

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        depth = getattr(_DEPTH, "n", 0)
        _DEPTH.n = depth + (not always)
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            _DEPTH.n = depth
            if depth == 0 or always:
                with _LOCK:
                    SECONDS[phase.lstrip("~")] += time.perf_counter() - t0
    return wrapper


def instrument() -> None:
    """Wrap the engine's phases (this process only; nothing in the library changes)."""
    from playground.engine import publish, recorder, runner, training

    runner.load_dataset = timed("~data loading", runner.load_dataset)  # counted inside prepare too
    T = training.Trainer
    T.prepare = timed("prepare", T.prepare)
    T.train_epoch = timed("train epochs", T.train_epoch)
    publish.evaluate = timed("evaluation", publish.evaluate)
    publish.save_checkpoint = timed("checkpoints", publish.save_checkpoint)
    R = recorder.StoreRecorder
    for name in ("update", "flush", "finish", "settle", "poll"):
        setattr(R, name, timed("store writes", getattr(R, name)))
    T.run = timed("~run wall", T.run)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    from playground.engine import study

    parser.add_argument("--recipe", default="cnn")
    parser.add_argument("--variants", default="none,l2,dropout,batchnorm")
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=study.STUDY_EPOCHS)
    parser.add_argument("--limit", type=int, default=study.STUDY_LIMIT)
    parser.add_argument("--val", type=float, default=study.STUDY_VAL_FRACTION)
    parser.add_argument("--lr", type=float, default=study.STUDY_LR)
    parser.add_argument("--eval-every", dest="eval_every", type=int, default=0,
                        help="0: the study's own choice (estimate.eval_every_for); 1: every epoch")
    parser.add_argument("--at-once", dest="at_once", type=int, default=2)
    parser.add_argument("--cold", action="store_true",
                        help="count the process's first dataset load and model-code import in the study (the CLI's "
                             "case); by default they happen before the clock starts, as in the app's server after "
                             "its first run")
    args = parser.parse_args()
    instrument()
    from playground.engine.jobs import JobRegistry
    from playground.settings import Settings
    from playground.store import RunStore

    load_before = os.getloadavg()
    runs = study.study_runs(args.recipe, args.variants.split(","), args.seeds, epochs=args.epochs,
                            limit=args.limit, val_fraction=args.val, lr=args.lr)
    if not args.cold:
        from playground.data import load_dataset
        from playground.estimate import work

        load_dataset(runs[0].config.data.dataset)
        work(runs[0].config)
        SECONDS.clear()
    if args.eval_every:
        runs = [dataclasses.replace(r, config=r.config.override(eval_every=args.eval_every)) for r in runs]
    print("eval_every:", sorted({r.config.optim.eval_every for r in runs}), "order:", [r.label for r in runs])
    with tempfile.TemporaryDirectory() as home:
        jobs = JobRegistry(RunStore(Path(home)), max_concurrent=args.at_once,
                           threads_per_run=Settings.from_env().threads_per_run)
        t0, t_start = time.perf_counter(), time.time()
        rows = study.run_study(jobs, runs, poll=0.1)
        wall = time.perf_counter() - t0
        recs = [jobs.store.get_run(r["run_id"]) for r in rows]
        train = sum(rec.result.get("train_seconds", 0.0) for rec in recs)
        for rec in recs:
            print(f"  {rec.name}: train {rec.result.get('train_seconds', 0):.1f} s, "
                  f"from {rec.started - t_start:.1f} s to {rec.ended - t_start:.1f} s of the study")
        jobs.shutdown()
    report(args, wall, train, load_before)


def report(args: argparse.Namespace, wall: float, train: float, load_before: tuple[float, ...]) -> None:
    s = dict(SECONDS)
    slots = wall * args.at_once  # run-slot seconds the study had
    accounted = s.get("run wall", 0.0)
    phases = {k: s.get(k, 0.0) for k in ("data loading", "prepare", "train epochs", "evaluation", "checkpoints",
                                         "store writes")}
    phases["prepare"] -= phases["data loading"]
    phases["rest of each run"] = accounted - sum(phases.values())
    phases["queue gaps (slots idle)"] = slots - accounted
    ideal = train / args.at_once
    print(f"\n{args.recipe} study: {args.variants} x {args.seeds} seed(s), {args.epochs} epochs, limit {args.limit}, "
          f"{args.at_once} at once, {'cold' if args.cold else 'warm'} process; "
          f"load average before {load_before[0]:.1f}, after {os.getloadavg()[0]:.1f}")
    print(f"wall {wall:.1f} s; sum of train_seconds {train:.1f} s; / at once = {ideal:.1f} s; "
          f"wall / that = {wall / ideal:.2f}x (target <= 1.2x)")
    print(f"{'phase (summed over runs)':<28} {'seconds':>8} {'share of slots':>15}")
    for k, v in phases.items():
        print(f"{k:<28} {v:>8.1f} {v / slots:>14.0%}")
    RESULTS.mkdir(exist_ok=True)
    out = {"args": vars(args), "date": time.strftime("%Y-%m-%d %H:%M"), "load_before": load_before,
           "load_after": os.getloadavg(), "wall": wall, "train_seconds": train, "ratio": wall / ideal,
           "phases": phases}
    (RESULTS / f"study_wall-{args.recipe}.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
