"""A normal server shutdown (SIGTERM) leaves every run stopped, with its checkpoint."""
import pytest

from playground.errors import RunStatus
from playground.store import RunStore

from browser import ARTIFACTS, browser_page, require_chromium, start_training, streamlit_server

pytestmark = pytest.mark.browser


def test_sigterm_leaves_the_running_run_stopped_with_a_checkpoint(tmp_path):
    require_chromium()
    ARTIFACTS.mkdir(exist_ok=True)
    home, log = tmp_path / "home", ARTIFACTS / "shutdown-server.log"
    with streamlit_server(home, log) as (url, server), browser_page("shutdown") as page:
        start_training(page, url, epochs=50)
        page.get_by_role("button", name="⏹ Stop").wait_for(timeout=60_000)
        store = RunStore(home)
        for _ in range(300):  # until its first steps are stored (flushed every 2 s)
            runs = store.list_runs()
            if runs and store.steps(runs[0].id):
                break
            page.wait_for_timeout(200)
        server.terminate()
        server.wait(timeout=90)
    rec = store.list_runs()[0]
    assert rec.status == RunStatus.STOPPED and "shut down" in rec.message, rec
    assert rec.checkpoint is not None
    text = log.read_text()
    assert "terminate called" not in text and "Traceback" not in text, text[-3000:]
