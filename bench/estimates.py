"""First-use time estimates against the wall time they predict: each case estimated from a probe made in a fresh
process with an empty store (what a first visit gets), then run as the app runs it, right after.

    .venv/bin/python -m bench.estimates [--cases memory,noise,study,study-tiny] [--scale cpu] [--recompute]
                                        [--tiny-epochs 10] [--tiny-limit 300]

A lesson's runs, the default study and the tiny study (the Compare form's defaults at `--tiny-epochs` and
`--tiny-limit`) train through a JobRegistry into a throwaway store, two at a time with one
CPU thread each (the app's CPU policy). Each
case records its probes, the estimate, the wall time and their ratio, and the load average before and after (on
a busy machine absolute times mean little; a probe made at the same moment as the run is comparable).
`--recompute` re-derives the estimates from the recorded probes with the current model (no new runs).
Appends each case's round to bench/results/estimates.json.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parents[1] / "bench" / "results" / "estimates.json"
AT_ONCE = 2  # the app's CPU policy: two runs at once, one thread each
TINY_STUDY = {"epochs": 10, "limit": 300}  # "study-tiny": the default study at few epochs on few images


def case_configs(case: str, scale: str) -> list:
    from playground.compare import StudyChoice, study_plan
    from playground.config import recipe
    from playground.engine.study import STUDY_DROPOUT, STUDY_EPOCHS, STUDY_L2, STUDY_LIMIT, STUDY_LR, STUDY_VAL_FRACTION
    from playground.lessons import BY_KEY

    if case in ("study", "study-tiny"):  # the Compare form's defaults, at its scale or a tiny one
        size = TINY_STUDY if case == "study-tiny" else {"epochs": STUDY_EPOCHS, "limit": STUDY_LIMIT}
        base = recipe("cnn").override(**size, val_fraction=STUDY_VAL_FRACTION, lr=STUDY_LR, seed=0)
        return [cfg for _, cfg in study_plan(base, StudyChoice(baseline=True, l2=STUDY_L2, dropout=STUDY_DROPOUT))]
    return [cfg for _, cfg in BY_KEY[case].configs(scale)]


def probe_fresh(case: str, scale: str) -> dict:
    """The probes a first visit makes, in a fresh process: {shape json: seconds per unit}."""
    code = (f"import json, bench.estimates as b; print(json.dumps(b.probes({case!r}, {scale!r})))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1])
    return json.loads(out.stdout.strip().splitlines()[-1])


def probes(case: str, scale: str) -> dict:
    """{shape json: {"1": seconds per unit alone, "2": two at once, "eval 1", "eval 2": the eval costs measured}}."""
    from playground import estimate

    got: dict[str, dict[str, float]] = {}
    configs = case_configs(case, scale)
    copies = max(1, min(AT_ONCE, len(configs)))  # as estimate.estimate asks its probe: shared, and alone
    for cfg in configs:
        shape = estimate.probe_shape(cfg)
        if shape.to_json() not in got:
            got[shape.to_json()] = row = {}
            for n in sorted({1, copies}):
                rate = estimate.probe_rate(shape, threads=1, copies=n)
                row[str(n)], row[f"eval {n}"] = rate.seconds_per_unit, rate.eval_cost
    return got


def estimate_of(case: str, scale: str, probed: dict, loaded: bool = True) -> dict:
    """The first-use estimate from recorded probes, with the model as it is now (playground.estimate); `loaded`:
    whether the process that runs the case holds its dataset already. Rounds probed before the probe measured
    the eval cost count it at estimate.EVAL_COST."""
    from playground import estimate

    def probe(cfg, copies):
        row = probed[estimate.probe_shape(cfg).to_json()]
        return estimate.Rate(row[str(copies)], "probe", row.get(f"eval {copies}", estimate.EVAL_COST))
    got = estimate.estimate(case_configs(case, scale), [], at_once=AT_ONCE, probe=probe, loaded=lambda _: loaded)
    return {"seconds": got.seconds}


def run_case(case: str, scale: str) -> dict:
    """Run the case as the app does; its wall time and each run's elapsed and training seconds."""
    from playground.engine.jobs import JobRegistry
    from playground.engine.study import submit_all
    from playground.store import RunStore

    with tempfile.TemporaryDirectory() as home:
        store = RunStore(home)
        registry = JobRegistry(store, max_concurrent=AT_ONCE, threads_per_run=1)
        configs = case_configs(case, scale)
        start = time.perf_counter()
        if case.startswith("study"):
            ids = submit_all(registry, configs, [f"study {i}" for i in range(len(configs))])
        else:
            ids = [registry.submit(cfg, name=f"{case} {i}") for i, cfg in enumerate(configs)]
        snaps = [registry.wait(i) for i in ids]
        wall = time.perf_counter() - start
        runs = [{"status": str(s.status), "elapsed": round(s.elapsed, 2),
                 "train_seconds": round(s.result.get("train_seconds") or 0, 2)} for s in snaps]
        registry.shutdown()
        store.close()
    return {"wall_seconds": round(wall, 2), "runs": runs}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", default="memory,noise,study,study-tiny")
    ap.add_argument("--scale", default="cpu", choices=("cpu", "tiny", "gpu"))
    ap.add_argument("--recompute", action="store_true")
    ap.add_argument("--tiny-epochs", type=int, default=TINY_STUDY["epochs"])
    ap.add_argument("--tiny-limit", type=int, default=TINY_STUDY["limit"])
    args = ap.parse_args()
    TINY_STUDY.update(epochs=args.tiny_epochs, limit=args.tiny_limit)
    saved = json.loads(RESULTS.read_text()) if RESULTS.exists() else {"cases": {}}
    for case in args.cases.split(","):
        key = {"study": case, "study-tiny": f"{case}@{args.tiny_epochs}x{args.tiny_limit}"}.get(
            case, f"{case}@{args.scale}")
        rounds = saved["cases"].setdefault(key, [])
        if args.recompute:
            for row in rounds:
                if not all(isinstance(v, dict) for v in row["probes"].values()):
                    continue  # a round probed before the alone speed was: its estimate stays as made
                row.update(estimate_of(case, row["scale"], row["probes"], row.get("loaded", True)))
                row["ratio"] = round(row["seconds"] / row["wall_seconds"], 2)
                row["seconds"] = round(row["seconds"], 1)
        else:
            from playground.estimate import dataset_loaded

            load_before = os.getloadavg()[0]
            probed = probe_fresh(case, args.scale)
            loaded = all(dataset_loaded(cfg.data.dataset) for cfg in case_configs(case, args.scale))
            row = {"scale": args.scale, "probes": probed, "loaded": loaded,
                   **estimate_of(case, args.scale, probed, loaded),
                   **run_case(case, args.scale), "load_before": round(load_before, 1),
                   "load_after": round(os.getloadavg()[0], 1), "when": time.strftime("%Y-%m-%d %H:%M UTC",
                                                                                     time.gmtime())}
            row["ratio"] = round(row["seconds"] / row["wall_seconds"], 2)
            row["seconds"] = round(row["seconds"], 1)
            rounds.append(row)  # every round kept: on a busy machine one round says little
        print(json.dumps({key: [{k: r[k] for k in ("seconds", "wall_seconds", "ratio")} for r in rounds]}), flush=True)
        saved.update(machine=f"{platform.machine()}, {os.cpu_count()} CPUs", python=platform.python_version())
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(saved, indent=1) + "\n")


if __name__ == "__main__":
    main()
