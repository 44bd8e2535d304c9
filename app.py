"""Playground: page config and navigation; everything else lives in pages/ and playground/."""
import streamlit as st

st.set_page_config(page_title="Playground", page_icon="🧪", layout="wide")

PAGES = [
    st.Page("pages/home.py", title="Home", icon="🏠", default=True),
    st.Page("pages/train.py", title="Train", icon="🏋️", url_path="train"),
    st.Page("pages/compare.py", title="Compare", icon="📊", url_path="compare"),
]
st.navigation(PAGES).run()
