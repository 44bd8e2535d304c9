"""Issue 33 in Chromium: Draw's camera, fed a digit on paper by Chromium's fake video capture device."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from playground import data
from playground.engine.training import Trainer
from playground.store import RunStore

from browser import ARTIFACTS, browser_page, require_chromium, streamlit_server, wait_idle
from conftest import tiny

pytestmark = pytest.mark.browser
W, H = 640, 480


def y4m_of_a_digit(path, digit: np.ndarray, frames: int = 10) -> None:
    """A Y4M video (what --use-file-for-fake-video-capture plays) of a dark digit on light, unevenly lit paper."""
    ink = np.asarray(Image.fromarray(digit).resize((260, 260), Image.BILINEAR), np.float32) / 255
    y = np.full((H, W), 205.0) + np.linspace(-15, 15, W)[None, :]
    y[110:370, 190:450] *= 1 - 0.85 * ink
    plane = y.clip(16, 235).astype(np.uint8).tobytes()
    chroma = np.full((H // 2) * (W // 2), 128, np.uint8).tobytes()  # grey: no colour
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{W} H{H} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            f.write(b"FRAME\n" + plane + chroma + chroma)


def camera_page(video, name: str):
    """A chromium page whose camera plays `video` (Chromium's fake capture device, no permission prompt)."""
    return browser_page(name, flags=("--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                                      f"--use-file-for-fake-video-capture={video}"), permissions=("camera",))


def test_a_photo_from_the_camera_is_kept_as_a_drawing_with_its_label(tmp_path):
    require_chromium()
    home = tmp_path / "home"
    store = RunStore(home)
    cfg = tiny(epochs=1, limit=300, hidden=16)
    assert Trainer(cfg, store, store.create_run(cfg, "tiny")).run().status == "finished"
    video = tmp_path / "digit.y4m"
    y4m_of_a_digit(video, data.load_dataset("mnist").test_x[0, 0].numpy())  # a 7
    ARTIFACTS.mkdir(exist_ok=True)
    with streamlit_server(home, ARTIFACTS / "camera-server.log") as (url, _), camera_page(video, "camera") as page:
        page.goto(f"{url}/draw")
        page.get_by_text("Photograph a digit on paper").wait_for(timeout=90_000)
        wait_idle(page)
        page.get_by_text("Photograph a digit on paper").click()
        # The shot is the video element's current frame: before the first frame plays it is black.
        page.wait_for_function("() => { const v = document.querySelector('video'); "
                               "return v && v.readyState >= 2; }", timeout=60_000)
        page.evaluate("() => document.querySelector('video').play()")  # headless Chromium leaves it paused
        page.wait_for_function("() => document.querySelector('video').currentTime > 0.5", timeout=60_000)
        page.get_by_role("button", name="Take Photo").click(timeout=60_000)
        page.get_by_role("button", name="Keep this photo").wait_for(timeout=60_000)
        wait_idle(page)
        page.get_by_label("The digit really is").last.click()
        page.get_by_role("option", name="7", exact=True).click()
        wait_idle(page)
        page.get_by_role("button", name="Keep this photo").click()
        page.get_by_text("Kept as a 7").wait_for(timeout=30_000)  # in sight: the camera's panel stays open
        page.screenshot(path=str(ARTIFACTS / "camera.png"), full_page=True)
    [kept] = store.list_drawings()
    assert kept.label == 7 and kept.pixels.max() > 0.9 and kept.pixels[0, 0] == 0  # white ink on black, as MNIST
    store.close()
