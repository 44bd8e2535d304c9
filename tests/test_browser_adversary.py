"""In real Chromium, adversary round four: what AppTest cannot show (a download built on the click)."""
import io
import zipfile

import numpy as np
import pytest

from playground import own
from tests.conftest import with_a_tiny_run

from browser import ARTIFACTS, browser_page, open_draw, require_chromium, streamlit_server, wait_idle

pytestmark = pytest.mark.browser


def test_your_own_data_downloads_as_a_zip_built_on_the_click(tmp_path, monkeypatch):
    require_chromium()
    home = tmp_path / "home"
    monkeypatch.setenv("PLAYGROUND_HOME", str(home))
    with_a_tiny_run(home)
    rng = np.random.default_rng(0)
    snap = own.write_snapshot(list(range(20)), [i % 2 for i in range(20)],
                              [rng.integers(0, 255, (28, 28), dtype=np.uint8) for _ in range(20)],
                              classes=("a", "b"), name="marks", per_class=own.MIN_PER_OWN_CLASS)
    with streamlit_server(home, ARTIFACTS / "browser-adversary.log") as (url, _server), \
            browser_page("adversary-download") as page:
        open_draw(page, url)
        page.get_by_text("📦 Your own data as an image folder").click()
        wait_idle(page)
        with page.expect_download(timeout=60_000) as got:
            page.get_by_role("button", name="Download it (zip").click()
        data = tmp_path / "got.zip"
        got.value.save_as(data)
        assert got.value.suggested_filename == f"{snap.name}.zip"
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "adversary-download.png"))
    names = zipfile.ZipFile(io.BytesIO(data.read_bytes())).namelist()
    assert f"{snap.name}/own.json" in names
    assert own.read_zip(data.read_bytes())[0] == ("a", "b")
