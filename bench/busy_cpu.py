"""The CLI's training speed quiet vs beside one busy process, per intra-op thread policy.

    .venv/bin/python -m bench.busy_cpu [--recipe cnn] [--epochs 10] [--limit 2000] [--rounds 3]
                                       [--policies 1,2,2p]

Each trial is `python -m playground train --recipe R --epochs E --limit L` in a fresh process (what a
learner types) with a policy set through the environment; its samples/s is the engine's own figure
(training time only, from the JSON line). "busy" starts one single-threaded spinning process first
(the browser or an editor taking a core). Policies: `1` = PLAYGROUND_THREADS=1, `2` = 2 threads (torch's
default on 2 cores, what the CLI used before), `2p` = 2 threads with OMP_WAIT_POLICY=PASSIVE (OpenMP
threads sleep instead of spinning at barriers), `1p` = 1 thread, passive. Trials are interleaved
round by round, so the ratios compare like with like on a shared machine; the load average before and
after is printed and saved with the results (bench/results/busy_cpu-<recipe>.json).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
POLICIES = {"1": {"PLAYGROUND_THREADS": "1"}, "2": {"PLAYGROUND_THREADS": "2"},
            "2p": {"PLAYGROUND_THREADS": "2", "OMP_WAIT_POLICY": "PASSIVE"},
            "1p": {"PLAYGROUND_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE"}}
SPIN = "while True:\n    pass\n"


def trial(args: argparse.Namespace, policy: str, home: Path) -> float:
    """One CLI run; its samples/s."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PLAYGROUND_", "OMP_"))}
    env.update(POLICIES[policy], PLAYGROUND_HOME=str(home))
    cmd = [sys.executable, "-m", "playground", "train", "--recipe", args.recipe, "--epochs", str(args.epochs),
           "--limit", str(args.limit), "--device", "cpu"]
    out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {out.stderr[-800:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])["samples_per_s"]


def measure(args: argparse.Namespace, policies: list[str]) -> dict[str, dict[str, list[float]]]:
    speeds: dict[str, dict[str, list[float]]] = {p: {"quiet": [], "busy": []} for p in policies}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            for load in ("quiet", "busy"):
                spinner = subprocess.Popen([sys.executable, "-c", SPIN]) if load == "busy" else None
                try:
                    for policy in policies if r % 2 == 0 else policies[::-1]:
                        speeds[policy][load].append(trial(args, policy, Path(tmp)))
                        print(f"round {r + 1} {load:<5} policy {policy:<3} {speeds[policy][load][-1]:>8,.0f} "
                              f"samples/s (load {os.getloadavg()[0]:.1f})", flush=True)
                finally:
                    if spinner is not None:
                        spinner.kill()
                        spinner.wait()
    return speeds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default="cnn")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--limit", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--policies", default="1,2,2p")
    args = parser.parse_args()
    policies = args.policies.split(",")
    load_before, started = os.getloadavg(), time.time()
    speeds = measure(args, policies)
    med = {p: {k: statistics.median(v) for k, v in s.items()} for p, s in speeds.items()}
    base = med.get("2", next(iter(med.values())))["quiet"]  # the CLI's figure before the policy
    print(f"\n{args.recipe}, {args.epochs} epochs, limit {args.limit}; {args.rounds} rounds, medians; "
          f"load average before {load_before[0]:.1f}, after {os.getloadavg()[0]:.1f}")
    print(f"{'policy':<8} {'quiet':>9} {'busy':>9} {'busy/quiet':>11} {'quiet vs 2 threads':>19}")
    for p, m in med.items():
        print(f"{p:<8} {m['quiet']:>9,.0f} {m['busy']:>9,.0f} {m['busy'] / m['quiet']:>10.0%} "
              f"{m['quiet'] / base:>18.0%}")
    RESULTS.mkdir(exist_ok=True)
    out = {"args": vars(args), "date": time.strftime("%Y-%m-%d %H:%M"), "load_before": load_before,
           "load_after": os.getloadavg(), "seconds": round(time.time() - started), "speeds": speeds, "medians": med}
    (RESULTS / f"busy_cpu-{args.recipe}.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
