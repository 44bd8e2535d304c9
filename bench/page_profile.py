"""Where each page's time goes, per rerun: every page under Streamlit's AppTest and cProfile.

    .venv/bin/python -m bench.page_profile [--reruns 3] [--top 12]   # from the repository root (~2 min)

A fresh home gets a few finished tiny MNIST runs (LSTM, GRU, LeNet) and 20 kept drawings. Per page:
a first run (the visit), then `reruns` reruns without cProfile and `reruns` under it (on Draw each one a
new stroke on the canvas). CPU time is the process's (time.process_time: the script thread plus the torch
threads it wakes), so the numbers mean something on a loaded machine where wall time does not; wall time is
printed too. Writes bench/results/page_profile.json: per page the first run's and the median rerun's
CPU seconds (profiled, and unprofiled: cProfile's per-call cost inflates Python-heavy code several-fold)
and the top functions by cumulative time (the project's own first, then any).
"""
from __future__ import annotations

import argparse
import contextlib
import cProfile
import json
import os
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

PAGES = ["pages/home.py", "pages/learn.py", "pages/train.py", "pages/compare.py", "pages/draw.py", "pages/inside.py"]
OWN = tuple(str(ROOT / d) for d in ("pages", "ui", "playground"))


def make_home(home: Path, archs: tuple[str, ...] = ("lstm", "gru", "lenet")) -> None:
    """A finished tiny MNIST run per architecture in `archs`, and 20 kept drawings."""
    from playground.data import load_dataset
    from playground.engine.training import Trainer
    from playground.store import RunStore

    from conftest import tiny

    store = RunStore(home)
    for arch in archs:
        cfg = tiny(arch=arch, epochs=1, limit=600, hidden=32, **({"normalize": "half"} if arch == "lenet" else {}))
        assert Trainer(cfg, store, store.create_run(cfg, f"tiny {arch}")).run().status == "finished"
    ds = load_dataset("mnist")
    for i in range(20):
        store.add_drawing(ds.test_x[i, 0].numpy().astype(np.float32) / 255, int(ds.test_y[i]))
    store.close()


def strokes(n: int) -> list[np.ndarray]:
    """Canvas inks (280x280 uint8), each a different MNIST digit drawn large: one per 'stroke'."""
    from playground.data import load_dataset

    from conftest import on_canvas

    ds = load_dataset("mnist")
    return [on_canvas(ds.test_x[100 + i, 0].numpy(), 200, 40, 40) for i in range(n)]


class ScriptProfiler:
    """cProfile inside AppTest's script thread (the page runs there, not in the caller's thread)."""

    def __init__(self):
        from streamlit.testing.v1.local_script_runner import LocalScriptRunner

        self.profile: cProfile.Profile | None = None
        real = LocalScriptRunner._run_script_thread
        me = self

        def run_profiled(runner):
            if me.profile is None:
                return real(runner)
            me.profile.enable()
            try:
                return real(runner)
            finally:
                me.profile.disable()

        LocalScriptRunner._run_script_thread = run_profiled

    @contextlib.contextmanager
    def on(self):
        self.profile = cProfile.Profile(time.process_time)  # CPU, not wall: the machine is shared
        try:
            yield self.profile
        finally:
            self.profile = None


def top(profile: cProfile.Profile, n: int) -> dict[str, list]:
    stats = pstats.Stats(profile)
    rows = []
    for (file, line, name), (_, calls, _tt, ct, _) in stats.stats.items():
        rows.append((ct, calls, f"{os.path.relpath(file, ROOT) if file.startswith(str(ROOT)) else file}:{line}({name})",
                     file.startswith(OWN)))
    rows.sort(reverse=True)
    fmt = [[round(ct, 3), calls, where] for ct, calls, where, _ in rows]
    return {"own": [r for r, row in zip(fmt, rows, strict=True) if row[3]][:n], "any": fmt[:n]}


def profile_page(path: str, reruns: int, n: int, profiler: ScriptProfiler, inks: list, canvas: dict) -> dict:
    from conftest import app_page

    at = app_page(path, timeout=300)
    canvas["ink"] = inks[0]
    cpu, wall = time.process_time(), time.perf_counter()
    at.run()
    first = (time.process_time() - cpu, time.perf_counter() - wall)
    assert not at.exception, at.exception
    plain = []  # the same reruns without cProfile, whose per-call cost inflates Python-heavy code several-fold
    for i in range(reruns):
        canvas["ink"] = inks[(i + 1) % len(inks)]
        cpu = time.process_time()
        at.run()
        plain.append(time.process_time() - cpu)
        assert not at.exception, at.exception
    cpus, walls = [], []
    with profiler.on() as prof:
        for i in range(reruns):
            canvas["ink"] = inks[(i + 1) % len(inks)]  # a new stroke (other pages ignore it)
            cpu, wall = time.process_time(), time.perf_counter()
            at.run()
            cpus.append(time.process_time() - cpu)
            walls.append(time.perf_counter() - wall)
            assert not at.exception, at.exception
    return {"first_cpu_s": round(first[0], 3), "first_wall_s": round(first[1], 3),
            "rerun_cpu_s": round(statistics.median(cpus), 3), "rerun_wall_s": round(statistics.median(walls), 3),
            "rerun_cpu_all_s": [round(c, 3) for c in cpus],
            "rerun_cpu_unprofiled_s": round(statistics.median(plain), 3), "top_cumulative": top(prof, n)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reruns", type=int, default=3)
    parser.add_argument("--top", type=int, default=12)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "page_profile.json"))
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="pg-profile-"))
    os.environ["PLAYGROUND_HOME"] = str(home)
    os.chdir(ROOT)
    make_home(home)
    import ui.draw_input

    inks, canvas = strokes(args.reruns + 1), {"ink": None}
    ui.draw_input.canvas_ink = lambda key: canvas["ink"]  # AppTest has no canvas: its ink comes from here
    profiler = ScriptProfiler()
    load = os.getloadavg()[0]
    results = {"date": time.strftime("%Y-%m-%d %H:%M"), "load_1min": load, "cpus": os.cpu_count(),
               "reruns": args.reruns, "clock": "time.process_time (the whole process's CPU)", "pages": {}}
    print(f"load {load:.1f} on {os.cpu_count()} CPUs; CPU seconds per run (wall in brackets)")
    for path in PAGES:
        r = profile_page(path, args.reruns, args.top, profiler, inks, canvas)
        results["pages"][Path(path).stem] = r
        print(f"{Path(path).stem:8s} first {r['first_cpu_s']:6.2f} s ({r['first_wall_s']:.2f})   "
              f"rerun {r['rerun_cpu_s']:6.2f} s ({r['rerun_wall_s']:.2f}), unprofiled "
              f"{r['rerun_cpu_unprofiled_s']:.2f} s", flush=True)
        for ct, calls, where in r["top_cumulative"]["own"][:6]:
            print(f"    {ct:7.3f} s  {calls:6d}x  {where}")
    Path(args.out).write_text(json.dumps(results, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
