"""Several sessions of the app at once, in one fresh server process, as a classroom opens it: Train, Draw and
Inside side by side. Issue 30: a session drawing a chart while another session's first table imported pandas
died with "partially initialized module 'pandas' has no attribute 'Series'"."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from playground.engine.training import Trainer
from playground.store import RunStore

from conftest import ROOT, tiny

# Each session does what its page does first (the frame imports ui.preload before every page but Home's text),
# then its first chart or table.
SESSIONS_IMPORTING = """
import json, threading, traceback
import numpy as np
errors, start = [], threading.Barrier(3)

def session(work):
    def run():
        try:
            start.wait()
            import ui.preload  # noqa: F401
            work()
        except Exception:
            errors.append(traceback.format_exc(limit=-2))
    return run

def train():  # the live charts
    from playground import charts
    for _ in range(40):
        charts.confusion(np.eye(10, dtype=np.int64), list("0123456789"), "a chart").to_json()

def draw():  # the accuracy table
    from streamlit import dataframe_util
    dataframe_util.convert_anything_to_arrow_bytes([{"model": "#1", "accuracy on your drawings": 0.5}])

def inside():
    from playground import charts
    for _ in range(40):
        charts.confusion(np.ones((2, 2), dtype=np.int64), ["a", "b"], "another").to_json()

threads = [threading.Thread(target=session(w)) for w in (train, draw, inside)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(json.dumps(errors))
"""


def fresh_python(code: str, env: dict | None = None) -> list:
    """Run `code` in a fresh interpreter (nothing imported yet, as a new server); its last line, as JSON."""
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_sessions_drawing_charts_while_another_opens_its_first_table_get_whole_modules():
    errors = fresh_python(SESSIONS_IMPORTING)
    assert errors == [], errors[0]


# Three AppTests in threads, one server's worth: AppTest swaps in a mock Runtime of its own for each run and
# clears it after, so the sessions share one here, as the sessions of a server share its Runtime.
SESSIONS_APP = """
import contextlib, json, sys, threading, traceback
from unittest.mock import MagicMock

import streamlit.testing.v1.app_test as app_test
from streamlit import config
from streamlit.runtime import Runtime
from streamlit.runtime.caching.storage.dummy_cache_storage import MemoryCacheStorageManager
from streamlit.runtime.dataframe_source_manager import DataframeSourceManager
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.testing.v1.app_test import BidiComponentManager
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

runtime = MagicMock(spec=Runtime)
runtime.media_file_mgr = MediaFileManager(MemoryMediaFileStorage("/mock/media"))
runtime.dataframe_source_mgr = DataframeSourceManager()
runtime.cache_storage_manager = MemoryCacheStorageManager()
runtime.bidi_component_registry = BidiComponentManager()
runtime.bidi_component_registry.discover_and_register_components(start_file_watching=False)
Runtime._instance = runtime
app_test.Runtime = type("EachRunsOwn", (), {"_instance": None})  # what each AppTest run sets and clears
app_test.patch_config_options = lambda options: contextlib.nullcontext()
config.set_option("global.appTest", True)

run_id, drawing = int(sys.argv[1]), int(sys.argv[2])
pages = {"train": ("pages/train.py", {}), "draw": ("pages/draw.py", {"draw_gallery": True}),  # its gallery open
         "inside": ("pages/inside.py", {"inside_model": run_id})}
start, found = threading.Barrier(len(pages)), {}

def session(name):
    path, state = pages[name]
    try:
        at = app_test.AppTest.from_file("app.py", default_timeout=240)
        at.switch_page(path)
        for key, value in state.items():
            at.session_state[key] = value
        start.wait()
        at.run()
        found[name] = [e.value for e in at.exception]
        if name == "draw" and not found[name]:  # a click, and the page again
            at.selectbox(key=f"relabel-{drawing}").set_value(4).run()
        elif not found[name]:
            at.run()
        found[name] += [e.value for e in at.exception]
    except Exception:
        found[name] = [traceback.format_exc(limit=-3)]

threads = [threading.Thread(target=session, args=(name,)) for name in pages]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(json.dumps(found))
"""


@pytest.mark.slow
def test_train_draw_and_inside_open_at_once_in_a_fresh_server_without_a_traceback(tmp_path):
    store = RunStore(tmp_path)
    cfg = tiny(arch="cnn", epochs=1, limit=300, width=4)
    run_id = store.create_run(cfg, "tiny cnn")
    assert Trainer(cfg, store, run_id).run().status == "finished"
    drawing = store.add_drawing(np.zeros((28, 28)), 7)
    store.close()
    found = fresh_python(SESSIONS_APP.replace("sys.argv[1]", repr(str(run_id))).replace("sys.argv[2]",
                                                                                       repr(str(drawing))),
                         env={"PLAYGROUND_HOME": str(tmp_path), "PLAYGROUND_TEST": "1"})
    assert found == {"train": [], "draw": [], "inside": []}, found
    assert [d.label for d in RunStore(tmp_path).list_drawings()] == [4]  # the Draw session really ran
