"""Learning-rate schedules: the config's `schedule` -> a torch.optim.lr_scheduler, stepped once per optimizer step.

torch's schedulers rather than formulas of ours: they are what a learner will use after Playground, and
the exported script (codegen.py) builds the very same one, so the two agree step for step.
"""
from __future__ import annotations

import math

import torch
from torch.optim import lr_scheduler

from ..config import ConfigError, RunConfig

STEP_AT = (0.5, 0.75)  # "step": the rate drops at these shares of the run's steps...
STEP_GAMMA = 0.1  # ...by this factor each time

# One line per schedule, for the form's help and the docs; `lr` is the form's learning rate.
SCHEDULE_HELP = {
    "constant": "the same rate at every step",
    "step": f"×{STEP_GAMMA:g} at {STEP_AT[0]:.0%} and again at {STEP_AT[1]:.0%} of the run's steps",
    "cosine": "falls from the rate to 0 along a half cosine over the run's steps",
    "onecycle": "rises from rate/25 to the rate over the first 30% of steps, then falls to nearly 0 "
                "(torch's OneCycleLR)",
}


def step_milestones(total_steps: int) -> list[int]:
    """The steps (from 0) where "step" multiplies the rate by STEP_GAMMA: the first step with at least each share
    of the run's steps done before it. Rounding down (int) dropped early: a 2-step run's second step got both
    drops at once (lr/100) where 50% says one (lr/10) and 75% none."""
    return [math.ceil(total_steps * share) for share in STEP_AT]


def make_scheduler(cfg: RunConfig, optimizer: torch.optim.Optimizer,
                   total_steps: int) -> lr_scheduler.LRScheduler | None:
    """The config's schedule over `total_steps` optimizer steps; None for "constant" (nothing to step)."""
    name, total_steps = cfg.optim.schedule, max(1, total_steps)
    if name == "constant":
        return None
    if name == "step":
        return lr_scheduler.MultiStepLR(optimizer, milestones=step_milestones(total_steps), gamma=STEP_GAMMA)
    if name == "cosine":
        return lr_scheduler.CosineAnnealingLR(optimizer, T_max=total_steps, eta_min=0.0)
    if name == "onecycle":
        # cycle_momentum=False: the schedule moves the rate only; momentum (SGD) and Adam's betas stay as the
        # form sets them (by default OneCycleLR would also cycle them between 0.85 and 0.95).
        return lr_scheduler.OneCycleLR(optimizer, max_lr=cfg.optim.lr, total_steps=total_steps,
                                       cycle_momentum=False)
    raise ConfigError(f"unknown learning-rate schedule '{name}'")


def current_lr(optimizer: torch.optim.Optimizer) -> float:
    """The rate the optimizer's next step uses (one parameter group here)."""
    return float(optimizer.param_groups[0]["lr"])
