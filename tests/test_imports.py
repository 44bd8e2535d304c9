"""The library never imports streamlit: the CLI, the engine and the charts load without it."""
import json
import subprocess
import sys

import pytest

from conftest import ROOT

LIBRARY = ("playground.cli", "playground.engine.training", "playground.charts", "playground.engine.jobs",
           "playground.store")

# A fresh interpreter: in this one, the app tests may already have imported streamlit.
PROBE = f"""
import json, sys
import {", ".join(LIBRARY)}
print(json.dumps(sorted(name for name in sys.modules if name == "streamlit" or name.startswith("streamlit."))))
"""


@pytest.mark.slow
def test_the_library_pulls_in_no_streamlit():
    proc = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.splitlines()[-1]) == []


@pytest.mark.slow
def test_the_probe_would_see_streamlit():
    """The check above can fail: the same probe after importing streamlit lists it."""
    probe = PROBE.replace("import json, sys", "import json, sys, streamlit")
    proc = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "streamlit" in json.loads(proc.stdout.splitlines()[-1])


# Ray made unimportable, as on a machine where it was never installed.
NO_RAY = "import sys; sys.modules['ray'] = None; from playground.cli import main; sys.exit(main(sys.argv[1:]))"


@pytest.mark.slow
def test_training_runs_without_ray_and_asking_for_it_says_how_to_install(tmp_path):
    env = {"PLAYGROUND_HOME": str(tmp_path)}
    args = ["train", "--arch", "lstm", "--hidden", "8", "--limit", "200", "--epochs", "1", "--device", "cpu"]
    local = run_no_ray(args, env)
    assert local.returncode == 0 and '"status": "finished"' in local.stdout, local.stderr
    remote = run_no_ray([*args, "--ray", "local"], env)
    assert remote.returncode == 2 and "pip install -r requirements-cluster.txt" in remote.stderr, remote.stderr


def run_no_ray(args, env):
    import os

    return subprocess.run([sys.executable, "-c", NO_RAY, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=180, env={**os.environ, **env})
