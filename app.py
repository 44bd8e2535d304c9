"""Playground: the frame (page config, navigation) around the pages in pages/; what they share is in ui/."""
import sys

import streamlit as st

# A fresh server's first run imports pandas, plotly and pyarrow (ui/) and then torch (pages, after their first
# lines where they can): seconds in which the browser showed a blank page. A placeholder goes out first; a warm
# server (all imported) draws none.
loading = st.empty()
if "torch" not in sys.modules:
    loading.caption("⏳ Loading…")

from ui.navigation import frame, through_app  # noqa: E402

try:
    with through_app():
        frame().run()
finally:
    loading.empty()
