"""Five runs of one recipe at once on a CUDA GPU, each case in its own process (a crash ends only its case):
does a recurrent model with dropout between layers survive graph-captured packing?

    python -m bench.gpu_packed_check [--recipe gru3x200] [--limit 12000] [--epochs 1]

Cases: the engine as it is (graphs), dropout 0 with graphs, and graphs off. Prints one JSON line per case:
exit code, statuses, samples/s, seconds. (The H200 run of 2026-12-04 also tried recurrent dropout without
graphs as a guard against cuDNN's process-wide dropout state: no case crashed, and the guard cost 4x, so
the engine keeps graphs; bench/results/gpu_packed_check-h200.txt.)
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

CASES = {"graphs": ({}, None), "dropout 0": ({"dropout": 0.0}, None), "no graphs": ({}, "0")}


def one_case(recipe: str, limit: int, epochs: int, overrides: dict, device: str) -> None:
    import tempfile

    from playground.config import recipe as get
    from playground.engine.jobs import JobRegistry
    from playground.store import RunStore

    cfg = get(recipe).override(limit=limit, epochs=epochs, device=device, **overrides)
    with tempfile.TemporaryDirectory() as home:
        registry = JobRegistry(RunStore(home), max_concurrent=5)
        t0 = time.perf_counter()
        ids = [registry.submit(cfg.override(seed=s)) for s in range(5)]
        snaps = [registry.wait(i, timeout=600) for i in ids]
        wall = time.perf_counter() - t0
        print(json.dumps({"statuses": [str(s.status) for s in snaps], "messages": [s.message for s in snaps],
                          "samples_per_s": round(sum(s.samples_per_s or 0 for s in snaps)),
                          "wall_s": round(wall, 1)}), flush=True)
        registry.shutdown()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--recipe", default="gru3x200")
    ap.add_argument("--limit", type=int, default=12000)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--case")
    ap.add_argument("--device", default="cuda")
    args = ap.parse_args()
    if args.case:
        overrides, _ = CASES[args.case]
        one_case(args.recipe, args.limit, args.epochs, overrides, args.device)
        return
    for name, (_, graphs) in CASES.items():
        env = {**os.environ, **({"PLAYGROUND_CUDA_GRAPHS": graphs} if graphs else {})}
        proc = subprocess.run([sys.executable, "-m", "bench.gpu_packed_check", "--recipe", args.recipe, "--limit",
                               str(args.limit), "--epochs", str(args.epochs), "--case", name, "--device", args.device],
                              capture_output=True, text=True, env=env, timeout=300)
        last = (proc.stdout.strip().splitlines() or ["{}"])[-1]
        print(json.dumps({"case": name, "exit": proc.returncode, **json.loads(last if last.startswith("{") else "{}"),
                          "stderr_tail": proc.stderr.strip()[-300:] if proc.returncode else ""}), flush=True)


if __name__ == "__main__":
    main()
