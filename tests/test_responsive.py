"""Responsiveness that a test can check without timing: what a fresh server sends before its slow imports,
and what a rerun of a page does not redo (bench/page_profile.py and bench/page_speed.py measure the time)."""
import json
import subprocess
import sys

import pytest

from conftest import ROOT

# A fresh interpreter (no torch, no pandas yet), the app under AppTest on its home page: which texts Streamlit had
# been sent when the first slow import began.
FIRST_PAINT = """
import importlib.abc, json, sys
from streamlit.runtime.scriptrunner_utils.script_run_context import ScriptRunContext
from streamlit.testing.v1 import AppTest

sent, seen = [], {}
real = ScriptRunContext.enqueue
def enqueue(self, msg):
    sent.append(str(msg))
    return real(self, msg)
ScriptRunContext.enqueue = enqueue

class Watch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name in ("torch", "pandas") and name not in seen:
            seen[name] = any("Loading" in m for m in sent)
        return None
sys.meta_path.insert(0, Watch())
assert "torch" not in sys.modules and "pandas" not in sys.modules
at = AppTest.from_file("app.py", default_timeout=120).run()
assert not at.exception, at.exception
print(json.dumps({"seen": seen, "title": [t.value for t in at.title]}))
"""


@pytest.mark.slow
def test_a_fresh_server_sends_a_placeholder_before_its_slow_imports(home):
    proc = subprocess.run([sys.executable, "-c", FIRST_PAINT], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.splitlines()[-1])
    assert out["seen"] == {"pandas": True, "torch": True}, out
    assert out["title"] == ["🧪 Playground"]
