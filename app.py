"""Playground: page config and navigation; everything else lives in pages/ and playground/."""
import streamlit as st

import pages.common  # noqa: F401  (first: makes every URL go through the navigation below)

st.set_page_config(page_title="Playground", page_icon="🧪", layout="wide")

PAGES = [
    st.Page("pages/home.py", title="Home", icon="🏠", default=True),
    st.Page("pages/train.py", title="Train", icon="🏋️", url_path="train"),
    st.Page("pages/compare.py", title="Compare", icon="📊", url_path="compare"),
    st.Page("pages/draw.py", title="Draw", icon="✏️", url_path="draw"),
    st.Page("pages/inside.py", title="Inside", icon="🔬", url_path="inside"),
]
st.navigation(PAGES).run()
