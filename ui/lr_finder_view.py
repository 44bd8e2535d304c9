"""Train's "Find a learning rate": a range test on the form's settings, its curve, and "Use it"."""
from __future__ import annotations

import inspect
import math
from collections.abc import Callable

import streamlit as st

from playground import charts
from playground.config import RunConfig
from playground.errors import PlaygroundError
from ui.common import jobs

RESULT = "lr_test_result"  # (the settings it ran on, its RangeTest)


def lr_finder(cfg: RunConfig) -> None:
    """The sidebar's part: what the test does and its button; the result is drawn in the main area (lr_result)."""
    from playground.lr_find import range_test

    start, end, steps = (inspect.signature(range_test).parameters[k].default for k in ("start", "end", "steps"))
    st.caption(f"{steps} batches from the form's initial weights while the learning rate rises from {decade(start)} "
               f"to {decade(end)}. The curve, what it shows and a rate to start from appear on the page.")
    if st.button("Run the range test", key="lr_test_run", width="stretch"):
        try:
            with st.spinner(f"Training {steps} batches…"):
                st.session_state[RESULT] = (_ran_on(cfg), range_test(cfg, threads=jobs().threads_per_run or 1))
        except PlaygroundError as exc:
            st.error(f"Cannot run the range test: {exc}")


def decade(x: float) -> str:
    """A power of ten as the caption writes it (10⁻⁶, 1, 10, 10³); any other number as %g."""
    e = round(math.log10(x)) if x > 0 else None
    if e is None or not math.isclose(x, 10.0 ** e):
        return f"{x:g}"
    return {0: "1", 1: "10"}.get(e) or "10" + str(e).translate(SUPERSCRIPTS)


SUPERSCRIPTS = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def _ran_on(cfg: RunConfig) -> str:
    return cfg.override(lr=RunConfig().optim.lr, epochs=1).to_json()  # neither the lr nor epochs matter


def _hide() -> None:
    st.session_state.pop(RESULT, None)


def lr_result(cfg: RunConfig, on_use: Callable[[float], None]) -> None:
    """The last range test on the form's settings, in the main area at a readable size; nothing once they changed."""
    kept = st.session_state.get(RESULT)
    if kept is None or kept[0] != _ran_on(cfg):  # none yet, or the settings changed since
        return
    test = kept[1]
    with st.container(border=True):
        c1, c2 = st.columns([5, 1], vertical_alignment="center")
        c1.markdown("**📈 Learning-rate range test** on the form's settings")
        c2.button("Hide", key="lr_test_hide", on_click=_hide, width="stretch")
        suggested = float(f"{test.suggestion:.2g}") if test.suggestion is not None else None  # what the button fills
        st.plotly_chart(charts.lr_range(test.lrs, test.losses, test.smoothed, suggested, height=380),
                        width="stretch", key="lr_test_range", config=charts.STATIC)
        st.markdown(test.text)
        if suggested is not None:
            c1, c2 = st.columns([3, 1], vertical_alignment="center")
            c1.caption(f"Suggested: **{suggested:g}** ({test.rule}), the dashed line.")
            c2.button(f"Use {suggested:g}", key="lr_test_use", on_click=on_use, args=(suggested,), width="stretch")
