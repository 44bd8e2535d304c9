"""Home: what this is, the device, which datasets are ready."""
import streamlit as st
import torch

from playground.data import SPECS, available_offline

st.title("🧪 Playground")
st.markdown(
    "Train small neural networks **live** and watch how they learn. Recurrent nets (RNN, LSTM, GRU) "
    "read a digit row by row; small CNNs tell birds from airplanes. Change one setting, train again, "
    "and compare: that is how intuition for learning rates, width, dropout and batch-norm is built.")

device = (f"GPU: {torch.cuda.get_device_name(0)}" if torch.cuda.is_available()
          else f"CPU ({torch.get_num_threads()} threads); training runs there")
st.info(f"**Device** · {device}")

st.subheader("Datasets")
for name, spec in SPECS.items():
    source = available_offline(name)
    if source:
        st.markdown(f"✅ **{spec.title}** (`{name}`), ready offline from {source}")
    else:
        st.markdown(f"⬇️ **{spec.title}** (`{name}`), downloaded on first use (needs the internet)")

st.subheader("Where to go")
c1, c2 = st.columns(2)
with c1:
    st.page_link("pages/train.py", label="Train a model and watch it live", icon="🏋️")
with c2:
    st.page_link("pages/compare.py", label="Compare runs and regularization settings", icon="📊")
