"""The library never imports streamlit: the CLI, the engine and the charts load without it."""
import json
import subprocess
import sys

from conftest import ROOT

LIBRARY = ("playground.cli", "playground.training", "playground.charts", "playground.jobs", "playground.store")

# A fresh interpreter: in this one, the app tests may already have imported streamlit.
PROBE = f"""
import json, sys
import {", ".join(LIBRARY)}
print(json.dumps(sorted(name for name in sys.modules if name == "streamlit" or name.startswith("streamlit."))))
"""


def test_the_library_pulls_in_no_streamlit():
    proc = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.splitlines()[-1]) == []


def test_the_probe_would_see_streamlit():
    """The check above can fail: the same probe after importing streamlit lists it."""
    probe = PROBE.replace("import json, sys", "import json, sys, streamlit")
    proc = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "streamlit" in json.loads(proc.stdout.splitlines()[-1])
