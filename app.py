"""Playground: navigation over the pages (the pages live in pages/)."""
import streamlit as st

st.set_page_config(page_title="Playground", page_icon="🧪", layout="wide")
st.title("Playground")
st.write("Train small networks live in the browser. The Train, Compare, Draw and Inside pages are coming; "
         "meanwhile use the command line: `python -m playground --help`.")
