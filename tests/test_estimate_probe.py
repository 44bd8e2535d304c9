"""The speed probe times steps in the state the runs train in: the C heap pinned (engine/heap.py), in a fresh process
as on a first visit. Counted in page faults, not seconds, so the answer does not hang on this machine's load."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from playground.engine.heap import pin_heap

ROOT = Path(__file__).resolve().parents[1]

# A fresh process (nothing large freed yet, as a first visit's server): the default study's CNN probed, each timed
# step's minor page faults read from the clock the probe reads.
PROBE = """
import json, resource, time
from playground import estimate
from playground.config import recipe
faults = []
def clock():
    faults.append(resource.getrusage(resource.RUSAGE_THREAD).ru_minflt)
    return time.perf_counter()
cfg = estimate.probe_shape(recipe("cnn").override(lr=0.03, device="cpu"))
estimate.probe_rate(cfg, threads=1, seconds=0.3, clock=clock)
steps = [b - a for a, b in zip(faults[1:], faults[2:])]  # after the first timed step
print(json.dumps(sorted(steps)[len(steps) // 2]))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux") or not pin_heap(), reason="glibc's mallopt only")
def test_a_first_probe_steps_without_faulting_its_buffers_in_again():
    """Issue 29: the default study's estimate was 1.5x its wall time. A fresh process's CNN steps faulted ~4,000
    pages each (glibc handed each step's 4 MiB buffers back to the OS and faulted them in again), 1.7x the CPU time
    of a step in a process whose heap thresholds had risen; the runs had. Pinned, a step reuses its buffers."""
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    median_faults = json.loads(out.stdout.strip().splitlines()[-1])
    assert median_faults < 100  # unpinned: 3,400-4,100 a step here


def test_the_pages_cached_probe_keeps_the_measured_eval_cost(monkeypatch):
    """The pages cache each probe as plain values: the eval cost it measured must survive the cache, not fall back
    to a third of a step (the CNN's evaluations cost 0.55 of one)."""
    from playground import estimate
    from playground.config import recipe
    from ui import estimate_view

    monkeypatch.setattr(estimate, "probe_rate", lambda *a, **k: estimate.Rate(2e-10, "a 0.4 s probe", 0.55))
    estimate_view._probe.clear()
    try:
        got = estimate.Rate(*estimate_view._probe(estimate.probe_shape(recipe("cnn")).to_json(), 1, "cpu", 1))
    finally:
        estimate_view._probe.clear()
    assert got == estimate.Rate(2e-10, "a 0.4 s probe", 0.55)
