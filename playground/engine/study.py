"""A regularization study as the CLI runs it: variants x seeds of one recipe, through one job registry."""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..compare import StudyChoice, _sizes_used, best_epoch, data_variants, study_variants
from ..config import ConfigError, RunConfig, recipe
from ..estimate import longest_first
from .batched import batch_key, can_batch
from .jobs import JobRegistry
from .metrics import NO_STEP_ROWS, Snapshot

VARIANTS = ("none", "l2", "dropout", "batchnorm", "wider", "augment", "early-stopping")
# The Compare page's defaults, strong enough to move the generalization gap well beyond seed noise at
# the default study's scale (bench/README.md, "The default study"); λ 0.001 did nothing visible there.
STUDY_L2, STUDY_DROPOUT = 0.03, 0.5
# Early stopping's patience in a study, in evaluations: a study evaluates every few epochs (eval_every_for), so
# 5 evaluations are often 20 or more epochs without a gain in validation accuracy.
STUDY_PATIENCE = 5
# Its scale, chosen the same way: the cnn recipe on 1,500 images with 40% held out (600 validation images, so a
# gap of a few points is not the noise of a small validation set), lr 0.03 so that it overfits in 100 epochs.
STUDY_EPOCHS, STUDY_LIMIT, STUDY_VAL_FRACTION, STUDY_LR = 100, 1500, 0.4, 0.03
# A study's runs are recorded at once and queue behind each other; more than this is refused before any is
# written (the Compare form's maxima make 1,440; `--sizes` takes any list).
MAX_STUDY_RUNS = 400


@dataclass(frozen=True)
class StudyRun:
    variant: str
    seed: int
    label: str
    config: RunConfig


def study_runs(recipe_name: str, variants: list[str], seeds: int, epochs: int | None = None,
               limit: int | None = None, first_seed: int = 0, sizes: tuple[int, ...] = (),
               noises: tuple[float, ...] = (), val_fraction: float | None = None,
               lr: float | None = None) -> list[StudyRun]:
    """One run per (variant, data size, label noise, seed); variants of one seed share their initial weights
    where the model allows. Empty `sizes`/`noises`: the recipe's (or `limit`'s) data only."""
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown or not variants:
        raise ConfigError(f"unknown study variants {unknown}; valid: {', '.join(VARIANTS)}")
    if not 1 <= seeds <= 20:
        raise ConfigError("seeds must be in 1..20")
    base = recipe(recipe_name).override(epochs=epochs, limit=limit, val_fraction=val_fraction, lr=lr)
    # Counted before any is built: 20,000 `--sizes` x noises x seeds once built millions of configs (hung)
    # only for plan_study to refuse them.
    check_study_size(seeds * len(variants) * max(1, len(_sizes_used(base, sizes))) * max(1, len(noises)))
    data = data_variants(base, StudyChoice(sizes=tuple(sizes), noises=tuple(noises)))
    out = []
    for seed in range(first_seed, first_seed + seeds):
        for data_label, data_base in data:
            for variant in variants:
                choice = StudyChoice(baseline=variant == "none", l2=STUDY_L2 if variant == "l2" else None,
                                     dropout=STUDY_DROPOUT if variant == "dropout" else None,
                                     batchnorm=variant == "batchnorm", wider=variant == "wider",
                                     augment=variant == "augment",
                                     early_stopping=STUDY_PATIENCE if variant == "early-stopping" else None)
                made = study_variants(data_base.override(seed=seed), choice)
                if not made:
                    raise ConfigError(f"variant '{variant}' does not apply to recipe '{recipe_name}'")
                label, cfg = made[0]
                name = " · ".join(filter(None, (recipe_name, label, data_label, f"seed {seed}")))
                out.append(StudyRun(variant, seed, name, cfg))
    return out


def run_study(jobs: JobRegistry, runs: list[StudyRun], on_progress: Callable[[list[Snapshot]], None] | None = None,
              poll: float = 0.5) -> list[dict[str, Any]]:
    """Submit every run (the most work first), report progress while they train, and return one result row per
    run, in the order of `runs`."""
    ids = submit_all(jobs, [r.config for r in runs], [r.label for r in runs])
    while True:
        snaps = [jobs.snapshot(i, steps_from=NO_STEP_ROWS) for i in ids]  # counts only, not step rows
        if on_progress:
            on_progress(snaps)
        if all(s.done for s in snaps):
            break
        time.sleep(poll)
    return [_result_row(jobs, run_id, r) for run_id, r in zip(ids, runs, strict=True)]


def check_study_size(runs: int) -> None:
    """Refuse a study of more runs than MAX_STUDY_RUNS, before any is written."""
    if runs > MAX_STUDY_RUNS:
        raise ConfigError(f"a study of {runs:,} runs is more than this app queues at once "
                          f"({MAX_STUDY_RUNS}); choose fewer variants, seeds, sizes or noise levels")


def plan_study(jobs: JobRegistry, configs: list[RunConfig], batch: bool | None = None) -> list[list[int]]:
    """The study's jobs as lists of indices into `configs`, the most work first (estimate.longest_first: the runs
    end closer together), runs of one shape (seeds, L2 λ) in one list; admitted as a whole before any run is
    written: ConfigError for too many runs, a config that is invalid or could never fit this device's memory
    (queued runs wait for memory to free; they hold none)."""
    check_study_size(len(configs))
    groups: dict[str, list[int]] = {}
    for i in longest_first(configs):
        groups.setdefault(batch_key(configs[i]), []).append(i)
    needs: dict[str, int] = {}  # one estimate per shape: a study's seeds share it
    for members in groups.values():
        shapes = [configs[i] for i in members]
        for cfg in shapes:
            key = cfg.override(seed=0).to_json()
            needs[key] = needs.get(key) or jobs.admit([cfg])
        if len(members) > 1 and can_batch(shapes) is None and jobs.batches(shapes, batch):
            jobs.admit(shapes, need=sum(needs[c.override(seed=0).to_json()] for c in shapes))
    return list(groups.values())


def submit_all(jobs: JobRegistry, configs: list[RunConfig], names: list[str], batch: bool | None = None) -> list[int]:
    """Submit a study's runs, planned and admitted as a whole first (plan_study); their ids in the order given.
    Runs of one shape train as one batched group where the registry batches (on CUDA, or with `batch`:
    jobs.submit_group). A run refused after all (the store failing) stops those already submitted: nothing
    half-launched stays queued or training."""
    ids: dict[int, int] = {}
    plan = plan_study(jobs, configs, batch)
    try:
        for members in plan:
            if len(members) > 1 and can_batch([configs[i] for i in members]) is None:
                got = jobs.submit_group([configs[i] for i in members], [names[i] for i in members], batch=batch)
            else:
                got = [jobs.submit(configs[i], name=names[i]) for i in members]
            ids.update(zip(members, got, strict=True))
    except Exception:
        for run_id in ids.values():
            jobs.stop(run_id, "the study could not start all its runs")
        raise
    return [ids[i] for i in range(len(configs))]


def _result_row(jobs: JobRegistry, run_id: int, run: StudyRun) -> dict[str, Any]:
    rec = jobs.store.get_run(run_id)
    epochs = jobs.store.epochs(run_id)
    best, last = best_epoch(epochs), (epochs[-1] if epochs else {})
    gap = last["train_acc"] - last["val_acc"] if last.get("val_acc") is not None else None
    return {"run_id": run_id, "variant": run.variant, "seed": run.seed, "limit": run.config.data.limit,
            "label_noise": run.config.data.label_noise, "status": str(rec.status),
            "test_acc": rec.result.get("test_acc"), "best_val_acc": best["val_acc"] if best else None,
            "final_gap": gap, "train_seconds": rec.result.get("train_seconds"),
            "executor": rec.executor or "local", "node": rec.node or "this machine"}
