"""Home: what this is, where to go, the device, which datasets are ready."""
import streamlit as st

from playground.lessons import LESSONS
from ui.navigation import require_app

require_app()  # first: the app's frame even when Streamlit ran this page on its own

st.title("🧪 Playground")
st.markdown(
    "Train small neural networks **live** and watch how they learn. Recurrent nets (RNN, LSTM, GRU) "
    "read a digit row by row; small CNNs tell birds from airplanes. Change one setting, train again, "
    "and compare: that is how intuition for learning rates, width, dropout and batch-norm is built.")

first = LESSONS[0]
if st.button(f"▶ Start here: lesson 1, {first.title}", type="primary", key="start_here",
             help="New here? Learn walks you through it: guess the outcome, train a small model live "
                  "(seconds), then compare with the original experiment."):
    st.switch_page("pages/learn.py", query_params={"lesson": first.key})

c1, c2 = st.columns(2)
c1.page_link("pages/train.py", label="**Train** a model and watch it live", icon="🏋️")
c2.page_link("pages/compare.py", label="**Compare** runs and regularization settings", icon="📊")
c1.page_link("pages/draw.py", label="**Draw** a digit for your models to read", icon="✏️")
c2.page_link("pages/inside.py", label="Look **inside**: feature maps, hidden states, gates", icon="🔬")

# torch, pandas and plotly load here (seconds on a cold server): the text above is already on screen.
import torch  # noqa: E402

import ui.preload  # noqa: E402, F401  for the next page (Home draws no chart or table)
from playground.data import SPECS, available_offline  # noqa: E402

device = (f"GPU: {torch.cuda.get_device_name(0)}" if torch.cuda.is_available()
          else f"CPU ({torch.get_num_threads()} threads); training runs there")
st.info(f"**Device** · {device}")
st.subheader("Datasets", anchor=False)
for name, spec in SPECS.items():
    source = available_offline(name)
    if source:
        st.markdown(f"✅ **{spec.title}** (`{name}`), ready offline from {source}")
    else:
        st.markdown(f"⬇️ **{spec.title}** (`{name}`), downloaded on first use (needs the internet)")
