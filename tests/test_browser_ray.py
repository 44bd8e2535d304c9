"""The Train page with PLAYGROUND_RAY_ADDRESS=local: the run trains on a Ray actor, live, and stops."""
import pytest
from test_browser import last_step_above

from playground.errors import RunStatus
from playground.store import RunStore

from browser import ARTIFACTS, browser_page, click_now, require_chromium, start_training, streamlit_server
from conftest import need_ray

pytestmark = pytest.mark.browser
need_ray()


def test_train_page_on_a_local_ray_cluster(tmp_path):
    require_chromium()
    ARTIFACTS.mkdir(exist_ok=True)
    home, log = tmp_path / "home", ARTIFACTS / "ray-server.log"
    with streamlit_server(home, log, env={"PLAYGROUND_RAY_ADDRESS": "local"}) as (url, _server), \
            browser_page("train-ray") as page:
        start_training(page, url, epochs=50)
        first = last_step_above(page, 0, timeout=120_000)  # Ray starts, the actor loads, rows come back
        last_step_above(page, first, timeout=60_000)
        click_now(page, "Stop")
        page.get_by_text("stopped by the user").first.wait_for(timeout=60_000)
        page.screenshot(path=str(ARTIFACTS / "train-ray-after-stop.png"))
    rec = RunStore(home).list_runs()[0]
    assert rec.status == RunStatus.STOPPED and rec.executor == "ray local" and rec.node
    assert rec.checkpoint is not None
    assert "Traceback" not in log.read_text(), log.read_text()[-3000:]
