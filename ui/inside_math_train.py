"""Inside's "one training step by hand": the forward pass to the loss, one weight's gradient (autograd beside a
finite difference), the optimizer's update with this run's settings, the loss after (playground.by_hand)."""
from __future__ import annotations

import numpy as np
import streamlit as st
import torch

from playground import by_hand, probes
from ui.common import open_panel

MAX_STEP = 5


def _param_name(model: torch.nn.Module, names: dict[str, str], param: str) -> str:
    module, _, kind = param.rpartition(".")
    shape = "×".join(map(str, dict(model.named_parameters())[param].shape))
    return f"{names.get(module, module)}: {kind} ({shape})"


def training_step_math(model: torch.nn.Module, config, x: torch.Tensor, label: int | None, classes,
                       key: str) -> None:
    """An expander: one step of this run's optimizer on the input shown, worked out for one weight."""
    k = f"tmath-{key}"
    panel = open_panel("One training step by hand", f"{k}-panel")
    if not panel.open:  # built only while open: a forward and backward pass and its charts (issue 36)
        return
    with panel:
        names = probes.layer_names(model)
        params = [n for n, _ in model.named_parameters()]
        c1, c2, c3 = st.columns([1, 2, 1])
        answer = int(probes.class_probabilities(model, x).argmax())
        target = c1.selectbox("True label", range(len(classes)), format_func=lambda i: classes[i],
                              index=answer if label is None else label, key=f"{k}-label",
                              help=None if label is not None else "A drawing has no label: say what you drew.")
        param = c2.selectbox("Weight tensor", params, format_func=lambda p: _param_name(model, names, p),
                             key=f"{k}-param")
        step = c3.number_input(f"Step (1 to {MAX_STEP})", 1, MAX_STEP, key=f"{k}-step",
                               help="Steps before it, on the same image, build up the optimizer's memory.")
        shape = tuple(dict(model.named_parameters())[param].shape)
        size = int(np.prod(shape))
        if not 0 <= st.session_state.get(f"{k}-weight", 0) <= size:  # another tensor had more weights
            st.session_state[f"{k}-weight"] = 0
        number = st.number_input(f"Weight number in this tensor (1 to {size:,}; 0: the one with the largest "
                                 "gradient)", 0, size, key=f"{k}-weight")
        index = tuple(int(i) for i in np.unravel_index(number - 1, shape)) if number else None
        s = by_hand.training_step(model, config, x, target, param, index, step=int(step))
        _forward(s, classes)
        weight = f"{names.get(param.rpartition('.')[0], param)} weight {tuple(i + 1 for i in s.index)}"
        which = "" if number else " (the one with the largest gradient in this tensor)"
        st.markdown(f"**2. The gradient** of the loss for {weight}{which}, w = {s.weight:+.6g}:")
        rel = abs(s.finite_difference - s.raw_grad) / max(abs(s.raw_grad), 1e-12)
        st.markdown(f"| ∂loss/∂w by autograd | finite difference, ε = {s.eps:g} | relative difference |\n"
                    f"|---|---|---|\n| {s.raw_grad:+.6g} | {s.finite_difference:+.6g} | {rel:.1e} |")
        st.caption("The finite difference nudges this one weight by ±ε and divides the change in the loss by 2ε "
                   "(in double precision); autograd gets the same number from the chain rule, for every weight "
                   "at once.")
        st.markdown(f"**3. The update** by {s.optimizer} with this run's lr = {s.lr:g} (step {s.step}):")
        st.code("\n".join(s.lines), language=None)
        st.markdown(f"PyTorch's `optimizer.step()` wrote w = {s.torch_weight:+.6g}.")
        st.markdown(f"**4. The loss after the step** on this image: {s.loss:.4f} → **{s.loss_after:.4f}** "
                    f"({s.loss_after - s.loss:+.4f}).")  # its own paragraph, as steps 1-3 (walkthrough)
        sched = "" if config.optim.schedule == "constant" else \
            f" The run's {config.optim.schedule} schedule moves the lr during training; its peak is shown."
        st.caption("Worked on a copy of the model in eval mode (dropout off, batch-norm on its running "
                   "statistics), so the step is repeatable; the optimizer starts fresh (a checkpoint keeps no "
                   "optimizer memory), so its moments are those of these few steps on one image." + sched)


def _forward(s: by_hand.TrainStep, classes) -> None:
    st.markdown("**1. Forward to the loss**: logits → softmax p = exp(logit) / Σ exp → "
                "cross-entropy = −log p(true label)")
    st.dataframe([{"class": classes[i], "logit": round(float(v), 4), "p": round(float(p), 4)}
                  for i, (v, p) in enumerate(zip(s.logits, s.probs, strict=True))],
                 hide_index=True, height="content")
    # "= a + L2 = total" only when there is an L2 term: without one the line said "= 0.0170 = 0.0170"
    total = f"{s.loss - s.l2_term:.4f} + L2 term {s.l2_term:.4f} = **{s.loss:.4f}**" if s.l2_term \
        else f"**{s.loss:.4f}**"
    st.markdown(f"loss = −log p({classes[s.label]}) = −log {s.probs[s.label]:.4f} = {total} "
                f"(PyTorch's cross_entropy: {s.torch_loss:.4f})")
