"""A study of N runs on a Ray cluster of 1 vs 2 nodes (one actor each), against local threads.

    .venv/bin/python -m bench.cluster_speed [--runs 4] [--recipe lenet] [--limit 6000] [--epochs 1]

Each simulated node (ray.cluster_utils.Cluster, on this machine) gets one CPU, so its actor trains one
run at a time: 2 nodes should approach 2x the runs/minute of 1. On a real cluster, pass --address to
measure it instead. Prints runs/minute and per-run samples/s; writes bench/results/cluster_speed.json.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from playground.data import load_dataset
from playground.engine.executors import LocalExecutor
from playground.engine.jobs import JobRegistry
from playground.engine.study import run_study, study_runs
from playground.store import RunStore

RESULTS = Path(__file__).resolve().parent / "results"


def measure(executor, runs) -> dict:
    with tempfile.TemporaryDirectory() as home:
        jobs = JobRegistry(RunStore(home), max_concurrent=None, threads_per_run=1, executor=executor)
        t0 = time.perf_counter()
        rows = run_study(jobs, runs)
        wall = time.perf_counter() - t0
        rates = [jobs.store.get_run(r["run_id"]).result.get("samples_per_s", 0) for r in rows]
    assert all(r["status"] == "finished" for r in rows), rows
    return {"runs": len(rows), "seconds": round(wall, 1), "runs_per_minute": round(60 * len(rows) / wall, 2),
            "per_run_samples_per_s": round(sum(rates) / len(rates)), "nodes": sorted({r["node"] for r in rows})}


def on_cluster(nodes: int, runs) -> dict:
    import ray
    from ray.cluster_utils import Cluster

    from playground.engine.remote import RayExecutor

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False,
                                                            "object_store_memory": 200 * 1024 * 1024})
    for _ in range(nodes - 1):
        cluster.add_node(num_cpus=1, object_store_memory=200 * 1024 * 1024)
    cluster.wait_for_nodes()
    try:
        executor = RayExecutor(cluster.address)
        result = measure(executor, runs)
        executor.shutdown()
        return result
    finally:
        ray.shutdown()
        cluster.shutdown()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--runs", type=int, default=4)
    p.add_argument("--recipe", default="lenet")
    p.add_argument("--limit", type=int, default=6000)
    p.add_argument("--epochs", type=int, default=1)
    a = p.parse_args()
    load_dataset("mnist")
    runs = study_runs(a.recipe, ["none"], seeds=a.runs, epochs=a.epochs, limit=a.limit)
    res = {"local, 1 at once": measure(LocalExecutor(1), runs),
           "local, 2 at once": measure(LocalExecutor(2), runs),
           "ray, 1 node": on_cluster(1, runs), "ray, 2 nodes": on_cluster(2, runs)}
    for name, row in res.items():
        print(f"{name:18s} {json.dumps(row)}", flush=True)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "cluster_speed.json").write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
