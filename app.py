"""Playground: page config and navigation; the pages are in pages/, what they share in ui/."""
import streamlit as st

from ui.navigation import pages, through_app

st.set_page_config(page_title="Playground", page_icon="🧪", layout="wide")
with through_app():
    st.navigation(pages()).run()
