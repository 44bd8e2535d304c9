"""The app's frame (page config, navigation over the pages) and the guard every page starts with.

Streamlit 1.67 serves an app whose entrypoint has a `pages/` folder beside it the legacy way
(each file there run alone, listed by file name) until some session calls `st.navigation`;
from then on it ignores `pages/` in every session (documented under st.navigation). On a fresh
server whose first request is a deep link such as /draw, no session has called it yet, so
pages/draw.py runs without app.py. `require_app()`, the first statement of each page, notices
(app.py did not start this run), does what app.py does (the frame, then the page it resolves:
this same page, now run exactly as under app.py) and stops the outer run. `st.navigation` turns
the legacy mode off for good. No rerun, so a click that came with this run is not lost, and the
page's widgets get the ids they will keep. Public API only; the tests exercise it on every
AppTest run, since AppTest starts each run the legacy way.
"""
from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import streamlit as st

_run = threading.local()  # each script run has its own thread


def pages() -> list:
    """The app's pages (new objects each run: st.Page objects can run once)."""
    return [
        st.Page("pages/home.py", title="Home", icon="🏠", default=True),
        st.Page("pages/learn.py", title="Learn", icon="🎓", url_path="learn"),
        st.Page("pages/train.py", title="Train", icon="🏋️", url_path="train"),
        st.Page("pages/compare.py", title="Compare", icon="📊", url_path="compare"),
        st.Page("pages/draw.py", title="Draw", icon="✏️", url_path="draw"),
        st.Page("pages/inside.py", title="Inside", icon="🔬", url_path="inside"),
    ]


@contextlib.contextmanager
def through_app() -> Iterator[None]:
    """Marks the pages run inside this block as started by app.py."""
    _run.in_app = True
    try:
        yield
    finally:
        _run.in_app = False


def frame():
    """What app.py draws around every page; returns the page to run."""
    st.set_page_config(page_title="Playground", page_icon="🧪", layout="wide")
    return st.navigation(pages())


def require_app() -> None:
    """The app's frame around this page if Streamlit ran it on its own (legacy pages/ mode)."""
    if not getattr(_run, "in_app", False):
        with through_app():
            frame().run()  # st.navigation: from now on every session ignores pages/
        st.stop()  # the page ran inside the frame just now
