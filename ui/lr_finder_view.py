"""Train's "Find a learning rate": a range test on the form's settings, its curve, and "Use it"."""
from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from playground import charts
from playground.config import RunConfig
from playground.errors import PlaygroundError
from ui.common import jobs

RESULT = "lr_test_result"  # (the settings it ran on, its RangeTest)


def lr_finder(cfg: RunConfig, on_use: Callable[[float], None]) -> None:
    from playground.lr_find import range_test

    st.caption("100 batches from the form's initial weights while the learning rate rises from 10⁻⁶ to 1: the "
               "loss falls, flattens, then climbs. Start a little below where it is lowest.")
    ran_on = cfg.override(lr=RunConfig().optim.lr, epochs=1).to_json()  # neither the lr nor epochs matter
    if st.button("Run the range test", key="lr_test_run", width="stretch"):
        try:
            with st.spinner("Training 100 batches…"):
                st.session_state[RESULT] = (ran_on, range_test(cfg, threads=jobs().threads_per_run or 1))
        except PlaygroundError as exc:
            st.error(f"Cannot run the range test: {exc}")
    kept = st.session_state.get(RESULT)
    if kept is None or kept[0] != ran_on:  # none yet, or the settings changed since
        return
    test = kept[1]
    suggested = float(f"{test.suggestion:.2g}")  # the button fills what it says
    st.plotly_chart(charts.lr_range(test.lrs, test.losses, test.smoothed, test.suggestion), width="stretch",
                    key="lr-range")
    st.caption(f"Suggested: **{suggested:g}** ({test.rule}).")
    st.button(f"Use {suggested:g}", key="lr_test_use", on_click=on_use, args=(suggested,),
              width="stretch")
