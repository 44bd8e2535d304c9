"""The Learn page's lessons at their CPU scale, over several seeds: the spread each lesson quotes.

    .venv/bin/python -m bench.lessons [--lessons rnn-rows,memory,...] [--seeds 3] [--scale cpu]

Each lesson run (playground.lessons) trains once per seed through a JobRegistry, two at a time
with one CPU thread each (as the app trains them), into a throwaway store. Prints one JSON
object: per lesson and run, min/max/mean test accuracy, last-epoch training and validation accuracy,
the gap between those two, and seconds per run; writes it to bench/results/lessons-<scale>.json (a
subset of lessons updates only theirs there). Copy the numbers into playground/measured.py: the lesson
texts are formatted from that table, and tests/test_learn.py checks it equals the file it names.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import torch

from playground.engine.jobs import JobRegistry
from playground.explain import deletion_scores
from playground.inference import load_checkpoint
from playground.lessons import BY_KEY, LESSONS, run_result
from playground.store import RunStore

DELETION_KEYS = ("salient_drop", "random_drop", "untrained_salient_drop", "untrained_random_drop")
RESULTS = Path(__file__).resolve().parents[1] / "bench" / "results"


def spread(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    return {"min": round(min(values), 4), "max": round(max(values), 4), "mean": round(statistics.fmean(values), 4)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lessons", default=",".join(lesson.key for lesson in LESSONS))
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--scale", default="cpu", choices=("cpu", "gpu", "tiny"))
    ap.add_argument("--concurrent", type=int, default=2)
    args = ap.parse_args()
    wanted = args.lessons.split(",")
    lessons = [lesson for lesson in LESSONS if lesson.key in wanted]
    started = time.time()
    with tempfile.TemporaryDirectory() as home:
        store = RunStore(home)
        registry = JobRegistry(store, max_concurrent=args.concurrent,
                               threads_per_run=1 if args.scale != "gpu" else None)
        jobs = []  # (lesson, run, seed, id)
        for lesson in lessons:
            for run, cfg in lesson.configs(args.scale):
                for seed in range(args.seeds):
                    jobs.append((lesson.key, run.key, seed,
                                 registry.submit(cfg.override(seed=seed), name=f"{lesson.key}/{run.key}/{seed}")))
        rows = []
        for lesson_key, run_key, seed, run_id in jobs:
            snap = registry.wait(run_id)
            res = run_result(snap.result, snap.epoch_rows)
            if BY_KEY[lesson_key].deletion == run_key and snap.result.get("checkpoint"):
                loaded = load_checkpoint(snap.result["checkpoint"])
                res.update({k: round(v, 4) for k, v in deletion_scores(loaded.model, loaded.config).items()})
            rows.append({"lesson": lesson_key, "run": run_key, "seed": seed, "status": str(snap.status),
                         "message": snap.message, "seconds": round(snap.elapsed, 1), **res})
            print(json.dumps(rows[-1]), flush=True)
        registry.shutdown()
        store.close()
    summary: dict = {}
    for row in rows:
        entry = summary.setdefault(row["lesson"], {}).setdefault(row["run"], {"rows": []})
        entry["rows"].append(row)
    for runs in summary.values():
        for key, entry in runs.items():
            got = entry.pop("rows")
            runs[key] = {**{k: spread([r[k] for r in got if k in r]) for k in ("test_acc", "train_acc")},
                         **{k: spread([r[k] for r in got if k in r]) for k in ("val_acc", "gap")
                            if any(k in r for r in got)},
                         "seconds": spread([r["seconds"] for r in got]),
                         **{k: spread([r[k] for r in got if k in r]) for k in DELETION_KEYS
                            if any(k in r for r in got)},
                         "seeds": len(got), "failed": [r for r in got if r["status"] != "finished"]}
    out = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, "
                      f"{torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'no GPU'}",
           "torch": torch.__version__, "scale": args.scale, "seeds": args.seeds, "concurrent": args.concurrent,
           "wall_seconds": round(time.time() - started, 1), "lessons": summary}
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"lessons-{args.scale}.json"
    if path.is_file() and set(summary) != {lesson.key for lesson in LESSONS}:  # a subset: keep the others' rows
        kept = json.loads(path.read_text()).get("lessons", {})
        out["lessons"] = {**kept, **summary}
        out["updated"] = sorted(summary)
    path.write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
